/**
 * The experiment spec schema (zod): the JSON a researcher writes.
 *
 * Model: a spec names the allocators, workloads (+ parameter sweeps), thread counts,
 * heap sizes, seeds and platforms (cost-model preset + overrides) to cross, the crash
 * settings, and which metrics and charts to report. This module checks shape and
 * ranges only; names (allocators, workloads, metrics) are resolved in resolve.ts so
 * the error can list the valid names.
 *
 * Invariants: every object is strict (an unknown field is an error, so a typo never
 * passes silently); all counts are positive integers; sizes are bytes after parsing.
 */
import { z } from 'zod';
import { PRESET_NAMES } from '../../sim/cost-model.ts';

export const SIZE_PATTERN = /^(\d+)\s*(B|KiB|MiB|GiB)$/;
const UNIT_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024, GiB: 1024 * 1024 * 1024 };

/** Bytes of a size given as a number of bytes or a string like "16MiB". */
export function parseSizeBytes(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = SIZE_PATTERN.exec(value.trim());
  if (!m) throw new RangeError(`bad size ${value}`);
  return Number(m[1]) * UNIT_BYTES[m[2]];
}

const posInt = (max: number) => z.number().int().min(1).max(max);

const Size = z.union([
  z.number().int().min(4096).max(3 * 1024 * 1024 * 1024),
  z.string().regex(SIZE_PATTERN, { message: 'a size such as "16MiB" (units B, KiB, MiB, GiB)' }),
]);

/** A built-in preset name, or a preset file (.json, relative to the spec) written by `nvlab calibrate`. */
const Preset = z.string().refine((s) => (PRESET_NAMES as readonly string[]).includes(s) || s.endsWith('.json'), {
  message: `a preset name (one of: ${PRESET_NAMES.join(', ')}) or the path of a preset file ending in .json (e.g. "out/calibrate/host-preset.json", written by nvlab calibrate)`,
});
const CostOverrides = z.record(z.string(), z.number().int().min(0));
const Idiom = z.enum(['malloc-then-link', 'alloc-into']);
const ParamValue = z.union([z.number(), z.string(), z.boolean()]);
const Slug = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/, { message: 'a name of letters, digits, "_", ".", "+" or "-"' });

export const CRASH_MODES = ['lower', 'upper', 'k-subsets', 'prefixes', 'exhaustive', 'read-driven'] as const;
/** Bounds above which a crash enumeration would explode (states grow as lines^k, 2^lines). */
export const CRASH_LIMITS = { maxK: 3, maxExhaustiveLimit: 100_000, maxStatesPerJob: 1_000_000, maxOps: 100_000 } as const;

const Platform = z.strictObject({
  name: Slug,
  preset: Preset,
  cost: CostOverrides.optional(),
});

const WorkloadEntry = z.strictObject({
  /** Registry name, or a path (containing "/" or ending .ts/.js/.mjs) to a module default-exporting a Workload. */
  name: z.string().min(1),
  params: z.record(z.string(), ParamValue).optional(),
  /** Parameter sweeps: every listed value is crossed with the others. */
  sweep: z.record(z.string(), z.array(ParamValue).min(1)).optional(),
  /** Thread counts for this workload (overrides the spec's "threads", e.g. prod-con needs pairs). */
  threads: z.array(posInt(64)).min(1).optional(),
});

export const CrashSettings = z.strictObject({
  modes: z.array(z.enum(CRASH_MODES)).min(1),
  /** Deviating lines per state in k-subsets mode. */
  k: z.number().int().min(1).max(CRASH_LIMITS.maxK, { message: `k at most ${CRASH_LIMITS.maxK} (states grow as lines^k)` }).optional(),
  /** Largest box enumerated exhaustively; above it, seeded sampling (reported). */
  exhaustiveLimit: z.number().int().min(1).max(CRASH_LIMITS.maxExhaustiveLimit, { message: `at most ${CRASH_LIMITS.maxExhaustiveLimit} states per crash point` }).optional(),
  /** Cap on distinct states checked per job (allocator x workload x idiom x seed). */
  maxStates: z.number().int().min(1).max(CRASH_LIMITS.maxStatesPerJob, { message: `at most ${CRASH_LIMITS.maxStatesPerJob} states per job` }).optional(),
  /** Crash jobs left out (every given field must match), each with the reason; listed in the report. */
  exclude: z.array(z.strictObject({
    allocator: z.string().optional(),
    workload: z.string().optional(),
    idiom: z.enum(['malloc-then-link', 'alloc-into']).optional(),
    persistency: z.enum(['line', 'word', 'eadr']).optional(),
    mode: z.enum(CRASH_MODES).optional(),
    reason: z.string().min(1),
  })).optional(),
  /** Rows of crash.csv: "failures" (default: the invalid and unknown states) or "all" (every distinct state). */
  listing: z.enum(['all', 'failures']).optional(),
  /** Deterministic cap on the distinct states checked over all crash jobs, shared out before the jobs start (reported). */
  budget: z.strictObject({
    maxStatesTotal: z.number().int().min(1).max(CRASH_LIMITS.maxStatesPerJob * 1000),
  }).optional(),
  /** Crash-state shards per job handed to workers (any value gives the same rows). */
  shardsPerJob: z.number().int().min(1).max(256).optional(),
  /** Allocators (names or module paths) to enumerate; default: the spec's allocators. */
  allocators: z.array(z.string().min(1)).min(1).optional(),
  /** Workloads (by name) to enumerate; default: every structure workload in the spec. */
  workloads: z.array(z.string()).min(1).optional(),
  /** Persistency granularities to check; default: the spec's persistency. */
  persistency: z.array(z.enum(['line', 'word', 'eadr'])).min(1).optional(),
});

