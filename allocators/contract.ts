/**
 * The allocator contract: what every allocator in nvlab implements, and what a user
 * implements to test their own allocator (load it by path from an experiment spec or
 * with `npx nvlab check-allocator <module>`).
 *
 * Model: an allocator manages the whole NVRAM region of the machine it is created on
 * as its persistent heap, keeps its persistent metadata there, and keeps its volatile
 * state in DRAM areas it reserves with `machine.reserveDram`. Every access goes through
 * a Core so that cycles, flushes and fences are counted. An Allocator object is the
 * volatile half: after a crash a new one is created on a fresh machine over the crash
 * image and `open` recovers.
 *
 * Invariants: returned blocks are 16-byte aligned, never overlap a live block, and are
 * 0 exactly when the heap is out of memory. Misuse (double free, freeing an address the
 * allocator never returned) raises AllocatorMisuseError and leaves the heap unchanged.
 */
import type { Addr, Core, Machine, MemoryReader } from '../sim/api.ts';
import type { PathLengths } from './path-lengths.ts';

export interface Extent {
  readonly addr: Addr;
  readonly sizeBytes: number;
}

/** What the heap walk reports: read-only, uncharged (uses MemoryReader peeks). */
export interface HeapWalk {
  /** Extents the allocator's persistent metadata says are allocated (usable bytes of each block). */
  readonly allocated: readonly Extent[];
  /** Extents the allocator would hand out (free), as far as its metadata tells. */
  readonly free: readonly Extent[];
}

export interface ConsistencyReport {
  readonly ok: boolean;
  /** One line per problem found, naming the address. */
  readonly errors: readonly string[];
}

/** What `open` did; `kind` says whether it was a clean restart or a crash recovery. */
export interface RecoveryStats {
  readonly kind: 'clean' | 'recovered';
  /** Cycles recovery took on the opening core. */
  readonly cycles: number;
  readonly logEntriesReplayed: number;
  readonly objectsMarked: number;
  readonly blocksScanned: number;
  readonly blocksFreed: number;
  /** Allocator-specific extra figures (integers), e.g. headerScanCycles, markCycles. */
  readonly extra?: Readonly<Record<string, number>>;
}

/**
 * Initialises a freshly allocated object before it is published: store its contents
 * and issue clwb for them. The allocator orders these with its own fence before the
 * destination pointer becomes durable.
 */
export type InitFn = (core: Core, addr: Addr) => void;

export type Idiom = 'malloc-then-link' | 'alloc-into';

export interface Allocator {
  readonly name: string;
  /** Create a fresh, empty heap in the machine's NVRAM (calls machine.formatNvram()). */
  format(core: Core): void;
  /** Open the heap in NVRAM: a clean restart or a crash recovery. */
  open(core: Core): RecoveryStats;
  /** Close cleanly: make everything durable and mark the heap clean. */
  close(core: Core): void;

  /** Allocate sizeBytes (>= 1); 0 when out of memory. */
  malloc(core: Core, sizeBytes: number): Addr;
  /** Free a block returned by malloc; free(0) is a no-op. */
  free(core: Core, addr: Addr): void;
  /**
   * Allocate, initialise with `init`, and publish the pointer at destAddr (8-byte
   * aligned, NVRAM or DRAM) in the allocator's natural idiom. Returns the block or 0.
   */
  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr;
  /** Unpublish the pointer stored at destAddr (store 0) and free the block. */
  freeFrom(core: Core, destAddr: Addr): void;

  readonly rootCount: number;
  /** NVRAM address of root slot i (usable as a mallocTo destination). */
  rootAddress(index: number): Addr;
  /** Set root i durably (store, and flush + fence as the allocator's idiom needs). */
  setRoot(core: Core, index: number, value: Addr): void;
  getRoot(core: Core, index: number): Addr;

  /** Read-only heap walk for the checkers (uncharged). */
  walkHeap(reader: MemoryReader): HeapWalk;
  /** Check the allocator's own persistent and volatile metadata (uncharged). */
  checkConsistency(reader: MemoryReader): ConsistencyReport;
  /**
   * Optional running totals for the experiment metrics (uncharged, since create()).
   * Allocators that log (undo/redo) report their entries; others may omit the method,
   * and the logEntriesPerOp cell stays empty.
   */
  stats?(): AllocatorStats;
}

/** Running totals an allocator may report (integers, since create()). */
export interface AllocatorStats {
  /** Undo/redo log entries written (each persisted log record counts once). */
  readonly logEntries: number;
}

/** How an experiment names and builds an allocator; a user module default-exports one. */
export interface AllocatorFactory {
  readonly name: string;
  readonly description: string;
  /** Publication idioms this allocator supports natively. */
  readonly idioms: readonly Idiom[];
  /** True if recovery promises no leaked block (recovery GC, or atomic publication with alloc-into). */
  readonly promisesNoLeak: (idiom: Idiom) => boolean;
  /** True if the allocator keeps nothing across a crash (the transient reference). */
  readonly volatile?: boolean;
  /** True for deliberately broken canary variants. */
  readonly broken?: boolean;
  /**
   * Instruction path lengths of the real allocator this one models, with sources
   * (allocators/path-lengths.ts), which its code charges with Core.instructions. An
   * allocator without them is charged no instructions, and the report says so.
   */
  readonly pathLengths?: PathLengths;
  create(machine: Machine): Allocator;
}

export type AllocatorMisuseKind = 'double-free' | 'foreign-free' | 'bad-size' | 'bad-root' | 'bad-destination';

export class AllocatorMisuseError extends Error {
  override name = 'AllocatorMisuseError';
  constructor(
    readonly kind: AllocatorMisuseKind,
    readonly addr: Addr,
    detail: string,
  ) {
    super(`${kind} at 0x${addr.toString(16)}: ${detail}`);
  }
}

/** Throws 'bad-destination' unless destAddr is an 8-byte aligned DRAM or NVRAM address of `machine`. */
export function checkDestination(machine: Machine, destAddr: Addr): void {
  if (!Number.isSafeInteger(destAddr) || destAddr % 8 !== 0 || !(machine.isNvram(destAddr) || machine.isDram(destAddr))) {
    throw new AllocatorMisuseError('bad-destination', destAddr, 'destAddr must be a non-null 8-byte aligned NVRAM or DRAM address');
  }
}

/** Throws 'bad-size' unless sizeBytes is a safe integer >= 1. */
export function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1) {
    throw new AllocatorMisuseError('bad-size', 0, `sizeBytes must be an integer >= 1, found ${sizeBytes}`);
  }
}

/** Throws 'bad-root' unless index is an integer in [0, rootCount). */
export function checkRootIndex(index: number, rootCount: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= rootCount) {
    throw new AllocatorMisuseError('bad-root', Number.isSafeInteger(index) ? index : 0, `root index must be an integer in 0..${rootCount - 1}, found ${index}`);
  }
}

/** Empty recovery statistics, for a clean open that did nothing special. */
export function cleanStats(cycles: number): RecoveryStats {
  return { kind: 'clean', cycles, logEntriesReplayed: 0, objectsMarked: 0, blocksScanned: 0, blocksFreed: 0 };
}
