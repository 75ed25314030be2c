/**
 * list: a persistent singly linked list with insert-at-head and remove by key.
 *
 * Model: the head pointer is root slot 0; nodes are 32 B [key, value, checksum, next]
 * (common/chain.ts for both publication idioms). Root slot 1 + t is thread t's retire
 * slot (alloc-into only). One DRAM lock serialises the mutators (every op takes it, so
 * lock costs are counted even single-threaded). Streams: per thread `insert` (of an
 * absent own key) and `remove` (of a present own key) with insertPercent / the rest.
 *
 * verify: walk from root 0 (checksums, cycles, dangling or misaligned pointers, keys),
 * then every other root slot as a retire slot (its node is reachable, not a member).
 */
import { siteId, type Core, type MemoryReader } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Allocator } from '../allocators/contract.ts';
import { WorkloadParamError, type Op, type ThreadStreams, type VerifyReport, type Workload, type WorkloadContext } from './contract.ts';
import { completeParams, paramsOf } from './common/params.ts';
import { insertAtHead, NODE_BYTES, removeKey, verifyChain, verifyRetireSlot, type ChainEnv } from './common/chain.ts';
import { expectedKeysIndexOf, expectedKeysOf } from './common/keyed.ts';
import { checkFits, checkRoots, COMMON_RANGES, generateStructure, type StructureCommon } from './common/structure.ts';
import { Report } from './common/verify.ts';
import { withSite } from './common/memory.ts';

export interface ListParams extends StructureCommon {
  /** Bytes allocated per node (a multiple of 8, >= 32): big nodes reach allocators' large-object paths. */
  nodeBytes: number;
}

const DEFAULTS: ListParams = { opsPerThread: 1000, keyRange: 128, insertPercent: 60, scale: 1, nodeBytes: NODE_BYTES };
const RANGES = { ...COMMON_RANGES, nodeBytes: { min: NODE_BYTES, max: 1 << 20 } } as const;
const S_INSERT = siteId('list:insert');
const S_REMOVE = siteId('list:remove');

function validate(given: Partial<ListParams>, threads: number, heapSizeBytes: number): ListParams {
  const p = completeParams(given, DEFAULTS, RANGES);
  if (p.nodeBytes % 8 !== 0) throw new WorkloadParamError('nodeBytes', 'a multiple of 8 (nodes hold 8-byte words)', p.nodeBytes);
  checkFits(threads, p.keyRange, p.nodeBytes, heapSizeBytes);
  return p;
}

function generate(seed: SeedTree, p: ListParams, threads: number): ThreadStreams {
  return generateStructure(seed, p, 100 - p.insertPercent, threads);
}

interface State {
  lock: number;
  envs: ChainEnv[];
}

function setup(ctx: WorkloadContext, _core: Core): void {
  const p = paramsOf<ListParams>(ctx, 'list');
  if (ctx.idiom === 'alloc-into') checkRoots(ctx.allocator, 1 + ctx.threads, 'list alloc-into uses root 0 and one retire slot per thread');
  const envs: ChainEnv[] = [];
  for (let t = 0; t < ctx.threads; t++) {
    const retireSlot = ctx.idiom === 'alloc-into' ? ctx.allocator.rootAddress(1 + t) : 0;
    envs.push({ workload: 'list', allocator: ctx.allocator, idiom: ctx.idiom, retireSlot, nodeBytes: p.nodeBytes });
  }
  const st: State = { lock: ctx.machine.reserveDram(64, 64), envs };
  ctx.state.list = st;
}

function runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): 'done' {
  const st = ctx.state.list as State;
  const head = ctx.allocator.rootAddress(0);
  core.lock(st.lock);
  if (op.kind === 'insert') withSite(core, S_INSERT, () => insertAtHead(st.envs[thread], core, head, op.key as number, op.value as number));
  else withSite(core, S_REMOVE, () => removeKey(st.envs[thread], core, head, op.key as number));
  core.unlock(st.lock);
  return 'done';
}

function verify(reader: MemoryReader, allocator: Allocator, params: ListParams): VerifyReport {
  const r = new Report(reader);
  const nodeBytes = params.nodeBytes ?? NODE_BYTES;
  verifyChain(r, allocator.rootAddress(0), undefined, nodeBytes);
  for (let i = 1; i < allocator.rootCount; i++) verifyRetireSlot(r, allocator.rootAddress(i), nodeBytes);
  return r.finish();
}

export const list: Workload<ListParams> = {
  name: 'list',
  kind: 'structure',
  description: 'persistent singly linked list: insert at head, remove by key (seeded keys, per-thread key sets)',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
  verify,
  expectedKeys: expectedKeysOf,
  expectedKeysIndex: expectedKeysIndexOf,
};
