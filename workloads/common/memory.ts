/**
 * Memory helpers shared by the workloads: persisting a range, allocating with a clear
 * out-of-memory error, and small per-thread records in simulated DRAM.
 *
 * Model: everything a workload keeps between two operations (cursors, pointer arrays,
 * progress counters) lives in simulated DRAM reserved in setup, and is read and
 * written through the core, so those accesses are charged like a real program's
 * loads and stores of its own arrays. JS locals inside one operation are registers.
 *
 * Invariants: `persistRange` issues one clwb per 64 B line touched, then one sfence.
 */
import type { Addr, Core } from '../../sim/api.ts';
import type { Allocator } from '../../allocators/contract.ts';

export const LINE_BYTES = 64;
export const WORD_BYTES = 8;

/** Raised when the allocator returns 0 during a workload operation. */
export class WorkloadOutOfMemoryError extends Error {
  override name = 'WorkloadOutOfMemoryError';
  constructor(
    readonly workload: string,
    readonly coreId: number,
    readonly sizeBytes: number,
  ) {
    super(`${workload}: out of memory allocating ${sizeBytes} B on core ${coreId} (use a larger heap or a smaller scale)`);
  }
}

/** malloc that fails loudly: the benchmarks treat a null return as a fatal error, as the originals assert. */
export function mustMalloc(workload: string, allocator: Allocator, core: Core, sizeBytes: number): Addr {
  const p = allocator.malloc(core, sizeBytes);
  if (p === 0) throw new WorkloadOutOfMemoryError(workload, core.id, sizeBytes);
  return p;
}

/** clwb every line of [addr, addr+sizeBytes), without a fence. */
export function writeBackRange(core: Core, addr: Addr, sizeBytes: number): void {
  const first = addr - (addr % LINE_BYTES);
  for (let line = first; line < addr + sizeBytes; line += LINE_BYTES) core.clwb(line);
}

/** clwb every line of [addr, addr+sizeBytes), then sfence: the range is durable. */
export function persistRange(core: Core, addr: Addr, sizeBytes: number): void {
  writeBackRange(core, addr, sizeBytes);
  core.sfence();
}

/** Store one failure-atomic 8-byte word and make it durable (the publication step). */
export function publishWord(core: Core, addr: Addr, value: number): void {
  core.storeAtomic64(addr, value);
  core.clwb(addr);
  core.sfence();
}

/** Store zeros over [addr, addr+sizeBytes) with word stores (sizeBytes a multiple of 8). */
export function zeroWords(core: Core, addr: Addr, sizeBytes: number): void {
  for (let off = 0; off < sizeBytes; off += WORD_BYTES) core.store64(addr + off, 0);
}

/**
 * Per-thread records of `wordsPerThread` words in DRAM, each thread's record on its
 * own cache lines (no false sharing between cores).
 */
export class ThreadRecords {
  private readonly strideBytes: number;
  constructor(
    readonly base: Addr,
    wordsPerThread: number,
  ) {
    this.strideBytes = Math.ceil((wordsPerThread * WORD_BYTES) / LINE_BYTES) * LINE_BYTES;
  }
  static reserve(machine: { reserveDram(sizeBytes: number, alignBytes?: number): Addr }, threads: number, wordsPerThread: number): ThreadRecords {
    const stride = Math.ceil((wordsPerThread * WORD_BYTES) / LINE_BYTES) * LINE_BYTES;
    return new ThreadRecords(machine.reserveDram(stride * threads, LINE_BYTES), wordsPerThread);
  }
  addr(thread: number, word: number): Addr {
    return this.base + thread * this.strideBytes + word * WORD_BYTES;
  }
  load(core: Core, thread: number, word: number): number {
    return core.load64(this.addr(thread, word));
  }
  store(core: Core, thread: number, word: number, value: number): void {
    core.store64(this.addr(thread, word), value);
  }
}

/** Run `fn` with the core's trace site set to `site`, restoring the previous one. */
export function withSite<T>(core: Core, site: number, fn: () => T): T {
  const prev = core.setSite(site);
  try {
    return fn();
  } finally {
    core.setSite(prev);
  }
}
