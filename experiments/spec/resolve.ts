/**
 * Load and validate an experiment spec: JSON -> zod shape check -> names resolved
 * (allocators, workloads, metrics, user modules by path) -> workload parameters
 * checked for every thread count and heap size. Every problem is collected and thrown
 * together as one SpecError before anything runs.
 *
 * Invariants: resolveSpec is deterministic and side-effect free apart from importing
 * user modules; the returned spec has everything the planner needs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_DRAM_BYTES, MAX_NVRAM_BYTES } from '../../sim/machine.ts';
import { isPresetName, makeCostModel, type CostModel, type CostOverrides, type PresetName } from '../../sim/cost-model.ts';
import type { AllocatorFactory, Idiom } from '../../allocators/contract.ts';
import { ALLOCATORS, findAllocator } from '../../allocators/registry.ts';
import { WorkloadParamError, type Workload } from '../../workloads/contract.ts';
import { WORKLOADS, findWorkload } from '../../workloads/registry.ts';
import { SpecError, UserError, describeFound, type SpecIssue } from '../errors.ts';
import { METRICS, findMetric, type Metric } from '../metrics.ts';
import { readPresetFile } from '../calibrate/preset-file.ts';
import { fromZodIssues } from './issues.ts';
import { SpecSchema, parseSizeBytes, type ChartSpec, type CrashSpec, type Spec } from './schema.ts';
import { VALIDATION_CHARTS, loadCalibration, loadPublished, type NativeReference, type PublishedRow } from '../validation.ts';

export interface Platform {
  readonly name: string;
  readonly cost: CostModel;
}

export interface ResolvedWorkload {
  readonly ref: string;
  readonly workload: Workload<any>;
  readonly params: Record<string, number | string | boolean>;
  readonly sweep: Record<string, readonly (number | string | boolean)[]>;
  /** Thread counts of this workload (its own, or the spec's). */
  readonly threads?: readonly number[];
}

export interface ResolvedSpec {
  readonly raw: Spec;
  /** The spec as JSON text (canonical: re-serialised), and its sha256. */
  readonly json: string;
  readonly hash: string;
  readonly baseDir: string;
  readonly allocators: readonly AllocatorFactory[];
  /** Allocators of the crash jobs (crash.allocators, else the spec's). */
  readonly crashAllocators: readonly AllocatorFactory[];
  readonly idioms: readonly Idiom[] | undefined;
  readonly workloads: readonly ResolvedWorkload[];
  readonly platforms: readonly Platform[];
  readonly threads: readonly number[];
  readonly heapSizesBytes: readonly number[];
  readonly dramSizeBytes: number;
  readonly seeds: readonly number[];
  readonly persistency: 'line' | 'word' | 'eadr';
  readonly crash: CrashSpec | null;
  readonly metrics: readonly Metric[];
  readonly charts: readonly ChartSpec[];
  /** Measured references of the "Model vs reality" section, or null. */
  readonly validation: ResolvedValidation | null;
}

export interface ResolvedValidation {
  /** The published-data path as the spec gives it. */
  readonly publishedFile: string;
  readonly published: readonly PublishedRow[];
  readonly native: readonly NativeReference[];
}

/** Read and parse a spec file's JSON (a clear error for a missing file or bad JSON). */
export function readSpecJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read experiment spec ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SpecError(file, [{ path: '(root)', expected: 'valid JSON', found: `a syntax error: ${(e as Error).message}` }]);
  }
}

/** Read, parse and resolve a spec file; throws SpecError listing every problem. */
export async function loadSpecFile(file: string, patch?: (data: Record<string, unknown>) => void): Promise<ResolvedSpec> {
  const data = readSpecJson(file);
  if (patch && data && typeof data === 'object' && !Array.isArray(data)) patch(data as Record<string, unknown>);
  return resolveSpec(data, dirname(resolvePath(file)), file);
}

