/**
 * hashmap: a persistent hash map of `buckets` chains (insert / remove / update).
 *
 * Model: root slot 0 points to the bucket table, allocated and published in setup:
 * [bucket count, header checksum, bucket head words...] (16 + 8 x buckets bytes). Each
 * bucket is a chain of 32 B nodes (common/chain.ts: both idioms; an update publishes a
 * replacement node and frees the old one). Root slot 1 + t is thread t's retire slot
 * (alloc-into). One DRAM lock per bucket; the table address is cached in a DRAM word.
 * Keys hash with an integer mix (`bucketOf`).
 *
 * verify: the table header (count = params.buckets, checksum), then every chain
 * (checksums, cycles, pointers, keys in the right bucket), then the retire slots.
 */
import { siteId, type Addr, type Core, type MemoryReader } from '../sim/api.ts';
import type { SeedTree } from '../sim/choice.ts';
import type { Allocator } from '../allocators/contract.ts';
import type { Op, ThreadStreams, VerifyReport, Workload, WorkloadContext } from './contract.ts';
import { WorkloadParamError } from './contract.ts';
import { completeParams, paramsOf } from './common/params.ts';
import { insertAtHead, NODE_BYTES, removeKey, updateKey, verifyChain, verifyRetireSlot, type ChainEnv } from './common/chain.ts';
import { expectedKeysIndexOf, expectedKeysOf } from './common/keyed.ts';
import { checkFits, checkRoots, COMMON_RANGES, generateStructure, type StructureCommon } from './common/structure.ts';
import { checksum, Report } from './common/verify.ts';
import { mustMalloc, persistRange, publishWord, withSite, writeBackRange, WorkloadOutOfMemoryError } from './common/memory.ts';

export interface HashmapParams extends StructureCommon {
  removePercent: number;
  buckets: number;
}

const DEFAULTS: HashmapParams = { opsPerThread: 1000, keyRange: 1024, insertPercent: 50, removePercent: 25, buckets: 256, scale: 1 };
const TABLE_TAG = 0x68617368; // 'hash'
const HEADER_BYTES = 16;
const S_SETUP = siteId('hashmap:setup');
const S_OP = siteId('hashmap:op');

export function bucketOf(key: number, buckets: number): number {
  let h = Math.imul((key >>> 0) ^ Math.floor(key / 2 ** 32), 0x9e3779b1) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  return h % buckets;
}

export function tableBytes(buckets: number): number {
  return HEADER_BYTES + buckets * 8;
}

function validate(given: Partial<HashmapParams>, threads: number, heapSizeBytes: number): HashmapParams {
  const p = completeParams(given, DEFAULTS, {
    ...COMMON_RANGES,
    removePercent: { min: 0, max: 100 },
    buckets: { min: 1, max: Math.max(1, Math.floor((heapSizeBytes - HEADER_BYTES) / 8)) },
  });
  if (p.insertPercent + p.removePercent > 100) {
    throw new WorkloadParamError('removePercent', `an integer in [0, 100 - insertPercent = ${100 - p.insertPercent}]`, p.removePercent);
  }
  checkFits(threads, p.keyRange, NODE_BYTES, heapSizeBytes - tableBytes(p.buckets));
  return p;
}

function generate(seed: SeedTree, p: HashmapParams, threads: number): ThreadStreams {
  return generateStructure(seed, p, p.removePercent, threads);
}

interface State {
  tableWord: Addr;
  locks: Addr;
  buckets: number;
  envs: ChainEnv[];
}

function writeTable(core: Core, t: Addr, buckets: number): void {
  core.store64(t, buckets);
  core.store64(t + 8, checksum([TABLE_TAG, buckets]));
  for (let b = 0; b < buckets; b++) core.store64(t + HEADER_BYTES + b * 8, 0);
}

