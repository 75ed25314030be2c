/**
 * Per-point tallies: they count every checked state whatever the listing, agree with
 * the full rows, merge across shards to the unsharded bytes, and give exact integer
 * min / lower median / max of recovery cycles.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCrashStates, crashStudy, mergeCrashResults, type CrashJob, type CrashRow, type Verdict } from './api.ts';
import { cycleStats, isJobTallies, jobTotals, maxLeakedBytes, mergeTallies, summaryTallies, TallyBuilder, type JobTallies } from './tally.ts';
import { synthAllocators } from './testing/synth-alloc.ts';
import { synthList } from './testing/synth-list.ts';

const synth = (name: string) => synthAllocators.find((a) => a.name === name)!;
const resolvers = { allocator: synth('synth-nofence'), workload: synthList };

function job(extra: Partial<CrashJob> = {}): CrashJob {
  return {
    allocator: 'synth-nofence', workload: 'synth-list', params: { ops: 10, removePercent: 25 }, idiom: 'malloc-then-link', threads: 1, seed: 7,
    nvramSizeBytes: 1 << 20, dramSizeBytes: 1 << 20, persistency: 'line', mode: 'k-subsets', k: 2, maxStatesPerPoint: 8, ...extra,
  };
}

/** The tallies recomputed naively from every row (states first seen at a point, as rows give them). */
function fromRows(rows: readonly CrashRow[]): Map<number, { states: number; valid: number; invalid: number; unknown: number; leaked: number; cycles: number[] }> {
  const m = new Map<number, { states: number; valid: number; invalid: number; unknown: number; leaked: number; cycles: number[] }>();
  for (const r of rows) {
    const t = m.get(r.crashPoint) ?? { states: 0, valid: 0, invalid: 0, unknown: 0, leaked: 0, cycles: [] };
    t.states++;
    t[r.verdict]++;
    t.leaked += r.leakedBytes;
    t.cycles.push(r.recoveryCycles);
    m.set(r.crashPoint, t);
  }
  return m;
}

describe('crash tallies', () => {
  const all = checkCrashStates(job(), { index: 0, count: 1 }, resolvers);
  const failures = checkCrashStates(job(), { index: 0, count: 1 }, resolvers, { listing: 'failures' });

  it('agree with the full rows point by point (counts, leaked bytes, cycles min / lower median / max)', () => {
    expect(all.rows.length).toBeGreaterThan(10);
    expect(all.rows.some((r) => r.verdict === 'invalid')).toBe(true);
    const naive = fromRows(all.rows);
    // No job cap: every point owning states is checked, so each has its own summary row.
    const every = [...summaryTallies(all.tallies)];
    expect(every).toEqual(all.tallies.checked.map((p) => ({ ...p, crashPointLast: p.crashPoint })));
    for (const p of all.tallies.checked) {
      const n = naive.get(p.crashPoint)!;
      expect([p.states, p.valid, p.invalid, p.unknown, p.leakedBytes]).toEqual([n.states, n.valid, n.invalid, n.unknown, n.leaked]);
      const sorted = n.cycles.slice().sort((a, b) => a - b);
      expect(cycleStats(p.recoveryCycles)).toEqual({ min: sorted[0], median: sorted[Math.floor((sorted.length - 1) / 2)], max: sorted[sorted.length - 1] });
      expect(p.found).toBe(p.states); // no job cap
    }
    expect([...naive.keys()].every((pos) => all.tallies.checked.some((p) => p.crashPoint === pos))).toBe(true);
    expect(every.map((p) => [p.crashPoint, p.found])).toEqual(all.tallies.crashPoints.map((c, i) => [c, all.tallies.found[i]]));
    expect(maxLeakedBytes(all.tallies)).toBe(Math.max(0, ...all.rows.map((r) => r.leakedBytes)));
    expect(jobTotals(all.tallies).states).toBe(all.plan.states);
  });

  it('the failures listing keeps exactly the invalid and unknown rows, the same tallies and counterexamples', () => {
    expect(failures.listing).toBe('failures');
    expect(JSON.stringify(failures.rows)).toBe(JSON.stringify(all.rows.filter((r) => r.verdict !== 'valid')));
    expect(JSON.stringify(failures.tallies)).toBe(JSON.stringify(all.tallies));
    expect(JSON.stringify(failures.counterexamples)).toBe(JSON.stringify(all.counterexamples));
  });

  it('shards merge to the bytes of one unsharded check (failures listing)', () => {
    const parts = [0, 1, 2].map((index) => checkCrashStates(job(), { index, count: 3 }, resolvers, { listing: 'failures' }));
    expect(JSON.stringify(mergeCrashResults(parts, resolvers))).toBe(JSON.stringify(failures));
  });

  it('report the job cap: found > checked, every checked state counted as sampled', () => {
    const capped = checkCrashStates(job({ maxStates: 7 }), { index: 0, count: 1 }, resolvers, { listing: 'failures' });
    const t = jobTotals(capped.tallies);
    expect(capped.tallies.checked.length).toBeLessThan(capped.tallies.crashPoints.length);
    // Summary rows: the checked points one each, the unchecked ones in runs between them.
    const rows = [...summaryTallies(capped.tallies)];
    expect(rows.length).toBeLessThan(capped.tallies.crashPoints.length);
    expect(rows.length).toBeLessThanOrEqual(2 * capped.tallies.checked.length + 1);
    expect(rows.reduce((n, r) => n + r.found, 0)).toBe(t.found);
    expect(rows.filter((r) => r.states > 0)).toEqual(capped.tallies.checked.map((p) => ({ ...p, crashPointLast: p.crashPoint })));
    for (let i = 1; i < rows.length; i++) expect(rows[i].crashPoint).toBeGreaterThan(rows[i - 1].crashPointLast);
    expect(t.states).toBe(7);
    expect(t.sampled).toBe(7);
    expect(t.found).toBe(all.plan.states);
    expect(capped.plan.distinctStates).toBe(all.plan.states);
    expect(capped.plan.notes.join(' ')).toMatch(/job cap: \d+ distinct states > maxStates 7/);
  });
});

