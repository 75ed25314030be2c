/**
 * larson (Larson & Krishnan, ISMM'98), as Ralloc's evaluation runs it:
 * `larson 30 64 400 1000 10000 123 T`.
 *
 * Model (test/benchmark/larson.cpp): sizes uniform in [minSize, maxSize); T slot sets
 * of `slotsPerThread` pointers (one contiguous DRAM array, plus the 4-byte size array).
 * Warm-up, in setup on core 0 (the original's main thread, before timing starts):
 * allocate every slot, shuffle all T x slots pointers (Fisher-Yates), then 4N random
 * free-and-malloc pairs over all N slots. So every block a worker first frees was
 * allocated by core 0. Measured phase: each thread repeatedly frees a random slot of
 * its set, mallocs a random size into it and writes two bytes of it (and reads one),
 * `rounds` x slotsPerThread times per thread life; then the life ends and a successor
 * thread inherits the slot set (cross-thread frees).
 *
 * Successor model (threads are fixed to cores here): in life g, thread t works on slot
 * set (t + g) mod T. So at each life boundary a thread takes over the set that thread
 * t+1 worked on, and frees blocks that another core allocated. A `takeover` op waits
 * (returns 'blocked', in simulated time) until the set's previous life has retired;
 * a `retire` op marks the set's life done (a DRAM counter per set). With T = 1 the
 * successor runs on the same core, so only the warm-up blocks cross threads. The first
 * `takeover` of each thread waits until the warm-up ended on core 0 (the original
 * creates its workers then), so the measured phase starts at setupEndCycles on every
 * core whether or not the runner adds its own barrier.
 *
 * Deviations: the 30 s runtime is replaced by `lives` thread lives per slot set (the
 * simulation is bounded by work, not host time); randomness comes from the seed tree
 * (per-thread child seeds, one derived seed per `pairs` op), not lran2 seeded by 123.
 *
 * Streams: per life `takeover`, then `pairs` ops of up to `pairsPerOp` pairs, each
 * carrying the seed that fully determines its victims and sizes (`larsonPairPlan`),
 * then `retire`; a `pairs` op yields to the scheduler between pairs, so `pairsPerOp`
 * changes what an op counts, not the schedule. Metric: allocations per simulated second
 * of the measured phase (`larsonMeasuredAllocations` / (makespan - setupEndCycles)).
 * `scale` divides rounds only (the run's length); the slot sets keep their size.
 */
import { siteId, type Core } from '../sim/api.ts';
import { SeedTree, type Choice } from '../sim/choice.ts';
import type { Op, OpResult, OpSteps, ThreadStreams, Workload, WorkloadContext } from './contract.ts';
import { WorkloadParamError } from './contract.ts';
import { checkThreads, completeParams, paramsOf, scaled } from './common/params.ts';
import { mustMalloc, ThreadRecords, withSite } from './common/memory.ts';

export interface LarsonParams extends Record<string, number> {
  minSize: number;
  maxSize: number;
  slotsPerThread: number;
  rounds: number;
  lives: number;
  pairsPerOp: number;
  scale: number;
}

const DEFAULTS: LarsonParams = { minSize: 64, maxSize: 400, slotsPerThread: 1000, rounds: 10000, lives: 2, pairsPerOp: 1000, scale: 1 };
const S_WARMUP = siteId('larson:warmup');
const S_PAIR = siteId('larson:pair');
const CHAR_A = 97;
const CHAR_B = 98;

export function larsonPairsPerLife(p: LarsonParams): number {
  return scaled(p.rounds, p.scale) * p.slotsPerThread;
}

/** Allocations of the measured phase (all threads, all lives). */
export function larsonMeasuredAllocations(p: LarsonParams, threads: number): number {
  return threads * p.lives * larsonPairsPerLife(p);
}

function randomSize(c: Choice, minSize: number, maxSize: number): number {
  return maxSize === minSize ? minSize : minSize + c.index(maxSize - minSize);
}

/** The victims and sizes of one `pairs` op: a pure function of the op's data. */
export function larsonPairPlan(seed: string, count: number, slots: number, minSize: number, maxSize: number): { victim: number; sizeBytes: number }[] {
  const c = new SeedTree(seed).choice();
  const out: { victim: number; sizeBytes: number }[] = [];
  for (let i = 0; i < count; i++) {
    const victim = c.index(slots);
    out.push({ victim, sizeBytes: randomSize(c, minSize, maxSize) });
  }
  return out;
}

function validate(given: Partial<LarsonParams>, threads: number, heapSizeBytes: number): LarsonParams {
  checkThreads(threads);
  const heap = Math.max(1, heapSizeBytes);
  const p = completeParams(given, DEFAULTS, {
    minSize: { min: 1, max: heap },
    maxSize: { min: 1, max: heap },
    slotsPerThread: { min: 1, max: 10_000_000 },
    rounds: { min: 1, max: 1_000_000_000 },
    lives: { min: 1, max: 1_000_000 },
    pairsPerOp: { min: 1, max: 1_000_000_000 },
    scale: { min: 1, max: 1_000_000_000 },
  });
  if (p.maxSize < p.minSize) throw new WorkloadParamError('maxSize', `an integer in [minSize = ${p.minSize}, ${heap}]`, p.maxSize);
  if (threads * p.slotsPerThread * p.maxSize > heap) {
    throw new WorkloadParamError('slotsPerThread', `threads x slotsPerThread x maxSize <= heap (${heap} B): at most ${Math.floor(heap / (threads * p.maxSize))}`, p.slotsPerThread);
  }
  return p;
}

