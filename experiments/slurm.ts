/**
 * `nvlab slurm`: the two batch scripts that run a spec as a Slurm array and merge it.
 *
 * Model: array.sh is one array task per shard (`--array=1-N`); task I runs
 * `nvlab run <spec> --shard I/N --resume --out <work>/shards/I` with the workers set to the
 * CPUs Slurm allocated (SLURM_CPUS_PER_TASK) and NVLAB_GIT_COMMIT pinned to the commit
 * string taken when the scripts were written. merge.sh runs `nvlab merge` over the N shard
 * folders into the final folder; it is submitted with `--dependency=afterok:<array job>`
 * and `--kill-on-invalid-dep=yes`, so a failed shard cancels it instead of leaving it
 * pending forever.
 *
 * Invariants: the scripts depend only on their inputs (pure functions, no clock); every
 * path in them is absolute and shell-quoted; the shard count N is written into the
 * script (not SLURM_ARRAY_TASK_COUNT), so resubmitting one task with `--array=I` still
 * runs shard I of N.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { InvalidArgumentError } from 'commander';

export interface SlurmScripts {
  /** Absolute path of the spec file. */
  readonly specFile: string;
  readonly experiment: string;
  readonly shards: number;
  readonly cpusPerTask: number;
  /** Slurm time limit (validated by parseTime), or none: the partition's default. */
  readonly time?: string;
  readonly partition?: string;
  /** Absolute: the merged output folder. */
  readonly outDir: string;
  /** Absolute: scripts, logs/ and shards/<I>/ live here. */
  readonly workDir: string;
  /** Commit string pinned in every shard (null: not a git checkout). */
  readonly commit: string | null;
  /** Absolute paths of the node binary and of bin/nvlab.mjs. */
  readonly node: string;
  readonly nvlab: string;
}

/** Quote a string for bash (single quotes; a quote inside becomes '\''). */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./=:,+@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `--time`: HH:MM:SS or D-HH:MM:SS (Slurm's forms with hours), minutes and seconds < 60, not zero. */
export function parseTime(value: string): string {
  const m = /^(?:(\d{1,3})-)?(\d{1,4}):(\d{2}):(\d{2})$/.exec(value);
  const ok = m !== null && Number(m[3]) < 60 && Number(m[4]) < 60 && (Number(m[1] ?? 0) + Number(m[2]) + Number(m[3]) + Number(m[4])) > 0;
  if (!ok) throw new InvalidArgumentError(`--time must be HH:MM:SS or D-HH:MM:SS (minutes and seconds below 60, not all zero; e.g. 01:30:00), found "${value}"`);
  return value;
}

/** `--partition`: one or more partition names, comma-separated. */
export function parsePartition(value: string): string {
  if (!/^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/.test(value)) throw new InvalidArgumentError(`--partition must be a partition name or a comma-separated list (letters, digits, _ . -), found "${value}"`);
  return value;
}

/** The folder beside the merged output that holds the scripts, logs and shard folders. */
export function workDirFor(outDir: string): string {
  return `${outDir.replace(/[\\/]+$/, '')}-slurm`;
}

/** Why a path cannot appear in an #SBATCH --output line (Slurm reads % as a pattern), or null. */
export function sbatchPathProblem(path: string): string | null {
  return /[\s%"'\\]/.test(path) ? `it contains whitespace, a quote, a backslash or %, which #SBATCH --output lines cannot hold` : null;
}

function directives(s: SlurmScripts, extra: readonly string[]): string[] {
  return [
    ...extra,
    `#SBATCH --cpus-per-task=${s.cpusPerTask}`,
    ...(s.time !== undefined ? [`#SBATCH --time=${s.time}`] : []),
    ...(s.partition !== undefined ? [`#SBATCH --partition=${s.partition}`] : []),
  ];
}

function commitLine(s: SlurmScripts): string {
  return s.commit !== null
    ? `export NVLAB_GIT_COMMIT=${shq(s.commit)}   # the same commit string in every shard`
    : '# not a git checkout when written: the manifests record no commit';
}

export function arrayScript(s: SlurmScripts): string {
  return [
    '#!/bin/bash',
    `# nvlab slurm: ${s.experiment} (${s.specFile}) as ${s.shards} shards, one array task each.`,
    `# Resubmit failed shards (their finished runs are kept): sbatch --array=I[,J...] ${s.workDir}/array.sh`,
    ...directives(s, [`#SBATCH --job-name=nvlab-${s.experiment}`, `#SBATCH --array=1-${s.shards}`]),
    `#SBATCH --output=${s.workDir}/logs/shard-%a-%A.log`,
    'set -euo pipefail',
    commitLine(s),
    `exec ${shq(s.node)} ${shq(s.nvlab)} run ${shq(s.specFile)} --quiet --resume \\`,
    '  --workers "${SLURM_CPUS_PER_TASK:-1}" \\',
    `  --shard "\${SLURM_ARRAY_TASK_ID}/${s.shards}" \\`,
    `  --out ${shq(`${s.workDir}/shards/`)}"\${SLURM_ARRAY_TASK_ID}"`,
    '',
  ].join('\n');
}

export function mergeScript(s: SlurmScripts): string {
  const shardDirs = s.shards === 1 ? shq(`${s.workDir}/shards/1`) : `${shq(`${s.workDir}/shards/`)}{1..${s.shards}}`;
  return [
    '#!/bin/bash',
    `# nvlab slurm: merge the ${s.shards} shard folders of ${s.experiment} into the outputs of one unsharded run.`,
    `# Submit after the array: sbatch --dependency=afterok:<array job id> ${s.workDir}/merge.sh`,
    ...directives({ ...s, cpusPerTask: 1 }, [`#SBATCH --job-name=nvlab-${s.experiment}-merge`, '#SBATCH --kill-on-invalid-dep=yes']),
    `#SBATCH --output=${s.workDir}/logs/merge-%j.log`,
    'set -euo pipefail',
    commitLine(s),
    `exec ${shq(s.node)} ${shq(s.nvlab)} merge ${shardDirs} \\`,
    `  --out ${shq(s.outDir)}`,
    '',
  ].join('\n');
}

/** The job id in `sbatch --parsable` output ("<id>" or "<id>;<cluster>"), or null. */
export function parseJobId(stdout: string): string | null {
  const m = /^(\d+)(?:;\S+)?$/.exec(stdout.trim().split('\n').pop()?.trim() ?? '');
  return m ? m[1] : null;
}

/** The first executable file named `cmd` on a PATH string, or null. */
export function findOnPath(cmd: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, cmd);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}