describe('crashStudy on tallies', () => {
  it('counts states, invalid, unknown and the largest leak as the full rows do', () => {
    const [line] = crashStudy({ allocators: ['makalu-broken-nolog'], workloads: ['list'], modes: ['lower'], opsPerThread: 6 });
    expect(line.error).toBeUndefined();
    const rows = checkCrashStates(line.job).rows;
    expect([line.states, line.invalid, line.unknown, line.maxLeakedBytes]).toEqual([
      rows.length, rows.filter((r) => r.verdict === 'invalid').length, rows.filter((r) => r.verdict === 'unknown').length, Math.max(0, ...rows.map((r) => r.leakedBytes)),
    ]);
    expect(line.invalid).toBeGreaterThan(0);
  });
});

describe('mergeTallies (property)', () => {
  it('shards that declare different points are refused', () => {
    const a = new TallyBuilder([5], [2]);
    const b = new TallyBuilder([5], [3]);
    expect(() => mergeTallies([a.result(), b.result()])).toThrow(/disagree on the states found at crash point 5 \(2 vs 3\)/);
  });

  const outcome = fc.record({
    point: fc.integer({ min: 0, max: 5 }),
    verdict: fc.constantFrom<Verdict>('valid', 'invalid', 'unknown'),
    leakedBytes: fc.integer({ min: 0, max: 4096 }),
    recoveryCycles: fc.integer({ min: 0, max: 50 }),
    sampled: fc.boolean(),
    shard: fc.integer({ min: 0, max: 3 }),
  });
  it('any split of the states over shards merges to the tally of one builder', () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 60 }), (xs) => {
        const found = new Map<number, number>();
        for (const x of xs) found.set(x.point, (found.get(x.point) ?? 0) + 1);
        const builder = (keep: (s: number) => boolean): JobTallies => {
          const declared = [...found.entries()].sort((a, c) => a[0] - c[0]);
          const b = new TallyBuilder(declared.map(([pos]) => pos * 10), declared.map(([, n]) => n));
          for (const x of xs) if (keep(x.shard)) b.add(x.point * 10, x, x.sampled);
          return b.result();
        };
        const one = builder(() => true);
        const merged = mergeTallies([0, 1, 2, 3].map((s) => builder((x) => x === s)));
        expect(JSON.stringify(merged)).toBe(JSON.stringify(one));
        expect(jobTotals(one).states).toBe(xs.length);
      }),
      { numRuns: 100 },
    );
  });

  it('summary rows: each point in exactly one row, runs of unchecked points merged (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ found: fc.integer({ min: 1, max: 4 }), checked: fc.boolean() }), { maxLength: 40 }), (pts) => {
        const b = new TallyBuilder(pts.map((_, i) => 10 * i + 3), pts.map((p) => p.found));
        pts.forEach((p, i) => p.checked && b.add(10 * i + 3, { verdict: 'valid', leakedBytes: 0, recoveryCycles: 5 }, false));
        const rows = [...summaryTallies(b.result())];
        // Naive: walk the points, opening a row at a checked point or after one.
        const naive: [number, number, number, number][] = [];
        pts.forEach((p, i) => {
          const last = naive[naive.length - 1];
          if (!p.checked && last !== undefined && last[3] === 0 && !pts[i - 1].checked) {
            last[1] = 10 * i + 3;
            last[2] += p.found;
          } else naive.push([10 * i + 3, 10 * i + 3, p.found, p.checked ? 1 : 0]);
        });
        expect(rows.map((r) => [r.crashPoint, r.crashPointLast, r.found, r.states])).toEqual(naive);
      }),
      { numRuns: 200 },
    );
  });

  it('points declared without states: zero counts, consecutive ones in one summary row, unchanged by a merge; declarations must ascend', () => {
    const pos = [3, 10, 11, 40];
    const b = new TallyBuilder(pos, pos.map((p) => (p % 3) + 1));
    b.add(11, { verdict: 'invalid', leakedBytes: 64, recoveryCycles: 9 }, false);
    const got = b.result();
    expect([...summaryTallies(got)].map((t) => [t.crashPoint, t.crashPointLast, t.found, t.states])).toEqual([[3, 10, 3, 0], [11, 11, 3, 1], [40, 40, 2, 0]]);
    expect(got.checked.map((t) => t.crashPoint)).toEqual([11]);
    expect(JSON.stringify(got)).toBe(JSON.stringify(mergeTallies([got])));
    expect(isJobTallies(JSON.parse(JSON.stringify(got)))).toBe(true);
    expect(isJobTallies([...summaryTallies(got)])).toBe(false); // a list of point tallies, as an older nvlab stored
    expect(() => b.add(12, { verdict: 'valid', leakedBytes: 0, recoveryCycles: 1 }, false)).toThrow(/undeclared crash point 12/);
    expect(() => new TallyBuilder([3, 40, 40], [1, 1, 1])).toThrow(/ascending/);
    expect(() => new TallyBuilder([3, 40], [1])).toThrow(/2 crash points declared with 1 found counts/);
  });
});
