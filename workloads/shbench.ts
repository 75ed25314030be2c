/**
 * shbench (MicroQuill sh6bench), as Ralloc's evaluation runs it: `100000, 64, 400, T`.
 *
 * Model (test/benchmark/sh6bench.cpp): the call count is divided by T; each thread
 * then repeats calls/T times: for base sizes from minSize while below maxSize
 * (base = base*3/2 + 1), for size = base halving while >= minSize, allocate `size`
 * bytes 1 time, x10 if below 10,000 B, a further x5 below 1,000 B and another x5
 * below 100 B. Pointers go into a ring of calls/T slots (`ringSlots` overrides). When
 * the write cursor reaches the end, the next one-fifth window (`windowSlots`
 * overrides) is kept and everything else is freed: the part before the window in
 * allocation order, the part after it in reverse; writing then resumes, skipping the
 * kept window. At the end a thread frees ring slots [0, cursor), exactly as the
 * original (whose other residual blocks stay allocated). Objects are not written.
 *
 * Deviation: the original ring is itself pm_malloc'ed; here, as for every workload,
 * the ring and the cursor record (cursor, window start, window end) live in simulated
 * DRAM, so ring accesses are DRAM loads/stores.
 *
 * Streams: per repeat one `malloc` op per (size, count) pair of the schedule (9 ops
 * with the defaults, 1,250 allocations), then one final `finish` op; ops yield to the
 * scheduler between allocator calls. Metric: makespan. `scale` divides the repeats
 * (callCount / T, floored, at least 1) only: the ring (callCount / T slots, as
 * published) and its window keep their size.
 */
import { siteId, type Core } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Op, OpSteps, ThreadStreams, Workload, WorkloadContext } from './contract.ts';
import { WorkloadParamError } from './contract.ts';
import { checkThreads, completeParams, paramsOf, scaled } from './common/params.ts';
import { mustMalloc, ThreadRecords } from './common/memory.ts';

export interface ShbenchParams extends Record<string, number> {
  callCount: number;
  minSize: number;
  maxSize: number;
  /** Ring slots per thread; 0 = calls/T as the original. */
  ringSlots: number;
  /** Kept window in slots; 0 = ring/5 as the original. */
  windowSlots: number;
  scale: number;
}

const DEFAULTS: ShbenchParams = { callCount: 100000, minSize: 64, maxSize: 400, ringSlots: 0, windowSlots: 0, scale: 1 };
const S_MALLOC = siteId('shbench:malloc');
const S_FREE = siteId('shbench:free');
// Cursor record words.
const MP = 0;
const SAVE_START = 1;
const SAVE_END = 2;

/** The (size, count) schedule of one repeat. */
export function shbenchSchedule(minSize: number, maxSize: number): { sizeBytes: number; count: number }[] {
  const out: { sizeBytes: number; count: number }[] = [];
  for (let base = minSize; base < maxSize; base = Math.floor((base * 3) / 2) + 1) {
    for (let size = base; size >= minSize; size = Math.floor(size / 2)) {
      let count = 1;
      if (size < 10000) count = 10;
      if (size < 1000) count *= 5;
      if (size < 100) count *= 5;
      out.push({ sizeBytes: size, count });
    }
  }
  return out;
}

/** Repeats per thread (scaled: the run's length) and the ring and window (never scaled). */
export function shbenchShape(p: ShbenchParams, threads: number): { repeats: number; ringSlots: number; windowSlots: number } {
  const calls = Math.floor(p.callCount / threads);
  const ringSlots = p.ringSlots === 0 ? calls : p.ringSlots;
  return { repeats: Math.floor(scaled(p.callCount, p.scale) / threads), ringSlots, windowSlots: p.windowSlots === 0 ? Math.floor(ringSlots / 5) : p.windowSlots };
}

function validate(given: Partial<ShbenchParams>, threads: number, heapSizeBytes: number): ShbenchParams {
  checkThreads(threads);
  const big = { min: 1, max: 1_000_000_000 };
  const heap = Math.max(1, heapSizeBytes);
  const p = completeParams(given, DEFAULTS, {
    callCount: big,
    minSize: { min: 1, max: heap },
    maxSize: { min: 1, max: heap },
    ringSlots: { min: 0, max: 100_000_000 },
    windowSlots: { min: 0, max: 100_000_000 },
    scale: big,
  });
  if (p.maxSize <= p.minSize) throw new WorkloadParamError('maxSize', `an integer in [minSize + 1 = ${p.minSize + 1}, ${heap}]`, p.maxSize);
  const s = shbenchShape(p, threads);
  if (s.repeats < 1) throw new WorkloadParamError('callCount', `an integer in [threads x scale = ${threads * p.scale}, 1000000000] (one call per thread at least)`, p.callCount);
  if (s.windowSlots >= s.ringSlots) {
    throw new WorkloadParamError('windowSlots', `a window smaller than the ring: an integer in [0, ${s.ringSlots - 1}]`, p.windowSlots);
  }
  return p;
}