export const AXES = ['threads', 'heapSizeBytes', 'preset', 'allocator', 'workload', 'idiom', 'params', 'liveObjects'] as const;

const Chart = z.strictObject({
  /** File name stem of the chart (charts/<name>.svg). */
  name: Slug,
  title: z.string().optional(),
  metric: z.string(),
  x: z.enum(AXES),
  /** Colour series; default allocator. */
  series: z.enum(AXES).optional(),
  /** One panel per value; default none. */
  facet: z.enum(AXES).optional(),
  logY: z.boolean().optional(),
  /** Bar chart instead of lines (categorical x). */
  bars: z.boolean().optional(),
  /** What the error bars show over seeds: min to max (default), the 95 % confidence interval of the mean, or nothing. */
  errorBars: z.enum(['minmax', 'ci95', 'none']).optional(),
  /** Only these workloads (by name); default all. */
  workloads: z.array(z.string()).min(1).optional(),
});

const Headline = z.strictObject({ subject: z.string(), baseline: z.string(), metric: z.string() });

/** Model vs reality: measured references the report sets beside the simulated ratios (never fitted). */
const Validation = z.strictObject({
  /** Published reference data, a CSV as experiments/validation/published.csv (path relative to the spec). */
  published: z.string().min(1),
  /** Native single-thread references, a calibration.json written by `nvlab calibrate` (path relative to the spec). */
  calibration: z.string().min(1).optional(),
});

export const SpecSchema = z.strictObject({
  $schema: z.string().optional(),
  name: Slug,
  description: z.string().optional(),
  seeds: z.array(z.number().int().min(0).max(2 ** 31 - 1)).min(1).max(1000),
  preset: Preset.optional(),
  cost: CostOverrides.optional(),
  /** Sweep over platforms instead of one preset + cost. */
  platforms: z.array(Platform).min(1).optional(),
  persistency: z.enum(['line', 'word', 'eadr']).optional(),
  allocators: z.array(z.string().min(1)).min(1),
  /** Idioms to run; each allocator runs those it supports. Default: its first idiom. */
  idioms: z.array(Idiom).min(1).optional(),
  workloads: z.array(WorkloadEntry).min(1),
  threads: z.array(posInt(64)).min(1).optional(),
  heapSizes: z.array(Size).min(1).optional(),
  dramSize: Size.optional(),
  /** Stop each run after this many completed ops in total. */
  stopAfterOps: posInt(100_000_000).optional(),
  /** Host wall-clock budget of each run and crash task, in seconds (default 600; crash shards add 10 ms per maxStates state). Not part of any result. */
  taskBudgetSeconds: z.number().positive().max(7 * 24 * 3600).optional(),
  /** After each run, measure crash recovery (process crash at the stop point) and a clean restart. */
  recovery: z.boolean().optional(),
  crash: z.union([z.literal('off'), CrashSettings]).optional(),
  /** Metrics shown in the report's tables (CSV has all). */
  metrics: z.array(z.string()).min(1).optional(),
  charts: z.array(Chart).optional(),
  headline: z.array(Headline).optional(),
  validation: Validation.optional(),
});

export type Spec = z.infer<typeof SpecSchema>;
export type CrashSpec = z.infer<typeof CrashSettings>;
export type ChartSpec = z.infer<typeof Chart>;
export type Axis = (typeof AXES)[number];
