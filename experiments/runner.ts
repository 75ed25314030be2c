/**
 * The experiment runner behind `nvlab run` and `nvlab crash`.
 *
 * Model: validate the spec -> plan runs and crash jobs -> keep this shard's share ->
 * skip what a resumed folder already holds -> execute the rest on the executor (runs
 * are tasks; each crash job is split into state shards) -> store each finished record
 * atomically -> rebuild the CSVs (and, for a whole experiment, charts and report) from
 * the stored records in plan order.
 *
 * Failure semantics: every task runs in a worker thread under a host wall-clock budget
 * (pool.ts); a task that fails or overruns is reported by name (allocator, workload,
 * phase) while the rest of the study goes on; then the command fails (exit 1, manifest
 * "failed", no CSV) and `--resume` reruns only what is missing. SIGINT/SIGTERM stop
 * dispatching, keep every completed record, mark the manifest "interrupted" and print
 * the resume command. A resumed folder that is already complete is left untouched.
 *
 * Invariants: nothing is written before the spec validated and the folder probed; the
 * outputs depend only on the spec (never on workers, shards, resume, budgets or timing).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isJobTallies, jobTotals, mergeCrashResults, type CrashResult } from './crash/api.ts';
import { UserError } from './errors.ts';
import { baseManifest, type Manifest } from './manifest.ts';
import { describeActivity, describeFault } from './activity.ts';
import { CRASH_DIR, RUNS_DIR, RunLog, clearRecords, prepareOutDir, readRecord, recordPath, removeStaleTemps, writeAtomic, writeRecord } from './output.ts';
import { lightCrashResult, writeOutputs } from './outputs.ts';
import { inShard, planCrashJobs, planRuns, type CrashPlanItem, type RunPlan, type Shard } from './plan.ts';
import { PoolClosed, TaskFailed, TaskTimeout, WorkerDied, createExecutor, type Executor } from './pool.ts';
import { createProgress, progressEnabled, type Progress } from './progress.ts';
import { CALIBRATE_ABOVE_STATES, MAX_CALIBRATED_JOBS, jobEstimateMs, perStateTimes, planLines, shareBudget, type JobLine, type PlannedJob } from './crash-budget.ts';
import type { RunRecord } from './record.ts';
import type { ResolvedSpec } from './spec/resolve.ts';
import { crashResolvers, setInProcessTick, type PlanTaskResult, type TaskOutput } from './task.ts';

export interface RunOptions {
  readonly outDir: string;
  readonly workers: number;
  readonly shard?: Shard;
  readonly resume: boolean;
  readonly quiet: boolean;
  /** 'all' = runs and crash jobs; 'crash' = crash jobs only; 'perf' = runs only. */
  readonly what: 'all' | 'crash' | 'perf';
  readonly specFile: string;
  /** Host wall-clock budget per task in ms (--task-budget); default: the spec's, else taskBudgetMs's default. */
  readonly taskBudgetMs?: number;
  /** The command that resumes this invocation (printed after an interrupt or a failure). */
  readonly resumeCommand?: string;
  /** Status lines for stderr (interrupt); default: none. */
  readonly note?: (line: string) => void;
  /** The start line (stdout, before any worker starts, unless quiet); default: none. */
  readonly started?: (line: string) => void;
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
  readonly unknownStates: number;
  /** The first unknown state (its detail and id), for the exit message. */
  readonly firstUnknown?: { readonly detail: string; readonly stateId: string; readonly job: string; readonly allocator: string; readonly workload: string };
  readonly elapsedMs: number;
  readonly files: readonly string[];
  /** A resumed folder that already held everything: nothing was run or written. */
  readonly alreadyComplete: boolean;
}

/** Default host wall-clock budget of one task: 600 s, plus 10 ms per crash state a crash shard may check. */
export const DEFAULT_TASK_BUDGET_MS = 600_000;
const BUDGET_MS_PER_STATE = 10;

/** A task's budget: --task-budget, else the spec's taskBudgetSeconds, else the default (crash shards: scaled by maxStates). */
export function taskBudgetMs(spec: ResolvedSpec, opts: Pick<RunOptions, 'taskBudgetMs'>, kind: 'run' | 'crash', shards = 1): number {
  if (opts.taskBudgetMs !== undefined) return opts.taskBudgetMs;
  const own = spec.raw.taskBudgetSeconds;
  if (own !== undefined) return Math.round(own * 1000);
  if (kind === 'run') return DEFAULT_TASK_BUDGET_MS;
  return DEFAULT_TASK_BUDGET_MS + Math.ceil(((spec.crash?.maxStates ?? 0) * BUDGET_MS_PER_STATE) / shards);
}

