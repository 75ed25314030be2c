/**
 * Shared executions: the jobs of one run executed in a process execute it once, and a
 * job checked over a kept run gives exactly the result of a job whose run was executed
 * afresh; a job of another run (seed, params, allocator object) executes its own.
 */
import { describe, expect, it } from 'vitest';
import { checkCrashStates, planCrashJob } from './run.ts';
import { forgetRuns, loadJobShared, runCache } from './run-cache.ts';
import { loadJob } from './job.ts';
import { findAllocator } from '../../allocators/registry.ts';
import type { CrashJob } from './api.ts';

const MB = 1 << 20;
const base: CrashJob = { allocator: 'ralloc', workload: 'list', params: { opsPerThread: 10 }, idiom: 'malloc-then-link', threads: 1, seed: 9, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'lower' };

describe('run cache', () => {
  it('jobs of one run share its execution; results equal those over a fresh execution', () => {
    const jobs: CrashJob[] = [base, { ...base, mode: 'upper', maxStates: 7 }, { ...base, mode: 'k-subsets', k: 2, maxStatesPerPoint: 4 }, { ...base, persistency: 'word', mode: 'lower' }];
    const fresh = jobs.map((j) => {
      forgetRuns();
      return checkCrashStates(j);
    });
    forgetRuns();
    const e0 = runCache.executed;
    const r0 = runCache.reused;
    const plans = jobs.map((j) => planCrashJob(j));
    const shared = jobs.map((j) => checkCrashStates(j));
    expect(runCache.executed - e0).toBe(1);
    expect(runCache.reused - r0).toBe(2 * jobs.length - 1);
    expect(JSON.stringify(shared)).toBe(JSON.stringify(fresh));
    expect(plans).toEqual(fresh.map((r) => r.plan));
  });

  it('a kept context equals the one loadJob gives, job included', () => {
    forgetRuns();
    const a = loadJobShared(base);
    const job = { ...base, mode: 'upper' as const };
    const b = loadJobShared(job);
    const c = loadJob(job);
    expect(b.job).toBe(job);
    expect(b.run).toBe(a.run);
    expect(b.params).toEqual(c.params);
    expect(b.cost).toEqual(c.cost);
    expect(b.factory).toBe(c.factory);
    expect(b.run.history).toEqual(c.run.history);
    expect(b.run.machine.trace!.length).toBe(c.run.machine.trace!.length);
  });

  it('another seed, other params or another factory object executes again', () => {
    forgetRuns();
    const e0 = runCache.executed;
    loadJobShared(base);
    loadJobShared({ ...base, seed: 10 });
    loadJobShared({ ...base, params: { opsPerThread: 11 } });
    const f = findAllocator('ralloc')!;
    loadJobShared(base, { allocator: { ...f } });
    loadJobShared({ ...base, mode: 'upper' });
    expect(runCache.executed - e0).toBe(4);
  });

  it('keeps at most four runs (least recently used dropped)', () => {
    forgetRuns();
    const e0 = runCache.executed;
    for (const seed of [1, 2, 3, 4, 5]) loadJobShared({ ...base, seed });
    loadJobShared({ ...base, seed: 5 });
    loadJobShared({ ...base, seed: 2 });
    expect(runCache.executed - e0).toBe(5);
    loadJobShared({ ...base, seed: 1 });
    expect(runCache.executed - e0).toBe(6);
  });
});
