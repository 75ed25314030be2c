/**
 * Crash jobs: plan, check (sharded), merge and replay. (Skeleton: filled in next.)
 */
import type { CrashJob, CrashPlan, CrashResolvers, CrashResult, CrashRow, ReplayReport, ShardSpec } from './api.ts';

export class CrashJobError extends Error {
  override name = 'CrashJobError';
  constructor(readonly field: string, readonly expected: string, readonly found: unknown) {
    super(`crash job field "${field}": expected ${expected}, found ${JSON.stringify(found)}`);
  }
}

export function validateCrashJob(job: CrashJob): CrashJob {
  return job;
}

export function planCrashJob(job: CrashJob, resolvers: CrashResolvers = {}): CrashPlan {
  void job; void resolvers;
  throw new Error('planCrashJob: not implemented yet');
}

export function checkCrashStates(job: CrashJob, shard: ShardSpec = { index: 0, count: 1 }, resolvers: CrashResolvers = {}): CrashResult {
  void job; void shard; void resolvers;
  throw new Error('checkCrashStates: not implemented yet');
}

export function replayState(id: string, resolvers: CrashResolvers = {}): ReplayReport {
  void id; void resolvers;
  throw new Error('replayState: not implemented yet');
}

export function compareCrashRows(a: CrashRow, b: CrashRow): number {
  void a; void b;
  return 0;
}

export function mergeCrashResults(results: readonly CrashResult[]): CrashResult {
  void results;
  throw new Error('mergeCrashResults: not implemented yet');
}
