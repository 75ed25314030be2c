import { describe, it, expect } from 'vitest';
import { checkCrashStates, type CrashJob } from '../experiments/crash/api.ts';
import { findAllocator } from '../allocators/registry.ts';
import type { Idiom } from '../allocators/contract.ts';
import type { Workload } from './contract.ts';
import { list } from './list.ts';
import { nodeChecksum, NEXT } from './common/chain.ts';
import { publishWord } from './common/memory.ts';

/**
 * The structure workloads under the crash checker (lower images, line mode): their
 * publication protocols, verify walks and expectedKeys must give only valid states on
 * crash-safe allocators, and must catch the transient allocator (which keeps nothing).
 */
const TINY: [string, Record<string, number>][] = [
  ['list', { opsPerThread: 5, keyRange: 3 }],
  ['hashmap', { opsPerThread: 5, keyRange: 3, buckets: 2 }],
  ['cow-btree', { opsPerThread: 5, keyRange: 5, maxKeys: 2 }],
  ['fill-heap', { megabytes: 1, scale: 4096, roots: 2 }],
];

function job(allocator: string, workload: string, params: Record<string, number>, idiom: Idiom): CrashJob {
  return { allocator, workload, params, idiom, threads: 1, seed: 5, nvramSizeBytes: 4 << 20, dramSizeBytes: 8 << 20, persistency: 'line', mode: 'lower', nestedPoints: 0, minimize: false };
}

const SAFE: [string, Idiom][] = [['makalu', 'malloc-then-link'], ['pmdk', 'alloc-into']];

describe('structures under crash states', () => {
  for (const [workload, params] of TINY) {
    it(`${workload}: every lower crash state is valid on ${SAFE.map((s) => s.join('/')).join(', ')}; transient is caught`, () => {
      for (const [allocator, idiom] of SAFE) {
        if (findAllocator(allocator) === undefined) continue;
        const r = checkCrashStates(job(allocator, workload, params, idiom));
        expect(r.rows.length, `${workload} ${allocator}`).toBeGreaterThan(3);
        expect(r.rows.filter((x) => x.verdict !== 'valid').map((x) => `${x.anomaly}: ${x.detail}`), `${workload} ${allocator}`).toEqual([]);
      }
      if (findAllocator('transient') === undefined) return;
      const t = checkCrashStates(job('transient', workload, params, 'malloc-then-link'));
      expect(t.rows.some((x) => x.verdict === 'invalid' && (x.anomaly === 'durability' || x.anomaly === 'structure'))).toBe(true);
    });
  }
});

describe('verify catches a torn node in a real crash image', () => {
  // A deliberately broken list: inserts link the node without persisting it first.
  const unpersisted: Workload<any> = {
    ...list,
    name: 'list-unpersisted',
    runOp(ctx, core, thread, op) {
      if (op.kind !== 'insert') return list.runOp(ctx, core, thread, op);
      const head = ctx.allocator.rootAddress(0);
      const n = ctx.allocator.malloc(core, 32);
      const key = op.key as number;
      const value = op.value as number;
      core.store64(n, key);
      core.store64(n + 8, value);
      core.store64(n + 16, nodeChecksum(key, value));
      core.store64(n + NEXT, core.load64(head));
      publishWord(core, head, n); // missing: clwb of the node's lines + sfence before this
      return 'done';
    },
  };

  it('the lower image holds the head pointer but not the node: bad checksum, reported as a structure error', () => {
    if (findAllocator('makalu') === undefined) return;
    const r = checkCrashStates({ ...job('makalu', 'list-unpersisted', { opsPerThread: 4, keyRange: 4, insertPercent: 100 }, 'malloc-then-link') }, undefined, { workload: unpersisted });
    const bad = r.rows.filter((x) => x.verdict === 'invalid');
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.some((x) => x.anomaly === 'structure' && /checksum/.test(x.detail))).toBe(true);
  });
});
