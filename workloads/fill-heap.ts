/**
 * fill-heap: Makalu's recovery benchmark (Atlas makalu_alloc/examples/fill-heap).
 *
 * Model: setup (core 0) allocates one 64 B root node per root slot (`roots`, 512 as
 * the original's 4096 B / 8) and publishes it in root slot i. Then the threads allocate
 * `megabytes` MB of 64 B nodes with 8 pointer fields: each node is kept with
 * probability 1/2 - linked under a random root: its field `field` := the root node's
 * next[0], the other fields zero, the node persisted (clflush of its lines, as the
 * original's CLFLUSH), then the root node's next[0] := node (a CAS, then clflush) - or
 * zeroed (8 word stores) and freed. The crash comes after `crashPercent` % of the
 * allocations (default 50: "crash at N/2 MB, no close"): the runner passes
 * `fillHeapStopAfterOps(params, threads)` as RunInput.stopAfterOps. What is measured
 * is the recovery that follows (allocator.open on the crash image).
 *
 * Deviations: the original writes only the link field of a kept node (the others hold
 * whatever malloc returned); here all 8 fields are written so the verify walk can
 * follow every non-null field exactly. In the alloc-into idiom the kept node is
 * mallocTo'd straight into the root node's next[0] (init writes and clwbs it), and a
 * dropped node is mallocTo'd into a scratch field of a root node (field 1 + t / roots
 * of root node t mod roots) and freeFrom'd from there, so no node is ever allocated
 * without a persistent pointer to it (allocators promising no leak can keep it).
 *
 * Streams: one op per node, {kind:'keep', root, field} or {kind:'drop'}; node i goes
 * to thread i mod T. `scale` divides the node count (floored, at least 1).
 *
 * verify: from every root slot, walk all non-null fields (pointers in NVRAM, 16 B
 * aligned, no node reached twice); reachable = root nodes + linked nodes.
 */
import { siteId, type Addr, type Core, type MemoryReader } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Allocator } from '../allocators/contract.ts';
import type { Op, OpRef, ThreadStreams, VerifyReport, Workload, WorkloadContext } from './contract.ts';
import { WorkloadParamError } from './contract.ts';
import { checkThreads, completeParams, paramsOf, scaled } from './common/params.ts';
import { mustMalloc, withSite, WorkloadOutOfMemoryError, zeroWords } from './common/memory.ts';
import { Report } from './common/verify.ts';

export interface FillHeapParams extends Record<string, number> {
  megabytes: number;
  crashPercent: number;
  roots: number;
  scale: number;
}

const DEFAULTS: FillHeapParams = { megabytes: 16, crashPercent: 50, roots: 512, scale: 1 };
export const FILL_NODE_BYTES = 64;
const FIELDS = 8;
const S_INIT = siteId('fill-heap:init');
const S_KEEP = siteId('fill-heap:keep');
const S_DROP = siteId('fill-heap:drop');

/** Total nodes allocated by a full (uncrashed) run. */
export function fillHeapNodes(p: FillHeapParams): number {
  return scaled((p.megabytes * 1024 * 1024) / FILL_NODE_BYTES, p.scale);
}

/** RunInput.stopAfterOps for the crash at crashPercent % of the allocation volume. */
export function fillHeapStopAfterOps(p: FillHeapParams, _threads: number): number {
  return Math.floor((fillHeapNodes(p) * p.crashPercent) / 100);
}

/** Nodes that must be reachable after the ops `completed`: the root nodes plus every completed keep. */
export function fillHeapExpectedReachable(p: FillHeapParams, streams: ThreadStreams, completed: readonly OpRef[]): number {
  let kept = 0;
  for (const r of completed) if (streams[r.thread][r.opIndex].kind === 'keep') kept++;
  return p.roots + kept;
}

function validate(given: Partial<FillHeapParams>, threads: number, heapSizeBytes: number): FillHeapParams {
  checkThreads(threads);
  const p = completeParams(given, DEFAULTS, {
    megabytes: { min: 1, max: 1 << 20 },
    crashPercent: { min: 0, max: 100 },
    roots: { min: 1, max: 1 << 16 },
    scale: { min: 1, max: 1 << 30 },
  });
  const bytes = Math.floor((p.megabytes * 1024 * 1024) / p.scale) + p.roots * FILL_NODE_BYTES;
  if (bytes > heapSizeBytes) {
    throw new WorkloadParamError('megabytes', `an allocation volume (megabytes/scale + roots x 64 B = ${bytes} B) that fits the heap (${heapSizeBytes} B)`, p.megabytes);
  }
  return p;
}

function generate(seed: SeedTree, p: FillHeapParams, threads: number): ThreadStreams {
  const choices = Array.from({ length: threads }, (_, t) => seed.child(`thread-${t}`).choice());
  const streams: Op[][] = Array.from({ length: threads }, () => []);
  const n = fillHeapNodes(p);
  for (let i = 0; i < n; i++) {
    const t = i % threads;
    const c = choices[t];
    streams[t].push(c.chance(1, 2) ? { kind: 'keep', root: c.index(p.roots), field: c.index(FIELDS) } : { kind: 'drop' });
  }
  return streams;
}

interface State {
  rootNodes: Addr;
  roots: number;
}

/** clflush every line of a 64 B node (2 lines when it is not line-aligned). */
function flushNode(core: Core, node: Addr): void {
  const first = node - (node % 64);
  for (let line = first; line < node + FILL_NODE_BYTES; line += 64) core.clflush(line);
}

