/**
 * Records -> the CSV files' rows.
 *
 * Model: results.csv has the key columns then one column per metric of the catalog
 * (fixed decimals from the metric's metadata); summary.csv has one row per
 * configuration (every key column but run and seed) and metric: the number of seeds with
 * a value, their exact mean, sample standard deviation, 95 % confidence half-width of the
 * mean (Student t), min and max, configurations in the order of their first run and
 * metrics in catalog order; crash.csv has one row per listed crash state (the invalid
 * and unknown ones, or every one with the 'all' listing), in the order of the crash
 * jobs, each job's rows in the crash module's order; crash-summary.csv has one row per
 * crash job and crash point where states were checked, and one per run of consecutive
 * points owning distinct states none of which was checked (a job cap; tally.ts
 * summaryTallies), jobs in plan order and points ascending. The crash files are produced a job at a time (chunks).
 */
import { formatRatio, formatSpread, summarize, type Ratio } from '../reports/number.ts';
import { csvHeader, csvLines, toCsv, type Cell } from '../reports/csv.ts';
import type { CrashResult, CrashRow } from './crash/api.ts';
import { cycleStats, summaryTallies, type SummaryTally } from './crash/tally.ts';
import { KEY_COLUMNS, METRICS } from './metrics.ts';
import { byConfiguration, type RunRecord } from './record.ts';

export const RESULT_COLUMNS: readonly string[] = [...KEY_COLUMNS, ...METRICS.map((m) => m.name)];

export function resultRow(experiment: string, r: RunRecord): Record<string, Cell> {
  const row: Record<string, Cell> = {
    experiment, run: r.id, allocator: r.allocator, workload: r.workload, params: r.params, idiom: r.idiom,
    threads: r.threads, seed: r.seed, preset: r.preset, heapSizeBytes: r.heapSizeBytes,
  };
  for (const m of METRICS) {
    const v = m.value(r);
    row[m.name] = v === null ? null : formatRatio(v, m.decimals);
  }
  return row;
}

export function resultsCsv(experiment: string, records: readonly RunRecord[]): string {
  return toCsv(RESULT_COLUMNS, records.map((r) => resultRow(experiment, r)));
}

/** Identity of a configuration: the key columns of results.csv without run and seed. */
const CONFIG_COLUMNS = ['experiment', 'allocator', 'workload', 'params', 'idiom', 'threads', 'preset', 'heapSizeBytes'] as const;

export const SUMMARY_COLUMNS: readonly string[] = [...CONFIG_COLUMNS, 'metric', 'unit', 'n', 'mean', 'sd', 'ci95', 'min', 'max'];

export function summaryCsv(experiment: string, records: readonly RunRecord[]): string {
  const rows: Record<string, Cell>[] = [];
  for (const runs of byConfiguration(records)) {
    const r = runs[0];
    for (const m of METRICS) {
      const values = runs.map((x) => m.value(x)).filter((v): v is Ratio => v !== null);
      if (values.length === 0) continue;
      // Means of few seeds need more than the per-run decimals (an integer metric's mean may end in .5).
      const decimals = Math.max(m.decimals, 2);
      const s = summarize(values);
      const spread = formatSpread(values, decimals);
      rows.push({
        experiment, allocator: r.allocator, workload: r.workload, params: r.params, idiom: r.idiom, threads: r.threads, preset: r.preset, heapSizeBytes: r.heapSizeBytes,
        metric: m.name, unit: m.unit, n: s.n, mean: formatRatio(s.mean, decimals), sd: spread?.sd, ci95: spread?.ci95,
        min: formatRatio(s.min, decimals), max: formatRatio(s.max, decimals),
      });
    }
  }
  return toCsv(SUMMARY_COLUMNS, rows);
}

export const CRASH_COLUMNS: readonly string[] = [
  'allocator', 'workload', 'idiom', 'seed', 'persistency', 'mode', 'crashPoint', 'stateId', 'verdict', 'anomaly', 'leakedBytes', 'recoveryCycles', 'detail',
];

export function crashCsv(rows: readonly CrashRow[]): string {
  return toCsv(CRASH_COLUMNS, rows as unknown as Record<string, Cell>[]);
}

/** crash.csv a job at a time: the header, then each job's listed rows (the same bytes as crashCsv of them all). */
export function* crashCsvChunks(rowsPerJob: Iterable<readonly CrashRow[]>): Generator<string> {
  yield csvHeader(CRASH_COLUMNS);
  for (const rows of rowsPerJob) yield csvLines(CRASH_COLUMNS, rows as unknown as Record<string, Cell>[]);
}

export const CRASH_SUMMARY_COLUMNS: readonly string[] = [
  'allocator', 'workload', 'idiom', 'seed', 'persistency', 'mode', 'crashPoint', 'crashPointLast', 'distinctStates', 'checkedStates', 'sampledStates',
  'valid', 'invalid', 'unknown', 'leakedBytes', 'recoveryCyclesMin', 'recoveryCyclesMedian', 'recoveryCyclesMax',
];

function crashSummaryRow(c: CrashResult, p: SummaryTally): Record<string, Cell> {
  const j = c.job;
  const cyc = cycleStats(p.recoveryCycles);
  return {
    allocator: j.allocator, workload: j.workload, idiom: j.idiom, seed: String(j.seed), persistency: j.persistency, mode: j.mode,
    crashPoint: p.crashPoint, crashPointLast: p.crashPointLast, distinctStates: p.found, checkedStates: p.states, sampledStates: p.sampled,
    valid: p.valid, invalid: p.invalid, unknown: p.unknown, leakedBytes: p.leakedBytes,
    recoveryCyclesMin: cyc?.min, recoveryCyclesMedian: cyc?.median, recoveryCyclesMax: cyc?.max,
  };
}

/** Rows a chunk of crash-summary.csv holds at most (a capped long job has hundreds of thousands of points). */
const SUMMARY_CHUNK_ROWS = 4096;

/** crash-summary.csv a job at a time, in chunks: one row per job and checked crash point, or run of unchecked points (summaryTallies). */
export function* crashSummaryChunks(results: Iterable<CrashResult>): Generator<string> {
  yield csvHeader(CRASH_SUMMARY_COLUMNS);
  for (const c of results) {
    let rows: Record<string, Cell>[] = [];
    for (const p of summaryTallies(c.tallies)) {
      rows.push(crashSummaryRow(c, p));
      if (rows.length === SUMMARY_CHUNK_ROWS) {
        yield csvLines(CRASH_SUMMARY_COLUMNS, rows);
        rows = [];
      }
    }
    if (rows.length > 0) yield csvLines(CRASH_SUMMARY_COLUMNS, rows);
  }
}
