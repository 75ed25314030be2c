/**
 * A small synthetic persistent allocator for the crash checker's own tests (not a
 * research allocator): bump allocation with 16 B block headers, a volatile free list,
 * and broken canaries with one flush or fence removed.
 *
 * Model (NVRAM): line 0 holds magic (word 0) and the durable bump offset (word 1);
 * line 1 holds 8 roots; blocks start at offset 4096: header [sizeBytes, state]
 * (state 1 = allocated, 2 = free) then the payload. Protocol of a new block: write the
 * header, clwb, sfence, then advance the bump word, clwb, sfence (the bump word is the
 * commit point). Free: state := 2, clwb, sfence. Recovery walks the blocks up to the
 * bump word and rebuilds the volatile free list (DRAM).
 * Variants: `synth-nofence` drops the sfence between the header and the bump word;
 * `synth-noflush` drops the header's clwb.
 *
 * Invariants: every access goes through a Core; volatile state lives in DRAM.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../../sim/api.ts';
import { siteId } from '../../../sim/api.ts';
import { cleanStats, type Allocator, type AllocatorFactory, type ConsistencyReport, type Extent, type HeapWalk, type InitFn } from '../../../allocators/contract.ts';

const MAGIC = 0x5e17;
const HEAP_OFF = 4096;
const HDR = 16;
const S_HDR = siteId('synth:write-header');
const S_BUMP = siteId('synth:advance-bump');
const S_FREE = siteId('synth:free');
const S_ROOT = siteId('synth:set-root');
const S_FORMAT = siteId('synth:format');

type Flaw = 'none' | 'nofence' | 'noflush';

class SynthAllocator implements Allocator {
  readonly rootCount = 8;
  private readonly base: Addr;
  private readonly end: Addr;
  /** DRAM: [count, then up to 1024 free block addresses]. */
  private readonly freeList: Addr;

  constructor(
    readonly name: string,
    private readonly m: Machine,
    private readonly flaw: Flaw,
  ) {
    this.base = m.layout.nvramBase;
    this.end = m.layout.nvramBase + m.layout.nvramSizeBytes;
    this.freeList = m.reserveDram(8 * 1025, 64);
  }

  private persist(core: Core, addr: Addr, fence = true): void {
    core.clwb(addr);
    if (fence) core.sfence();
  }

  format(core: Core): void {
    this.m.formatNvram();
    const prev = core.setSite(S_FORMAT);
    core.store64(this.base, MAGIC);
    core.store64(this.base + 8, HEAP_OFF);
    core.clflush(this.base);
    core.store64(this.freeList, 0);
    core.setSite(prev);
  }

  open(core: Core): ReturnType<Allocator['open']> {
    const start = core.clockCycles;
    core.store64(this.freeList, 0);
    const bump = core.load64(this.base + 8);
    let scanned = 0;
    for (let off = HEAP_OFF; off < bump; ) {
      const size = core.load64(this.base + off);
      const state = core.load64(this.base + off + 8);
      if (size === 0 || off + HDR + size > bump) break;
      if (state === 2) this.pushFree(core, this.base + off + HDR);
      off += HDR + size;
      scanned++;
    }
    return { ...cleanStats(core.clockCycles - start), kind: 'recovered', blocksScanned: scanned };
  }

  close(core: Core): void {
    core.sfence();
  }

  private pushFree(core: Core, block: Addr): void {
    const n = core.load64(this.freeList);
    if (n >= 1024) return;
    core.store64(this.freeList + 8 + 8 * n, block);
    core.store64(this.freeList, n + 1);
  }

  private roundSize(sizeBytes: number): number {
    return Math.ceil(sizeBytes / 16) * 16;
  }

  malloc(core: Core, sizeBytes: number): Addr {
    const size = this.roundSize(sizeBytes);
    const n = core.load64(this.freeList);
    for (let i = 0; i < n; i++) {
      const b = core.load64(this.freeList + 8 + 8 * i);
      if (core.load64(b - HDR) !== size) continue;
      core.store64(this.freeList + 8 + 8 * i, core.load64(this.freeList + 8 * n));
      core.store64(this.freeList, n - 1);
      const prev = core.setSite(S_HDR);
      core.store64(b - 8, 1);
      this.persist(core, b - 8);
      core.setSite(prev);
      return b;
    }
    const bump = core.load64(this.base + 8);
    if (this.base + bump + HDR + size > this.end) return 0;
    const hdr = this.base + bump;
    const prev = core.setSite(S_HDR);
    core.store64(hdr, size);
    core.store64(hdr + 8, 1);
    if (this.flaw !== 'noflush') core.clwb(hdr);
    if (this.flaw !== 'nofence') core.sfence();
    core.setSite(S_BUMP);
    core.store64(this.base + 8, bump + HDR + size);
    this.persist(core, this.base + 8);
    core.setSite(prev);
    return hdr + HDR;
  }

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    const prev = core.setSite(S_FREE);
    core.store64(addr - 8, 2);
    this.persist(core, addr - 8);
    core.setSite(prev);
    this.pushFree(core, addr);
  }

  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    const b = this.malloc(core, sizeBytes);
    if (b === 0) return 0;
    init?.(core, b);
    core.sfence();
    core.store64(destAddr, b);
    this.persist(core, destAddr);
    return b;
  }

  freeFrom(core: Core, destAddr: Addr): void {
    const b = core.load64(destAddr);
    core.store64(destAddr, 0);
    this.persist(core, destAddr);
    this.free(core, b);
  }

  rootAddress(index: number): Addr {
    return this.base + 64 + 8 * index;
  }
  setRoot(core: Core, index: number, value: Addr): void {
    const prev = core.setSite(S_ROOT);
    core.store64(this.rootAddress(index), value);
    this.persist(core, this.rootAddress(index));
    core.setSite(prev);
  }
  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  walkHeap(reader: MemoryReader): HeapWalk {
    const allocated: Extent[] = [];
    const free: Extent[] = [];
    const bump = reader.peek64(this.base + 8);
    let off = HEAP_OFF;
    while (off < bump) {
      const size = reader.peek64(this.base + off);
      if (size === 0 || off + HDR + size > bump) break;
      const state = reader.peek64(this.base + off + 8);
      (state === 1 ? allocated : free).push({ addr: this.base + off + HDR, sizeBytes: size });
      off += HDR + size;
    }
    free.push({ addr: this.base + bump, sizeBytes: this.end - this.base - bump });
    return { allocated, free };
  }

  checkConsistency(reader: MemoryReader): ConsistencyReport {
    const errors: string[] = [];
    if (reader.peek64(this.base) !== MAGIC) errors.push(`bad magic at 0x${this.base.toString(16)}`);
    const bump = reader.peek64(this.base + 8);
    let off = HEAP_OFF;
    while (off < bump && errors.length === 0) {
      const size = reader.peek64(this.base + off);
      const state = reader.peek64(this.base + off + 8);
      if (size === 0 || size % 16 !== 0 || off + HDR + size > bump) errors.push(`bad block size ${size} at 0x${(this.base + off).toString(16)}`);
      else if (state !== 1 && state !== 2) errors.push(`bad block state ${state} at 0x${(this.base + off).toString(16)}`);
      off += HDR + size;
    }
    return { ok: errors.length === 0, errors };
  }
}

function factory(name: string, flaw: Flaw): AllocatorFactory {
  return {
    name,
    description: `synthetic bump allocator for checker tests (${flaw})`,
    idioms: ['malloc-then-link', 'alloc-into'],
    promisesNoLeak: () => false,
    broken: flaw !== 'none',
    create: (m) => new SynthAllocator(name, m, flaw),
  };
}

export const synthAllocators: readonly AllocatorFactory[] = [
  factory('synth', 'none'),
  factory('synth-nofence', 'nofence'),
  factory('synth-noflush', 'noflush'),
];
