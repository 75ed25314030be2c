/**
 * A synthetic workload that publishes through the allocator's roots after setup, for
 * the crash checker's tests: op i allocates a 32 B node [key, 0, checksum], writes and
 * persists it (clwb + sfence), then `setRoot(1 + i % 4, node)` (the allocator must make
 * the root durable). verify reads roots 1..4; expectedKeys requires, per root slot, the
 * key of the last completed publication (unless an op on that slot is in flight).
 *
 * Invariants: ops touch memory only through the core and the allocator.
 */
import type { Core, MemoryReader } from '../../../sim/api.ts';
import { siteId } from '../../../sim/api.ts';
import type { SeedTree } from '../../../sim/choice.ts';
import type { Allocator, Extent } from '../../../allocators/contract.ts';
import type { Op, OpRef, ThreadStreams, VerifyReport, Workload } from '../../../workloads/contract.ts';

const S_NODE = siteId('synth-roots:init-node');
const SLOTS = 4;
const NODE = 32;
const checksum = (key: number): number => (key ^ 0x3c3c) >>> 0;

export const synthRoots: Workload<{ ops: number }> = {
  name: 'synth-roots',
  kind: 'structure',
  description: 'synthetic root publication (checker tests)',
  defaults: { ops: 8 },
  validate(params) {
    return { ...this.defaults, ...params };
  },
  generate(_seed: SeedTree, params, threads): ThreadStreams {
    const s: Op[][] = [];
    for (let t = 0; t < threads; t++) s.push(Array.from({ length: t === 0 ? params.ops : 0 }, (_, i) => ({ kind: 'publish', key: 100 + i, slot: 1 + (i % SLOTS) })));
    return s;
  },
  setup(ctx, core) {
    for (let i = 1; i <= SLOTS; i++) ctx.allocator.setRoot(core, i, 0);
  },
  runOp(ctx, core: Core, _thread, op) {
    const a = ctx.allocator;
    const n = a.malloc(core, NODE);
    if (n === 0) return 'done';
    const prev = core.setSite(S_NODE);
    core.store64(n, op.key as number);
    core.store64(n + 8, 0);
    core.store64(n + 16, checksum(op.key as number));
    core.clwb(n);
    if (((n + NODE - 1) >>> 6) !== (n >>> 6)) core.clwb(n + NODE - 1);
    core.sfence();
    core.setSite(prev);
    a.setRoot(core, op.slot as number, n);
    return 'done';
  },
  verify(reader: MemoryReader, allocator: Allocator): VerifyReport {
    const reachable: Extent[] = [];
    const keys: number[] = [];
    const errors: { addr: number; message: string }[] = [];
    for (let i = 1; i <= SLOTS; i++) {
      const n = reader.peek64(allocator.rootAddress(i));
      if (n === 0) continue;
      const key = reader.peek64(n);
      if (reader.peek64(n + 16) !== checksum(key)) errors.push({ addr: n, message: `bad checksum for key ${key}` });
      reachable.push({ addr: n, sizeBytes: NODE });
      keys.push(key);
    }
    return { reachable, errors, keys: keys.sort((x, y) => x - y) };
  },
  expectedKeys(streams, completed: readonly OpRef[], inFlight: readonly OpRef[]) {
    const last = new Map<number, number>();
    for (const r of completed) {
      const op = streams[r.thread][r.opIndex];
      last.set(op.slot as number, op.key as number);
    }
    const busy = new Set(inFlight.map((r) => streams[r.thread][r.opIndex].slot as number));
    const started = new Set([...completed, ...inFlight].map((r) => streams[r.thread][r.opIndex].key as number));
    const mustContain = [...last].filter(([slot]) => !busy.has(slot)).map(([, k]) => k).sort((x, y) => x - y);
    const mustNotContain = streams.flat().map((op) => op.key as number).filter((k) => !started.has(k)).sort((x, y) => x - y);
    return { mustContain, mustNotContain };
  },
};