/** Validate and resolve an already parsed spec (workers call this with the manifest's copy). */
export async function resolveSpec(data: unknown, baseDir: string, label = 'spec'): Promise<ResolvedSpec> {
  const parsed = SpecSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    // Report shape errors and, where the names are well-formed, unknown names too.
    const issues = fromZodIssues(parsed.error.issues as never);
    const known = new Set(issues.map((i) => i.path));
    const more = await looseNameIssues(data, baseDir);
    throw new SpecError(label, [...issues, ...more.filter((i) => !known.has(i.path))]);
  }
  const spec = parsed.data;
  const issues: SpecIssue[] = [];
  const allocators = await resolveAllocators(spec.allocators, baseDir, issues);
  const crashAllocators = spec.crash && spec.crash !== 'off' && spec.crash.allocators ? await resolveAllocators(spec.crash.allocators, baseDir, issues, 'crash.allocators') : allocators;
  const workloads = await resolveWorkloads(spec.workloads, baseDir, issues);
  const platforms = resolvePlatforms(spec, baseDir, issues);
  const metrics = resolveMetrics(spec, issues);
  checkCharts(spec, issues);
  checkCrash(spec, workloads, issues);
  const threads = spec.threads ?? [1];
  const heapSizesBytes = (spec.heapSizes ?? ['16MiB']).map(parseSizeBytes);
  heapSizesBytes.forEach((b, i) => {
    if (b % 4096 !== 0 || b < 65536 || b > MAX_NVRAM_BYTES) issues.push({ path: `heapSizes[${i}]`, expected: `a multiple of 4 KiB from 64 KiB to ${MAX_NVRAM_BYTES} B (the simulated machine's NVRAM limit, 3 GiB - 4 KiB)`, found: describeFound(spec.heapSizes?.[i]) });
  });
  const dramBytes = parseSizeBytes(spec.dramSize ?? '64MiB');
  if (dramBytes < 4096 || dramBytes > MAX_DRAM_BYTES) issues.push({ path: 'dramSize', expected: `a size from 4 KiB to ${MAX_DRAM_BYTES} B (the simulated machine's DRAM limit, 512 MiB)`, found: describeFound(spec.dramSize) });
  checkIdioms(spec, allocators, issues);
  const validation = resolveValidation(spec, baseDir, issues);
  if (issues.length === 0) checkParams(workloads as ResolvedWorkload[], threads, heapSizesBytes, issues);
  if (issues.length > 0) throw new SpecError(label, issues);
  const json = JSON.stringify(data, null, 2);
  return {
    raw: spec,
    json,
    hash: specHash(spec, json, platforms),
    baseDir,
    allocators: allocators as AllocatorFactory[],
    crashAllocators: crashAllocators as AllocatorFactory[],
    idioms: spec.idioms,
    workloads: workloads as ResolvedWorkload[],
    platforms,
    threads,
    heapSizesBytes,
    dramSizeBytes: parseSizeBytes(spec.dramSize ?? '64MiB'),
    seeds: spec.seeds,
    persistency: spec.persistency ?? 'line',
    crash: spec.crash === undefined || spec.crash === 'off' ? null : spec.crash,
    metrics,
    charts: spec.charts ?? [],
    validation,
  };
}

/** Load the validation references named by the spec; a problem is an issue naming the field. */
function resolveValidation(spec: Spec, baseDir: string, issues: SpecIssue[]): ResolvedValidation | null {
  if (!spec.validation) return null;
  const load = <T>(field: string, what: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      issues.push({ path: `validation.${field}`, expected: `${what} (path relative to the spec)`, found: (e as Error).message });
      return undefined;
    }
  };
  (spec.charts ?? []).forEach((c, i) => {
    if (VALIDATION_CHARTS.includes(c.name)) issues.push({ path: `charts[${i}].name`, expected: `a name other than ${VALIDATION_CHARTS.join(' and ')} (the validation charts)`, found: describeFound(c.name) });
  });
  const { published: file, calibration } = spec.validation;
  const published = load('published', 'a published-data CSV as experiments/validation/README.md describes', () => loadPublished(resolvePath(baseDir, file)));
  const native = calibration === undefined ? [] : load('calibration', 'a calibration.json written by nvlab calibrate', () => loadCalibration(resolvePath(baseDir, calibration)));
  return published && native ? { publishedFile: file, published, native } : null;
}

