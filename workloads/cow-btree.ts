/**
 * cow-btree: a persistent copy-on-write B+tree (insert / remove), the classic
 * allocator stress: every update allocates a new root-to-leaf path, swings the root
 * pointer (root slot 0) atomically, then frees the old path.
 *
 * Model: nodes of common/btree-node.ts (maxKeys keys, (3 + 2 maxKeys) x 8 bytes). An
 * update descends from the root, then rebuilds bottom-up: the new leaf (split in two
 * when it overflows, dropped when it becomes empty), then each ancestor copied with
 * the new child(ren) (split or dropped likewise), a new root when the old one split.
 * No rebalancing on underflow (lazy deletion); every leaf stays at one depth. A DRAM
 * lock serialises writers.
 *
 * Publication:
 * - malloc-then-link: malloc + write + clwb each new node, one sfence, swing root 0
 *   (storeAtomic64 + clwb + sfence), then free the old path.
 * - alloc-into: each new node is mallocTo'd into a pending root slot (1 for the first
 *   node of a level, 2 for the second of a split) with an init that writes and clwbs
 *   it; a parent's init already holds its children, so the whole new path is always
 *   reachable from slots 1-2. Commit: persist slot 3 := old root, swing root 0, clear
 *   slots 1-2; then free the old path bottom-up with freeFrom(old parent's child slot)
 *   and finally freeFrom(slot 3). Every allocated node stays reachable from a root.
 *
 * verify: root 0 fully (common/btree-node.ts TreeWalk), other root slots as pending or
 * retired paths (reachable objects only).
 */
import { siteId, type Addr, type Core, type MemoryReader } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Allocator } from '../allocators/contract.ts';
import type { Op, ThreadStreams, VerifyReport, Workload, WorkloadContext } from './contract.ts';
import { completeParams, paramsOf } from './common/params.ts';
import { expectedKeysIndexOf, expectedKeysOf } from './common/keyed.ts';
import { checkFits, checkRoots, COMMON_RANGES, generateStructure, type StructureCommon } from './common/structure.ts';
import { Report } from './common/verify.ts';
import { mustMalloc, publishWord, withSite, writeBackRange, WorkloadOutOfMemoryError } from './common/memory.ts';
import { INTERNAL, LEAF, nodeBytes, readNode, slotAddr, TreeWalk, writeNode, type BNode } from './common/btree-node.ts';

export interface CowBtreeParams extends StructureCommon {
  maxKeys: number;
}

const DEFAULTS: CowBtreeParams = { opsPerThread: 1000, keyRange: 1024, insertPercent: 60, maxKeys: 8, scale: 1 };
const PENDING_A = 1;
const PENDING_B = 2;
const RETIRED = 3;
const S_BUILD = siteId('cow-btree:build');
const S_COMMIT = siteId('cow-btree:commit');
const S_FREE = siteId('cow-btree:free-old');

function validate(given: Partial<CowBtreeParams>, threads: number, heapSizeBytes: number): CowBtreeParams {
  const p = completeParams(given, DEFAULTS, { ...COMMON_RANGES, maxKeys: { min: 2, max: 64 } });
  checkFits(threads, p.keyRange, nodeBytes(p.maxKeys), heapSizeBytes);
  return p;
}

function generate(seed: SeedTree, p: CowBtreeParams, threads: number): ThreadStreams {
  return generateStructure(seed, p, 100 - p.insertPercent, threads);
}

interface State {
  lock: Addr;
  maxKeys: number;
}

interface PathStep {
  readonly addr: Addr;
  readonly node: BNode;
  /** Child index taken (internal nodes). */
  readonly idx: number;
}

/** One update in progress: how new nodes are allocated. */
interface Build {
  readonly ctx: WorkloadContext;
  readonly core: Core;
  readonly maxKeys: number;
  /** Pending slots used (alloc-into), to clear at commit. */
  readonly pending: Set<number>;
}

function childIndex(n: BNode, key: number): number {
  let i = 0;
  while (i < n.keys.length && key >= n.keys[i]) i++;
  return i;
}

