/**
 * The unit of parallel work: one run, or one shard of one crash job (and check-allocator's
 * checks). Called inside a worker thread (worker.mjs, pool.ts) with a plain-JSON
 * payload, so results cannot depend on the number of workers; the allocator and
 * workload are wrapped (activity.ts) so the watchdog can say where plug-in code was.
 *
 * Model: the payload carries the spec's JSON and folder; the task resolves it (cached
 * per spec hash in this thread), plans, and executes item `index`.
 */
import { UserError } from './errors.ts';
import { budgetStarts, resetActivity, watchFactory, watchWorkload } from './activity.ts';
import { checkCrashStates, prepareSampleOf, planCrashJob, planCrashJobFull, type CrashJob, type CrashListing, type CrashPlan, type CrashResult } from './crash/api.ts';
import { calibrationStates, warmUpStates } from './crash-budget.ts';
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
    /** Also time a check of a sample of the job's states (crash-budget.ts). */
    readonly calibrate?: boolean;
  };

/** A crash job planned and calibrated (crash-budget.ts): host times, never part of a result. */
export interface PlanTaskResult {
  readonly plan: CrashPlan;
  readonly planMs: number;
  readonly sampleStates: number;
  readonly sampleMs: number;
}

/** check-allocator's work, run in a worker so the watchdog can stop it. */
export type CheckPayload =
  | { readonly kind: 'check-suite'; readonly modulePath: string }
  | { readonly kind: 'check-crash'; readonly modulePath: string; readonly job: CrashJob };

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

/**
 * One pair of watched resolvers per allocator and workload (stable identities: the
 * plan, calibration and checks of the jobs of one run share its execution, crash/run-cache.ts).
 */
const resolversOf = new WeakMap<object, WeakMap<object, { allocator: ReturnType<typeof watchFactory>; workload: ReturnType<typeof watchWorkload> }>>();
export function crashResolvers(item: CrashPlanItem) {
  let byWorkload = resolversOf.get(item.factory);
  if (byWorkload === undefined) resolversOf.set(item.factory, (byWorkload = new WeakMap()));
  let r = byWorkload.get(item.rw.workload);
  if (r === undefined) byWorkload.set(item.rw.workload, (r = { allocator: watchFactory(item.factory), workload: watchWorkload(item.rw.workload) }));
  return r;
}

export interface TaskOutput {
  readonly result: RunRecord | CrashResult | PlanTaskResult;
  /** Host time the task took (for run.log only; never part of a result). */
  readonly elapsedMs: number;
}

/**
 * Plan a crash job; with `calibrate`, also time a check of a sample of its states on the
 * same enumeration (calibrationStates(states) consecutive states from its middle,
 * checked as the job checks them: run.ts prepareSampleOf, after an untimed check of the
 * warmUpStates(n) states just before them). The run is executed and its states
 * enumerated once.
 */
function planAndCalibrate(item: CrashPlanItem, calibrate: boolean): PlanTaskResult {
  const t0 = performance.now();
  if (!calibrate) {
    const plan = planCrashJob(item.job, crashResolvers(item));
    return { plan, planMs: performance.now() - t0, sampleStates: 0, sampleMs: 0 };
  }
  const planned = planCrashJobFull(item.job, crashResolvers(item));
  // The sample's preparation (a replay to its first point, the job's tally) is a one-off
  // cost of the job, like planning, not of its states: timed apart (prepareSampleOf).
  // Untimed, the states just before the sample are checked first (the JIT's warm-up).
  const n = calibrationStates(planned.plan.states);
  const sample = prepareSampleOf(planned, n, warmUpStates(n));
  const t1 = performance.now();
  const sampleStates = sample().length;
  const sampleMs = performance.now() - t1;
  // Not measurable (the states cost less than the timing noise): the job assumes a rate (perStateTimes).
  return sampleMs > 0 && sampleStates > 0 ? { plan: planned.plan, planMs: t1 - t0, sampleStates, sampleMs } : { plan: planned.plan, planMs: t1 - t0, sampleStates: 0, sampleMs: 0 };
}

/** Called every 64 checked states by a crash task running in this thread (the one-worker executor: lets the runner's progress log while a long task runs). */
let inProcessTick: (() => void) | undefined;
export function setInProcessTick(fn: (() => void) | undefined): void {
  inProcessTick = fn;
}

export async function runTask(payload: TaskPayload): Promise<TaskOutput> {
  resetActivity('loading modules');
  const { spec, runs, jobs } = await planned(payload.specJson, payload.baseDir);
  budgetStarts('nvlab code between plug-in calls');
  const t0 = performance.now();
  let result: RunRecord | CrashResult | PlanTaskResult;
  if (payload.kind === 'run') {
    const run = runs[payload.index];
    result = measureRun(spec, { ...run, factory: watchFactory(run.factory), rw: { ...run.rw, workload: watchWorkload(run.rw.workload) } });
  } else if (payload.kind === 'plan') result = planAndCalibrate(jobs[payload.index], payload.calibrate === true);
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

/** A check-allocator task: the contract suite, or one small crash enumeration. */
export async function checkTask(payload: CheckPayload): Promise<unknown> {
  resetActivity('loading modules');
  const { importDefault, isAllocatorFactory } = await import('./spec/resolve.ts');
  const factory = await importDefault(payload.modulePath, process.cwd());
  if (!isAllocatorFactory(factory)) throw new UserError(`${payload.modulePath}: expected a default export that is an AllocatorFactory`);
  if (payload.kind === 'check-suite') {
    const { runSuite } = await import('./commands/check-allocator.ts');
    return runSuite(watchFactory(factory), () => budgetStarts('contract suite'));
  }
  const { findWorkload } = await import('../workloads/registry.ts');
  const workload = findWorkload(payload.job.workload);
  if (!workload) throw new UserError(`no workload named ${payload.job.workload}`);
  budgetStarts('nvlab code between plug-in calls');
  return checkCrashStates(payload.job, { index: 0, count: 1 }, { allocator: watchFactory(factory), workload: watchWorkload(workload) });
}

export function runAnyTask(payload: TaskPayload | CheckPayload): Promise<unknown> {
  return payload.kind === 'run' || payload.kind === 'crash' || payload.kind === 'plan' ? runTask(payload) : checkTask(payload);
}

const USER_ERRORS = new Set(['UserError', 'SpecError', 'WorkloadParamError', 'CrashJobError', 'AllocatorMisuseError']);

/** An error as plain data for the trip back to the main thread (pool.ts RemoteError). */
export function serializeError(e: unknown): { name: string; message: string; stack: string; user: boolean } {
  const err = e instanceof Error ? e : undefined;
  const ctor = err?.constructor?.name;
  const name = err ? (err.name === 'Error' && ctor && ctor !== 'Error' ? ctor : err.name) : 'thrown value';
  return { name, message: err ? String(err.message) : String(e), stack: err?.stack ?? '', user: err instanceof UserError || USER_ERRORS.has(err?.name ?? '') };
}

export default runTask;
