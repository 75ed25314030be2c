/**
 * Model vs reality: simulated time ratios between allocators set beside measured ones.
 *
 * Model: for every benchmark configuration (workload, params, platform, heap) and
 * thread count, the simulated time per unit of work of an allocator is its mean
 * cyclesPerOp over seeds (the ops of a configuration are the same for every allocator,
 * so this is the makespan ratio). A published figure is the mean over its trials, as
 * the paper plots it: execution time for fixed-work benchmarks, throughput for larson
 * (a fixed-time benchmark), whose time per op is 1 / mean throughput. Ratios are
 * oriented as time(a) / time(b) on both sides, so above 1 means a is slower.
 *
 * Compared pairs (simulated allocator names -> published names): makalu/ralloc,
 * pmdk/makalu, and transient/ralloc against jemalloc/ralloc (transient is the
 * jemalloc-like volatile reference). The error factor of a row is max(sim/ref,
 * ref/sim) >= 1; a row is "within 2x" when it is at most 2. The ordering checked is
 * Ralloc ≈ jemalloc < Makalu < PMDK, "≈" meaning within APPROX_FACTOR of each other
 * and "<" strictly faster.
 *
 * Optional native references come from a calibration.json (`nvlab calibrate`); its
 * format is read by parseCalibration alone.
 *
 * Invariants: every figure is an exact BigInt fraction (reports/number.ts); text has
 * fixed decimals, so the CSV and the report are byte-identical for the same inputs.
 * Nothing here is fitted: the references are only compared against.
 */
import { readFileSync } from 'node:fs';
import { toCsv, type Cell } from '../reports/csv.ts';
import type { ChartInput, ChartPoint } from '../reports/charts.ts';
import type { ReportSection, Table } from '../reports/html.ts';
import { compareRatio, formatRatio, ratio, summarize, type Ratio } from '../reports/number.ts';
import { UserError } from './errors.ts';
import type { RunRecord } from './record.ts';

// ---------------------------------------------------------------------------------
// Published data: CSV parsing

export type PublishedMetric = 'execTime' | 'throughput';
const METRIC_UNITS: Record<PublishedMetric, string> = { execTime: 's', throughput: 'ops/s' };

export interface PublishedRow {
  readonly source: string;
  readonly benchmark: string;
  readonly allocator: string;
  readonly threads: number;
  readonly metric: PublishedMetric;
  readonly value: Ratio;
  readonly unit: string;
  readonly citation: string;
}

export const PUBLISHED_COLUMNS = ['source', 'benchmark', 'allocator', 'threads', 'metric', 'value', 'unit', 'citation'] as const;

/** A mistake in a published-data or calibration file: names the file, line and column. */
export class ValidationDataError extends UserError {
  override name = 'ValidationDataError';
}

/** Exact value of a decimal literal (`12`, `-0.5`, `3.25e-7`); null when it is not one. */
export function parseDecimal(text: string): Ratio | null {
  const m = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) return null;
  const frac = m[3] ?? '';
  const exp = Number(m[4] ?? '0') - frac.length;
  if (Math.abs(exp) > 300) return null;
  let num = BigInt(m[2] + frac);
  if (m[1] === '-') num = -num;
  return exp >= 0 ? ratio(num * 10n ** BigInt(exp)) : ratio(num, 10n ** BigInt(-exp));
}

/** Cells of one CSV line: commas separate, double quotes enclose ("" is a quote). */
export function splitCsvLine(line: string): string[] | null {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  if (quoted) return null;
  cells.push(cell);
  return cells;
}

/**
 * Parse published reference data (see experiments/validation/README.md): a header naming
 * at least PUBLISHED_COLUMNS (any order; other columns such as `trial` are ignored),
 * then one row per measurement. Throws ValidationDataError naming file, line and column.
 */
