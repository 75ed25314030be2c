import { describe, it, expect } from 'vitest';
import { SeedTree } from '../sim/choice.ts';
import { fillHeap, fillHeapExpectedReachable, fillHeapNodes, fillHeapStopAfterOps, type FillHeapParams } from './fill-heap.ts';
import { executeRun } from '../experiments/execute.ts';
import { ALLOCATORS } from '../allocators/registry.ts';
import { createHarness, counting, newTally, TEST_NVRAM_BYTES } from './testing/harness.ts';

const { run, allocatorsUnderTest } = createHarness({ executeRun, allocators: ALLOCATORS });

const seedOf = (s: number) => SeedTree.root(s).child('workload');

describe('fill-heap', () => {
  it('streams: N MB / 64 B nodes, about half kept under random roots and fields, deterministic by seed', () => {
    const p = fillHeap.validate({ megabytes: 1, scale: 8 }, 2, TEST_NVRAM_BYTES);
    expect(fillHeapNodes(p)).toBe(2048);
    const s = fillHeap.generate(seedOf(3), p, 2);
    expect(s[0].length + s[1].length).toBe(2048);
    const keeps = s.flat().filter((o) => o.kind === 'keep');
    expect(Math.abs(keeps.length - 1024)).toBeLessThan(100);
    expect(keeps.every((o) => (o.root as number) < 512 && (o.field as number) < 8)).toBe(true);
    expect(new Set(keeps.map((o) => o.field)).size).toBe(8);
    expect(fillHeap.generate(seedOf(3), p, 2)).toEqual(s);
    expect(fillHeap.generate(seedOf(4), p, 2)).not.toEqual(s);
  });

  it('stopAfterOps is crashPercent of the allocation volume', () => {
    const p = fillHeap.validate({ megabytes: 2, scale: 4 }, 1, TEST_NVRAM_BYTES);
    expect(fillHeapStopAfterOps(p, 1)).toBe(4096);
    expect(fillHeapStopAfterOps({ ...p, crashPercent: 25 } as FillHeapParams, 1)).toBe(2048);
  });

  it('runs to the crash point on every crash-safe allocator; verify finds the roots and every completed keep', () => {
    for (const factory of allocatorsUnderTest({ crashSafeOnly: true })) {
      for (const idiom of ['malloc-then-link', 'alloc-into'] as const) {
        const what = `${factory.name} ${idiom}`;
        const tally = newTally();
        const params = fillHeap.validate({ megabytes: 1, scale: 64, roots: 32 }, 2, TEST_NVRAM_BYTES);
        const stop = fillHeapStopAfterOps(params, 2);
        const out = run({ factory: counting(factory, tally), workload: fillHeap, params, threads: 2, idiom, stopAfterOps: stop });
        expect(out.history, what).toHaveLength(stop);
        const report = fillHeap.verify!(out.machine, out.allocator, params);
        expect(report.errors, what).toEqual([]);
        expect(report.reachable.length, what).toBe(fillHeapExpectedReachable(params, out.streams, out.history));
        // Everything allocated: the roots plus one node per op run; dropped ones freed.
        const drops = out.history.filter((r) => out.streams[r.thread][r.opIndex].kind === 'drop').length;
        expect(tally.mallocs, what).toBe(32 + stop);
        expect(tally.frees, what).toBe(drops);
      }
    }
  });
});
