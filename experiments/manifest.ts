/**
 * manifest.json: what was run, by which nvlab, where, and how long it took.
 *
 * Model: the only file (with run.log) that may hold host-dependent figures: host,
 * invocation, wall-clock times. The CSVs, charts and report never do.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedSpec } from './spec/resolve.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export function nvlabVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function gitCommit(): string | null {
  if (process.env.NVLAB_GIT_COMMIT) return process.env.NVLAB_GIT_COMMIT; // pinned by tests and by Slurm scripts
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    return null;
  }
}

export interface Manifest {
  readonly experiment: string;
  readonly specHash: string;
  readonly specFile: string;
  readonly specDir: string;
  readonly spec: unknown;
  readonly seeds: readonly number[];
  readonly nvlab: { readonly version: string; readonly gitCommit: string | null };
  readonly host: { readonly hostname: string; readonly platform: string; readonly arch: string; readonly cpuModel: string; readonly cpus: number; readonly node: string };
  readonly invocation: Record<string, unknown>;
  readonly counts: Record<string, number>;
  readonly wallClock: { readonly startedAt: string; readonly finishedAt: string | null; readonly elapsedMs: number | null };
  /** 'interrupted': SIGINT/SIGTERM; 'failed': some tasks failed (listed in `failures`); both resume with --resume. */
  readonly status: 'running' | 'complete' | 'partial' | 'interrupted' | 'failed';
}

export function hostInfo(): Manifest['host'] {
  const c = cpus();
  return { hostname: hostname(), platform: process.platform, arch: process.arch, cpuModel: c[0]?.model ?? 'unknown', cpus: c.length, node: process.version };
}

export function baseManifest(spec: ResolvedSpec, specFile: string, invocation: Record<string, unknown>, startedAt: Date): Manifest {
  return {
    experiment: spec.raw.name,
    specHash: spec.hash,
    specFile,
    specDir: spec.baseDir,
    spec: JSON.parse(spec.json),
    seeds: spec.seeds,
    nvlab: { version: nvlabVersion(), gitCommit: gitCommit() },
    host: hostInfo(),
    invocation,
    counts: {},
    wallClock: { startedAt: startedAt.toISOString(), finishedAt: null, elapsedMs: null },
    status: 'running',
  };
}
