/**
 * One-thread crash runs execute functionally (job.ts) and take the timed run's cycles
 * only when a check passes the budget's floor: every row equals the timed execution's,
 * including a recovery that hangs (its detail names the budget, which needs the run's
 * cycles), and a job whose recoveries terminate never executes the timed run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkCrashStates, type CrashJob } from './api.ts';
import { functionalRuns, loadJob } from './job.ts';
import { forgetRuns } from './run-cache.ts';

afterEach(() => {
  functionalRuns.enabled = true;
});

const MB = 1 << 20;
const base = { workload: 'list', params: { opsPerThread: 12, keyRange: 8 }, threads: 1, seed: 42, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', maxStates: 400 } as const;

function rows(job: CrashJob, functional: boolean) {
  functionalRuns.enabled = functional;
  forgetRuns(); // a run executed the other way must not be reused
  try {
    return checkCrashStates(job, { index: 0, count: 1 }, undefined, { listing: 'all' }).rows;
  } finally {
    functionalRuns.enabled = true;
  }
}

describe('functional crash runs', () => {
  it('give the timed run\'s rows, a hanging recovery\'s budget included', () => {
    const hang: CrashJob = { ...base, allocator: 'makalu-broken-noflush-section', idiom: 'alloc-into', mode: 'read-driven' };
    const got = rows(hang, true);
    expect(got.some((r) => r.anomaly === 'recovery-hang')).toBe(true);
    expect(got).toEqual(rows(hang, false));
    for (const allocator of ['pmdk', 'nvm-malloc', 'ralloc']) {
      const job: CrashJob = { ...base, allocator, idiom: 'malloc-then-link', mode: 'k-subsets', k: 2 };
      expect(rows(job, true), allocator).toEqual(rows(job, false));
    }
  });

  it('need the timed run only for a check past the floor of the budget', () => {
    const ctx = loadJob({ ...base, allocator: 'makalu', idiom: 'malloc-then-link', mode: 'upper' });
    expect(ctx.runCycles.known).toBe(false);
    const timed = (() => {
      functionalRuns.enabled = false;
      return loadJob({ ...base, allocator: 'makalu', idiom: 'malloc-then-link', mode: 'upper' });
    })();
    functionalRuns.enabled = true;
    expect(ctx.runCycles.get()).toBe(timed.run.cycles);
    expect(ctx.runCycles.known).toBe(true);
    const two = loadJob({ ...base, threads: 2, allocator: 'makalu', idiom: 'malloc-then-link', mode: 'upper' });
    expect(two.runCycles.known).toBe(true);
    expect(two.runCycles.get()).toBe(two.run.cycles);
  });
});
