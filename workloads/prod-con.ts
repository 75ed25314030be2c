/**
 * prod-con (Makalu's evaluation, as Ralloc runs it): `prod-con T 10000000 64`.
 *
 * Model (test/benchmark/prod-con.cpp): T/2 producer-consumer pairs; thread 2i is the
 * producer and 2i+1 the consumer of pair i, which share one Michael-Scott queue in
 * simulated DRAM (common/ms-queue.ts). Each producer allocates objects*2/T blocks of
 * objectSizeBytes, writes every byte (as 8-byte word stores, and reads each word back)
 * and enqueues the block; its consumer dequeues and frees them, so every free is a
 * remote free. A consumer that finds the queue empty returns 'blocked' and the
 * scheduler makes it wait in simulated time; a producer whose queue-node pool
 * (`queueNodes` per pair, the original's unbounded `new Node`) is exhausted waits the
 * same way. Ops are resumable: a per-thread DRAM progress word records how much of
 * the current op is done, so a blocked op continues where it stopped. The pool must
 * hold a whole op's batch (queueNodes >= blocksPerOp + 1): then a consumer only stops
 * at an op boundary or on an empty queue, and the two sides never wait on each other
 * part-way (the scheduler's deadlock check assumes a blocked op made no progress).
 *
 * Streams: producers `produce` ops and consumers `consume` ops of up to `blocksPerOp`
 * blocks each (default 1: one allocator call an op, so cores interleave at every call;
 * a larger batch runs to completion or blocks, and makes the schedule coarser). Metric:
 * makespan. `scale` divides objects (floored, at least 1): the run's length only, since
 * no live set is kept beyond the queue.
 */
import { siteId, type Core } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Op, OpResult, ThreadStreams, Workload, WorkloadContext } from './contract.ts';
import { WorkloadParamError } from './contract.ts';
import { checkInt, completeParams, MAX_THREADS, paramsOf, scaled } from './common/params.ts';
import { mustMalloc, ThreadRecords, withSite } from './common/memory.ts';
import { MsQueue } from './common/ms-queue.ts';

export interface ProdConParams extends Record<string, number> {
  objects: number;
  objectSizeBytes: number;
  blocksPerOp: number;
  queueNodes: number;
  scale: number;
}

const DEFAULTS: ProdConParams = { objects: 10_000_000, objectSizeBytes: 64, blocksPerOp: 1, queueNodes: 4096, scale: 1 };
const S_PRODUCE = siteId('prod-con:produce');
const S_CONSUME = siteId('prod-con:consume');

/** Blocks each producer allocates (and its consumer frees). */
export function prodConBlocksPerPair(p: ProdConParams, threads: number): number {
  return Math.floor((scaled(p.objects, p.scale) * 2) / threads);
}

function validate(given: Partial<ProdConParams>, threads: number, heapSizeBytes: number): ProdConParams {
  checkInt('threads', threads, { min: 2, max: MAX_THREADS - 1 });
  if (threads % 2 !== 0) throw new WorkloadParamError('threads', `an even integer in [2, ${MAX_THREADS - 1}] (producer-consumer pairs)`, threads);
  const heap = Math.max(1, heapSizeBytes);
  const p = completeParams(given, DEFAULTS, {
    objects: { min: 1, max: 1_000_000_000 },
    objectSizeBytes: { min: 1, max: heap },
    blocksPerOp: { min: 1, max: 1_000_000_000 },
    queueNodes: { min: 2, max: 10_000_000 },
    scale: { min: 1, max: 1_000_000_000 },
  });
  if (p.queueNodes < p.blocksPerOp + 1) {
    // The queue must hold a whole batch (plus the sentinel node): otherwise a producer
    // and a consumer can both stop part-way through an op, which the scheduler reads
    // as a deadlock.
    throw new WorkloadParamError('queueNodes', `a queue that holds a whole batch: an integer in [blocksPerOp + 1 = ${p.blocksPerOp + 1}, 10000000]`, p.queueNodes);
  }
  if (prodConBlocksPerPair(p, threads) < 1) throw new WorkloadParamError('objects', `an integer in [threads/2 x scale = ${(threads / 2) * p.scale}, 1000000000] (one block per pair at least)`, p.objects);
  if ((threads / 2) * (p.queueNodes - 1) * p.objectSizeBytes > heap) {
    throw new WorkloadParamError('queueNodes', `pairs x (queueNodes - 1) x objectSizeBytes <= heap (${heap} B): at most ${Math.floor(heap / ((threads / 2) * p.objectSizeBytes)) + 1}`, p.queueNodes);
  }
  return p;
}

