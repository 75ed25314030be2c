/**
 * The experiment runner behind `nvlab run` and `nvlab crash`.
 *
 * Model: validate the spec -> plan runs and crash jobs -> keep this shard's share ->
 * skip what a resumed folder already holds -> execute the rest on the executor (runs
 * are tasks; each crash job is split into state shards) -> store each finished record
 * atomically -> rebuild the CSVs (and, for a whole experiment, charts and report) from
 * the stored records in plan order.
 *
 * Invariants: nothing is written before the spec validated and the folder probed; the
 * outputs depend only on the spec (never on workers, shards, resume or timing).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jobTotals, mergeCrashResults, type CrashResult } from './crash/api.ts';
import { UserError } from './errors.ts';
import { baseManifest, type Manifest } from './manifest.ts';
import { CRASH_DIR, RUNS_DIR, RunLog, clearRecords, prepareOutDir, readRecord, writeAtomic, writeRecord } from './output.ts';
import { lightCrashResult, writeOutputs } from './outputs.ts';
import { inShard, planCrashJobs, planRuns, type CrashPlanItem, type RunPlan, type Shard } from './plan.ts';
import { createExecutor, type Executor } from './pool.ts';
import { createProgress, progressEnabled, type Progress } from './progress.ts';
import { CALIBRATE_ABOVE_STATES, MAX_CALIBRATED_JOBS, jobEstimateMs, perStateTimes, planLines, shareBudget, type JobLine, type PlannedJob } from './crash-budget.ts';
import type { RunRecord } from './record.ts';
import type { ResolvedSpec } from './spec/resolve.ts';
import { crashResolvers, setInProcessTick, type PlanTaskResult } from './task.ts';

export interface RunOptions {
  readonly outDir: string;
  readonly workers: number;
  readonly shard?: Shard;
  readonly resume: boolean;
  readonly quiet: boolean;
  /** 'all' = runs and crash jobs; 'crash' = crash jobs only; 'perf' = runs only. */
  readonly what: 'all' | 'crash' | 'perf';
  readonly specFile: string;
  /** Lines worth a user's eye before the work starts (the crash plan); default: dropped. */
  readonly say?: (line: string) => void;
}

export interface RunSummary {
  readonly outDir: string;
  readonly runs: number;
  readonly executedRuns: number;
  readonly crashJobs: number;
  readonly crashStates: number;
  readonly invalidStates: number;
  readonly elapsedMs: number;
  readonly files: readonly string[];
}

