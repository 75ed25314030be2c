/**
 * The machine API: the only surface allocators and workloads touch.
 *
 * Model: one simulated 32-bit address space with a volatile DRAM region and a
 * persistent NVRAM region (see `Layout`). Address 0 is never mapped (it is the null
 * pointer). A Core issues loads, stores, CAS, flushes and fences; each is charged to
 * that core's clock through the cache hierarchy by the rules of nvram-model.md, and
 * every NVRAM store unit, flush and fence is recorded in the persistency trace
 * (persistency.md, P1-P9).
 *
 * Values: a word is an unsigned integer below 2^53 (JS-safe). Loads of 1, 2, 4 bytes
 * are exact; an 8-byte load of a word whose value is >= 2^53 is a MisuseError
 * ('bad-value'). Stores check the same range.
 *
 * Invariants: an access outside both regions, a misaligned access where failure
 * atomicity is required (cas64, storeAtomic64, ntstore64), or a load from NVRAM before
 * it was formatted raises a MisuseError naming the address and the core.
 */
import type { CostModel } from './cost-model.ts';

export type Addr = number;
export type AccessSize = 1 | 2 | 4 | 8;

/** Where the two regions live. Both bases are 4 KiB aligned; address 0 is never mapped. */
export interface Layout {
  readonly dramBase: Addr;
  readonly dramSizeBytes: number;
  readonly nvramBase: Addr;
  readonly nvramSizeBytes: number;
}

export interface Core {
  readonly id: number;
  /** This core's clock, in cycles since the machine started. */
  readonly clockCycles: number;
  readonly machine: Machine;

  load(addr: Addr, sizeBytes: AccessSize): number;
  store(addr: Addr, sizeBytes: AccessSize, value: number): void;
  load64(addr: Addr): number;
  /** 8-byte store; a misaligned one is legal but not failure-atomic (several units, P1). */
  store64(addr: Addr, value: number): void;
  /** 8-byte store that must be failure-atomic: addr must be 8-byte aligned. */
  storeAtomic64(addr: Addr, value: number): void;
  /** Compare-and-swap of an aligned word; drains this core's pending write-backs (rule 5). */
  cas64(addr: Addr, expected: number, desired: number): boolean;
  /** Non-temporal 8-byte store: bypasses the cache, durable at the next fence (P7). */
  ntstore64(addr: Addr, value: number): void;

  /** Synchronous write-back of the line holding addr; no fence needed (P4, rule 4). */
  clflush(addr: Addr): void;
  /** Asynchronous write-back, durable at this core's next fence (P5, rule 3). */
  clflushopt(addr: Addr): void;
  /** Asynchronous write-back, durable at this core's next fence (P5, rule 3). */
  clwb(addr: Addr): void;
  sfence(): void;
  mfence(): void;

  /**
   * Initialise the lock word at lockAddr (an aligned word, DRAM or NVRAM) as a mutex
   * (spin, then sleep; the default) or a spin lock: stores 0, like pthread_mutex_init.
   * A lock must be initialised before lock/unlock; re-initialise after a restart.
   */
  initLock(lockAddr: Addr, kind?: 'mutex' | 'spin'): void;
  /**
   * Acquire the lock at lockAddr (a cas on the word). If another core holds it at this
   * core's time, this core waits (spinning, or asleep and woken: sim/locks.ts); the wait
   * is counted as lockWaitCycles. Locks are not recursive.
   */
  lock(lockAddr: Addr): void;
  unlock(lockAddr: Addr): void;

  /** Charge pure computation (register work, hashing, ...) to this core. */
  compute(cycles: number): void;
  /**
   * Charge `count` instructions of an allocator path (a declared path length) at the
   * cost model's IPC (ipcMilli): cycles = count x 1000 / ipcMilli, the remainder carried
   * per core so the sum is exact. Memory accesses are charged separately (their L1 hit
   * at throughput, l1HitCycles), so a path length counts each instruction once.
   */
  instructions(count: number): void;
  /** Advance this core's clock to at least `cycles` (used by the scheduler for waits). */
  waitUntil(cycles: number): void;

  /**
   * Name the code issuing the next accesses (an allocator function, a workload step).
   * Recorded with each NVRAM store and flush for crash-counterexample reports.
   * Returns the previous site so callers can restore it.
   */
  setSite(site: number): number;
}

/** Counters, per core and in total (sum over cores). All integers. */
export interface Counters {
  loads: number;
  stores: number;
  l1Hits: number;
  l1Misses: number;
  l2Hits: number;
  l2Misses: number;
  llcHits: number;
  llcMisses: number;
  clflushes: number;
  clflushopts: number;
  clwbs: number;
  ntstores: number;
  sfences: number;
  mfences: number;
  cases: number;
  /** Write-backs caused by clflush / clflushopt / clwb / ntstore. */
  explicitWriteBacks: number;
  /** Write-backs caused by evicting a dirty line. */
  evictionWriteBacks: number;
  /** Bytes written to NVM media (64 B per line write-back, 256 B per XPBuffer read-modify-write where modelled). */
  nvmBytesWritten: number;
  coherenceTransfers: number;
  /** Lines brought into L2 by the hardware prefetchers (sim/prefetcher.ts); not in the hit and miss counts. */
  prefetches: number;
  lockAcquires: number;
  lockWaitCycles: number;
  /** Instructions charged with Core.instructions (declared path lengths). */
  instructions: number;
  /** Clock cycles of compute: Core.compute and Core.instructions. */
  computeCycles: number;
  /** Clock cycles of persist instructions: flush issue and clflush waits, ntstores, fence and locked-instruction drains. */
  persistCycles: number;
  /** Clock cycles spent waiting with nothing to do (Core.waitUntil: blocked ops, barriers). */
  idleCycles: number;
}