function generate(_seed: SeedTree, p: ShbenchParams, threads: number): ThreadStreams {
  const s = shbenchShape(p, threads);
  const repeat: Op[] = shbenchSchedule(p.minSize, p.maxSize).map((e) => ({ kind: 'malloc', sizeBytes: e.sizeBytes, count: e.count }));
  const stream: Op[] = [];
  for (let r = 0; r < s.repeats; r++) stream.push(...repeat);
  stream.push({ kind: 'finish' });
  return Array.from({ length: threads }, () => stream);
}

interface State {
  rings: number[];
  cursors: ThreadRecords;
  ringSlots: number;
  windowSlots: number;
}

function setup(ctx: WorkloadContext, core: Core): void {
  const p = paramsOf<ShbenchParams>(ctx, 'shbench');
  const s = shbenchShape(p, ctx.threads);
  const rings: number[] = [];
  for (let t = 0; t < ctx.threads; t++) rings.push(ctx.machine.reserveDram(s.ringSlots * 8, 64));
  const cursors = ThreadRecords.reserve(ctx.machine, ctx.threads, 3);
  for (let t = 0; t < ctx.threads; t++) {
    cursors.store(core, t, MP, 0);
    cursors.store(core, t, SAVE_START, s.ringSlots);
    cursors.store(core, t, SAVE_END, s.ringSlots);
  }
  const st: State = { rings, cursors, ringSlots: s.ringSlots, windowSlots: s.windowSlots };
  ctx.state.shbench = st;
}

/** The loop's locals, spilled to the thread's DRAM cursor record between ops. */
interface Cursor {
  mp: number;
  saveStart: number;
  saveEnd: number;
}

/** The ring wrapped: move the kept window, free the rest, and reposition the cursor. */
function* wrap(ctx: WorkloadContext, core: Core, st: State, ring: number, c: Cursor): Generator<undefined, void, undefined> {
  const n = st.ringSlots;
  c.saveStart = c.saveEnd >= n ? 0 : c.saveEnd;
  c.saveEnd = Math.min(c.saveStart + st.windowSlots, n);
  for (let i = 0; i < c.saveStart; i++) {
    yield;
    freeSlot(ctx, core, ring + i * 8);
  }
  for (let i = n - 1; i >= c.saveEnd; i--) {
    yield;
    freeSlot(ctx, core, ring + i * 8);
  }
  c.mp = c.saveStart === 0 ? c.saveEnd : 0;
}

function freeSlot(ctx: WorkloadContext, core: Core, slot: number): void {
  const prev = core.setSite(S_FREE);
  ctx.allocator.free(core, core.load64(slot));
  core.setSite(prev);
}

/** `count` mallocs of sizeBytes into the ring, one step per allocator call. */
function* mallocBatch(ctx: WorkloadContext, core: Core, thread: number, sizeBytes: number, count: number): Generator<undefined, 'done', undefined> {
  const st = ctx.state.shbench as State;
  const ring = st.rings[thread];
  const c: Cursor = {
    mp: st.cursors.load(core, thread, MP),
    saveStart: st.cursors.load(core, thread, SAVE_START),
    saveEnd: st.cursors.load(core, thread, SAVE_END),
  };
  for (let i = 0; i < count; i++) {
    if (i > 0) yield;
    const prev = core.setSite(S_MALLOC);
    const p = mustMalloc('shbench', ctx.allocator, core, sizeBytes);
    core.setSite(prev);
    core.store64(ring + c.mp * 8, p);
    c.mp++;
    if (c.mp === c.saveStart) c.mp = c.saveEnd;
    if (c.mp >= st.ringSlots) yield* wrap(ctx, core, st, ring, c);
  }
  st.cursors.store(core, thread, MP, c.mp);
  st.cursors.store(core, thread, SAVE_START, c.saveStart);
  st.cursors.store(core, thread, SAVE_END, c.saveEnd);
  return 'done';
}

function* finish(ctx: WorkloadContext, core: Core, thread: number): Generator<undefined, 'done', undefined> {
  const st = ctx.state.shbench as State;
  const ring = st.rings[thread];
  const mp = st.cursors.load(core, thread, MP);
  for (let i = 0; i < mp; i++) {
    if (i > 0) yield;
    freeSlot(ctx, core, ring + i * 8);
  }
  st.cursors.store(core, thread, MP, 0);
  return 'done';
}

function runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): OpSteps {
  return op.kind === 'malloc' ? mallocBatch(ctx, core, thread, op.sizeBytes as number, op.count as number) : finish(ctx, core, thread);
}

export const shbench: Workload<ShbenchParams> = {
  name: 'shbench',
  kind: 'benchmark',
  description: 'sh6bench: mixed 64-400 B sizes, small ones more often, a ring of pointers freed around a moving one-fifth window (100000, 64, 400, T)',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
};
