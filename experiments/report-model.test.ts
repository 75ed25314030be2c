/**
 * The report model's crash parts: verdict cells and row classes say whether a failure
 * was expected (a canary, the volatile reference) or is a finding, and repeated
 * counterexamples are folded into one entry that lists their seeds.
 */
import { describe, expect, it } from 'vitest';
import type { CrashResult, Counterexample } from './crash/api.ts';
import type { PointTally } from './crash/tally.ts';
import { counterexamples, crashTables } from './report-model.ts';
import type { ResolvedSpec } from './spec/resolve.ts';

const spec = {
  crashAllocators: [
    { name: 'good' },
    { name: 'canary', broken: true },
    { name: 'missed', broken: true },
    { name: 'volatile', volatile: true },
  ],
} as unknown as ResolvedSpec;

function point(valid: number, invalid: number): PointTally {
  const states = valid + invalid;
  return { crashPoint: 1, found: states, states, sampled: 0, valid, invalid, unknown: 0, leakedBytes: 0, maxLeakedBytes: 0, recoveryCycles: [[100, states]] };
}

function cx(detail: string, id: string): Counterexample {
  return { stateId: id, minimizedId: id, anomaly: 'inconsistent-heap', detail, explanation: ['why'], stores: [] } as unknown as Counterexample;
}

function result(allocator: string, seed: number, valid: number, invalid: number, cxs: Counterexample[] = []): CrashResult {
  return {
    job: { allocator, workload: 'list', idiom: 'malloc-then-link', persistency: 'line', mode: 'lower', seed },
    plan: { distinctPoints: 1, boxSize: '4', sampled: false, states: valid + invalid, distinctStates: valid + invalid },
    listing: 'failures',
    rows: [],
    tallies: { crashPoints: [1], found: [valid + invalid], checked: [point(valid, invalid)] },
    counterexamples: cxs,
  } as unknown as CrashResult;
}

describe('crash verdict tables', () => {
  const crash = [result('good', 42, 10, 0), result('canary', 42, 8, 2), result('missed', 42, 10, 0), result('volatile', 42, 1, 9)];
  const [summary, perJob] = crashTables(spec, crash);

  it('mark a caught canary and the failing volatile reference as expected, a missed canary as bad', () => {
    expect(summary.rows).toEqual([
      ['good', 'valid 10'],
      ['canary', 'INVALID 2/10: canary caught'],
      ['missed', 'valid 10: canary NOT caught'],
      ['volatile', 'INVALID 9/10: volatile, expected'],
    ]);
    expect(summary.rowClasses).toEqual(['good', 'expected', 'bad', 'expected']);
    expect(perJob.rowClasses).toEqual(['good', 'expected', 'bad', 'expected']);
  });

  it('mark an invalid state of a correct allocator as bad', () => {
    const [s] = crashTables(spec, [result('good', 42, 9, 1)]);
    expect(s.rows).toEqual([['good', 'INVALID 1/10']]);
    expect(s.rowClasses).toEqual(['bad']);
  });
});

describe('counterexamples', () => {
  it('fold a repeat of the same explanation in one job, and across seeds, listing the seeds', () => {
    const out = counterexamples(spec, [
      result('canary', 42, 0, 3, [cx('block 1 starts no run', 'a'), cx('block 1 starts no run', 'b'), cx('block 2 leaked', 'c')]),
      result('canary', 43, 0, 1, [cx('block 1 starts no run', 'd')]),
    ]);
    expect(out.map((o) => o.title)).toEqual([
      'canary · list · malloc-then-link · line · lower: inconsistent-heap (seeds 42, 43)',
      'canary · list · malloc-then-link · line · lower: inconsistent-heap (seed 42)',
    ]);
    expect(out[0].lines).toEqual(['block 1 starts no run', 'why', "replay: npx nvlab replay 'a'"]);
    expect(out[1].lines[0]).toBe('block 2 leaked');
  });

  it('show the correct allocators first and the volatile reference last', () => {
    const out = counterexamples(spec, [result('volatile', 42, 0, 1, [cx('v', 'v')]), result('canary', 42, 0, 1, [cx('c', 'c')]), result('good', 42, 0, 1, [cx('g', 'g')])]);
    expect(out.map((o) => o.lines[0])).toEqual(['g', 'c', 'v']);
  });
});