/** sha256 of the spec text; with a preset file, of its resolved platforms too (a changed file changes the hash, so --resume refuses). */
function specHash(spec: Spec, json: string, platforms: readonly Platform[]): string {
  const usesFile = [spec.preset, ...(spec.platforms ?? []).map((p) => p.preset)].some((p) => p !== undefined && !isPresetName(p));
  return createHash('sha256').update(usesFile ? `${json}\n${JSON.stringify(platforms)}` : json).digest('hex');
}

/** A user module reference: a path rather than a registry name. */
export function isModulePath(ref: string): boolean {
  return ref.includes('/') || ref.includes('\\') || /\.(m?[jt]s)$/.test(ref);
}

/** Import a user module and return its default export. */
export async function importDefault(ref: string, baseDir: string): Promise<unknown> {
  const abs = resolvePath(baseDir, ref);
  try {
    const mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
    return mod.default;
  } catch (e) {
    throw new UserError(`cannot load module ${abs}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function isAllocatorFactory(v: unknown): v is AllocatorFactory {
  const f = v as AllocatorFactory;
  return !!f && typeof f.name === 'string' && typeof f.create === 'function' && Array.isArray(f.idioms) && typeof f.promisesNoLeak === 'function';
}

export function isWorkload(v: unknown): v is Workload<any> {
  const w = v as Workload<any>;
  return !!w && typeof w.name === 'string' && typeof w.generate === 'function' && typeof w.runOp === 'function' && typeof w.validate === 'function' && typeof w.setup === 'function';
}

/** Name checks on a spec that failed the shape check: only the parts that are well-formed. */
async function looseNameIssues(data: unknown, baseDir: string): Promise<SpecIssue[]> {
  const issues: SpecIssue[] = [];
  const d = (data ?? {}) as Record<string, unknown>;
  if (typeof d !== 'object') return issues;
  if (Array.isArray(d.allocators)) await resolveAllocators(d.allocators, baseDir, issues);
  if (Array.isArray(d.workloads)) {
    const entries = d.workloads.map((w) => (w && typeof w === 'object' && typeof (w as { name?: unknown }).name === 'string' ? (w as { name: string }) : undefined));
    await resolveWorkloads(entries, baseDir, issues);
  }
  if (Array.isArray(d.metrics) && d.metrics.every((m) => typeof m === 'string')) resolveMetrics({ metrics: d.metrics } as Spec, issues);
  if (Array.isArray(d.charts)) {
    d.charts.forEach((c, i) => {
      const metric = (c as { metric?: unknown } | null)?.metric;
      if (typeof metric === 'string' && !findMetric(metric)) issues.push({ path: `charts[${i}].metric`, expected: `a metric name (one of: ${METRICS.map((x) => x.name).join(', ')})`, found: describeFound(metric) });
    });
  }
  return issues;
}

async function resolveAllocators(refs: readonly unknown[], baseDir: string, issues: SpecIssue[], field = 'allocators'): Promise<(AllocatorFactory | undefined)[]> {
  const valid = ALLOCATORS.map((f) => f.name);
  const out: (AllocatorFactory | undefined)[] = [];
  for (const [i, ref] of refs.entries()) {
    if (typeof ref !== 'string') {
      out.push(undefined);
      continue;
    }
    const path = `${field}[${i}]`;
    if (isModulePath(ref)) {
      const f = await importOrIssue(ref, baseDir, path, issues);
      if (f !== undefined && !isAllocatorFactory(f)) issues.push({ path, expected: 'a module whose default export is an AllocatorFactory (name, idioms, promisesNoLeak, create)', found: describeFound(typeof f === 'object' ? Object.keys(f ?? {}) : f) });
      out.push(isAllocatorFactory(f) ? f : undefined);
      continue;
    }
    const f = findAllocator(ref);
    if (!f) issues.push({ path, expected: `an allocator name (one of: ${valid.join(', ') || 'none registered yet'}) or a module path`, found: describeFound(ref) });
    out.push(f);
  }
  return out;
}

type WorkloadEntry = { readonly name: string; readonly params?: Record<string, number | string | boolean>; readonly sweep?: Record<string, (number | string | boolean)[]>; readonly threads?: number[] };

async function resolveWorkloads(entries: readonly (WorkloadEntry | undefined)[], baseDir: string, issues: SpecIssue[]): Promise<(ResolvedWorkload | undefined)[]> {
  const valid = WORKLOADS.map((w) => w.name);
  const out: (ResolvedWorkload | undefined)[] = [];
  for (const [i, entry] of entries.entries()) {
    if (!entry) {
      out.push(undefined);
      continue;
    }
    const path = `workloads[${i}].name`;
    let w: Workload<any> | undefined;
    if (isModulePath(entry.name)) {
      const m = await importOrIssue(entry.name, baseDir, path, issues);
      if (m !== undefined && !isWorkload(m)) issues.push({ path, expected: 'a module whose default export is a Workload (name, validate, generate, setup, runOp)', found: describeFound(typeof m === 'object' ? Object.keys(m ?? {}) : m) });
      w = isWorkload(m) ? m : undefined;
    } else {
      w = findWorkload(entry.name);
      if (!w) issues.push({ path, expected: `a workload name (one of: ${valid.join(', ') || 'none registered yet'}) or a module path`, found: describeFound(entry.name) });
    }
    out.push(w && { ref: entry.name, workload: w, params: entry.params ?? {}, sweep: entry.sweep ?? {}, ...(entry.threads ? { threads: entry.threads } : {}) });
  }
  return out;
}

async function importOrIssue(ref: string, baseDir: string, path: string, issues: SpecIssue[]): Promise<unknown> {
  try {
    return await importDefault(ref, baseDir);
  } catch (e) {
    issues.push({ path, expected: 'a loadable module path (relative to the spec file)', found: `${describeFound(ref)} (${(e as Error).message})` });
    return undefined;
  }
}

type PlatformEntry = { readonly name: string; readonly preset: string; readonly cost?: Record<string, number> };

/** A platform whose preset names a preset file: the file's base preset, its cost overrides under the spec's. */
function presetFromFile(entry: PlatformEntry, baseDir: string, topLevel: boolean, where: string, issues: SpecIssue[]): PlatformEntry | undefined {
  if (isPresetName(entry.preset)) return entry;
  const read = readPresetFile(resolvePath(baseDir, entry.preset));
  if (!read.ok) {
    issues.push({ path: where ? `${where}.preset` : 'preset', expected: 'a readable preset file written by nvlab calibrate (path relative to the spec)', found: read.error });
    return undefined;
  }
  return { name: topLevel ? read.value.name : entry.name, preset: read.value.preset, cost: { ...read.value.cost, ...(entry.cost ?? {}) } };
}

function resolvePlatforms(spec: Spec, baseDir: string, issues: SpecIssue[]): Platform[] {
  if (spec.platforms && (spec.preset !== undefined || spec.cost !== undefined)) {
    issues.push({ path: 'platforms', expected: 'either "platforms" or "preset"/"cost", not both', found: 'both' });
  }
  const entries = spec.platforms ?? [{ name: spec.preset ?? 'optane-adr', preset: spec.preset ?? 'optane-adr', cost: spec.cost }];
  const names = new Set<string>();
  const out: Platform[] = [];
  for (const [i, entry] of entries.entries()) {
    const where = spec.platforms ? `platforms[${i}]` : '';
    const p = presetFromFile(entry, baseDir, !spec.platforms, where, issues);
    if (!p) continue;
    if (names.has(p.name)) issues.push({ path: `${where}.name`, expected: 'a unique platform name', found: describeFound(p.name) });
    names.add(p.name);
    try {
      out.push({ name: p.name, cost: makeCostModel(p.preset as PresetName, (p.cost ?? {}) as CostOverrides) });
    } catch (e) {
      issues.push({ path: where ? `${where}.cost` : 'cost', expected: 'cost-model overrides naming known fields with non-negative integers', found: (e as Error).message });
    }
  }
  return out;
}

/** Metrics in the report's tables when the spec names none (results.csv always has all). */
const DEFAULT_REPORT_METRICS = ['cyclesPerOp', 'opsPerSimSec', 'flushesPerOp', 'fencesPerOp', 'logEntriesPerOp', 'nvmBytesWrittenPerOp', 'heapPeakBytes', 'recoveryCycles', 'restartCycles', 'liveObjects'];

function resolveMetrics(spec: Spec, issues: SpecIssue[]): Metric[] {
  if (!spec.metrics) return METRICS.filter((m) => DEFAULT_REPORT_METRICS.includes(m.name));
  const out: Metric[] = [];
  spec.metrics.forEach((name, i) => {
    const m = findMetric(name);
    if (m) out.push(m);
    else issues.push({ path: `metrics[${i}]`, expected: `a metric name (one of: ${METRICS.map((x) => x.name).join(', ')})`, found: describeFound(name) });
  });
  return out;
}

function checkCharts(spec: Spec, issues: SpecIssue[]): void {
  const names = new Set<string>();
  (spec.charts ?? []).forEach((c, i) => {
    if (!findMetric(c.metric)) issues.push({ path: `charts[${i}].metric`, expected: `a metric name (one of: ${METRICS.map((x) => x.name).join(', ')})`, found: describeFound(c.metric) });
    if (names.has(c.name)) issues.push({ path: `charts[${i}].name`, expected: 'a unique chart name', found: describeFound(c.name) });
    names.add(c.name);
  });
  (spec.headline ?? []).forEach((h, i) => {
    if (!findMetric(h.metric)) issues.push({ path: `headline[${i}].metric`, expected: 'a metric name', found: describeFound(h.metric) });
  });
}

function checkCrash(spec: Spec, workloads: readonly (ResolvedWorkload | undefined)[], issues: SpecIssue[]): void {
  if (!spec.crash || spec.crash === 'off') return;
  const refs = spec.workloads.map((w) => w.name);
  (spec.crash.workloads ?? []).forEach((name, i) => {
    if (!refs.includes(name)) issues.push({ path: `crash.workloads[${i}]`, expected: `one of the spec's workloads (${refs.join(', ')})`, found: describeFound(name) });
  });
  if (spec.crash.modes.includes('k-subsets') && spec.crash.k === undefined) {
    issues.push({ path: 'crash.k', expected: 'a bound k (1..3) because "k-subsets" is among the modes', found: 'nothing (field missing)' });
  }
  void workloads;
}