export interface MachineConfig {
  readonly cores: number;
  readonly cost: CostModel;
  readonly dramSizeBytes: number;
  readonly nvramSizeBytes: number;
  /** Record the persistency trace (needed for crash enumeration). Default true. */
  readonly trace?: boolean;
}

/** An uncharged, read-only view of memory (for checkers, verify walks and tests). */
export interface MemoryReader {
  peek64(addr: Addr): number;
  peek(addr: Addr, sizeBytes: AccessSize): number;
}

export interface Machine extends MemoryReader {
  readonly config: MachineConfig;
  readonly cost: CostModel;
  readonly layout: Layout;
  readonly cores: readonly Core[];
  core(id: number): Core;
  /** True once the NVRAM region was formatted (or the machine was opened over an image). */
  readonly nvramFormatted: boolean;
  /** Zero the NVRAM region and mark it formatted (allocator.format calls this first). */
  formatNvram(): void;
  /**
   * Reserve a static DRAM area (like a process's .bss or an mmap at start-up); not an
   * allocator, never freed. Deterministic in call order. alignBytes is a power of two.
   */
  reserveDram(sizeBytes: number, alignBytes?: number): Addr;
  isNvram(addr: Addr): boolean;
  isDram(addr: Addr): boolean;
  counters(coreId?: number): Counters;
  /** The largest core clock: the makespan of the run so far. */
  maxClockCycles(): number;
  /** The persistency trace (undefined when tracing is off). */
  readonly trace: PersistTrace | undefined;
  /** A snapshot of NVRAM contents as it is in memory now (clean-close images). */
  snapshotNvram(): NvramImage;
  /** Mark an operation boundary in the trace (the scheduler calls these). */
  beginOp(coreId: number, thread: number, opIndex: number): void;
  endOp(coreId: number, thread: number, opIndex: number): void;
}

/**
 * NVRAM contents as sparse 4 KiB pages (absent page = all zero). Immutable once
 * handed out: an image is shared as the base of copy-on-write overlays.
 */
export interface NvramImage {
  readonly nvramSizeBytes: number;
  /** Page index (offset from nvramBase >>> 12) -> 4096 bytes, or undefined for a zero page. */
  page(pageIndex: number): Uint8Array | undefined;
  /** Indices of pages that may be non-zero, ascending. */
  pageIndices(): readonly number[];
}

/**
 * The persistency trace: a compact, append-only record (typed arrays, 16 bytes an
 * event) of NVRAM store units, flushes, fences and operation boundaries, from the
 * moment the trace started over `base`. See sim/persistency/ for replay and images.
 */
export interface PersistTrace {
  /** NVRAM contents when the trace started. */
  readonly base: NvramImage;
  readonly length: number;
  kind(i: number): TraceKind;
  core(i: number): number;
  site(i: number): number;
  /** STORE*: NVRAM byte offset; CL*: NVRAM line index; OP_*: op index; FENCE: 0. */
  arg(i: number): number;
  /** STORE*: value low 32 bits; OP_*: thread. */
  valueLo(i: number): number;
  /** STORE*: value high bits. */
  valueHi(i: number): number;
  /** Bytes held by the trace's arrays (for the bytes-per-unit benchmark). */
  byteLength(): number;
}

/** Trace event kinds. STORE_n is one failure-atomic store unit of n bytes (P1). */
export const enum TraceKind {
  STORE1 = 0,
  STORE2 = 1,
  STORE4 = 2,
  STORE8 = 3,
  /** Non-temporal 8-byte store unit: a store followed by an implicit clwb (P7). */
  NTSTORE8 = 4,
  CLFLUSH = 5,
  CLFLUSHOPT = 6,
  CLWB = 7,
  /** sfence, mfence or a locked instruction: drains this core's pending flushes (P5, P6). */
  FENCE = 8,
  OP_BEGIN = 9,
  OP_END = 10,
}

/** Interned site names (allocator functions, workload steps) for trace attribution. */
const siteNames: string[] = ['(unknown)'];
const siteIds = new Map<string, number>([['(unknown)', 0]]);
export function siteId(name: string): number {
  let id = siteIds.get(name);
  if (id === undefined) {
    id = siteNames.length;
    siteNames.push(name);
    siteIds.set(name, id);
  }
  return id;
}
export function siteName(id: number): string {
  return siteNames[id] ?? `(site ${id})`;
}
