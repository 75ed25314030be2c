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
import type { RunRecord } from './record.ts';
import type { ResolvedSpec } from './spec/resolve.ts';
import { crashResolvers } from './task.ts';

export interface RunOptions {
  readonly outDir: string;
  readonly workers: number;
  readonly shard?: Shard;
  readonly resume: boolean;
  readonly quiet: boolean;
  /** 'all' = runs and crash jobs; 'crash' = crash jobs only; 'perf' = runs only. */
  readonly what: 'all' | 'crash' | 'perf';
  readonly specFile: string;
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
    const progress = createProgress(runs.length + jobs.length * shardsPerJob(spec, opts, jobs.length), spec.raw.name, progressEnabled(opts.quiet));
    const tasks = [
      ...runs.map((r) => runOne(spec, r, outDir, executor, log, progress).then((ran) => { if (ran) executedRuns++; })),
      ...jobs.map((j) => crashOne(spec, j, shardsPerJob(spec, opts, jobs.length), outDir, executor, log, progress)),
    ];
    await Promise.all(tasks);
    progress.stop();
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

async function crashOne(spec: ResolvedSpec, job: CrashPlanItem, shards: number, outDir: string, ex: Executor, log: RunLog, progress: Progress): Promise<void> {
  if (readRecord<CrashResult>(outDir, CRASH_DIR, job.id)) {
    for (let s = 0; s < shards; s++) progress.tick();
    return;
  }
  let cpuMs = 0;
  const parts = await Promise.all(
    Array.from({ length: shards }, async (_, s) => {
      const { result, elapsedMs } = await ex.run({ kind: 'crash', specJson: spec.json, baseDir: spec.baseDir, index: job.index, shard: s, shards, listing: spec.crash?.listing ?? 'failures' }).catch((e: unknown) => {
        throw taskFailure(`crash job ${job.id} (shard ${s + 1}/${shards})`, e);
      });
      const part = result as CrashResult;
      cpuMs += elapsedMs;
      progress.tick(jobTotals(part.points).states);
      return part;
    }),
  );
  const merged = mergeCrashResults(parts, crashResolvers(job));
  writeRecord(outDir, CRASH_DIR, job.id, { ...merged, shard: { index: 0, count: 1 } });
  const t = jobTotals(merged.points);
  log.line(`crash ${job.id} ${t.states} states (${t.invalid} invalid, ${t.unknown} unknown) ${cpuMs} ms in ${shards} shards`);
}
