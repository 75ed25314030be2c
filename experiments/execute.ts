/**
 * Execute one run: the one place that wires sim + allocator + workload.
 *
 * Model: seed tree -> workload.generate -> per-thread op streams; a fresh Machine
 * (cost model, cores = threads) -> allocator.format -> workload.setup on core 0 ->
 * the scheduler runs the streams (core with the smallest clock goes next) -> counters,
 * the completion history (global order) and, if enabled, the persistency trace.
 *
 * Invariants: deterministic for the same inputs; nothing here reads host time.
 */
import type { Core, Counters } from '../sim/api.ts';
import { SeedTree } from '../sim/choice.ts';
import type { CostModel } from '../sim/cost-model.ts';
import { createMachine, type SimMachine } from '../sim/machine.ts';
import { runSchedule } from '../sim/scheduler.ts';
import type { Allocator, AllocatorFactory, AllocatorStats, Idiom } from '../allocators/contract.ts';
import type { OpRef, ThreadStreams, Workload, WorkloadContext } from '../workloads/contract.ts';

export interface RunInput {
  readonly allocator: AllocatorFactory;
  readonly workload: Workload<any>;
  /** Validated workload parameters. */
  readonly params: object;
  readonly idiom: Idiom;
  readonly threads: number;
  readonly seed: number | string;
  readonly cost: CostModel;
  readonly nvramSizeBytes: number;
  readonly dramSizeBytes: number;
  /** Record the persistency trace (crash enumeration). */
  readonly trace: boolean;
  /** Stop after this many completed ops in total (crash studies such as fill-heap). */
  readonly stopAfterOps?: number;
  /** Start every core at the clock where setup ended (so per-op figures exclude setup). Default false. */
  readonly barrierAfterSetup?: boolean;
  /**
   * Execute without timing (one thread; SimCore functional cores): memory, trace and
   * completion history as timed, but clocks, cycles and counters mean nothing. Default false.
   */
  readonly functional?: boolean;
}

export interface RunOutput {
  readonly machine: SimMachine;
  readonly allocator: Allocator;
  readonly context: WorkloadContext;
  readonly streams: ThreadStreams;
  /** Completed ops in global completion order. */
  readonly history: OpRef[];
  /** Trace length when setup finished (the first op begins after it). */
  readonly setupTraceLength: number;
  readonly opsTotal: number;
  /** Makespan: the largest core clock after the run (not cycles for a functional run). */
  readonly cycles: number;
  /** Core 0's clock when format + setup finished. */
  readonly setupEndCycles: number;
  /** Machine counters (sum over cores) when format + setup finished. */
  readonly setupCounters: Counters;
  /** Sum of the core clocks when the operations started (after the barrier, if any). */
  readonly opsStartCoreCycles: number;
  /** The allocator's stats() when format + setup finished (undefined without the hook). */
  readonly setupStats: AllocatorStats | undefined;
}

export function executeRun(input: RunInput): RunOutput {
  const seeds = SeedTree.root(input.seed);
  const workloadSeed = seeds.child('workload');
  const streams = input.workload.generate(workloadSeed, input.params as never, input.threads);
  const machine = createMachine({
    cores: input.threads,
    cost: input.cost,
    dramSizeBytes: input.dramSizeBytes,
    nvramSizeBytes: input.nvramSizeBytes,
    trace: input.trace,
    functional: input.functional,
  });
  const allocator = input.allocator.create(machine);
  const core0: Core = machine.core(0);
  allocator.format(core0);
  const context: WorkloadContext = { machine, allocator, idiom: input.idiom, threads: input.threads, state: {}, params: input.params, seed: workloadSeed };
  input.workload.setup(context, core0);
  const setupTraceLength = machine.trace?.length ?? 0;
  const setupEndCycles = core0.clockCycles;
  const setupStats = allocator.stats?.();
  if (input.barrierAfterSetup) for (const core of machine.cores) core.waitUntil(setupEndCycles);
  // Taken after the barrier: its wait belongs to setup, not to the operations.
  const setupCounters = { ...machine.counters() };
  const opsStartCoreCycles = sumClocks(machine);
  const limit = input.stopAfterOps ?? Infinity;
  const counts = streams.map((s) => s.length);
  const completed = new CompletionLog(Math.min(limit, counts.reduce((a, b) => a + b, 0)));
  let done = 0;
  runSchedule(
    machine,
    counts,
    (core, thread, opIndex) => (done >= limit ? 'done' : input.workload.runOp(context, core, thread, streams[thread][opIndex])),
    { afterOp: (thread, opIndex) => { if (done < limit) completed.add(thread, opIndex); done++; } },
  );
  const history = completed.refs();
  return { machine, allocator, context, streams, history, setupTraceLength, opsTotal: history.length, cycles: machine.maxClockCycles(), setupEndCycles, setupCounters, opsStartCoreCycles, setupStats };
}

/**
 * The completed ops in order, kept as two Int32Arrays while the run goes (an object
 * per op made while the simulator runs survives several young collections: a
 * 100,000-op run paid for copying them) and made into OpRefs once at the end.
 */
class CompletionLog {
  private readonly threads: Int32Array;
  private readonly opIndices: Int32Array;
  private n = 0;
  constructor(capacity: number) {
    this.threads = new Int32Array(capacity);
    this.opIndices = new Int32Array(capacity);
  }
  add(thread: number, opIndex: number): void {
    this.threads[this.n] = thread;
    this.opIndices[this.n++] = opIndex;
  }
  refs(): OpRef[] {
    const out: OpRef[] = [];
    for (let k = 0; k < this.n; k++) out.push({ thread: this.threads[k], opIndex: this.opIndices[k] });
    return out;
  }
}

/** Sum of the core clocks (the cycle split's core cycles). */
export function sumClocks(machine: { readonly cores: readonly { readonly clockCycles: number }[] }): number {
  let sum = 0;
  for (const c of machine.cores) sum += c.clockCycles;
  return sum;
}
