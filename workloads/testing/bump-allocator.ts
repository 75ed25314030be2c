/**
 * TEST FIXTURE ONLY: a tiny bump allocator implementing the Allocator contract, so the
 * workloads can be exercised before (and independently of) the real allocators.
 *
 * Model: NVRAM layout = [magic, bump pointer] at the base, `rootCount` root words from
 * base+64, blocks from base+4096. Each block is a 16 B header [sizeBytes, state] and a
 * payload rounded up to 16 B; state 1 = allocated, 2 = freed. Memory is never reused,
 * nothing is flushed except by mallocTo/freeFrom's publication, and `open` does no
 * recovery: it is neither fast nor crash-safe, only simple and contract-conformant
 * enough for workload tests (16 B alignment, 0 on out-of-memory, misuse errors).
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import {
  AllocatorMisuseError,
  cleanStats,
  type Allocator,
  type AllocatorFactory,
  type ConsistencyReport,
  type Extent,
  type HeapWalk,
  type InitFn,
  type RecoveryStats,
} from '../../allocators/contract.ts';

const MAGIC = 0x62756d70; // 'bump'
const ROOTS_OFFSET = 64;
const HEAP_OFFSET = 4096;
const HEADER_BYTES = 16;
const ALLOCATED = 1;
const FREED = 2;

export class BumpAllocator implements Allocator {
  readonly name = 'bump-fixture';
  private readonly base: Addr;
  private readonly end: Addr;

  constructor(
    readonly machine: Machine,
    readonly rootCount = 256,
  ) {
    this.base = machine.layout.nvramBase;
    this.end = machine.layout.nvramBase + machine.layout.nvramSizeBytes;
  }

  format(core: Core): void {
    this.machine.formatNvram();
    core.store64(this.base, MAGIC);
    core.store64(this.base + 8, this.base + HEAP_OFFSET);
    core.clwb(this.base);
    core.sfence();
  }
  open(core: Core): RecoveryStats {
    const start = core.clockCycles;
    if (core.load64(this.base) !== MAGIC) throw new Error('bump-fixture: no heap to open');
    return cleanStats(core.clockCycles - start);
  }
  close(core: Core): void {
    core.clwb(this.base);
    core.sfence();
  }

  malloc(core: Core, sizeBytes: number): Addr {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1) throw new AllocatorMisuseError('bad-size', 0, `size ${sizeBytes}`);
    const bump = core.load64(this.base + 8);
    const payload = bump + HEADER_BYTES;
    const next = payload + Math.ceil(sizeBytes / 16) * 16;
    if (next > this.end) return 0;
    core.store64(bump, sizeBytes);
    core.store64(bump + 8, ALLOCATED);
    core.store64(this.base + 8, next);
    return payload;
  }
  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    if (addr < this.base + HEAP_OFFSET + HEADER_BYTES || addr >= this.end || addr % 16 !== 0) {
      throw new AllocatorMisuseError('foreign-free', addr, 'not a block of this heap');
    }
    const state = core.load64(addr - 8);
    if (state === FREED) throw new AllocatorMisuseError('double-free', addr, 'block already freed');
    if (state !== ALLOCATED) throw new AllocatorMisuseError('foreign-free', addr, 'no block header here');
    core.store64(addr - 8, FREED);
  }
  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    const p = this.malloc(core, sizeBytes);
    if (p === 0) return 0;
    init?.(core, p);
    core.sfence();
    core.storeAtomic64(destAddr, p);
    core.clwb(destAddr);
    core.sfence();
    return p;
  }
  freeFrom(core: Core, destAddr: Addr): void {
    const p = core.load64(destAddr);
    core.storeAtomic64(destAddr, 0);
    core.clwb(destAddr);
    core.sfence();
    this.free(core, p);
  }

  rootAddress(index: number): Addr {
    if (!Number.isInteger(index) || index < 0 || index >= this.rootCount) throw new AllocatorMisuseError('bad-root', index, 'no such root');
    return this.base + ROOTS_OFFSET + index * 8;
  }
  setRoot(core: Core, index: number, value: Addr): void {
    core.storeAtomic64(this.rootAddress(index), value);
    core.clwb(this.rootAddress(index));
    core.sfence();
  }
  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  walkHeap(reader: MemoryReader): HeapWalk {
    const allocated: Extent[] = [];
    const free: Extent[] = [];
    const bump = reader.peek64(this.base + 8);
    for (let h = this.base + HEAP_OFFSET; h < bump; ) {
      const sizeBytes = reader.peek64(h);
      (reader.peek64(h + 8) === ALLOCATED ? allocated : free).push({ addr: h + HEADER_BYTES, sizeBytes });
      h += HEADER_BYTES + Math.ceil(sizeBytes / 16) * 16;
    }
    if (bump < this.end) free.push({ addr: bump, sizeBytes: this.end - bump });
    return { allocated, free };
  }
  checkConsistency(reader: MemoryReader): ConsistencyReport {
    const ok = reader.peek64(this.base) === MAGIC;
    return { ok, errors: ok ? [] : [`0x${this.base.toString(16)}: bad magic`] };
  }
}

/** The fixture with `rootCount` root slots (at most 256: they sit below the heap). */
export function bumpFactoryWithRoots(rootCount: number): AllocatorFactory {
  return {
    name: 'bump-fixture',
    description: 'test fixture: never-reusing bump allocator (workloads/testing)',
    idioms: ['malloc-then-link', 'alloc-into'],
    promisesNoLeak: () => false,
    create: (machine) => new BumpAllocator(machine, Math.min(rootCount, 256)),
  };
}

export const bumpFactory: AllocatorFactory = bumpFactoryWithRoots(256);
