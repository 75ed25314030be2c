/**
 * A small synthetic persistent list workload for the crash checker's own tests.
 *
 * Model: root 0 of the allocator is the head pointer; a node is 32 B
 * [key, next, checksum = key ^ 0x5a5a, 0]. insert: malloc, write the node, clwb,
 * sfence, then store the head, clwb, sfence (the head store is the commit point).
 * remove(key): unlink (store + clwb + sfence) then free. Keys are distinct per run.
 * verify walks from the head (cycle and checksum checks); expectedKeys replays the
 * completed ops as a set and leaves keys of in-flight ops unconstrained.
 *
 * Invariants: ops touch memory only through the core and the allocator.
 */
import type { Core, MemoryReader } from '../../../sim/api.ts';
import { siteId } from '../../../sim/api.ts';
import type { SeedTree } from '../../../sim/choice.ts';
import type { Allocator, Extent } from '../../../allocators/contract.ts';
import { WorkloadParamError, type Op, type OpRef, type ThreadStreams, type VerifyReport, type Workload, type WorkloadContext } from '../../../workloads/contract.ts';

export interface SynthListParams {
  ops: number;
  /** Percent of ops that remove an existing key. */
  removePercent: number;
}

const S_NODE = siteId('synth-list:init-node');
const S_LINK = siteId('synth-list:link');
const NODE = 32;
const MAX_NODES = 100_000;

function checksum(key: number): number {
  return (key ^ 0x5a5a) >>> 0;
}

export const synthList: Workload<SynthListParams> = {
  name: 'synth-list',
  kind: 'structure',
  description: 'synthetic persistent list (checker tests)',
  defaults: { ops: 20, removePercent: 25 },
  validate(params, _threads, _heap) {
    const p = { ...this.defaults, ...params };
    if (!Number.isInteger(p.ops) || p.ops < 1) throw new WorkloadParamError('ops', 'a positive integer', p.ops);
    return p;
  },
  generate(seed: SeedTree, params, threads): ThreadStreams {
    const streams: Op[][] = [];
    let nextKey = 1;
    for (let t = 0; t < threads; t++) {
      const c = seed.child(`t${t}`).choice();
      const live: number[] = [];
      const ops: Op[] = [];
      for (let i = 0; i < params.ops; i++) {
        if (live.length > 0 && c.chance(params.removePercent, 100)) {
          const j = c.index(live.length);
          ops.push({ kind: 'remove', key: live[j] });
          live.splice(j, 1);
        } else {
          const key = nextKey++ * threads + t;
          ops.push({ kind: 'insert', key });
          live.push(key);
        }
      }
      streams.push(ops);
    }
    return streams;
  },
  setup(ctx: WorkloadContext, core: Core) {
    ctx.allocator.setRoot(core, 0, 0);
  },
  runOp(ctx, core, _thread, op) {
    const a = ctx.allocator;
    const head = a.rootAddress(0);
    if (op.kind === 'insert') {
      const key = op.key as number;
      const init = (c: Core, n: number) => {
        const prev = c.setSite(S_NODE);
        c.store64(n, key);
        c.store64(n + 8, c.load64(head));
        c.store64(n + 16, checksum(key));
        c.clwb(n);
        if (((n + NODE - 1) >>> 6) !== (n >>> 6)) c.clwb(n + NODE - 1);
        c.setSite(prev);
      };
      if (ctx.idiom === 'alloc-into') {
        // The allocator publishes into the head slot after init.
        a.mallocTo(core, NODE, head, init);
        return 'done';
      }
      const n = a.malloc(core, NODE);
      if (n === 0) return 'done';
      init(core, n);
      core.sfence();
      const prev = core.setSite(S_LINK);
      core.store64(head, n);
      core.clwb(head);
      core.sfence();
      core.setSite(prev);
      return 'done';
    }
    let slot = head;
    for (let n = core.load64(slot); n !== 0; n = core.load64(slot)) {
      if (core.load64(n) === op.key) {
        const prev = core.setSite(S_LINK);
        core.store64(slot, core.load64(n + 8));
        core.clwb(slot);
        core.sfence();
        core.setSite(prev);
        a.free(core, n);
        break;
      }
      slot = n + 8;
    }
    return 'done';
  },
  verify(reader: MemoryReader, allocator: Allocator): VerifyReport {
    const reachable: Extent[] = [];
    const keys: number[] = [];
    const errors: { addr: number; message: string }[] = [];
    const seen = new Set<number>();
    let n = reader.peek64(allocator.rootAddress(0));
    while (n !== 0) {
      if (seen.has(n) || seen.size > MAX_NODES) {
        errors.push({ addr: n, message: 'cycle in list' });
        break;
      }
      seen.add(n);
      const key = reader.peek64(n);
      if (reader.peek64(n + 16) !== checksum(key)) errors.push({ addr: n, message: `bad checksum for key ${key}` });
      reachable.push({ addr: n, sizeBytes: NODE });
      keys.push(key);
      n = reader.peek64(n + 8);
    }
    return { reachable, errors, keys: keys.sort((x, y) => x - y) };
  },
  expectedKeys(streams, completed: readonly OpRef[], inFlight: readonly OpRef[]) {
    const present = new Set<number>();
    for (const r of completed) {
      const op = streams[r.thread][r.opIndex];
      if (op.kind === 'insert') present.add(op.key as number);
      else present.delete(op.key as number);
    }
    const touched = new Set(inFlight.map((r) => streams[r.thread][r.opIndex].key as number));
    const all = new Set<number>();
    for (const s of streams) for (const op of s) all.add(op.key as number);
    const mustContain = [...present].filter((k) => !touched.has(k)).sort((x, y) => x - y);
    const mustNotContain = [...all].filter((k) => !present.has(k) && !touched.has(k)).sort((x, y) => x - y);
    return { mustContain, mustNotContain };
  },
};
