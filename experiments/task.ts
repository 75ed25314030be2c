/**
 * The unit of parallel work: one run, or one shard of one crash job. Called in-process
 * (one worker) or inside a piscina worker thread (worker.mjs), with the same plain-JSON
 * payload either way, so results cannot depend on the number of workers.
 *
 * Model: the payload carries the spec's JSON and folder; the task resolves it (cached
 * per spec hash in this thread), plans, and executes item `index`.
 */
import { checkCrashStates, type CrashListing, type CrashResult } from './crash/api.ts';
import { measureRun } from './measure.ts';
import { planCrashJobs, planRuns, type CrashPlanItem, type RunPlan } from './plan.ts';
import type { RunRecord } from './record.ts';
import { resolveSpec, type ResolvedSpec } from './spec/resolve.ts';

export type TaskPayload =
  | { readonly kind: 'run'; readonly specJson: string; readonly baseDir: string; readonly index: number }
  | {
    readonly kind: 'crash'; readonly specJson: string; readonly baseDir: string; readonly index: number; readonly shard: number; readonly shards: number;
    /** Rows to keep (the spec's crash.listing; default failures). */
    readonly listing?: CrashListing;
  };

interface Planned {
  readonly spec: ResolvedSpec;
  readonly runs: RunPlan[];
  readonly jobs: CrashPlanItem[];
}

const cache = new Map<string, Promise<Planned>>();

function planned(specJson: string, baseDir: string): Promise<Planned> {
  const key = `${baseDir}\u0000${specJson}`;
  let p = cache.get(key);
  if (!p) {
    p = resolveSpec(JSON.parse(specJson), baseDir).then((spec) => ({ spec, runs: planRuns(spec), jobs: planCrashJobs(spec) }));
    cache.set(key, p);
  }
  return p;
}

export function crashResolvers(item: CrashPlanItem) {
  return { allocator: item.factory, workload: item.rw.workload };
}

export interface TaskOutput {
  readonly result: RunRecord | CrashResult;
  /** Host time the task took (for run.log only; never part of a result). */
  readonly elapsedMs: number;
}

/**
 * Start-up barrier: every worker thread takes one barrier task and waits (without
 * blocking its event loop) until all have arrived. A worker is only handed tasks once
 * its modules are loaded, and a worker busy with CPU-bound tasks can starve another
 * one's module loading through the TypeScript loader, so the pool is warmed this way first.
 */
export async function barrierTask(payload: { readonly sab: SharedArrayBuffer; readonly parties: number }): Promise<number> {
  const counter = new Int32Array(payload.sab);
  Atomics.add(counter, 0, 1);
  const deadline = performance.now() + 120_000;
  while (Atomics.load(counter, 0) < payload.parties && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return Atomics.load(counter, 0);
}

export async function runTask(payload: TaskPayload): Promise<TaskOutput> {
  const { spec, runs, jobs } = await planned(payload.specJson, payload.baseDir);
  const t0 = performance.now();
  let result: RunRecord | CrashResult;
  if (payload.kind === 'run') result = measureRun(spec, runs[payload.index]);
  else {
    const item = jobs[payload.index];
    result = checkCrashStates(item.job, { index: payload.shard, count: payload.shards }, crashResolvers(item), { listing: payload.listing ?? 'failures' });
  }
  return { result, elapsedMs: Math.round(performance.now() - t0) };
}

export default runTask;
