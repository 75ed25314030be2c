/**
 * Executed runs shared by the crash jobs of one process: a study plans, calibrates and
 * checks each job, and checks several jobs (crash modes, persistency modes) of the same
 * run; each would re-execute the run with the trace on (job.ts loadJob), which for a
 * 100,000-op list costs about as much as its whole enumeration sweep.
 *
 * Model: a job's run (RunOutput: machine, trace, history, streams) depends only on
 * the resolved allocator factory and workload (object identity) and the job's run
 * fields (allocator, workload, params, idiom, threads, seed, preset, costOverrides,
 * nvramSizeBytes, dramSizeBytes), never on its crash fields (persistency, mode, k,
 * caps...). `loadJobShared` validates and resolves the job as loadJob does and, when a
 * run with the same identity and fields is kept, returns a fresh JobContext over it
 * (per-job caches keyed by the context start empty); else it calls loadJob and keeps
 * the run. Crash checking only reads a run (the trace, streams, history, cycles).
 *
 * Invariants: a context from the cache equals the one loadJob would give (same job,
 * factory, workload, validated params, cost model, and a run of identical content: the
 * run is deterministic); at most MAX_RUNS runs and MAX_EVENTS trace events are kept
 * (least recently used dropped); `forgetRuns` empties it (benchmarks that time whole
 * jobs, execution included).
 */
import type { CrashJob, CrashResolvers } from './api.ts';
import { loadJob, resolveJob, validateCrashJob, type JobContext } from './job.ts';

interface Kept {
  readonly ctx: JobContext;
  readonly key: string;
  readonly events: number;
}

const MAX_RUNS = 4;
const MAX_EVENTS = 8_000_000;
let kept: Kept[] = [];

/** Counters for tests: runs executed and runs taken from the cache since the process started. */
export const runCache = { executed: 0, reused: 0 };

function runKey(job: CrashJob): string {
  const { allocator, workload, params, idiom, threads, seed, preset, costOverrides, nvramSizeBytes, dramSizeBytes } = job;
  return JSON.stringify([allocator, workload, params, idiom, threads, seed, preset ?? null, costOverrides ?? null, nvramSizeBytes, dramSizeBytes]);
}

/** loadJob, executing the run only when no kept run has the same factory, workload and run fields. */
export function loadJobShared(job: CrashJob, resolvers: CrashResolvers = {}): JobContext {
  validateCrashJob(job);
  const { factory, workload } = resolveJob(job, resolvers);
  const key = runKey(job);
  const i = kept.findIndex((k) => k.key === key && k.ctx.factory === factory && k.ctx.workload === workload);
  if (i >= 0) {
    const k = kept[i];
    kept.splice(i, 1);
    kept.push(k);
    runCache.reused++;
    return { ...k.ctx, job };
  }
  const ctx = loadJob(job, resolvers);
  runCache.executed++;
  const events = ctx.run.machine.trace?.length ?? 0;
  kept.push({ ctx, key, events });
  let total = kept.reduce((s, k) => s + k.events, 0);
  while (kept.length > MAX_RUNS || (kept.length > 1 && total > MAX_EVENTS)) total -= kept.shift()!.events;
  return ctx;
}

/** Drop every kept run. */
export function forgetRuns(): void {
  kept = [];
}