function generate(seed: SeedTree, p: LarsonParams, threads: number): ThreadStreams {
  const perLife = larsonPairsPerLife(p);
  const streams: Op[][] = [];
  for (let t = 0; t < threads; t++) {
    const ts = seed.child(`thread-${t}`);
    const ops: Op[] = [];
    for (let life = 0; life < p.lives; life++) {
      const set = (t + life) % threads;
      ops.push({ kind: 'takeover', set, life });
      for (let done = 0, k = 0; done < perLife; done += p.pairsPerOp, k++) {
        // The thread's derived seed plus the op's position: unique, and cheap to form
        // (a full child derivation per op costs a SHA-256 each, 20 s at 64 threads).
        ops.push({ kind: 'pairs', set, count: Math.min(p.pairsPerOp, perLife - done), seed: `${ts.seed}:life-${life}:op-${k}` });
      }
      ops.push({ kind: 'retire', set, life });
    }
    streams.push(ops);
  }
  return streams;
}

interface State {
  /** Core 0's clock when the warm-up ended: the workers are created then. */
  startCycles: number;
  blocks: number;
  sizes: number;
  lifeDone: ThreadRecords;
  slots: number;
  minSize: number;
  maxSize: number;
}

/** One free-and-malloc pair on slot `slot` (absolute index into the arrays). */
function pair(ctx: WorkloadContext, core: Core, st: State, slot: number, sizeBytes: number): number {
  ctx.allocator.free(core, core.load64(st.blocks + slot * 8));
  const p = mustMalloc('larson', ctx.allocator, core, sizeBytes);
  core.store64(st.blocks + slot * 8, p);
  core.store(st.sizes + slot * 4, 4, sizeBytes);
  return p;
}

function setup(ctx: WorkloadContext, core: Core): void {
  const p = paramsOf<LarsonParams>(ctx, 'larson');
  if (ctx.seed === undefined) throw new Error('larson: setup needs ctx.seed for the warm-up (executeRun sets it)');
  const n = ctx.threads * p.slotsPerThread;
  const st: State = {
    startCycles: 0,
    blocks: ctx.machine.reserveDram(n * 8, 64),
    sizes: ctx.machine.reserveDram(n * 4, 64),
    lifeDone: ThreadRecords.reserve(ctx.machine, ctx.threads, 1),
    slots: p.slotsPerThread,
    minSize: p.minSize,
    maxSize: p.maxSize,
  };
  ctx.state.larson = st;
  withSite(core, S_WARMUP, () => warmup(ctx, core, st, n, ctx.seed!.child('warmup').choice()));
  st.startCycles = core.clockCycles;
}

function warmup(ctx: WorkloadContext, core: Core, st: State, n: number, c: Choice): void {
  for (let i = 0; i < n; i++) {
    const size = randomSize(c, st.minSize, st.maxSize);
    core.store64(st.blocks + i * 8, mustMalloc('larson', ctx.allocator, core, size));
    core.store(st.sizes + i * 4, 4, size);
  }
  for (let k = n; k > 0; k--) {
    const v = c.index(k);
    const a = core.load64(st.blocks + v * 8);
    core.store64(st.blocks + v * 8, core.load64(st.blocks + (k - 1) * 8));
    core.store64(st.blocks + (k - 1) * 8, a);
  }
  for (let i = 0; i < 4 * n; i++) {
    const v = c.index(n);
    pair(ctx, core, st, v, randomSize(c, st.minSize, st.maxSize));
  }
}

/** One `pairs` op: free-and-malloc pairs, one step per pair (yielding between them). */
function* runPairs(ctx: WorkloadContext, core: Core, st: State, op: Op): Generator<undefined, 'done', undefined> {
  const base = (op.set as number) * st.slots;
  const plan = larsonPairPlan(op.seed as string, op.count as number, st.slots, st.minSize, st.maxSize);
  for (let i = 0; i < plan.length; i++) {
    if (i > 0) yield;
    const { victim, sizeBytes } = plan[i];
    const prev = core.setSite(S_PAIR);
    const p = pair(ctx, core, st, base + victim, sizeBytes);
    core.store(p, 1, CHAR_A);
    core.load(p, 1);
    if (sizeBytes > 1) core.store(p + 1, 1, CHAR_B);
    core.setSite(prev);
  }
  return 'done';
}

function runOp(ctx: WorkloadContext, core: Core, _thread: number, op: Op): OpResult | OpSteps {
  const st = ctx.state.larson as State;
  const set = op.set as number;
  switch (op.kind) {
    case 'takeover':
      // The original creates its worker threads after the warm-up: none starts earlier.
      if (op.life === 0) core.waitUntil(st.startCycles);
      return st.lifeDone.load(core, set, 0) === op.life ? 'done' : 'blocked';
    case 'pairs':
      return runPairs(ctx, core, st, op);
    default:
      st.lifeDone.store(core, set, 0, (op.life as number) + 1);
      return 'done';
  }
}

export const larson: Workload<LarsonParams> = {
  name: 'larson',
  kind: 'benchmark',
  description: 'Larson server benchmark: random free-and-malloc pairs over per-thread slot sets of 64-400 B blocks; successors inherit the slots (30 64 400 1000 10000 123 T)',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
};
