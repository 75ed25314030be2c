/**
 * Records -> the CSV files' rows.
 *
 * Model: results.csv has the key columns then one column per metric of the catalog
 * (fixed decimals from the metric's metadata); crash.csv has one row per distinct crash
 * state, in the order of the crash jobs, each job's rows in the crash module's order.
 */
import { formatRatio } from '../reports/number.ts';
import { toCsv, type Cell } from '../reports/csv.ts';
import type { CrashRow } from './crash/api.ts';
import { KEY_COLUMNS, METRICS } from './metrics.ts';
import type { RunRecord } from './record.ts';

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

export const CRASH_COLUMNS: readonly string[] = [
  'allocator', 'workload', 'idiom', 'seed', 'persistency', 'mode', 'crashPoint', 'stateId', 'verdict', 'anomaly', 'leakedBytes', 'recoveryCycles', 'detail',
];

export function crashCsv(rows: readonly CrashRow[]): string {
  return toCsv(CRASH_COLUMNS, rows as unknown as Record<string, Cell>[]);
}
