/**
 * `nvlab slurm <spec> --shards N [--cpus-per-task C] [--time T] [--partition P] [--out DIR] [--submit]`:
 * write the array and merge scripts (experiments/slurm.ts) into <DIR>-slurm/ and, with
 * --submit, submit both with sbatch (the merge with afterok on the array) and print the
 * job ids; without, print the commands to run.
 *
 * Invariants: every check (sbatch on PATH for --submit, the spec, N against the spec's
 * runs and crash jobs, shard folders left by another spec, usable paths) comes before
 * the first write, so bad input writes nothing.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { gitCommit, type Manifest } from '../manifest.ts';
import { prepareOutDir, writeAtomic } from '../output.ts';
import { planCrashJobs, planRuns } from '../plan.ts';
import { arrayScript, findOnPath, mergeScript, parseJobId, sbatchPathProblem, workDirFor, type SlurmScripts } from '../slurm.ts';
import { loadSpecFile } from '../spec/resolve.ts';

const NVLAB_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'nvlab.mjs');

export interface SlurmCommandOptions {
  readonly shards: number;
  readonly cpusPerTask: number;
  readonly time?: string;
  readonly partition?: string;
  readonly out?: string;
  readonly submit?: boolean;
}

function show(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

/** Shard folders of an earlier `nvlab slurm` of another spec would make every `--resume` fail. */
function checkOldShards(workDir: string, specHash: string): void {
  const shardsDir = join(workDir, 'shards');
  if (!existsSync(shardsDir)) return;
  for (const name of readdirSync(shardsDir)) {
    let m: Manifest;
    try {
      m = JSON.parse(readFileSync(join(shardsDir, name, 'manifest.json'), 'utf8')) as Manifest;
    } catch {
      continue;
    }
    if (m.specHash !== specHash) {
      throw new UserError(`${join(shardsDir, name)} holds a shard of a different spec (hash ${m.specHash.slice(0, 12)}, this spec ${specHash.slice(0, 12)}); use another --out or remove ${workDir}`);
    }
  }
}

function sbatch(bin: string, args: readonly string[]): string {
  const r = spawnSync(bin, ['--parsable', ...args], { encoding: 'utf8' });
  const what = `sbatch ${args.join(' ')}`;
  if (r.error) throw new UserError(`${what} could not start: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) throw new UserError(`${what} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n')[0] || 'no message'}`);
  const id = parseJobId(r.stdout);
  if (id === null) throw new UserError(`${what}: expected a job id on stdout (--parsable), found "${r.stdout.trim().slice(0, 80)}"`);
  return id;
}

export async function slurmCommand(specFile: string, o: SlurmCommandOptions, out: (s: string) => void): Promise<void> {
  const sbatchBin = o.submit ? findOnPath('sbatch', process.env.PATH) : null;
  if (o.submit && sbatchBin === null) throw new UserError('--submit: sbatch not found on PATH (run on a Slurm login node, or drop --submit to only write the scripts)');
  const spec = await loadSpecFile(specFile);
  const items = planRuns(spec).length + planCrashJobs(spec).length;
  if (o.shards > items) throw new UserError(`--shards: expected at most ${items} (the spec has ${items} runs and crash jobs, and every shard needs one), found ${o.shards}`);
  const outDir = resolve(o.out ?? `out/${spec.raw.name}`);
  const workDir = workDirFor(outDir);
  const problem = sbatchPathProblem(workDir);
  if (problem !== null) throw new UserError(`--out ${outDir}: ${problem}; choose another folder`);
  checkOldShards(workDir, spec.hash);
  const s: SlurmScripts = {
    specFile: resolve(specFile), experiment: spec.raw.name, shards: o.shards, cpusPerTask: o.cpusPerTask,
    ...(o.time !== undefined ? { time: o.time } : {}), ...(o.partition !== undefined ? { partition: o.partition } : {}),
    outDir, workDir, commit: gitCommit(), node: process.execPath, nvlab: NVLAB_BIN,
  };
  prepareOutDir(workDir);
  mkdirSync(join(workDir, 'logs'), { recursive: true }); // Slurm does not create the --output folder
  const arrayFile = join(workDir, 'array.sh');
  const mergeFile = join(workDir, 'merge.sh');
  writeAtomic(arrayFile, arrayScript(s));
  writeAtomic(mergeFile, mergeScript(s));
  chmodSync(arrayFile, 0o755);
  chmodSync(mergeFile, 0o755);
  out(`nvlab: wrote ${show(arrayFile)} (${o.shards} shards, ${o.cpusPerTask} CPU${o.cpusPerTask === 1 ? '' : 's'} each) and ${show(mergeFile)}\n`);
  if (sbatchBin === null) {
    out('nvlab: submit with\n');
    out(`  jobid=$(sbatch --parsable ${show(arrayFile)})\n`);
    out(`  sbatch --dependency=afterok:\${jobid%%;*} ${show(mergeFile)}\n`);
  } else {
    const arrayId = sbatch(sbatchBin, [arrayFile]);
    let mergeId: string;
    try {
      mergeId = sbatch(sbatchBin, [`--dependency=afterok:${arrayId}`, mergeFile]);
    } catch (e) {
      throw new UserError(`array job ${arrayId} was submitted, but the merge was not: ${(e as Error).message}`);
    }
    out(`nvlab: submitted array job ${arrayId} (tasks 1-${o.shards}) and merge job ${mergeId} (runs once every task succeeded)\n`);
  }
  out(`nvlab: shard folders ${show(join(workDir, 'shards'))}/1..${o.shards}, logs ${show(join(workDir, 'logs'))}/, merged outputs ${show(outDir)}/\n`);
  out(`nvlab: if a shard fails, once the array has ended: sbatch --parsable --array=I ${show(arrayFile)}, then sbatch --dependency=afterok:<that job id> ${show(mergeFile)}\n`);
}
