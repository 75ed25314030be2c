import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SeedTree } from '../../sim/choice.ts';
import { clusterSize, sampleIndices, SAMPLE_SPREAD } from './enumerate.ts';
import { checkCrashStates } from './run.ts';
import type { CrashJob } from './api.ts';

const MB = 1 << 20;

/** Naive reference of the single-draw sample: a partial Fisher-Yates over every index, the first n, ascending. */
function singleDraws(count: number, n: number, seed: SeedTree): number[] {
  const c = seed.choice();
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + c.index(count - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, n).sort((a, b) => a - b);
}

describe('the job cap sample (sampleIndices)', () => {
  it('below 2 x SAMPLE_SPREAD states: single draws, as a naive partial shuffle gives them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 * SAMPLE_SPREAD - 1 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 1000 }), (n, extra, seed) => {
        const count = n + 1 + extra;
        expect(clusterSize(n)).toBe(1);
        expect([...sampleIndices(count, n, SeedTree.root(seed))]).toEqual(singleDraws(count, n, SeedTree.root(seed)));
      }),
      { numRuns: 60 },
    );
  });

  it('from 2 x SAMPLE_SPREAD states: n distinct indices in at least SAMPLE_SPREAD whole aligned blocks, at most one cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2 * SAMPLE_SPREAD, max: 6000 }), fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 0, max: 1000 }), (n, extra, seed) => {
        const count = n + extra;
        const got = sampleIndices(count, n, SeedTree.root(seed));
        const size = clusterSize(n);
        expect(size).toBe(Math.floor(n / SAMPLE_SPREAD));
        expect(got.length).toBe(n);
        const perBlock = new Map<number, number>();
        for (let i = 0; i < n; i++) {
          expect(got[i]).toBeGreaterThanOrEqual(0);
          expect(got[i]).toBeLessThan(count);
          if (i > 0) expect(got[i]).toBeGreaterThan(got[i - 1]);
          const b = Math.floor(got[i] / size);
          perBlock.set(b, (perBlock.get(b) ?? 0) + 1);
        }
        const blockLength = (b: number) => Math.min(size, count - b * size);
        const cut = [...perBlock].filter(([b, k]) => k !== blockLength(b));
        expect(cut.length).toBeLessThanOrEqual(1);
        expect(perBlock.size).toBeGreaterThanOrEqual(SAMPLE_SPREAD);
      }),
      { numRuns: 40 },
    );
  });

  it('is deterministic and spreads over the whole range', () => {
    const a = sampleIndices(300_000, 5000, SeedTree.root(7).child('job-cap'));
    expect([...a]).toEqual([...sampleIndices(300_000, 5000, SeedTree.root(7).child('job-cap'))]);
    // 262 blocks of 19 over 300,000 indices: every tenth of the range holds some.
    const tenths = new Set([...a].map((i) => Math.floor(i / 30_000)));
    expect(tenths.size).toBe(10);
  });

  it('a capped job over 2 x SAMPLE_SPREAD checks neighbouring states in blocks, and says it sampled', () => {
    const job: CrashJob = {
      allocator: 'makalu', workload: 'list', params: { opsPerThread: 400 }, idiom: 'malloc-then-link', threads: 1, seed: 5,
      nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'lower', maxStates: 2 * SAMPLE_SPREAD,
    };
    const capped = checkCrashStates(job);
    const full = checkCrashStates({ ...job, maxStates: undefined });
    expect(full.plan.distinctStates).toBeGreaterThan(job.maxStates!);
    expect(capped.plan.distinctStates).toBe(full.plan.distinctStates);
    expect(capped.plan.states).toBe(job.maxStates);
    expect(capped.plan.notes.join(' ')).toMatch(/job cap: \d+ distinct states > maxStates 512/);
    // Every checked state (lower mode: one per point, known by its point) gets the
    // verdict and leak it gets in the full job, and they come in neighbouring pairs.
    const full0 = new Map(full.rows.map((r) => [r.crashPoint, r]));
    const fullIndex = new Map([...full.rows].sort((x, y) => x.stateOrdinal - y.stateOrdinal).map((r, i) => [r.crashPoint, i]));
    let runs = 0;
    let prev = -2;
    for (const r of [...capped.rows].sort((x, y) => x.stateOrdinal - y.stateOrdinal)) {
      const f = full0.get(r.crashPoint)!;
      expect([r.verdict, r.anomaly, r.leakedBytes]).toEqual([f.verdict, f.anomaly, f.leakedBytes]);
      const i = fullIndex.get(r.crashPoint)!;
      if (i !== prev + 1) runs++;
      prev = i;
    }
    expect(runs).toBeLessThanOrEqual(SAMPLE_SPREAD);
  });
});
