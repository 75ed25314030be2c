/**
 * The run plan: a resolved spec -> the ordered list of runs and crash jobs.
 *
 * Model: runs = workloads (x parameter sweeps) x platforms x heap sizes x allocators
 * x idioms x threads x seeds, nested in that order; crash jobs = crash workloads
 * (x sweeps) x allocators x idioms x persistency modes x state modes x seeds, on the
 * first platform, heap size and thread count. Each has a stable, readable id.
 *
 * Invariants: the order and ids depend only on the spec; `inShard` partitions any list
 * deterministically (item i belongs to shard i mod N), so the shards' union is the list.
 */
import { COST_FIELDS, PRESETS } from '../sim/cost-model.ts';
import type { AllocatorFactory, Idiom } from '../allocators/contract.ts';
import type { CrashJob, CrashStateMode, PersistencyMode } from './crash/api.ts';
import type { RunKey } from './record.ts';
import { sweepCombos, type Platform, type ResolvedSpec, type ResolvedWorkload } from './spec/resolve.ts';

export interface RunPlan extends RunKey {
  readonly factory: AllocatorFactory;
  readonly rw: ResolvedWorkload;
  readonly paramValues: Record<string, number | string | boolean>;
  readonly platform: Platform;
  readonly idiomValue: Idiom;
}

export interface CrashPlanItem {
  readonly index: number;
  readonly id: string;
  readonly job: CrashJob;
  readonly factory: AllocatorFactory;
  readonly rw: ResolvedWorkload;
}

export function sizeLabel(bytes: number): string {
  for (const [unit, n] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes}B`;
}

export function paramsLabel(values: Record<string, number | string | boolean>): string {
  return Object.entries(values).map(([k, v]) => `${k}=${String(v)}`).join(',');
}

function slug(parts: readonly string[]): string {
  return parts.filter((p) => p !== '').join('.').replace(/[^A-Za-z0-9_.+=,-]/g, '_');
}

/** Idioms an allocator runs in this spec: the spec's idioms it supports, else its first. */
export function idiomsFor(spec: ResolvedSpec, f: AllocatorFactory): Idiom[] {
  return spec.idioms ? spec.idioms.filter((i) => f.idioms.includes(i)) : [f.idioms[0] ?? 'malloc-then-link'];
}

export function planRuns(spec: ResolvedSpec): RunPlan[] {
  const out: RunPlan[] = [];
  const ids = new Set<string>();
  for (const rw of spec.workloads) {
    for (const combo of sweepCombos(rw)) {
      for (const platform of spec.platforms) {
        for (const heap of spec.heapSizesBytes) {
          for (const f of spec.allocators) {
            for (const idiom of idiomsFor(spec, f)) {
              for (const threads of rw.threads ?? spec.threads) {
                for (const seed of spec.seeds) {
                  const params = paramsLabel(combo);
                  const base = slug([rw.workload.name, params, platform.name, sizeLabel(heap), f.name, idiom, `t${threads}`, `s${seed}`]);
                  const id = unique(base, ids);
                  out.push({
                    index: out.length, id, allocator: f.name, workload: rw.workload.name, params, idiom, threads, seed,
                    preset: platform.name, heapSizeBytes: heap, factory: f, rw, paramValues: { ...rw.params, ...combo }, platform, idiomValue: idiom,
                  });
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

function unique(base: string, ids: Set<string>): string {
  let id = base;
  for (let n = 2; ids.has(id); n++) id = `${base}~${n}`;
  ids.add(id);
  return id;
}

function crashWorkloads(spec: ResolvedSpec): ResolvedWorkload[] {
  const names = spec.crash?.workloads;
  if (names) return spec.workloads.filter((w) => names.includes(w.ref));
  const structures = spec.workloads.filter((w) => w.workload.kind === 'structure');
  return structures.length > 0 ? structures : [...spec.workloads];
}

export function planCrashJobs(spec: ResolvedSpec): CrashPlanItem[] {
  const crash = spec.crash;
  if (!crash) return [];
  const out: CrashPlanItem[] = [];
  const ids = new Set<string>();
  const platform = spec.platforms[0];
  const persistencies: PersistencyMode[] = crash.persistency ?? [spec.persistency];
  for (const rw of crashWorkloads(spec)) {
    for (const combo of sweepCombos(rw)) {
      for (const f of spec.crashAllocators) {
        for (const idiom of idiomsFor(spec, f)) {
          for (const persistency of persistencies) {
            for (const mode of crash.modes as CrashStateMode[]) {
              for (const seed of spec.seeds) {
                const params = { ...rw.params, ...combo };
                const job: CrashJob = {
                  allocator: f.name, workload: rw.workload.name, params, idiom, threads: (rw.threads ?? spec.threads)[0], seed,
                  preset: platform.cost.preset, costOverrides: costOverrides(spec, platform),
                  nvramSizeBytes: spec.heapSizesBytes[0], dramSizeBytes: spec.dramSizeBytes, persistency, mode,
                  ...(crash.k !== undefined ? { k: crash.k } : {}),
                  ...(crash.exhaustiveLimit !== undefined ? { exhaustiveLimit: crash.exhaustiveLimit } : {}),
                  ...(crash.maxStates !== undefined ? { maxStates: crash.maxStates } : {}),
                };
                if (excluded(crash.exclude, { allocator: f.name, workload: rw.workload.name, idiom, persistency, mode })) continue;
                const id = unique(slug([rw.workload.name, paramsLabel(combo), f.name, idiom, persistency, mode, `s${seed}`]), ids);
                out.push({ index: out.length, id, job, factory: f, rw });
              }
            }
          }
        }
      }
    }
  }
  return out;
}

type JobCoordinates = { allocator: string; workload: string; idiom: string; persistency: string; mode: string };

function excluded(rules: readonly Partial<JobCoordinates>[] | undefined, job: JobCoordinates): boolean {
  return (rules ?? []).some((rule) => (Object.keys(job) as (keyof JobCoordinates)[]).every((k) => rule[k] === undefined || rule[k] === job[k]));
}

/** The platform's fields that differ from its base preset (spec overrides and those of a preset file). */
function costOverrides(spec: ResolvedSpec, platform: Platform): Record<string, number> {
  void spec;
  const base = PRESETS[platform.cost.preset] as unknown as Record<string, number>;
  const cost = platform.cost as unknown as Record<string, number>;
  return Object.fromEntries(COST_FIELDS.filter((k) => cost[k] !== base[k]).map((k) => [k, cost[k]]));
}

export interface Shard {
  /** 1-based shard number. */
  readonly index: number;
  readonly count: number;
}

export function inShard(i: number, shard: Shard | undefined): boolean {
  return !shard || i % shard.count === shard.index - 1;
}