/** Raised after SIGINT/SIGTERM once the folder is consistent; the CLI exits 128 + signal number. */
export class InterruptedError extends UserError {
  override name = 'InterruptedError';
  constructor(message: string, readonly signal: NodeJS.Signals) {
    super(message);
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

export async function runExperiment(spec: ResolvedSpec, opts: RunOptions): Promise<RunSummary> {
  const started = new Date();
  const runs = opts.what === 'crash' ? [] : planRuns(spec).filter((r) => inShard(r.index, opts.shard));
  const jobs = opts.what === 'perf' ? [] : planCrashJobs(spec).filter((j) => inShard(j.index, opts.shard));
  if (runs.length === 0 && jobs.length === 0) throw new UserError(opts.what === 'crash' ? `${opts.specFile} has no crash settings ("crash": {...}) and none were given on the command line` : 'nothing to run: the spec expands to no runs in this shard');
  const outDir = resolve(opts.outDir);
  const whole = !opts.shard || opts.shard.count === 1;
  if (opts.resume && alreadyComplete(outDir, spec, runs, jobs, whole)) {
    return { outDir, runs: runs.length, executedRuns: 0, crashJobs: jobs.length, ...crashCounts(jobs.map((j) => readRecord<CrashResult>(outDir, CRASH_DIR, j.id)!)), elapsedMs: 0, files: [], alreadyComplete: true };
  }
  prepareOutDir(outDir);
  removeStaleTemps(outDir);
  if (!opts.quiet) opts.started?.(`nvlab: ${spec.raw.name}: ${runs.length} runs, ${jobs.length} crash jobs on ${opts.workers} worker thread${opts.workers === 1 ? '' : 's'} -> ${outDir}`);
  checkResume(outDir, spec, opts);
  const log = new RunLog(join(outDir, 'run.log'));
  const invocation = { command: opts.what === 'crash' ? 'crash' : 'run', workers: opts.workers, shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null, resume: opts.resume };
  const manifest = baseManifest(spec, opts.specFile, invocation, started);
  writeAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const shards = shardsPerJob(spec, opts, jobs.length);
  log.line(`start ${spec.raw.name}: ${runs.length} runs, ${jobs.length} crash jobs, workers=${opts.workers}, shard=${invocation.shard ?? 'all'}`);
  const executor = createExecutor(opts.workers);
  const failures: string[] = [];
  let executedRuns = 0;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(signal === 'SIGINT' ? 130 : 143); // a second signal: stop now
    interrupted = signal;
    opts.note?.(`nvlab: ${signal}: stopping (runs in flight are dropped; completed ones are kept)...`);
    void executor.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const progress = createProgress(runs.length + jobs.length * shards, spec.raw.name, { bars: progressEnabled(opts.quiet), log: (l) => log.line(l), ...(opts.say ? { say: opts.say } : {}) });
    const ctx: TaskContext = { spec, outDir, ex: executor, log, progress, opts, failures, stopped: () => interrupted !== undefined };
    setInProcessTick(progress.poll);
    // Plan tasks go first in the queue; the runs need no plan and start alongside them.
    const planning = jobs.length > 0 ? planCrash(ctx, jobs, shards) : Promise.resolve(new Map<string, JobPlan>());
    await Promise.all([
      planning,
      ...runs.map((r) => runOne(ctx, r).then((ran) => { if (ran) executedRuns++; })),
      ...jobs.map(async (j) => crashOne(ctx, j, shards, (await planning).get(j.id))),
    ]).finally(() => {
      setInProcessTick(undefined);
      progress.stop();
    });
    await executor.close();
    if (interrupted) throw stopWith(interrupted, outDir, manifest, runs, jobs, log, opts);
    if (failures.length > 0) throw failWith(failures, outDir, manifest, runs, jobs, log, opts);
    const records = runs.map((r) => readRecord<RunRecord>(outDir, RUNS_DIR, r.id)!);
    // One job's rows in memory at a time: the report reads light results, crash.csv reloads the rows.
    const crash = jobs.map((j) => lightCrashResult(readRecord<CrashResult>(outDir, CRASH_DIR, j.id)!));
    const crashRows = (i: number) => readRecord<CrashResult>(outDir, CRASH_DIR, jobs[i].id)!.rows;
    const files = await writeOutputs(spec, outDir, records, crash, { whole, manifest, crashRows });
    const elapsedMs = Date.now() - started.getTime();
    const counts = crashCounts(crash);
    const finished: Manifest = {
      ...manifest,
      counts: { runs: runs.length, executedRuns, skippedRuns: runs.length - executedRuns, crashJobs: jobs.length, crashStates: counts.crashStates, unknownStates: counts.unknownStates },
      wallClock: { startedAt: manifest.wallClock.startedAt, finishedAt: new Date().toISOString(), elapsedMs },
      status: whole ? 'complete' : 'partial',
    };
    writeAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(finished, null, 2)}\n`);
    log.line(`done in ${elapsedMs} ms`);
    return { outDir, runs: runs.length, executedRuns, crashJobs: jobs.length, ...counts, elapsedMs, files: ['manifest.json', ...files], alreadyComplete: false };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await executor.close();
  }
}

/** A stored crash record of this nvlab (one written before the columnar per-point tallies is checked again). */
function crashDone(outDir: string, id: string): boolean {
  return isJobTallies(readRecord<CrashResult>(outDir, CRASH_DIR, id)?.tallies);
}

/** A crash job's plan as announced: states to check (after its caps) and its share of the budget. */
interface JobPlan {
  readonly states: number;
  readonly cap?: number;
  /** Planning failed (recorded in the failures); the job does not run. */
  readonly failed?: boolean;
}

/**
 * Plan (and calibrate) the crash jobs to run, share the spec's state budget out over
 * every job of the spec (crash-budget.ts), and say what will be checked and about how
 * long it takes, before any job starts: the main lines on stdout, every job in run.log.
 */
async function planCrash(c: TaskContext, jobs: readonly CrashPlanItem[], shards: number): Promise<Map<string, JobPlan>> {
  const { spec, opts, outDir, ex, log, progress } = c;
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
  const failed = new Set<string>();
  // A plan that fails (plug-in code that throws or loops while the run is re-executed)
  // fails its job like a failed check: recorded, and the rest of the study goes on.
  const planTask = async (j: CrashPlanItem, calibrate: boolean) => {
    let result: unknown;
    try {
      ({ result } = await ex.run({ kind: 'plan', specJson: spec.json, baseDir: spec.baseDir, index: j.index, calibrate }, taskBudgetMs(spec, opts, 'crash')));
    } catch (e) {
      if (!(e instanceof PoolClosed && c.stopped())) c.failures.push(taskFailure(crashLabel(j, 0, 1), e));
      failed.add(j.id);
      return undefined;
    }
    plannedCount++;
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      log.line(`planning: ${plannedCount} plan and calibration tasks done`);
    }
    return { id: j.id, label: j.id, allocator: j.job.allocator, ...(result as PlanTaskResult) } satisfies PlannedJob & { allocator: string };
  };
  const first = await Promise.all(toPlan.map((j) => planTask(j, false)));
  const okJobs = toPlan.filter((_, i) => first[i] !== undefined);
  const planned = first.filter((p) => p !== undefined);
  // Calibrate the largest jobs to run (their time is what the estimate is about).
  const calibrate = okJobs.map((j, i) => ({ j, i, states: planned[i].plan.states }))
    .filter((x) => toRun.has(x.j.id) && x.states > CALIBRATE_ABOVE_STATES)
    .sort((a, b) => b.states - a.states || a.i - b.i).slice(0, MAX_CALIBRATED_JOBS);
  await Promise.all(calibrate.map(async (x) => {
    planned[x.i] = (await planTask(x.j, true)) ?? planned[x.i];
  }));
  const perState = perStateTimes(planned);
  const nonEmpty = planned.filter((p) => p.plan.states > 0).length;
  if (budget !== undefined && budget < nonEmpty) throw new UserError(`crash.budget.maxStatesTotal: expected at least one state per crash job (${nonEmpty} jobs have states), found ${budget}`);
  const caps = budget !== undefined ? shareBudget(planned.map((p) => p.plan.states), budget) : planned.map(() => undefined);
  const out = new Map<string, JobPlan>();
  for (const id of failed) out.set(id, { states: 0, failed: true });
  const lines: JobLine[] = [];
  planned.forEach((p, i) => {
    if (failed.has(p.id)) return;
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

interface TaskContext {
  readonly spec: ResolvedSpec;
  readonly outDir: string;
  readonly ex: Executor;
  readonly log: RunLog;
  readonly progress: Progress;
  readonly opts: RunOptions;
  /** One line per failed task; the study goes on without them. */
  readonly failures: string[];
  readonly stopped: () => boolean;
}

/** Every record of this invocation and its final files are there, under a manifest of the same spec that finished. */
function alreadyComplete(outDir: string, spec: ResolvedSpec, runs: readonly RunPlan[], jobs: readonly CrashPlanItem[], whole: boolean): boolean {
  let previous: Manifest;
  try {
    previous = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return false;
  }
  if (previous.specHash !== spec.hash || (previous.status !== 'complete' && previous.status !== 'partial')) return false;
  if (!runs.every((r) => existsSync(recordPath(outDir, RUNS_DIR, r.id))) || !jobs.every((j) => crashDone(outDir, j.id))) return false;
  const files = [...(runs.length > 0 ? ['results.csv'] : []), ...(jobs.length > 0 ? ['crash.csv'] : []), ...(whole ? ['report.html'] : [])];
  return files.every((f) => existsSync(join(outDir, f)));
}

function kept(outDir: string, runs: readonly RunPlan[], jobs: readonly CrashPlanItem[]): { runs: number; jobs: number } {
  return { runs: runs.filter((r) => existsSync(recordPath(outDir, RUNS_DIR, r.id))).length, jobs: jobs.filter((j) => existsSync(recordPath(outDir, CRASH_DIR, j.id))).length };
}

function endManifest(outDir: string, manifest: Manifest, status: Manifest['status'], k: { runs: number; jobs: number }, extra: Record<string, unknown> = {}): void {
  const elapsedMs = Date.now() - Date.parse(manifest.wallClock.startedAt);
  const m = { ...manifest, counts: { keptRuns: k.runs, keptCrashJobs: k.jobs }, wallClock: { ...manifest.wallClock, finishedAt: new Date().toISOString(), elapsedMs }, status, ...extra };
  writeAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
}

function resumeHint(opts: RunOptions): string {
  return opts.resumeCommand ?? `nvlab ${opts.what === 'crash' ? 'crash' : 'run'} ${opts.specFile} --out ${opts.outDir} --resume`;
}

function stopWith(signal: NodeJS.Signals, outDir: string, manifest: Manifest, runs: readonly RunPlan[], jobs: readonly CrashPlanItem[], log: RunLog, opts: RunOptions): InterruptedError {
  const k = kept(outDir, runs, jobs);
  endManifest(outDir, manifest, 'interrupted', k, { interruptedBy: signal });
  log.line(`interrupted by ${signal}: kept ${k.runs}/${runs.length} runs, ${k.jobs}/${jobs.length} crash jobs`);
  return new InterruptedError(`interrupted by ${signal}: kept ${k.runs} of ${runs.length} runs and ${k.jobs} of ${jobs.length} crash jobs in ${outDir} (completed ones only, no partial file); continue with:\n  ${resumeHint(opts)}`, signal);
}

function failWith(failures: readonly string[], outDir: string, manifest: Manifest, runs: readonly RunPlan[], jobs: readonly CrashPlanItem[], log: RunLog, opts: RunOptions): UserError {
  const k = kept(outDir, runs, jobs);
  endManifest(outDir, manifest, 'failed', k, { failures });
  for (const f of failures) log.line(`failed: ${f}`);
  const shown = failures.slice(0, 5).map((f) => `  - ${f}`);
  if (failures.length > 5) shown.push(`  - ... and ${failures.length - 5} more (see run.log)`);
  return new UserError(`${failures.length} task${failures.length === 1 ? '' : 's'} failed; the other ${k.runs} runs and ${k.jobs} crash jobs completed and are kept in ${outDir} (no CSV or report written):\n${shown.join('\n')}\nfix the cause (or leave that allocator or workload out) and rerun with:\n  ${resumeHint(opts)}`);
}

/**
 * One line for a failed task, naming what ran (allocator, workload, ...), where the
 * plug-in code was (activity.ts) and why. Stack only with NVLAB_DEBUG.
 */
function taskFailure(what: string, e: unknown): string {
  if (e instanceof TaskTimeout) return `${what}: stopped by the watchdog in ${describeActivity(e.activity)}: ${e.message} (set it with --task-budget or the spec's taskBudgetSeconds)`;
  if (e instanceof TaskFailed) {
    const fault = describeFault(e.activity);
    const where = fault === '' ? '' : ` (thrown in ${fault})`;
    return `${what}: ${e.remote.user ? '' : `${e.remote.name}: `}${e.remote.message.split('\n')[0]}${where}${process.env.NVLAB_DEBUG && e.remote.stack ? `\n${e.remote.stack}` : ''}`;
  }
  if (e instanceof WorkerDied) return `${what}: ${e.message} in ${describeActivity(e.activity)}`;
  if (e instanceof UserError) return `${what}: ${e.message}`;
  throw e; // a bug in nvlab: exit 70
}

/**
 * State shards per crash job (any number gives the same rows). With at least as many
 * jobs as workers, one task per job keeps every worker busy and lets each job's
 * counterexamples be minimized in its worker; with fewer, jobs are split across workers.
 */
function shardsPerJob(spec: ResolvedSpec, opts: RunOptions, jobs: number): number {
  return spec.crash?.shardsPerJob ?? (jobs >= opts.workers ? 1 : Math.max(1, opts.workers));
}

function crashCounts(crash: readonly CrashResult[]): Pick<RunSummary, 'crashStates' | 'invalidStates' | 'unknownStates' | 'firstUnknown'> {
  let crashStates = 0;
  let invalidStates = 0;
  let unknownStates = 0;
  let firstUnknown: RunSummary['firstUnknown'];
  for (const c of crash) {
    const t = jobTotals(c.tallies);
    crashStates += t.states;
    invalidStates += t.invalid;
    unknownStates += t.unknown;
    // Rows hold the invalid and unknown states at least (every listing).
    const r = c.rows.find((row) => row.verdict === 'unknown');
    if (r) firstUnknown ??= { detail: r.detail, stateId: r.stateId, job: `${r.allocator} ${r.workload} ${r.idiom} ${r.persistency} ${r.mode}`, allocator: r.allocator, workload: r.workload };
  }
  return { crashStates, invalidStates, unknownStates, ...(firstUnknown ? { firstUnknown } : {}) };
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

function runLabel(run: RunPlan): string {
  return `run ${run.id} (allocator ${run.allocator}, workload ${run.workload})`;
}

function crashLabel(job: CrashPlanItem, s: number, shards: number): string {
  const j = job.job;
  return `crash job ${job.id} (allocator ${j.allocator}, workload ${j.workload}, ${j.idiom}, ${j.persistency}, ${j.mode}${shards > 1 ? `, shard ${s + 1}/${shards}` : ''})`;
}

async function runOne(c: TaskContext, run: RunPlan): Promise<boolean> {
  if (readRecord<RunRecord>(c.outDir, RUNS_DIR, run.id)) {
    c.progress.tick();
    return false;
  }
  let out: TaskOutput;
  try {
    out = await c.ex.run({ kind: 'run', specJson: c.spec.json, baseDir: c.spec.baseDir, index: run.index }, taskBudgetMs(c.spec, c.opts, 'run'));
  } catch (e) {
    if (!(e instanceof PoolClosed && c.stopped())) c.failures.push(taskFailure(runLabel(run), e));
    return false;
  }
  if (c.stopped()) return false;
  writeRecord(c.outDir, RUNS_DIR, run.id, out.result);
  c.log.line(`run ${run.id} ${out.elapsedMs} ms`);
  c.progress.tick();
  return true;
}

async function crashOne(c: TaskContext, job: CrashPlanItem, shards: number, planned: JobPlan | undefined): Promise<void> {
  if (planned?.failed || crashDone(c.outDir, job.id)) {
    for (let s = 0; s < shards; s++) c.progress.tick();
    return;
  }
  let cpuMs = 0;
  let failed = false;
  const sab = new SharedArrayBuffer(4);
  let started = false;
  const cap = planned?.cap !== undefined ? { maxStates: planned.cap } : {};
  const parts = await Promise.all(
    Array.from({ length: shards }, async (_, s) => {
      try {
        const payload = { kind: 'crash', specJson: c.spec.json, baseDir: c.spec.baseDir, index: job.index, shard: s, shards, listing: c.spec.crash?.listing ?? 'failures', counter: sab, ...cap } as const;
        const { result, elapsedMs } = await c.ex.run(payload, taskBudgetMs(c.spec, c.opts, 'crash', shards), () => {
          if (started) return;
          started = true;
          c.progress.jobStarted(job.id, planned?.states ?? 0, new Int32Array(sab));
        });
        const part = result as CrashResult;
        cpuMs += elapsedMs;
        c.progress.tick();
        return part;
      } catch (e) {
        if (!(e instanceof PoolClosed && c.stopped())) c.failures.push(taskFailure(crashLabel(job, s, shards), e));
        failed = true;
        return undefined;
      }
    }),
  ).finally(() => c.progress.jobDone(job.id));
  if (failed || c.stopped()) return;
  const merged = mergeCrashResults(parts as CrashResult[], crashResolvers(job));
  writeRecord(c.outDir, CRASH_DIR, job.id, { ...merged, shard: { index: 0, count: 1 } });
  const t = jobTotals(merged.tallies);
  c.log.line(`crash ${job.id} ${t.states} states (${t.invalid} invalid, ${t.unknown} unknown) ${cpuMs} ms in ${shards} shards`);
}