function checkIdioms(spec: Spec, allocators: readonly (AllocatorFactory | undefined)[], issues: SpecIssue[]): void {
  if (!spec.idioms) return;
  allocators.forEach((f, i) => {
    if (f && !f.idioms.some((x) => spec.idioms!.includes(x))) {
      issues.push({ path: `allocators[${i}]`, expected: `an allocator supporting one of the spec's idioms (${spec.idioms!.join(', ')})`, found: `${f.name} (supports ${f.idioms.join(', ')})` });
    }
  });
}

/** Every combination of swept parameter values, in key then value order. */
export function sweepCombos(w: ResolvedWorkload): Record<string, number | string | boolean>[] {
  let combos: Record<string, number | string | boolean>[] = [{}];
  for (const key of Object.keys(w.sweep)) {
    combos = combos.flatMap((c) => w.sweep[key].map((v) => ({ ...c, [key]: v })));
  }
  return combos;
}

function checkParams(workloads: readonly ResolvedWorkload[], threads: readonly number[], heaps: readonly number[], issues: SpecIssue[]): void {
  const seen = new Set<string>();
  workloads.forEach((w, i) => {
    for (const combo of sweepCombos(w)) {
      for (const t of w.threads ?? threads) {
        for (const h of heaps) {
          try {
            w.workload.validate({ ...w.params, ...combo }, t, h);
          } catch (e) {
            const issue = paramIssue(e, i, w, t, h);
            if (!seen.has(issue.path + issue.expected)) issues.push(issue);
            seen.add(issue.path + issue.expected);
          }
        }
      }
    }
  });
}

function paramIssue(e: unknown, i: number, w: ResolvedWorkload, threads: number, heap: number): SpecIssue {
  const where = ` (with ${threads} thread${threads === 1 ? '' : 's'}, heap ${heap} B)`;
  if (e instanceof WorkloadParamError) {
    const inSweep = e.param in w.sweep;
    return { path: `workloads[${i}].${inSweep ? 'sweep' : 'params'}.${e.param}`, expected: e.expected + where, found: describeFound(e.found) };
  }
  return { path: `workloads[${i}].params`, expected: `parameters ${w.workload.name} accepts${where}`, found: (e as Error).message };
}
