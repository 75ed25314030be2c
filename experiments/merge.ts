/**
 * `nvlab merge <dir>... --out DIR`: union shard folders of one experiment and write the
 * outputs exactly as one unsharded run would.
 *
 * Model: every shard folder has a manifest (same spec hash required) and record files;
 * the merged folder gets every record of the plan (a missing one is an error naming
 * it), then the same writeOutputs as the runner.
 *
 * Invariants: the merged results.csv / crash.csv / charts / report.html are
 * byte-identical to an unsharded run of the same spec.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CrashResult } from './crash/api.ts';
import { isJobTallies, jobTotals } from './crash/tally.ts';
import { UserError } from './errors.ts';
import type { Manifest } from './manifest.ts';
import { CRASH_DIR, RUNS_DIR, RunLog, clearRecords, prepareOutDir, readRecord, recordPath, writeAtomic, writeRecord } from './output.ts';
import { lightCrashResult, writeOutputs } from './outputs.ts';
import { planCrashJobs, planRuns } from './plan.ts';
import type { RunRecord } from './record.ts';
import { resolveSpec } from './spec/resolve.ts';

function readManifest(dir: string): Manifest {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    throw new UserError(`cannot merge ${dir}: no readable manifest.json there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function findIn<T>(dirs: readonly string[], sub: string, id: string): T | undefined {
  for (const d of dirs) {
    const r = readRecord<T>(d, sub, id);
    if (r) return r;
  }
  return undefined;
}

export async function mergeDirs(inputs: readonly string[], outDirArg: string): Promise<{ runs: number; crashJobs: number; files: string[] }> {
  const dirs = inputs.map((d) => resolve(d));
  const manifests = dirs.map(readManifest);
  const first = manifests[0];
  manifests.forEach((m, i) => {
    if (m.specHash !== first.specHash) throw new UserError(`cannot merge: ${inputs[i]} ran a different spec (hash ${m.specHash.slice(0, 12)}) than ${inputs[0]} (${first.specHash.slice(0, 12)})`);
  });
  const spec = await resolveSpec(first.spec, first.specDir, first.specFile);
  const runs = planRuns(spec);
  const jobs = planCrashJobs(spec);
  const records = runs.map((r) => findIn<RunRecord>(dirs, RUNS_DIR, r.id));
  // Crash records are read one at a time below (they can be large): here only where each is.
  const crashDir = jobs.map((j) => dirs.find((d) => existsSync(recordPath(d, CRASH_DIR, j.id))));
  const missing = [...runs.filter((_, i) => !records[i]).map((r) => `run ${r.id}`), ...jobs.filter((_, i) => !crashDir[i]).map((j) => `crash job ${j.id}`)];
  // `nvlab crash` folders hold crash jobs only; runs are required when any shard ran `nvlab run`.
  const ranPerf = manifests.some((m) => m.invocation.command === 'run');
  const relevant = missing.filter((m) => (m.startsWith('run ') ? ranPerf : true));
  if (relevant.length > 0) {
    throw new UserError(`cannot merge: ${relevant.length} result${relevant.length === 1 ? '' : 's'} missing from the given folders (is a shard unfinished?), e.g. ${relevant.slice(0, 3).join(', ')}`);
  }
  const outDir = resolve(outDirArg);
  prepareOutDir(outDir);
  if (!dirs.includes(outDir)) clearRecords(outDir);
  const haveRuns = records.filter((r): r is RunRecord => !!r);
  haveRuns.forEach((r) => writeRecord(outDir, RUNS_DIR, r.id, r));
  // A job at a time: copy its record, keep the light result (crash.csv reloads the rows).
  const haveJobs = jobs.filter((_, i) => crashDir[i] !== undefined);
  const haveCrash = haveJobs.map((j) => {
    const from = dirs.find((d) => existsSync(recordPath(d, CRASH_DIR, j.id)))!;
    const c = readRecord<CrashResult>(from, CRASH_DIR, j.id);
    if (c === undefined) throw new UserError(`cannot merge: the record of crash job ${j.id} in ${from} is unreadable (torn or foreign); rerun that shard with --resume`);
    if (!isJobTallies(c.tallies)) throw new UserError(`cannot merge: the record of crash job ${j.id} in ${from} has no per-point tallies of this format (written by an older nvlab); rerun that shard with --resume`);
    if (from !== outDir) writeRecord(outDir, CRASH_DIR, j.id, c);
    return lightCrashResult(c);
  });
  const crashRows = (i: number) => readRecord<CrashResult>(outDir, CRASH_DIR, haveJobs[i].id)!.rows;
  const manifest: Manifest = {
    ...first,
    invocation: { command: 'merge', inputs: dirs, shards: manifests.map((m) => m.invocation) },
    counts: { runs: haveRuns.length, crashJobs: haveCrash.length, crashStates: haveCrash.reduce((n, c) => n + jobTotals(c.tallies).states, 0) },
    wallClock: { startedAt: first.wallClock.startedAt, finishedAt: new Date().toISOString(), elapsedMs: manifests.reduce((n, m) => n + (m.wallClock.elapsedMs ?? 0), 0) },
    status: 'complete',
  };
  const files = await writeOutputs(spec, outDir, haveRuns, haveCrash, { whole: true, manifest, crashRows });
  writeAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  new RunLog(join(outDir, 'run.log')).line(`merged ${dirs.length} folders: ${haveRuns.length} runs, ${haveCrash.length} crash jobs`);
  return { runs: haveRuns.length, crashJobs: haveCrash.length, files: ['manifest.json', ...files] };
}