function descend(core: Core, root: Addr, key: number, maxKeys: number): PathStep[] {
  const path: PathStep[] = [];
  for (let addr = root; addr !== 0; ) {
    const node = readNode(core, addr, maxKeys);
    const idx = node.kind === INTERNAL ? childIndex(node, key) : 0;
    path.push({ addr, node, idx });
    addr = node.kind === INTERNAL ? node.slots[idx] : 0;
  }
  return path;
}

/** Allocate and write one new node; `second` = the right half of a split (alloc-into slot 2). */
function allocNode(b: Build, n: BNode, second: boolean): Addr {
  const size = nodeBytes(b.maxKeys);
  const { allocator } = b.ctx;
  if (b.ctx.idiom === 'malloc-then-link') {
    const a = mustMalloc('cow-btree', allocator, b.core, size);
    writeNode(b.core, a, n, b.maxKeys);
    writeBackRange(b.core, a, size);
    return a;
  }
  const slot = second ? PENDING_B : PENDING_A;
  b.pending.add(slot);
  const init = (c: Core, a: Addr): void => {
    writeNode(c, a, n, b.maxKeys);
    writeBackRange(c, a, size);
  };
  const a = allocator.mallocTo(b.core, size, allocator.rootAddress(slot), init);
  if (a === 0) throw new WorkloadOutOfMemoryError('cow-btree', b.core.id, size);
  return a;
}

/** Allocate the replacement(s) of a modified node: none if empty, two halves if it overflows. */
function emit(b: Build, n: BNode): { nodes: Addr[]; sep: number } {
  if (n.slots.length === 0) return { nodes: [], sep: 0 };
  const cap = n.kind === LEAF ? b.maxKeys : b.maxKeys + 1;
  if (n.slots.length <= cap) return { nodes: [allocNode(b, n, false)], sep: 0 };
  const m = Math.ceil(n.slots.length / 2);
  if (n.kind === LEAF) {
    const left = { kind: LEAF, keys: n.keys.slice(0, m), slots: n.slots.slice(0, m) };
    const right = { kind: LEAF, keys: n.keys.slice(m), slots: n.slots.slice(m) };
    return { nodes: [allocNode(b, left, false), allocNode(b, right, true)], sep: right.keys[0] };
  }
  const left = { kind: INTERNAL, keys: n.keys.slice(0, m - 1), slots: n.slots.slice(0, m) };
  const right = { kind: INTERNAL, keys: n.keys.slice(m), slots: n.slots.slice(m) };
  return { nodes: [allocNode(b, left, false), allocNode(b, right, true)], sep: n.keys[m - 1] };
}

/** The parent with child idx replaced by `carry` (0, 1 or 2 nodes, separator `sep`). */
function replaceChild(parent: BNode, idx: number, carry: Addr[], sep: number): BNode {
  const keys = [...parent.keys];
  const slots = [...parent.slots];
  slots.splice(idx, 1, ...carry);
  if (carry.length === 2) keys.splice(idx, 0, sep);
  if (carry.length === 0 && keys.length > 0) keys.splice(idx > 0 ? idx - 1 : 0, 1);
  return { kind: INTERNAL, keys, slots };
}

/** Rebuild the path bottom-up from the modified leaf; returns the new root (0 = empty tree). */
function rebuild(b: Build, path: PathStep[], leaf: BNode): Addr {
  let { nodes, sep } = emit(b, leaf);
  for (let level = path.length - 2; level >= 0; level--) {
    ({ nodes, sep } = emit(b, replaceChild(path[level].node, path[level].idx, nodes, sep)));
  }
  if (nodes.length === 2) return allocNode(b, { kind: INTERNAL, keys: [sep], slots: nodes }, false);
  return nodes[0] ?? 0;
}

