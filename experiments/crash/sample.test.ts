import { describe, expect, it } from 'vitest';
import { checkSampleOf, planCrashJobFull, prepareSampleOf } from './run.ts';
import type { CrashJob } from './api.ts';
import { sharedChecking } from './share.ts';

const MB = 1 << 20;

describe('calibration sample (checkSampleOf)', () => {
  it.each([8, 40, 64])('checks whole consecutive points from the middle, at least %i states', (n) => {
    const job: CrashJob = { allocator: 'makalu', workload: 'list', params: { opsPerThread: 20 }, idiom: 'malloc-then-link', threads: 1, seed: 3, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'k-subsets', k: 2 };
    const p = planCrashJobFull(job);
    const all = p.en.states;
    expect(all.length).toBeGreaterThan(3 * n);
    const got = checkSampleOf(p, n);
    expect(got.length).toBeGreaterThanOrEqual(n);
    const from = all.indexOf(got[0]);
    // Consecutive ordinals, starting and ending at point boundaries.
    got.forEach((s, i) => expect(s).toBe(all[from + i]));
    expect(from === 0 || all[from - 1].point !== got[0].point).toBe(true);
    const to = from + got.length;
    expect(to === all.length || all[to].point !== got[got.length - 1].point).toBe(true);
    // From the middle: it does not start at the first state of a long job.
    expect(from).toBeGreaterThan(0);
  });

  it('a job with fewer states than asked checks them all', () => {
    const job: CrashJob = { allocator: 'pmdk', workload: 'list', params: { opsPerThread: 3 }, idiom: 'malloc-then-link', threads: 1, seed: 3, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'lower' };
    const p = planCrashJobFull(job);
    expect(checkSampleOf(p, 10_000).length).toBe(p.en.states.length);
  });

  it('prepared apart (replay to the first point, tally), the sample checks the same states as checkSampleOf', () => {
    const job: CrashJob = { allocator: 'ralloc', workload: 'list', params: { opsPerThread: 30 }, idiom: 'malloc-then-link', threads: 1, seed: 4, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'upper', maxStates: 40 };
    const p = planCrashJobFull(job);
    const sample = prepareSampleOf(p, 8);
    const got = sample();
    expect(got).toEqual(checkSampleOf(p, 8));
    expect(got.length).toBeGreaterThanOrEqual(8);
  });

  it('with a warm-up, checks the states just before the sample while preparing, then the same sample', () => {
    const job: CrashJob = { allocator: 'makalu', workload: 'list', params: { opsPerThread: 20 }, idiom: 'malloc-then-link', threads: 1, seed: 3, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'k-subsets', k: 2 };
    const p = planCrashJobFull(job);
    const c0 = sharedChecking.checks;
    const plain = prepareSampleOf(p, 16);
    const c1 = sharedChecking.checks;
    const warmed = prepareSampleOf(p, 16, 16);
    const c2 = sharedChecking.checks;
    expect(c1 - c0).toBe(0);
    expect(c2 - c1).toBeGreaterThan(0);
    expect(warmed()).toEqual(plain());
  });
});
