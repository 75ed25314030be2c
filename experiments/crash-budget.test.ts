/**
 * The state budget's shares (water-filling: within budget, deterministic, no job cut
 * below a smaller one's size), the time estimate, and the plan lines that announce
 * capped jobs before they start.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CrashPlan } from './crash/api.ts';
import { calibrationStates, DEFAULT_PER_STATE_MS, experimentEstimateMs, warmUpStates, jobEstimateMs, perStateTimes, planLines, shareBudget, type PlannedJob } from './crash-budget.ts';

describe('shareBudget', () => {
  it('caps nothing when everything fits', () => {
    expect(shareBudget([3, 5, 0], 8)).toEqual([undefined, undefined, undefined]);
  });

  it('water-fills: small jobs whole, large jobs an equal share, the remainder to the first', () => {
    expect(shareBudget([10, 100, 1000], 300)).toEqual([undefined, undefined, 190]);
    expect(shareBudget([10, 500, 1000], 300)).toEqual([undefined, 145, 145]);
    expect(shareBudget([10, 500, 1000], 301)).toEqual([undefined, 146, 145]);
  });

  it('property: total within budget and all of it used, caps below the job size, order-fair', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 12, max: 20000 }), (states, budget) => {
        const caps = shareBudget(states, budget);
        const used = states.map((s, i) => caps[i] ?? s);
        const total = states.reduce((a, b) => a + b, 0);
        expect(used.reduce((a, b) => a + b, 0)).toBe(Math.min(total, budget));
        caps.forEach((c, i) => {
          if (c === undefined) return;
          expect(c).toBeGreaterThanOrEqual(1);
          expect(c).toBeLessThan(states[i]);
          // A cut job gets at least what any job kept whole, less one.
          for (const u of used) expect(c).toBeGreaterThanOrEqual(Math.min(u, c + 1) - 1);
        });
        expect(shareBudget(states, budget)).toEqual(caps);
      }),
      { numRuns: 200 },
    );
  });
});

const plan = (states: number, distinctStates = states): CrashPlan => ({
  rawPoints: 1, points: 1, distinctPoints: 1, boxSize: '1', boxSizeLog2: 0, rawStates: distinctStates, distinctStates, states,
  sampled: distinctStates > states, notes: [], traceEvents: 1, setupTraceEvents: 0, opsCompleted: 1,
});
const planned = (id: string, allocator: string, states: number, sampleStates: number, sampleMs: number): PlannedJob & { allocator: string } => ({
  id, label: id, allocator, plan: plan(states), planMs: 100, sampleStates, sampleMs,
});

describe('estimates', () => {
  it('a job uses its own rate, else the median of its allocator, else the median measured, else the default', () => {
    const jobs = [planned('a', 'ralloc', 1000, 10, 50), planned('b', 'ralloc', 10, 0, 0), planned('c', 'pmdk', 10, 0, 0), planned('d', 'pmdk', 2000, 10, 10), planned('e', 'pmdk', 2000, 10, 30), planned('f', 'makalu', 5, 0, 0)];
    expect(perStateTimes(jobs)).toEqual([5, 5, 3, 1, 3, 3]);
    expect(perStateTimes([planned('e', 'x', 3, 0, 0)])).toEqual([DEFAULT_PER_STATE_MS]);
    expect(jobEstimateMs(jobs[0], 1000, 2, 5)).toBe(100 * 2 + 1000 * 5);
  });

  it('the experiment takes the sum over the workers, or the largest job over its shards if longer', () => {
    expect(experimentEstimateMs([{ ms: 100 }, { ms: 100 }, { ms: 100 }], 3, 1)).toBe(100);
    expect(experimentEstimateMs([{ ms: 1000 }, { ms: 10 }], 2, 1)).toBe(1000);
    expect(experimentEstimateMs([{ ms: 1000 }, { ms: 10 }], 2, 2)).toBe(505);
  });
});

describe('planLines', () => {
  it('names every capped job before it starts and logs every job', () => {
    const jobs = Array.from({ length: 9 }, (_, i) => ({ id: `job${i}`, found: 100 + i, states: i === 3 ? 40 : 100 + i, estimateMs: 1000 * i, perStateMs: 2, measured: i > 4, ...(i === 3 ? { cappedBy: 'budget' as const } : {}) }));
    const { show, log } = planLines(jobs, 2, 1, 900);
    expect(show[0]).toMatch(/^crash plan: 9 jobs, \d+ distinct states to check of \d+ found, about \d+ s on 2 workers/);
    expect(show[1]).toMatch(/^crash budget: maxStatesTotal 900: \d+ of \d+ distinct states checked \(\d+\.\d %\), 1 jobs sampled/);
    expect(show.some((l) => /job3: 40 states, .*103 distinct states > its share of crash.budget.maxStatesTotal: checks a seeded sample of 40/.test(l))).toBe(true);
    expect(show.some((l) => /job8: 108 states, about 8 s \(500 states\/s measured\)/.test(l))).toBe(true);
    expect(show.at(-1)).toMatch(/3 more jobs: every job is in run.log/);
    expect(log.filter((l) => l.startsWith('plan job')).length).toBe(9);
  });
});

describe('calibration sizes', () => {
  it('samples 8 to 64 states (1 in 50) after 4 warm-up states per sampled state, at most 256', () => {
    expect([100, 400, 5000, 1_000_000].map(calibrationStates)).toEqual([8, 8, 64, 64]);
    expect([8, 20, 64].map(warmUpStates)).toEqual([32, 80, 256]);
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000_000 }), (states) => {
      const n = calibrationStates(states);
      expect(n).toBeLessThanOrEqual(states);
      expect(warmUpStates(n)).toBeLessThanOrEqual(256);
    }));
  });
});
