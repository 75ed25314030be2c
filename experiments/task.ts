/**
 * The unit of parallel work: one run, or one shard of one crash job. Called in-process
 * (one worker) or inside a piscina worker thread (worker.mjs), with the same plain-JSON
 * payload either way, so results cannot depend on the number of workers.
 *
 * Model: the payload carries the spec's JSON and folder; the task resolves it (cached
 * per spec hash in this thread), plans, and executes item `index`.
 */
import { checkCrashStates, planCrashJob, type CrashListing, type CrashPlan, type CrashResult } from './crash/api.ts';
import { calibrationStates } from './crash-budget.ts';
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
    /** The job's share of the spec's state budget (replaces a larger maxStates). */
    readonly maxStates?: number;
    /** Progress: an Int32Array slot 0 counting the job's checked states (shared by its shards). */
    readonly counter?: SharedArrayBuffer;
  }
  | {
    readonly kind: 'plan'; readonly specJson: string; readonly baseDir: string; readonly index: number;
    /** Also time a check of a spread sample of the job's states (crash-budget.ts). */
    readonly calibrate?: boolean;
  };

/** A crash job planned and calibrated (crash-budget.ts): host times, never part of a result. */
export interface PlanTaskResult {
  readonly plan: CrashPlan;
  readonly planMs: number;
  readonly sampleStates: number;
  readonly sampleMs: number;
}

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
  readonly result: RunRecord | CrashResult | PlanTaskResult;
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

/**
 * Plan a crash job; with `calibrate`, first time a check of a spread sample of its
 * states (shard 0 of ceil(states / calibrationStates(states))), then the planning alone
 * (warm, right after): the difference is what the sample's states cost.
 */
function planAndCalibrate(item: CrashPlanItem, calibrate: boolean): PlanTaskResult {
  const t0 = performance.now();
  if (!calibrate) {
    const plan = planCrashJob(item.job, crashResolvers(item));
    return { plan, planMs: performance.now() - t0, sampleStates: 0, sampleMs: 0 };
  }
  const states = planCrashJob(item.job, crashResolvers(item)).states;
  const t1 = performance.now();
  const sample = checkCrashStates(item.job, { index: 0, count: Math.max(1, Math.ceil(states / calibrationStates(states))) }, crashResolvers(item), { listing: 'failures' });
  const t2 = performance.now();
  const plan = planCrashJob(item.job, crashResolvers(item));
  const t3 = performance.now();
  const sampleStates = sample.points.reduce((a, p) => a + p.states, 0);
  const sampleMs = t2 - t1 - (t3 - t2);
  // Not measurable (the states cost less than the timing noise): the job assumes a rate (perStateTimes).
  return sampleMs > 0 && sampleStates > 0 ? { plan, planMs: t3 - t2, sampleStates, sampleMs } : { plan, planMs: t3 - t2, sampleStates: 0, sampleMs: 0 };
}

/** Called every 64 checked states by a crash task running in this thread (the one-worker executor: lets the runner's progress log while a long task runs). */
let inProcessTick: (() => void) | undefined;
export function setInProcessTick(fn: (() => void) | undefined): void {
  inProcessTick = fn;
}

export async function runTask(payload: TaskPayload): Promise<TaskOutput> {
  const { spec, runs, jobs } = await planned(payload.specJson, payload.baseDir);
  const t0 = performance.now();
  let result: RunRecord | CrashResult | PlanTaskResult;
  if (payload.kind === 'run') result = measureRun(spec, runs[payload.index]);
  else if (payload.kind === 'plan') result = planAndCalibrate(jobs[payload.index], payload.calibrate === true);
  else {
    const item = jobs[payload.index];
    const job = payload.maxStates !== undefined && !(item.job.maxStates !== undefined && item.job.maxStates <= payload.maxStates) ? { ...item.job, maxStates: payload.maxStates } : item.job;
    const counter = payload.counter ? new Int32Array(payload.counter) : undefined;
    let n = 0;
    const onState = counter ? () => {
      Atomics.add(counter, 0, 1);
      if ((++n & 63) === 0) inProcessTick?.();
    } : undefined;
    result = checkCrashStates(job, { index: payload.shard, count: payload.shards }, crashResolvers(item), { listing: payload.listing ?? 'failures', ...(onState ? { onState } : {}) });
  }
  return { result, elapsedMs: Math.round(performance.now() - t0) };
}

export default runTask;