function createTable(ctx: WorkloadContext, core: Core, buckets: number): Addr {
  const size = tableBytes(buckets);
  const root = ctx.allocator.rootAddress(0);
  if (ctx.idiom === 'malloc-then-link') {
    const t = mustMalloc('hashmap', ctx.allocator, core, size);
    writeTable(core, t, buckets);
    persistRange(core, t, size);
    publishWord(core, root, t);
    return t;
  }
  const init = (c: Core, a: Addr): void => {
    writeTable(c, a, buckets);
    writeBackRange(c, a, size);
  };
  const t = ctx.allocator.mallocTo(core, size, root, init);
  if (t === 0) throw new WorkloadOutOfMemoryError('hashmap', core.id, size);
  return t;
}

function setup(ctx: WorkloadContext, core: Core): void {
  const p = paramsOf<HashmapParams>(ctx, 'hashmap');
  if (ctx.idiom === 'alloc-into') checkRoots(ctx.allocator, 1 + ctx.threads, 'hashmap alloc-into uses root 0 and one retire slot per thread');
  const envs: ChainEnv[] = [];
  for (let t = 0; t < ctx.threads; t++) {
    envs.push({ workload: 'hashmap', allocator: ctx.allocator, idiom: ctx.idiom, retireSlot: ctx.idiom === 'alloc-into' ? ctx.allocator.rootAddress(1 + t) : 0 });
  }
  const st: State = { tableWord: ctx.machine.reserveDram(64, 64), locks: ctx.machine.reserveDram(p.buckets * 8, 64), buckets: p.buckets, envs };
  core.store64(st.tableWord, withSite(core, S_SETUP, () => createTable(ctx, core, p.buckets)));
  ctx.state.hashmap = st;
}

function runOp(ctx: WorkloadContext, core: Core, thread: number, op: Op): 'done' {
  const st = ctx.state.hashmap as State;
  const key = op.key as number;
  const b = bucketOf(key, st.buckets);
  const head = core.load64(st.tableWord) + HEADER_BYTES + b * 8;
  const env = st.envs[thread];
  core.lock(st.locks + b * 8);
  withSite(core, S_OP, () => {
    if (op.kind === 'insert') insertAtHead(env, core, head, key, op.value as number);
    else if (op.kind === 'remove') removeKey(env, core, head, key);
    else updateKey(env, core, head, key, op.value as number);
  });
  core.unlock(st.locks + b * 8);
  return 'done';
}

function verify(reader: MemoryReader, allocator: Allocator, params: HashmapParams): VerifyReport {
  const r = new Report(reader);
  const root = allocator.rootAddress(0);
  const t = r.read(root, 'root 0');
  const size = tableBytes(params.buckets);
  if (t === 0) r.error(root, 'root 0 holds no bucket table');
  if (t !== undefined && t !== 0 && r.pointer(root, t, size) && r.visit(root, t, size, 'table')) verifyTable(r, t, params.buckets);
  for (let i = 1; i < allocator.rootCount; i++) verifyRetireSlot(r, allocator.rootAddress(i));
  return r.finish();
}

function verifyTable(r: Report, t: Addr, buckets: number): void {
  const count = r.read(t, 'bucket count');
  const sum = r.read(t + 8, 'table checksum');
  if (count !== buckets || sum !== checksum([TABLE_TAG, buckets])) {
    r.error(t, `bad table header at 0x${t.toString(16)}: ${count} buckets (expected ${buckets}), checksum ${sum}`);
    return;
  }
  for (let b = 0; b < buckets; b++) {
    verifyChain(r, t + HEADER_BYTES + b * 8, (key, node) => {
      if (bucketOf(key, buckets) !== b) r.error(node, `key ${key} in bucket ${b}, hashes to ${bucketOf(key, buckets)}`);
    });
  }
}

export const hashmap: Workload<HashmapParams> = {
  name: 'hashmap',
  kind: 'structure',
  description: 'persistent hash map: chains of 32 B nodes under a bucket table; insert / remove / update with seeded keys',
  defaults: DEFAULTS,
  validate,
  generate,
  setup,
  runOp,
  verify,
  expectedKeys: expectedKeysOf,
  expectedKeysIndex: expectedKeysIndexOf,
};