export function parsePublishedCsv(text: string, file: string): PublishedRow[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '') ?? [];
  const missing = PUBLISHED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new ValidationDataError(`${file}:1: header: expected columns ${PUBLISHED_COLUMNS.join(', ')}, missing ${missing.join(', ')}`);
  const col = Object.fromEntries(PUBLISHED_COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<(typeof PUBLISHED_COLUMNS)[number], number>;
  const rows: PublishedRow[] = [];
  lines.forEach((line, i) => {
    if (i === 0 || line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    const cells = splitCsvLine(line);
    if (cells === null) throw new ValidationDataError(`${where}: expected a closing double quote, found the end of the line`);
    if (cells.length !== header.length) throw new ValidationDataError(`${where}: expected ${header.length} cells (as the header), found ${cells.length}`);
    const get = (c: (typeof PUBLISHED_COLUMNS)[number]) => cells[col[c]].trim();
    for (const c of ['source', 'benchmark', 'allocator', 'citation'] as const) {
      if (get(c) === '') throw new ValidationDataError(`${where}: column ${c}: expected a non-empty text, found an empty cell`);
    }
    const threads = Number(get('threads'));
    if (!/^\d+$/.test(get('threads')) || threads < 1) throw new ValidationDataError(`${where}: column threads: expected a positive integer, found "${get('threads')}"`);
    const metric = get('metric');
    if (metric !== 'execTime' && metric !== 'throughput') throw new ValidationDataError(`${where}: column metric: expected execTime or throughput, found "${metric}"`);
    const unit = get('unit');
    if (unit !== METRIC_UNITS[metric]) throw new ValidationDataError(`${where}: column unit: expected ${METRIC_UNITS[metric]} for ${metric}, found "${unit}"`);
    const value = parseDecimal(get('value'));
    if (value === null || value.num <= 0n) throw new ValidationDataError(`${where}: column value: expected a positive decimal number, found "${get('value')}"`);
    rows.push({ source: get('source'), benchmark: get('benchmark'), allocator: get('allocator'), threads, metric, value, unit, citation: get('citation') });
  });
  if (rows.length === 0) throw new ValidationDataError(`${file}: expected at least one data row, found none`);
  return rows;
}

/** Read and parse a published-data file. */
export function loadPublished(file: string): PublishedRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ValidationDataError(`cannot read published data ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parsePublishedCsv(text, file);
}

// ---------------------------------------------------------------------------------
// Native references (calibration.json): the one place that knows its format

export interface NativeReference {
  /** Simulated allocators (a, b) of the ratio time(a) / time(b). */
  readonly sim: readonly [string, string];
  /** The native libraries measured, as "a/b". */
  readonly label: string;
  readonly ratio: Ratio;
  readonly source: string;
}

/** Native library -> the simulated allocator modelled on it. */
const NATIVE_PAIRS: readonly { readonly sim: readonly [string, string]; readonly native: readonly [string, string] }[] = [
  { sim: ['pmdk', 'transient'], native: ['libpmemobj', 'glibc'] },
  { sim: ['pmdk', 'transient'], native: ['libpmemobj', 'jemalloc'] },
];

/**
 * Native single-thread references from a calibration.json. Expected shape (the format
 * of `nvlab calibrate` is not fixed yet; adapt here only):
 *   { "host"?: string, "allocFreePairNs": { "glibc"?: n, "jemalloc"?: n, "libpmemobj"?: n } }
 * with nanoseconds per 64 B malloc+free pair. Gives one reference per pair of
 * NATIVE_PAIRS whose two libraries were measured.
 */
export function parseCalibration(data: unknown, file: string): NativeReference[] {
  const d = data as { host?: unknown; allocFreePairNs?: unknown } | null;
  if (!d || typeof d !== 'object' || !d.allocFreePairNs || typeof d.allocFreePairNs !== 'object') {
    throw new ValidationDataError(`${file}: allocFreePairNs: expected an object of nanoseconds per 64 B alloc+free pair by library (glibc, jemalloc, libpmemobj), found ${JSON.stringify(d?.allocFreePairNs ?? null)}`);
  }
  const ns = d.allocFreePairNs as Record<string, unknown>;
  const value = (lib: string): Ratio | undefined => {
    if (ns[lib] === undefined) return undefined;
    const v = typeof ns[lib] === 'number' ? parseDecimal(String(ns[lib])) : null;
    if (v === null || v.num <= 0n) throw new ValidationDataError(`${file}: allocFreePairNs.${lib}: expected a positive number of nanoseconds, found ${JSON.stringify(ns[lib])}`);
    return v;
  };
  const host = typeof d.host === 'string' ? `, host ${d.host}` : '';
  const out: NativeReference[] = [];
  for (const p of NATIVE_PAIRS) {
    const a = value(p.native[0]);
    const b = value(p.native[1]);
    if (a && b) out.push({ sim: p.sim, label: `${p.native[0]}/${p.native[1]}`, ratio: divide(a, b), source: `calibrate: 64 B alloc+free pair, 1 thread${host} (${file.split('/').pop()})` });
  }
  return out;
}

export function loadCalibration(file: string): NativeReference[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidationDataError(`cannot read calibration ${file}: ${code ?? (e as Error).message}`);
  }
  return parseCalibration(data, file);
}

// ---------------------------------------------------------------------------------
// Ratios and errors

export interface Pair {
  /** Simulated allocators (a, b) of time(a) / time(b). */
  readonly sim: readonly [string, string];
  /** The published allocators they stand for. */
  readonly published: readonly [string, string];
}

export const PAIRS: readonly Pair[] = [
  { sim: ['makalu', 'ralloc'], published: ['makalu', 'ralloc'] },
  { sim: ['pmdk', 'makalu'], published: ['pmdk', 'makalu'] },
  { sim: ['transient', 'ralloc'], published: ['jemalloc', 'ralloc'] },
];

/** "Ralloc ≈ jemalloc": the two within this factor of each other. */
export const APPROX_FACTOR = ratio(3, 2);
/** A row is a match when its error factor is at most this. */
export const MATCH_FACTOR = ratio(2);

export interface ValidationRow {
  readonly benchmark: string;
  readonly params: string;
  readonly preset: string;
  readonly threads: number;
  /** "a/b" of the simulated allocators. */
  readonly pair: string;
  readonly simRatio: Ratio | null;
  /** Where the reference comes from: a published source name, or "native". */
  readonly reference: string;
  /** "a/b" of the measured allocators. */
  readonly referencePair: string;
  readonly referenceRatio: Ratio | null;
  readonly errorFactor: Ratio | null;
  readonly citation: string;
}

export interface OrderingRow {
  readonly benchmark: string;
  readonly params: string;
  readonly preset: string;
  readonly threads: number;
  /** "name time/ralloc" ascending, or null when an allocator is missing. */
  readonly sim: string | null;
  readonly simHolds: boolean | null;
  readonly published: string | null;
  readonly publishedHolds: boolean | null;
}

export interface Validation {
  readonly rows: readonly ValidationRow[];
  readonly orderings: readonly OrderingRow[];
  /** Distinct citations of the published rows used, in order of first use. */
  readonly citations: readonly string[];
  /** Distinct sources of the published data, in file order. */
  readonly sources: readonly string[];
}

/** Full references of the published sources nvlab ships (experiments/validation/README.md). */
export const SOURCE_CITATIONS: Readonly<Record<string, string>> = {
  'ralloc-ismm2020': 'Wentao Cai, Haosen Wen, H. Alan Beadle, Chris Kjellqvist, Mohammad Hedayati, Michael L. Scott, Understanding and Improving Persistent Memory Allocation, ISMM 2020, raw data in the authors\' repository urcs-sync/ralloc',
};

function divide(a: Ratio, b: Ratio): Ratio {
  return ratio(a.num * b.den, a.den * b.num);
}

/** max(a/b, b/a) for positive a, b. */
export function errorFactor(sim: Ratio, ref: Ratio): Ratio {
  const q = divide(sim, ref);
  return compareRatio(q, ratio(1)) >= 0 ? q : divide(ref, sim);
}

/** Published time per unit of work of each (source, benchmark, allocator, threads): mean over trials. */
export function publishedTimes(rows: readonly PublishedRow[]): Map<string, { time: Ratio; source: string; citations: string[] }> {
  const groups = new Map<string, PublishedRow[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.benchmark, r.allocator, r.threads]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out = new Map<string, { time: Ratio; source: string; citations: string[] }>();
  for (const [key, rs] of groups) {
    const mean = summarize(rs.map((r) => r.value)).mean;
    const time = rs[0].metric === 'throughput' ? ratio(mean.den, mean.num) : mean;
    out.set(key, { time, source: rs[0].source, citations: [...new Set(rs.map((r) => r.citation))] });
  }
  return out;
}

interface SimConfig {
  readonly benchmark: string;
  readonly params: string;
  readonly preset: string;
  readonly heapSizeBytes: number;
  readonly threads: number;
  /** Mean cycles per op over seeds, by allocator (its first idiom in record order). */
  readonly times: Map<string, Ratio>;
}

/** Simulated configurations in the order of their first run. */
export function simConfigs(records: readonly RunRecord[]): SimConfig[] {
  const configs = new Map<string, { c: Omit<SimConfig, 'times'>; runs: Map<string, { idiom: string; values: Ratio[] }> }>();
  for (const r of records) {
    if (r.ops === 0) continue;
    const key = JSON.stringify([r.workload, r.params, r.preset, r.heapSizeBytes, r.threads]);
    let g = configs.get(key);
    if (!g) configs.set(key, (g = { c: { benchmark: r.workload, params: r.params, preset: r.preset, heapSizeBytes: r.heapSizeBytes, threads: r.threads }, runs: new Map() }));
    const a = g.runs.get(r.allocator);
    if (!a) g.runs.set(r.allocator, { idiom: r.idiom, values: [ratio(r.cycles, r.ops)] });
    else if (a.idiom === r.idiom) a.values.push(ratio(r.cycles, r.ops));
  }
  return [...configs.values()].map(({ c, runs }) => ({ ...c, times: new Map([...runs].map(([a, v]) => [a, summarize(v.values).mean])) }));
}

function pairRatio(times: ReadonlyMap<string, Ratio>, a: string, b: string): Ratio | null {
  const ta = times.get(a);
  const tb = times.get(b);
  return ta && tb && tb.num > 0n && ta.num > 0n ? divide(ta, tb) : null;
}

/** Ascending "name t/t(ralloc)" text and whether Ralloc ≈ jemalloc < Makalu < PMDK holds. */
export function ordering(times: ReadonlyMap<string, Ratio>, names: { ralloc: string; jemalloc: string; makalu: string; pmdk: string }): { text: string; holds: boolean } | null {
  const t = { ralloc: times.get(names.ralloc), jemalloc: times.get(names.jemalloc), makalu: times.get(names.makalu), pmdk: times.get(names.pmdk) };
  if (!t.ralloc || !t.jemalloc || !t.makalu || !t.pmdk || t.ralloc.num <= 0n || t.jemalloc.num <= 0n) return null;
  const r = t.ralloc;
  const entries = (['ralloc', 'jemalloc', 'makalu', 'pmdk'] as const).map((k) => ({ name: names[k], time: t[k]! }));
  entries.sort((x, y) => compareRatio(x.time, y.time));
  const text = entries.map((e) => `${e.name} ${formatRatio(divide(e.time, r), 2)}`).join(' < ');
  const slowerOfTwo = compareRatio(t.ralloc, t.jemalloc) >= 0 ? t.ralloc : t.jemalloc;
  const approx = compareRatio(errorFactor(t.ralloc, t.jemalloc), APPROX_FACTOR) <= 0;
  const holds = approx && compareRatio(slowerOfTwo, t.makalu) < 0 && compareRatio(t.makalu, t.pmdk) < 0;
  return { text, holds };
}

/**
 * Every simulated configuration and thread count against the published rows of the
 * same benchmark and thread count (reference cells empty where none was published)
 * and, at 1 thread, against the native references.
 */
export function validate(records: readonly RunRecord[], published: readonly PublishedRow[], native: readonly NativeReference[] = []): Validation {
  const pub = publishedTimes(published);
  const rows: ValidationRow[] = [];
  const orderings: OrderingRow[] = [];
  const citations: string[] = [];
  const sources = [...new Set(published.map((r) => r.source))];
  for (const c of simConfigs(records)) {
    const pubTimes = new Map<string, Ratio>();
    for (const p of PAIRS) {
      const simRatio = pairRatio(c.times, p.sim[0], p.sim[1]);
      const refs = p.published.map((a) => pub.get(JSON.stringify([c.benchmark, a, c.threads])));
      p.published.forEach((a, i) => refs[i] && pubTimes.set(a, refs[i].time));
      const referenceRatio = refs[0] && refs[1] ? divide(refs[0].time, refs[1].time) : null;
      const cites = refs[0] && refs[1] ? [...refs[0].citations, ...refs[1].citations] : [];
      for (const x of cites) if (!citations.includes(x)) citations.push(x);
      rows.push({
        benchmark: c.benchmark, params: c.params, preset: c.preset, threads: c.threads,
        pair: p.sim.join('/'), simRatio,
        reference: refs[0]?.source ?? refs[1]?.source ?? sources.join(' '), referencePair: p.published.join('/'), referenceRatio,
        errorFactor: simRatio && referenceRatio ? errorFactor(simRatio, referenceRatio) : null,
        citation: cites.join(' '),
      });
    }
    if (c.threads === 1) {
      for (const n of native) {
        const simRatio = pairRatio(c.times, n.sim[0], n.sim[1]);
        rows.push({
          benchmark: c.benchmark, params: c.params, preset: c.preset, threads: c.threads, pair: n.sim.join('/'), simRatio,
          reference: 'native', referencePair: n.label, referenceRatio: n.ratio, errorFactor: simRatio ? errorFactor(simRatio, n.ratio) : null, citation: n.source,
        });
      }
    }
    const sim = ordering(c.times, { ralloc: 'ralloc', jemalloc: 'transient', makalu: 'makalu', pmdk: 'pmdk' });
    const real = ordering(pubTimes, { ralloc: 'ralloc', jemalloc: 'jemalloc', makalu: 'makalu', pmdk: 'pmdk' });
    orderings.push({ benchmark: c.benchmark, params: c.params, preset: c.preset, threads: c.threads, sim: sim?.text ?? null, simHolds: sim?.holds ?? null, published: real?.text ?? null, publishedHolds: real?.holds ?? null });
  }
  return { rows, orderings, citations, sources };
}

export function withinMatch(row: ValidationRow): boolean | null {
  return row.errorFactor === null ? null : compareRatio(row.errorFactor, MATCH_FACTOR) <= 0;
}

// ---------------------------------------------------------------------------------
// Outputs: validation.csv, the report section, the charts

const fmt = (r: Ratio | null, decimals = 2): string => (r === null ? '' : formatRatio(r, decimals));

export const VALIDATION_COLUMNS = ['experiment', 'benchmark', 'params', 'preset', 'threads', 'pair', 'simRatio', 'reference', 'referencePair', 'referenceRatio', 'errorFactor', 'within2x', 'citation'] as const;

/** validation.csv: one row per compared ratio; ratios are time(a)/time(b) with 4 decimals. */
export function validationCsv(experiment: string, v: Validation): string {
  const rows: Record<string, Cell>[] = v.rows.map((r) => {
    const m = withinMatch(r);
    return {
      experiment, benchmark: r.benchmark, params: r.params, preset: r.preset, threads: r.threads, pair: r.pair,
      simRatio: fmt(r.simRatio, 4), reference: r.reference, referencePair: r.referencePair, referenceRatio: fmt(r.referenceRatio, 4),
      errorFactor: fmt(r.errorFactor, 4), within2x: m === null ? '' : m ? 'yes' : 'no', citation: r.citation,
    };
  });
  return toCsv(VALIDATION_COLUMNS, rows);
}

/** Per thread count: how many compared ratios are within 2x, and where the ordering holds. */
function summaryTable(v: Validation): Table {
  const threads = [...new Set(v.rows.map((r) => r.threads))].sort((a, b) => a - b);
  const count = (rows: readonly ValidationRow[]) => {
    const compared = rows.filter((r) => r.errorFactor !== null);
    return compared.length === 0 ? '' : `${compared.filter((r) => withinMatch(r)).length} / ${compared.length}`;
  };
  const holds = (os: readonly OrderingRow[], k: 'simHolds' | 'publishedHolds') => {
    const known = os.filter((o) => o[k] !== null);
    return known.length === 0 ? '' : `${known.filter((o) => o[k]).length} / ${known.length}`;
  };
  const rows: string[][] = [];
  const classes: (string | undefined)[] = [];
  for (const t of threads) {
    const rs = v.rows.filter((r) => r.threads === t && r.reference !== 'native');
    const core = rs.filter((r) => r.pair === 'makalu/ralloc' || r.pair === 'pmdk/makalu');
    const os = v.orderings.filter((o) => o.threads === t);
    rows.push([String(t), count(rs), count(core), holds(os, 'simHolds'), holds(os, 'publishedHolds')]);
    const compared = rs.filter((r) => r.errorFactor !== null);
    classes.push(compared.length === 0 ? undefined : compared.every((r) => withinMatch(r)) ? 'good' : compared.some((r) => withinMatch(r)) ? 'warn' : 'bad');
  }
  return {
    title: 'Agreement per thread count',
    note: 'Ratios within 2x of the published one (error factor at most 2), over all compared pairs and over makalu/ralloc and pmdk/makalu alone; and the benchmarks on which the ordering Ralloc ≈ jemalloc < Makalu < PMDK holds (≈: within 1.5x) in the simulation and in the published data.',
    columns: [{ name: 'threads', numeric: true }, { name: 'within 2x (all pairs)', numeric: true }, { name: 'within 2x (makalu/ralloc, pmdk/makalu)', numeric: true }, { name: 'ordering holds (sim)', numeric: true }, { name: 'ordering holds (published)', numeric: true }],
    rows,
    rowClasses: classes,
  };
}

function aliasNote(pairs: readonly { pair: string; referencePair: string }[]): string {
  const aliases = pairs.filter((p) => p.pair !== p.referencePair);
  return aliases.length === 0 ? '' : ` ${aliases.map((p) => `${p.pair} is compared with the published ${p.referencePair}`).join('; ')}.`;
}

/** One row per configuration and thread count, three columns (sim, measured, error) per pair. */
function ratioTable(v: Validation, reference: 'published' | 'native'): Table | null {
  const rows = v.rows.filter((r) => (r.reference === 'native') === (reference === 'native'));
  if (rows.length === 0) return null;
  const multi = new Set(rows.map((r) => JSON.stringify([r.params, r.preset]))).size > 1;
  const pairs = [...new Map(rows.map((r) => [`${r.pair} ${r.referencePair}`, r])).values()].map((r) => ({ pair: r.pair, referencePair: r.referencePair }));
  const groups = new Map<string, ValidationRow[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.benchmark, r.params, r.preset, r.threads]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: string[][] = [];
  const classes: (string | undefined)[] = [];
  for (const g of groups.values()) {
    const r0 = g[0];
    const cells = pairs.flatMap((p) => {
      const r = g.find((x) => x.pair === p.pair && x.referencePair === p.referencePair);
      return r ? [fmt(r.simRatio), fmt(r.referenceRatio), r.errorFactor === null ? '' : `${fmt(r.errorFactor)}×`] : ['', '', ''];
    });
    const compared = g.filter((r) => r.errorFactor !== null);
    const matched = compared.filter((r) => withinMatch(r)).length;
    out.push([r0.benchmark, ...(multi ? [r0.params, r0.preset] : []), String(r0.threads), ...cells, compared.length === 0 ? '' : `${matched} / ${compared.length}`]);
    classes.push(compared.length === 0 ? undefined : matched === compared.length ? 'good' : matched > 0 ? 'warn' : 'bad');
  }
  const title = reference === 'native' ? 'Time ratios: simulated against this host\'s native measurements (1 thread)' : 'Time ratios: simulated against published';
  return {
    title,
    note: 'time(a) / time(b): above 1 means a is slower. Simulated: mean cycles per op over seeds. ' +
      (reference === 'native' ? 'Native: nanoseconds per 64 B alloc+free pair from calibration.json, set beside each benchmark at 1 thread.' : `Published (pub.): mean over the trials of execution time (larson: of throughput, inverted); empty cells: nothing published at that thread count.${aliasNote(pairs)}`) +
      ' Error factor max(sim/ref, ref/sim); rows are green when every ratio is within 2x, yellow when some are, red when none is.',
    columns: [
      { name: 'benchmark' }, ...(multi ? [{ name: 'params' }, { name: 'platform' }] : []), { name: 'threads', numeric: true },
      ...pairs.flatMap((p) => [
        { name: `${p.pair} sim`, title: `simulated time(${p.pair.replace('/', ') / time(')})`, numeric: true },
        { name: reference === 'native' ? p.referencePair : 'pub.', title: `measured time(${p.referencePair.replace('/', ') / time(')})`, numeric: true },
        { name: 'error', title: 'max(sim/measured, measured/sim)', numeric: true },
      ]),
      { name: '≤ 2x', title: 'ratios of the row within 2x', numeric: true },
    ],
    rows: out,
    rowClasses: classes,
  };
}

function orderingTable(v: Validation): Table {
  return {
    title: 'Ordering: Ralloc ≈ jemalloc < Makalu < PMDK',
    note: 'Each allocator\'s time relative to Ralloc, fastest first (transient stands for jemalloc in the simulation). "holds" needs Ralloc and jemalloc within 1.5x of each other, both faster than Makalu, and Makalu faster than PMDK.',
    columns: [{ name: 'benchmark' }, { name: 'threads', numeric: true }, { name: 'simulated (time / ralloc)' }, { name: 'sim holds' }, { name: 'published (time / ralloc)' }, { name: 'published holds' }],
    rows: v.orderings.map((o) => [o.benchmark, String(o.threads), o.sim ?? '', yesNo(o.simHolds), o.published ?? '', yesNo(o.publishedHolds)]),
    rowClasses: v.orderings.map((o) => (o.simHolds === null || o.publishedHolds === null ? undefined : o.simHolds === o.publishedHolds ? 'good' : 'bad')),
  };
}

function yesNo(b: boolean | null): string {
  return b === null ? '' : b ? 'yes' : 'no';
}

/** The report's "Model vs reality" section (charts rendered by the caller). */
export function validationSection(v: Validation, charts: ReportSection['charts'], publishedFile: string): ReportSection {
  const compared = v.rows.filter((r) => r.errorFactor !== null);
  const worst = compared.reduce<ValidationRow | null>((w, r) => (w === null || compareRatio(r.errorFactor!, w.errorFactor!) > 0 ? r : w), null);
  const paragraphs = [
    `Simulated time ratios between allocators beside the measured ones. The measurements are validation only: no cost parameter was fitted to them. ${compared.filter((r) => withinMatch(r)).length} of ${compared.length} compared ratios are within 2x.` +
      (worst ? ` The largest error is ${fmt(worst.errorFactor)}× (${worst.pair} on ${worst.benchmark} at ${worst.threads} thread${worst.threads === 1 ? '' : 's'}: simulated ${fmt(worst.simRatio)}, measured ${fmt(worst.referenceRatio)}).` : ''),
    `Published data: ${publishedFile}${v.sources.map((s) => (SOURCE_CITATIONS[s] ? `; ${s}: ${SOURCE_CITATIONS[s]}` : `; ${s}`)).join('')}. Files: ${citationSummary(v.citations)} (each row's files are in validation.csv).`,
  ];
  const tables = [summaryTable(v), ratioTable(v, 'published'), orderingTable(v), ratioTable(v, 'native')].filter((t): t is Table => t !== null);
  return { title: 'Model vs reality', paragraphs, tables, charts };
}

/** "repo@commit:dir/file" citations grouped as "repo@commit: dir/*, dir/*" (other citations as they are). */
export function citationSummary(citations: readonly string[]): string {
  if (citations.length === 0) return 'none matched';
  const groups = new Map<string, string[]>();
  for (const c of citations) {
    const m = /^([^:\s]+@[0-9a-f]+):(.+)\/[^/]+$/.exec(c);
    const [key, dir] = m ? [m[1], `${m[2]}/*`] : [c, ''];
    const dirs = groups.get(key) ?? [];
    if (dir !== '' && !dirs.includes(dir)) dirs.push(dir);
    groups.set(key, dirs);
  }
  return [...groups].map(([k, dirs]) => (dirs.length > 0 ? `${k}: ${dirs.join(', ')}` : k)).join('; ');
}

function point(x: number, series: string, facet: string, r: Ratio, dash?: string): ChartPoint {
  const mean = Number(formatRatio(r, 4));
  return { x, series, facet, mean, min: mean, max: mean, n: 1, ...(dash !== undefined ? { dash } : {}) };
}

/** "transient/ralloc" standing for "jemalloc/ralloc" -> "transient (jemalloc)/ralloc". */
export function pairAlias(pair: string, referencePair: string): string {
  const a = pair.split('/');
  const b = referencePair.split('/');
  return a.map((x, i) => (x === b[i] ? x : `${x} (${b[i]})`)).join('/');
}

/** Chart: published (solid) and simulated (dashed) ratio per pair against threads, one panel per benchmark (log scale). */
export function ratioChartInput(v: Validation): ChartInput {
  const points: ChartPoint[] = [];
  for (const r of v.rows) {
    if (r.reference === 'native') continue;
    const series = r.pair === r.referencePair ? r.pair : pairAlias(r.pair, r.referencePair);
    if (r.simRatio) points.push(point(r.threads, series, r.benchmark, r.simRatio, 'simulated'));
    if (r.referenceRatio) points.push(point(r.threads, series, r.benchmark, r.referenceRatio, 'published'));
  }
  return {
    title: 'Time ratios: simulated and published', subtitle: 'time(a) / time(b), above 1: a slower; published solid, simulated dashed', xTitle: 'Threads', xType: 'ordinal', yTitle: 'Time ratio (x)',
    seriesTitle: 'Ratio', facetTitle: 'Benchmark', logY: true, errorBars: 'none', dashTitle: 'Source', points,
  };
}

/** File stems of the validation charts (charts/<name>.svg); spec charts may not use them. */
export const VALIDATION_CHARTS: readonly string[] = ['validation-ratios', 'validation-error'];

/** Chart: error factor per thread count and pair, one panel per benchmark (log scale). */
export function errorChartInput(v: Validation): ChartInput {
  const points = v.rows.filter((r) => r.errorFactor !== null && r.reference !== 'native').map((r) => point(r.threads, r.pair, r.benchmark, r.errorFactor!));
  return {
    title: 'Error factor of the simulated ratios', subtitle: 'max(sim/published, published/sim); 1 is exact, 2 the match bound', xTitle: 'Threads', xType: 'ordinal', yTitle: 'Error factor (x)',
    seriesTitle: 'Simulated pair', facetTitle: 'Benchmark', logY: true, errorBars: 'none', points,
  };
}