function setup(ctx: WorkloadContext, core: Core): void {
  const p = paramsOf<FillHeapParams>(ctx, 'fill-heap');
  if (ctx.allocator.rootCount < p.roots) {
    throw new WorkloadParamError('roots', `at most ${ctx.allocator.rootCount} (root slots of ${ctx.allocator.name})`, p.roots);
  }
  // DRAM copy of the root node addresses (the original's P_roots array).
  if (ctx.idiom === 'alloc-into' && ctx.threads > 7 * p.roots) {
    throw new WorkloadParamError('roots', `at least threads / 7 = ${Math.ceil(ctx.threads / 7)} in alloc-into (each root node lends 7 scratch fields)`, p.roots);
  }
  const st: State = { rootNodes: ctx.machine.reserveDram(p.roots * 8, 64), roots: p.roots };
  withSite(core, S_INIT, () => {
    for (let i = 0; i < p.roots; i++) {
      const n = mustMalloc('fill-heap', ctx.allocator, core, FILL_NODE_BYTES);
      zeroWords(core, n, FILL_NODE_BYTES);
      flushNode(core, n);
      ctx.allocator.setRoot(core, i, n);
      core.store64(st.rootNodes + i * 8, n);
    }
  });
  ctx.state.fillHeap = st;
}

function writeKept(core: Core, node: Addr, field: number, link: Addr): void {
  for (let f = 0; f < FIELDS; f++) core.store64(node + f * 8, f === field ? link : 0);
}

function keep(ctx: WorkloadContext, core: Core, st: State, root: number, field: number): void {
  const rootNode = core.load64(st.rootNodes + root * 8);
  const curr = core.load64(rootNode);
  if (ctx.idiom === 'alloc-into') {
    const init = (c: Core, a: Addr): void => {
      writeKept(c, a, field, curr);
      for (let line = a - (a % 64); line < a + FILL_NODE_BYTES; line += 64) c.clwb(line);
    };
    if (ctx.allocator.mallocTo(core, FILL_NODE_BYTES, rootNode, init) === 0) throw new WorkloadOutOfMemoryError('fill-heap', core.id, FILL_NODE_BYTES);
    return;
  }
  const node = mustMalloc('fill-heap', ctx.allocator, core, FILL_NODE_BYTES);
  writeKept(core, node, field, curr);
  flushNode(core, node);
  if (!core.cas64(rootNode, curr, node)) throw new Error('fill-heap: root node changed under its lock-free update (ops never interleave)');
  core.clflush(rootNode);
}

/**
 * A dropped node: malloc, zero, free. In the alloc-into idiom the node is mallocTo'd
 * into the thread's scratch field of a root node and freeFrom'd from it, so it is never
 * allocated without a persistent pointer to it (no leak window).
 */
function drop(ctx: WorkloadContext, core: Core, st: State, thread: number): void {
  if (ctx.idiom === 'malloc-then-link') {
    const node = mustMalloc('fill-heap', ctx.allocator, core, FILL_NODE_BYTES);
    zeroWords(core, node, FILL_NODE_BYTES);
    ctx.allocator.free(core, node);
    return;
  }
  const holder = scratchField(core, st, thread);
  const init = (c: Core, a: Addr): void => {
    zeroWords(c, a, FILL_NODE_BYTES);
    for (let line = a - (a % 64); line < a + FILL_NODE_BYTES; line += 64) c.clwb(line);
  };
  if (ctx.allocator.mallocTo(core, FILL_NODE_BYTES, holder, init) === 0) throw new WorkloadOutOfMemoryError('fill-heap', core.id, FILL_NODE_BYTES);
  ctx.allocator.freeFrom(core, holder);
}

/** Thread t's scratch word: field 1 + floor(t / roots) of root node t mod roots (field 0 is the chain). */
function scratchField(core: Core, st: State, thread: number): Addr {
  const rootNode = core.load64(st.rootNodes + (thread % st.roots) * 8);
  return rootNode + (1 + Math.floor(thread / st.roots)) * 8;
}

function runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): 'done' {
  const st = ctx.state.fillHeap as State;
  if (op.kind === 'keep') withSite(core, S_KEEP, () => keep(ctx, core, st, op.root as number, op.field as number));
  else withSite(core, S_DROP, () => drop(ctx, core, st, thread));
  return 'done';
}

function walkNode(r: Report, holder: Addr, ptr: number): void {
  // Iterative DFS: chains are long (half the nodes can hang under one root).
  const stack: [Addr, number][] = [[holder, ptr]];
  while (stack.length > 0) {
    const [h, p] = stack.pop()!;
    if (!r.pointer(h, p, FILL_NODE_BYTES) || !r.visit(h, p, FILL_NODE_BYTES, 'fill-heap')) continue;
    for (let f = FIELDS - 1; f >= 0; f--) {
      const v = r.read(p + f * 8, 'field');
      if (v !== undefined && v !== 0) stack.push([p + f * 8, v]);
    }
  }
}

function verify(reader: MemoryReader, allocator: Allocator, params: FillHeapParams): VerifyReport {
  const r = new Report(reader);
  for (let i = 0; i < params.roots; i++) {
    const slot = allocator.rootAddress(i);
    const ptr = r.read(slot, `root ${i}`);
    if (ptr === 0) r.error(slot, `root ${i} holds no root node`);
    else if (ptr !== undefined) walkNode(r, slot, ptr);
  }
  return r.finish();
}

export const fillHeap: Workload<FillHeapParams> = {
  name: 'fill-heap',
  kind: 'recovery',
  description: "Makalu's fill-heap: N MB of 64 B 8-pointer nodes, half linked under random roots, half freed; crash at N/2 MB",
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
  verify,
};