function modifiedLeaf(path: PathStep[], op: Op): BNode {
  const key = op.key as number;
  const old = path.length > 0 ? path[path.length - 1].node : { kind: LEAF, keys: [], slots: [] };
  const keys = [...old.keys];
  const slots = [...old.slots];
  if (op.kind === 'insert') {
    let i = 0;
    while (i < keys.length && keys[i] < key) i++;
    keys.splice(i, 0, key);
    slots.splice(i, 0, op.value as number);
  } else {
    const i = keys.indexOf(key);
    if (i < 0) throw new Error(`cow-btree: key ${key} not found (the stream says it is present)`);
    keys.splice(i, 1);
    slots.splice(i, 1);
  }
  return { kind: LEAF, keys, slots };
}

function commitMallocThenLink(b: Build, path: PathStep[], newRoot: Addr): void {
  const { allocator } = b.ctx;
  b.core.sfence();
  publishWord(b.core, allocator.rootAddress(0), newRoot);
  withSite(b.core, S_FREE, () => path.forEach((s) => allocator.free(b.core, s.addr)));
}

function commitAllocInto(b: Build, path: PathStep[], newRoot: Addr): void {
  const { allocator } = b.ctx;
  const retired = allocator.rootAddress(RETIRED);
  if (path.length > 0) publishWord(b.core, retired, path[0].addr);
  publishWord(b.core, allocator.rootAddress(0), newRoot);
  for (const slot of b.pending) {
    b.core.storeAtomic64(allocator.rootAddress(slot), 0);
    b.core.clwb(allocator.rootAddress(slot));
  }
  b.core.sfence();
  withSite(b.core, S_FREE, () => {
    for (let level = path.length - 1; level >= 1; level--) {
      allocator.freeFrom(b.core, slotAddr(path[level - 1].addr, b.maxKeys, path[level - 1].idx));
    }
    if (path.length > 0) allocator.freeFrom(b.core, retired);
  });
}

function setup(ctx: WorkloadContext, _core: Core): void {
  const p = paramsOf<CowBtreeParams>(ctx, 'cow-btree');
  if (ctx.idiom === 'alloc-into') checkRoots(ctx.allocator, RETIRED + 1, 'cow-btree alloc-into uses root slots 0-3');
  const st: State = { lock: ctx.machine.reserveDram(64, 64), maxKeys: p.maxKeys };
  ctx.state.cowBtree = st;
}

function runOp(ctx: WorkloadContext, core: Core, _thread: number, op: Op): 'done' {
  const st = ctx.state.cowBtree as State;
  const b: Build = { ctx, core, maxKeys: st.maxKeys, pending: new Set() };
  core.lock(st.lock);
  const path = descend(core, core.load64(ctx.allocator.rootAddress(0)), op.key as number, st.maxKeys);
  const newRoot = withSite(core, S_BUILD, () => rebuild(b, path, modifiedLeaf(path, op)));
  withSite(core, S_COMMIT, () => (ctx.idiom === 'malloc-then-link' ? commitMallocThenLink(b, path, newRoot) : commitAllocInto(b, path, newRoot)));
  core.unlock(st.lock);
  return 'done';
}

function verify(reader: MemoryReader, allocator: Allocator, params: CowBtreeParams): VerifyReport {
  const r = new Report(reader);
  const w = new TreeWalk(r, params.maxKeys);
  const root = allocator.rootAddress(0);
  const top = r.read(root, 'root 0');
  if (top !== undefined && top !== 0) w.walk(root, top, { lo: 0, hi: 2 ** 53 }, 0);
  for (let i = 1; i < allocator.rootCount; i++) {
    const slot = allocator.rootAddress(i);
    const ptr = r.read(slot, `root ${i}`);
    if (ptr !== undefined && ptr !== 0) w.walkAux(slot, ptr);
  }
  return r.finish();
}

export const cowBtree: Workload<CowBtreeParams> = {
  name: 'cow-btree',
  kind: 'structure',
  description: 'persistent copy-on-write B+tree: each insert/remove allocates a new path, swings the root atomically, frees the old path',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
  verify,
  expectedKeys: expectedKeysOf,
  expectedKeysIndex: expectedKeysIndexOf,
};
