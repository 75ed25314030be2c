/**
 * "Where the cycles go": the stacked-bar chart of the operations' core cycles per op,
 * split into compute, memory, persist, lock wait and idle (RunRecord's exact split),
 * per allocator (and idiom, when several run), one panel per workload at its largest
 * thread count, on the first platform and heap size of the runs.
 *
 * Model: a bar's segments are the exact means over seeds of each part per op, printed
 * with two decimals; the parts of a run add up to its coreCyclesPerOp.
 */
import { formatRatio, ratio, summarize, type Ratio } from '../reports/number.ts';
import type { ChartInput, ChartPoint } from '../reports/charts.ts';
import type { RunRecord } from './record.ts';

export const SPLIT_PARTS = [
  ['compute', 'computeCycles'],
  ['memory', 'memoryCycles'],
  ['persist', 'persistCycles'],
  ['lock wait', 'lockWaitCycles'],
  ['idle', 'idleCycles'],
] as const;

/** The runs the chart shows: first platform and heap size, each workload's largest thread count. */
function shown(records: readonly RunRecord[]): RunRecord[] {
  if (records.length === 0) return [];
  const { preset, heapSizeBytes } = records[0];
  const same = records.filter((r) => r.preset === preset && r.heapSizeBytes === heapSizeBytes && r.ops > 0);
  const maxThreads = new Map<string, number>();
  for (const r of same) maxThreads.set(r.workload, Math.max(maxThreads.get(r.workload) ?? 0, r.threads));
  return same.filter((r) => r.threads === maxThreads.get(r.workload));
}

export function cycleSplitInput(records: readonly RunRecord[]): ChartInput | undefined {
  const runs = shown(records);
  if (runs.length === 0) return undefined;
  // Name the idiom only when one allocator runs in more than one (else it only lengthens the labels).
  const idioms = new Map<string, Set<string>>();
  for (const r of runs) idioms.set(r.allocator, (idioms.get(r.allocator) ?? new Set()).add(r.idiom));
  const multiIdiom = [...idioms.values()].some((s) => s.size > 1);
  const groups = new Map<string, { x: string; facet: string; runs: RunRecord[] }>();
  for (const r of runs) {
    const x = multiIdiom ? `${r.allocator} (${r.idiom})` : r.allocator;
    const facet = `${r.workload}${r.params ? ` ${r.params}` : ''}, ${r.threads} thread${r.threads === 1 ? '' : 's'}`;
    const key = JSON.stringify([x, facet]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { x, facet, runs: [] }));
    g.runs.push(r);
  }
  const points: ChartPoint[] = [];
  for (const g of groups.values()) {
    for (const [part, field] of SPLIT_PARTS) {
      const values: Ratio[] = g.runs.map((r) => ratio(r[field], r.ops));
      const s = summarize(values);
      const mean = Number(formatRatio(s.mean, 2));
      points.push({ x: g.x, series: part, facet: g.facet, mean, min: mean, max: mean, n: s.n });
    }
  }
  const { preset, heapSizeBytes } = runs[0];
  return {
    title: 'Where the cycles go',
    subtitle: `core cycles per op (all cores), mean over seeds; ${preset}, ${heapSizeBytes / (1024 * 1024)} MiB heap`,
    xTitle: multiIdiom ? 'Allocator (idiom)' : 'Allocator',
    xType: 'nominal',
    yTitle: 'Core cycles per op (core-cycles/op)',
    seriesTitle: 'Part',
    facetTitle: 'Workload',
    bars: true,
    stacked: true,
    errorBars: 'none',
    points,
  };
}