function generate(_seed: SeedTree, p: ProdConParams, threads: number): ThreadStreams {
  const n = prodConBlocksPerPair(p, threads);
  const streams: Op[][] = [];
  for (let t = 0; t < threads; t++) {
    const kind = t % 2 === 0 ? 'produce' : 'consume';
    const ops: Op[] = [];
    for (let done = 0; done < n; done += p.blocksPerOp) ops.push({ kind, pair: t >> 1, count: Math.min(p.blocksPerOp, n - done) });
    streams.push(ops);
  }
  return streams;
}

interface State {
  queues: MsQueue[];
  progress: ThreadRecords;
  objectSizeBytes: number;
}

function setup(ctx: WorkloadContext, core: Core): void {
  const p = paramsOf<ProdConParams>(ctx, 'prod-con');
  const queues: MsQueue[] = [];
  for (let i = 0; i < ctx.threads / 2; i++) queues.push(MsQueue.create(ctx.machine, core, p.queueNodes));
  const st: State = { queues, progress: ThreadRecords.reserve(ctx.machine, ctx.threads, 1), objectSizeBytes: p.objectSizeBytes };
  ctx.state.prodCon = st;
}

/** Write every byte of the block (word stores, each read back; a byte tail if any). */
function fillBlock(core: Core, p: number, sizeBytes: number): void {
  let off = 0;
  for (; off + 8 <= sizeBytes; off += 8) {
    core.store64(p + off, off >> 3);
    core.load64(p + off);
  }
  for (; off < sizeBytes; off++) {
    core.store(p + off, 1, off & 0xff);
    core.load(p + off, 1);
  }
}

function produce(ctx: WorkloadContext, core: Core, st: State, q: MsQueue, from: number, count: number): number {
  for (let k = from; k < count; k++) {
    const node = q.allocNode(core);
    if (node === 0) return k;
    const p = mustMalloc('prod-con', ctx.allocator, core, st.objectSizeBytes);
    fillBlock(core, p, st.objectSizeBytes);
    q.enqueue(core, node, p);
  }
  return count;
}

function consume(ctx: WorkloadContext, core: Core, q: MsQueue, from: number, count: number): number {
  for (let k = from; k < count; k++) {
    const p = q.dequeue(core);
    if (p === 0) return k;
    ctx.allocator.free(core, p);
  }
  return count;
}

function runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): OpResult {
  const st = ctx.state.prodCon as State;
  const q = st.queues[op.pair as number];
  const count = op.count as number;
  const from = st.progress.load(core, thread, 0);
  const reached =
    op.kind === 'produce'
      ? withSite(core, S_PRODUCE, () => produce(ctx, core, st, q, from, count))
      : withSite(core, S_CONSUME, () => consume(ctx, core, q, from, count));
  st.progress.store(core, thread, 0, reached === count ? 0 : reached);
  return reached === count ? 'done' : 'blocked';
}

export const prodCon: Workload<ProdConParams> = {
  name: 'prod-con',
  kind: 'benchmark',
  description: 'producer-consumer pairs over Michael-Scott queues: producers malloc and fill 64 B blocks, consumers free them remotely (T 10000000 64)',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
};
