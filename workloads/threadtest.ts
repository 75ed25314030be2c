/**
 * threadtest (Hoard suite), as Ralloc's evaluation runs it: `threadtest T 10000 100000 0 8`.
 *
 * Model (test/benchmark/threadtest.cpp): each of T threads does `iterations` rounds;
 * a round allocates objects/T objects of `fooCount` 8-byte Foo elements (64 B by
 * default), running the Foo constructor (two 4-byte fields per element, modelled as
 * one 8-byte store per element), then frees them all in allocation order. `work`
 * units of busy work follow every malloc and every free (8 cycles per unit: four
 * dependent ALU operations on a volatile stack variable). Each thread's pointer array
 * lives in simulated DRAM (the original's `new Foo*[]`). Metric: makespan in cycles.
 *
 * Streams: per thread, per round, `malloc` ops then `free` ops, each covering
 * `objectsPerOp` consecutive array slots (0 = the whole round in one op), so a default
 * stream is 2 x iterations ops per thread, whatever the object count. An op yields to
 * the scheduler between allocator calls (sim/scheduler.ts), so the grouping changes what
 * an "op" counts, never the schedule or the cycles.
 *
 * `scale` divides iterations only (floored, at least 1): the run gets shorter, the
 * per-thread live set (objects / T, as published) stays.
 */
import { siteId, type Core } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Op, ThreadStreams, Workload, WorkloadContext } from './contract.ts';
import { WorkloadParamError } from './contract.ts';
import { checkThreads, completeParams, paramsOf, scaled } from './common/params.ts';
import { mustMalloc } from './common/memory.ts';

export interface ThreadtestParams extends Record<string, number> {
  iterations: number;
  objects: number;
  work: number;
  fooCount: number;
  objectsPerOp: number;
  scale: number;
}

const DEFAULTS: ThreadtestParams = { iterations: 10000, objects: 100000, work: 0, fooCount: 8, objectsPerOp: 0, scale: 1 };
const FOO_BYTES = 8;
/** Foo{x = 14, y = 29} as one little-endian word. */
const FOO_WORD = 29 * 2 ** 32 + 14;
const WORK_UNIT_CYCLES = 8;
const S_MALLOC = siteId('threadtest:malloc');
const S_FREE = siteId('threadtest:free');

/** Effective per-thread shape after scaling. */
export function threadtestShape(p: ThreadtestParams, threads: number): { iterations: number; perThread: number; chunk: number; objectBytes: number } {
  const perThread = Math.floor(p.objects / threads);
  return {
    iterations: scaled(p.iterations, p.scale),
    perThread,
    chunk: p.objectsPerOp === 0 ? perThread : Math.min(p.objectsPerOp, perThread),
    objectBytes: p.fooCount * FOO_BYTES,
  };
}

function validate(given: Partial<ThreadtestParams>, threads: number, heapSizeBytes: number): ThreadtestParams {
  checkThreads(threads);
  const big = { min: 1, max: 1_000_000_000 };
  const p = completeParams(given, DEFAULTS, {
    iterations: big,
    objects: big,
    work: { min: 0, max: 1_000_000 },
    fooCount: { min: 1, max: Math.max(1, Math.floor(heapSizeBytes / FOO_BYTES)) },
    objectsPerOp: { min: 0, max: 1_000_000_000 },
    scale: big,
  });
  const s = threadtestShape(p, threads);
  if (s.perThread < 1) throw new WorkloadParamError('objects', `an integer in [threads = ${threads}, 1000000000] (one object per thread at least)`, p.objects);
  if (s.perThread * threads * s.objectBytes > heapSizeBytes) {
    throw new WorkloadParamError('objects', `live bytes objects x fooCount x 8 <= heap (${heapSizeBytes} B)`, p.objects);
  }
  return p;
}

function generate(_seed: SeedTree, p: ThreadtestParams, threads: number): ThreadStreams {
  const s = threadtestShape(p, threads);
  const round: Op[] = [];
  for (let first = 0; first < s.perThread; first += s.chunk) round.push({ kind: 'malloc', first, count: Math.min(s.chunk, s.perThread - first) });
  for (let first = 0; first < s.perThread; first += s.chunk) round.push({ kind: 'free', first, count: Math.min(s.chunk, s.perThread - first) });
  const stream: Op[] = [];
  for (let i = 0; i < s.iterations; i++) stream.push(...round);
  return Array.from({ length: threads }, () => stream);
}

interface State {
  arrays: number[];
  objectBytes: number;
  fooCount: number;
  workCycles: number;
}

function setup(ctx: WorkloadContext, _core: Core): void {
  const p = paramsOf<ThreadtestParams>(ctx, 'threadtest');
  const s = threadtestShape(p, ctx.threads);
  const arrays: number[] = [];
  for (let t = 0; t < ctx.threads; t++) arrays.push(ctx.machine.reserveDram(s.perThread * 8, 64));
  const st: State = { arrays, objectBytes: s.objectBytes, fooCount: p.fooCount, workCycles: p.work * WORK_UNIT_CYCLES };
  ctx.state.threadtest = st;
}

/** A round's mallocs or frees of slots [first, end), one step per allocator call. */
function* runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): Generator<undefined, 'done', undefined> {
  const st = ctx.state.threadtest as State;
  const arr = st.arrays[thread];
  const first = op.first as number;
  const end = first + (op.count as number);
  for (let i = first; i < end; i++) {
    if (i > first) yield;
    if (op.kind === 'malloc') mallocOne(ctx, core, st, arr + i * 8);
    else freeOne(ctx, core, st, arr + i * 8);
  }
  return 'done';
}

function mallocOne(ctx: WorkloadContext, core: Core, st: State, slot: number): void {
  const prev = core.setSite(S_MALLOC);
  const p = mustMalloc('threadtest', ctx.allocator, core, st.objectBytes);
  for (let k = 0; k < st.fooCount; k++) core.store64(p + k * FOO_BYTES, FOO_WORD);
  if (st.workCycles > 0) core.compute(st.workCycles);
  core.store64(slot, p);
  core.setSite(prev);
}

function freeOne(ctx: WorkloadContext, core: Core, st: State, slot: number): void {
  const prev = core.setSite(S_FREE);
  ctx.allocator.free(core, core.load64(slot));
  if (st.workCycles > 0) core.compute(st.workCycles);
  core.setSite(prev);
}

export const threadtest: Workload<ThreadtestParams> = {
  name: 'threadtest',
  kind: 'benchmark',
  description: 'Hoard threadtest: T threads x iterations rounds of objects/T 64 B mallocs then frees in order (T 10000 100000 0 8)',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
};