export async function runExperiment(spec: ResolvedSpec, opts: RunOptions): Promise<RunSummary> {
  const started = new Date();
  const runs = opts.what === 'crash' ? [] : planRuns(spec).filter((r) => inShard(r.index, opts.shard));
  const jobs = opts.what === 'perf' ? [] : planCrashJobs(spec).filter((j) => inShard(j.index, opts.shard));
  if (runs.length === 0 && jobs.length === 0) throw new UserError(opts.what === 'crash' ? `${opts.specFile} has no crash settings ("crash": {...}) and none were given on the command line` : 'nothing to run: the spec expands to no runs in this shard');
  const outDir = resolve(opts.outDir);
  prepareOutDir(outDir);
  checkResume(outDir, spec, opts);
  const log = new RunLog(join(outDir, 'run.log'));
  const invocation = { command: opts.what === 'crash' ? 'crash' : 'run', workers: opts.workers, shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null, resume: opts.resume };
  const manifest = baseManifest(spec, opts.specFile, invocation, started);
  writeAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log.line(`start ${spec.raw.name}: ${runs.length} runs, ${jobs.length} crash jobs, workers=${opts.workers}, shard=${invocation.shard ?? 'all'}`);
  const executor = createExecutor(opts.workers);
  let executedRuns = 0;
  try {
    const shards = shardsPerJob(spec, opts, jobs.length);
    const progress = createProgress(runs.length + jobs.length * shards, spec.raw.name, { bars: progressEnabled(opts.quiet), log: (l) => log.line(l), ...(opts.say ? { say: opts.say } : {}) });
    setInProcessTick(progress.poll);
    // Plan tasks go first in the queue; the runs need no plan and start alongside them.
    const planning = jobs.length > 0 ? planCrash(spec, opts, jobs, shards, outDir, executor, log, progress) : Promise.resolve(new Map<string, JobPlan>());
    const tasks = [
      planning,
      ...runs.map((r) => runOne(spec, r, outDir, executor, log, progress).then((ran) => { if (ran) executedRuns++; })),
      ...jobs.map(async (j) => crashOne(spec, j, shards, (await planning).get(j.id), outDir, executor, log, progress)),
    ];
    await Promise.all(tasks).finally(() => {
      setInProcessTick(undefined);
      progress.stop();
    });
  } finally {
    await executor.close();
  }
  const records = runs.map((r) => readRecord<RunRecord>(outDir, RUNS_DIR, r.id)!);
  // One job's rows in memory at a time: the report reads light results, crash.csv reloads the rows.
  const crash = jobs.map((j) => lightCrashResult(readRecord<CrashResult>(outDir, CRASH_DIR, j.id)!));
  const whole = !opts.shard || opts.shard.count === 1;
  const crashRows = (i: number) => readRecord<CrashResult>(outDir, CRASH_DIR, jobs[i].id)!.rows;
  const files = await writeOutputs(spec, outDir, records, crash, { whole, manifest, crashRows });
  const elapsedMs = Date.now() - started.getTime();
  const finished: Manifest = {
    ...manifest,
    counts: { runs: runs.length, executedRuns, skippedRuns: runs.length - executedRuns, crashJobs: jobs.length, crashStates: countStates(crash) },
    wallClock: { startedAt: manifest.wallClock.startedAt, finishedAt: new Date().toISOString(), elapsedMs },
    status: whole ? 'complete' : 'partial',
  };
  writeAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(finished, null, 2)}\n`);
  log.line(`done in ${elapsedMs} ms`);
  return { outDir, runs: runs.length, executedRuns, crashJobs: jobs.length, crashStates: countStates(crash), invalidStates: countInvalid(crash), elapsedMs, files: ['manifest.json', ...files] };
}

/**
 * A failed run stops the experiment with a message naming the run; completed runs stay
 * stored, so `--resume` continues after the cause is fixed. Stack only with NVLAB_DEBUG.
 */
function taskFailure(what: string, e: unknown): Error {
  const err = e as Error;
  const failure = new UserError(`${what} failed: ${err?.message ?? String(e)} (completed runs are kept; fix the cause and rerun with --resume)`);
  if (process.env.NVLAB_DEBUG && err?.stack) failure.message += `\n${err.stack}`;
  return failure;
}

/**
 * State shards per crash job (any number gives the same rows). With at least as many
 * jobs as workers, one task per job keeps every worker busy and lets each job's
 * counterexamples be minimized in its worker; with fewer, jobs are split across workers.
 */
function shardsPerJob(spec: ResolvedSpec, opts: RunOptions, jobs: number): number {
  return spec.crash?.shardsPerJob ?? (jobs >= opts.workers ? 1 : Math.max(1, opts.workers));
}

/** A stored crash record of this nvlab (one written before the per-point tallies is checked again). */
function crashDone(outDir: string, id: string): boolean {
  return Array.isArray(readRecord<CrashResult>(outDir, CRASH_DIR, id)?.points);
}

/** A crash job's plan as announced: states to check (after its caps) and its share of the budget. */
interface JobPlan {
  readonly states: number;
  readonly cap?: number;
}

/**
 * Plan (and calibrate) the crash jobs to run, share the spec's state budget out over
 * every job of the spec (crash-budget.ts), and say what will be checked and about how
 * long it takes, before any job starts: the main lines on stdout, every job in run.log.
 */
async function planCrash(spec: ResolvedSpec, opts: RunOptions, jobs: readonly CrashPlanItem[], shards: number, outDir: string, ex: Executor, log: RunLog, progress: Progress): Promise<Map<string, JobPlan>> {
  const budget = spec.crash?.budget?.maxStatesTotal;
  // The budget's shares depend on every job of the spec (so every shard and a resumed run agree).
  const all = budget !== undefined ? planCrashJobs(spec) : jobs;
  const toRun = new Set(jobs.filter((j) => !crashDone(outDir, j.id)).map((j) => j.id));
  const toPlan = all.filter((j) => budget !== undefined || toRun.has(j.id));
  if (toPlan.length === 0) return new Map();
  const start = `planning ${toPlan.length} crash job${toPlan.length === 1 ? '' : 's'} (each run re-executed, its crash states enumerated)`;
  progress.say(start);
  log.line(start);
  let plannedCount = 0;
  let lastLog = Date.now();
  const planTask = async (j: CrashPlanItem, calibrate: boolean) => {
    const { result } = await ex.run({ kind: 'plan', specJson: spec.json, baseDir: spec.baseDir, index: j.index, calibrate }).catch((e: unknown) => {
      throw taskFailure(`planning crash job ${j.id}`, e);
    });
    plannedCount++;
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      log.line(`planning: ${plannedCount} plan and calibration tasks done`);
    }
    return { id: j.id, label: j.id, allocator: j.job.allocator, ...(result as PlanTaskResult) } satisfies PlannedJob & { allocator: string };
  };
  const planned = await Promise.all(toPlan.map((j) => planTask(j, false)));
  // Calibrate the largest jobs to run (their time is what the estimate is about).
  const calibrate = toPlan.map((j, i) => ({ j, i, states: planned[i].plan.states }))
    .filter((x) => toRun.has(x.j.id) && x.states > CALIBRATE_ABOVE_STATES)
    .sort((a, b) => b.states - a.states || a.i - b.i).slice(0, MAX_CALIBRATED_JOBS);
  await Promise.all(calibrate.map(async (x) => {
    planned[x.i] = await planTask(x.j, true);
  }));
  const perState = perStateTimes(planned);
  const nonEmpty = planned.filter((p) => p.plan.states > 0).length;
  if (budget !== undefined && budget < nonEmpty) throw new UserError(`crash.budget.maxStatesTotal: expected at least one state per crash job (${nonEmpty} jobs have states), found ${budget}`);
  const caps = budget !== undefined ? shareBudget(planned.map((p) => p.plan.states), budget) : planned.map(() => undefined);
  const out = new Map<string, JobPlan>();
  const lines: JobLine[] = [];
  planned.forEach((p, i) => {
    const cap = caps[i];
    const states = cap ?? p.plan.states;
    out.set(p.id, { states, ...(cap !== undefined ? { cap } : {}) });
    if (!toRun.has(p.id)) return;
    const found = p.plan.distinctStates ?? p.plan.states;
    const cappedBy = cap !== undefined ? 'budget' : found > p.plan.states ? 'maxStates' : undefined;
    lines.push({ id: p.id, found, states, ...(cappedBy ? { cappedBy } : {}), estimateMs: jobEstimateMs(p, states, shards, perState[i]), perStateMs: perState[i], measured: p.sampleStates > 0 } as JobLine);
  });
  if (lines.length > 0) {
    const text = planLines(lines, opts.workers, shards, budget);
    text.show.forEach((l) => progress.say(l));
    text.log.forEach((l) => log.line(l));
  }
  progress.planned([...out.values()].reduce((a, p) => a + p.states, 0));
  return out;
}

function countStates(crash: readonly CrashResult[]): number {
  return crash.reduce((n, c) => n + jobTotals(c.points).states, 0);
}

function countInvalid(crash: readonly CrashResult[]): number {
  return crash.reduce((n, c) => n + jobTotals(c.points).invalid, 0);
}

/** A resumed folder must hold the same spec; a fresh run starts from an empty record store. */
function checkResume(outDir: string, spec: ResolvedSpec, opts: RunOptions): void {
  if (!opts.resume) {
    clearRecords(outDir);
    return;
  }
  let previous: Manifest | undefined;
  try {
    previous = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return; // nothing to resume: run everything
  }
  if (previous.specHash !== spec.hash) {
    throw new UserError(`cannot resume in ${outDir}: it holds results of a different spec (hash ${previous.specHash.slice(0, 12)}, this spec ${spec.hash.slice(0, 12)}); use another --out or drop --resume`);
  }
}

async function runOne(spec: ResolvedSpec, run: RunPlan, outDir: string, ex: Executor, log: RunLog, progress: Progress): Promise<boolean> {
  if (readRecord<RunRecord>(outDir, RUNS_DIR, run.id)) {
    progress.tick();
    return false;
  }
  const { result, elapsedMs } = await ex.run({ kind: 'run', specJson: spec.json, baseDir: spec.baseDir, index: run.index }).catch((e: unknown) => {
    throw taskFailure(`run ${run.id}`, e);
  });
  writeRecord(outDir, RUNS_DIR, run.id, result);
  log.line(`run ${run.id} ${elapsedMs} ms`);
  progress.tick();
  return true;
}

async function crashOne(spec: ResolvedSpec, job: CrashPlanItem, shards: number, planned: JobPlan | undefined, outDir: string, ex: Executor, log: RunLog, progress: Progress): Promise<void> {
  if (crashDone(outDir, job.id)) {
    for (let s = 0; s < shards; s++) progress.tick();
    return;
  }
  let cpuMs = 0;
  const sab = new SharedArrayBuffer(4);
  let started = false;
  const cap = planned?.cap !== undefined ? { maxStates: planned.cap } : {};
  const parts = await Promise.all(
    Array.from({ length: shards }, async (_, s) => {
      const payload = { kind: 'crash', specJson: spec.json, baseDir: spec.baseDir, index: job.index, shard: s, shards, listing: spec.crash?.listing ?? 'failures', counter: sab, ...cap } as const;
      const { result, elapsedMs } = await ex.run(payload, () => {
        if (started) return;
        started = true;
        progress.jobStarted(job.id, planned?.states ?? 0, new Int32Array(sab));
      }).catch((e: unknown) => {
        throw taskFailure(`crash job ${job.id} (shard ${s + 1}/${shards})`, e);
      });
      const part = result as CrashResult;
      cpuMs += elapsedMs;
      progress.tick();
      return part;
    }),
  ).finally(() => progress.jobDone(job.id));
  const merged = mergeCrashResults(parts, crashResolvers(job));
  writeRecord(outDir, CRASH_DIR, job.id, { ...merged, shard: { index: 0, count: 1 } });
  const t = jobTotals(merged.points);
  log.line(`crash ${job.id} ${t.states} states (${t.invalid} invalid, ${t.unknown} unknown) ${cpuMs} ms in ${shards} shards`);
}
