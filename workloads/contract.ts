/**
 * The workload contract.
 *
 * Model: a workload turns (seed, params, threads) into per-thread operation streams
 * of plain serialisable data (identical for every allocator), executes one operation
 * at a time on a core through an allocator, and, for the persistent data structures,
 * verifies the structure in a (possibly recovered) heap by walking it from the
 * persistent roots.
 *
 * Invariants: `generate` depends only on the seed tree and params; `runOp` touches
 * memory only through the core and the allocator; `verify` is read-only and uncharged.
 */
import type { Addr, Core, Machine, MemoryReader } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Allocator, Extent, Idiom } from '../allocators/contract.ts';

/** One operation: plain data. `kind` is workload-specific (e.g. 'insert', 'malloc'). */
export interface Op {
  readonly kind: string;
  readonly [field: string]: number | string | boolean;
}

export type ThreadStreams = readonly (readonly Op[])[];

export interface WorkloadContext {
  readonly machine: Machine;
  readonly allocator: Allocator;
  readonly idiom: Idiom;
  readonly threads: number;
  /** Workload-owned volatile state (DRAM addresses reserved in setup, counters, ...). */
  readonly state: Record<string, unknown>;
  /**
   * The validated params of this run (what `generate` received). Optional for
   * compatibility; executeRun always sets it, and setup needs it to size its arrays.
   */
  readonly params?: object;
  /**
   * The workload's seed node (the same one `generate` received), for setup-time
   * randomness such as larson's warm-up; setup derives its own child from it.
   */
  readonly seed?: SeedTree;
}

/** Result of running one op: 'done', or 'blocked' (retry later, e.g. an empty queue). */
export type OpResult = 'done' | 'blocked';

/**
 * An op of several steps (a generator that yields between allocator calls): the
 * scheduler lets other cores run at each yield (sim/scheduler.ts); the return value is
 * the op's result. Only the first step may end in 'blocked'; no lock is held at a yield.
 */
export type OpSteps = Iterator<unknown, OpResult, undefined>;

export interface VerifyReport {
  /** Objects reachable from the persistent roots. */
  readonly reachable: readonly Extent[];
  /** Integrity errors (cycles, bad checksums, dangling pointers), each naming the address. */
  readonly errors: readonly { readonly addr: Addr; readonly message: string }[];
  /** Keys present in the structure (data-structure workloads), ascending. */
  readonly keys: readonly number[];
}

/** A completed or in-flight operation, in global schedule order. */
export interface OpRef {
  readonly thread: number;
  readonly opIndex: number;
}

export interface Workload<P extends object = Record<string, number | string>> {
  readonly name: string;
  readonly kind: 'benchmark' | 'structure' | 'recovery';
  readonly description: string;
  /** Published defaults. */
  readonly defaults: P;
  /** Validate and complete params; throws WorkloadParamError naming the parameter and range. */
  validate(params: Partial<P>, threads: number, heapSizeBytes: number): P;
  generate(seed: SeedTree, params: P, threads: number): ThreadStreams;
  /** Called once on core 0 after allocator.format (roots, DRAM arrays, queues). */
  setup(ctx: WorkloadContext, core: Core): void;
  /** Run one op: its result, or its steps (yielding between allocator calls). */
  runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): OpResult | OpSteps;
  /** Walk the persistent structure from the roots in `reader` (structure/recovery workloads). */
  verify?(reader: MemoryReader, allocator: Allocator, params: P): VerifyReport;
  /**
   * Durability oracle input: given the ops completed (in schedule order) and the ops in
   * flight at the crash, which keys must be present and which must be absent.
   */
  expectedKeys?(
    streams: ThreadStreams,
    completed: readonly OpRef[],
    inFlight: readonly OpRef[],
  ): { readonly mustContain: readonly number[]; readonly mustNotContain: readonly number[] };
  /**
   * The same oracle for many crash points of one run: `at(n, inFlight)` equals
   * expectedKeys(streams, completed.slice(0, n), inFlight) at a cost independent of n
   * (crash checking asks at every point of long runs).
   */
  expectedKeysIndex?(
    streams: ThreadStreams,
    completed: readonly OpRef[],
  ): (completedCount: number, inFlight: readonly OpRef[]) => { readonly mustContain: readonly number[]; readonly mustNotContain: readonly number[] };
}

export class WorkloadParamError extends Error {
  override name = 'WorkloadParamError';
  constructor(
    readonly param: string,
    readonly expected: string,
    readonly found: unknown,
  ) {
    super(`parameter "${param}": expected ${expected}, found ${JSON.stringify(found)}`);
  }
}
