/**
 * Spec charts -> chart data: group run records by (x, series, facet), summarise the
 * metric over the rest (seeds) exactly, and label the axes from the metric metadata.
 */
import { axisTitle } from '../reports/metric.ts';
import { addRatio, formatRatio, formatSpread, ratio, summarize, type Ratio } from '../reports/number.ts';
import type { ChartInput, ChartPoint, ErrorBars } from '../reports/charts.ts';
import { findMetric } from './metrics.ts';
import type { RunRecord } from './record.ts';
import type { Axis, ChartSpec } from './spec/schema.ts';

const AXIS_TITLES: Record<Axis, string> = {
  threads: 'Threads',
  heapSizeBytes: 'Heap size (MiB)',
  preset: 'Platform',
  allocator: 'Allocator',
  workload: 'Workload',
  idiom: 'Publication idiom',
  params: 'Workload parameters',
  liveObjects: 'Live objects (objects)',
};

function axisValue(r: RunRecord, axis: Axis): number | string {
  if (axis === 'heapSizeBytes') return r.heapSizeBytes / (1024 * 1024);
  if (axis === 'liveObjects') return r.liveObjects ?? 0;
  return r[axis] as number | string;
}

function seriesValue(r: RunRecord, axis: Axis, multiIdiom: boolean): string {
  const v = String(axisValue(r, axis));
  return axis === 'allocator' && multiIdiom ? `${v} (${r.idiom})` : v;
}

const ERROR_BAR_NOTES: Record<ErrorBars, string> = { minmax: '; error bars: min to max', ci95: '; error bars: 95 % confidence interval of the mean', none: '' };

/** mean -+ the 95 % confidence half-width (exact mean, half-width rounded to `decimals`); the mean itself below two values. */
function ciBounds(values: readonly Ratio[], mean: Ratio, decimals: number): { ciLow: number; ciHigh: number } {
  const spread = formatSpread(values, decimals);
  const half = spread === null ? ratio(0) : ratio(BigInt(spread.ci95.replace('.', '')), 10n ** BigInt(decimals));
  const num = (q: Ratio) => Number(formatRatio(q, decimals));
  return { ciLow: num(addRatio(mean, ratio(-half.num, half.den))), ciHigh: num(addRatio(mean, half)) };
}

export function chartInput(chart: ChartSpec, records: readonly RunRecord[]): ChartInput {
  const metric = findMetric(chart.metric)!;
  const idioms = new Set(records.map((r) => r.idiom)).size;
  // Bars whose colour repeats the x axis need no side-by-side offset; with several
  // idioms the colour shows the idiom instead.
  const requested = chart.series ?? 'allocator';
  const series: Axis = chart.bars && requested === chart.x && idioms > 1 && chart.x !== 'idiom' ? 'idiom' : requested;
  const multiIdiom = idioms > 1 && series === 'allocator' && chart.x !== 'idiom';
  const groups = new Map<string, { x: number | string; series: string; facet?: string; values: Ratio[] }>();
  for (const r of records) {
    if (chart.workloads && !chart.workloads.includes(r.workload)) continue;
    const v = metric.value(r);
    if (v === null) continue;
    const x = axisValue(r, chart.x);
    const s = seriesValue(r, series, multiIdiom);
    const facet = chart.facet ? String(axisValue(r, chart.facet)) : undefined;
    const key = JSON.stringify([x, s, facet]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { x, series: s, ...(facet !== undefined ? { facet } : {}), values: [] }));
    g.values.push(v);
  }
  const decimals = Math.max(metric.decimals, 2);
  const errorBars = chart.errorBars ?? 'minmax';
  const points: ChartPoint[] = [...groups.values()].map((g) => {
    const s = summarize(g.values);
    const num = (q: Ratio) => Number(formatRatio(q, decimals));
    const point = { x: g.x, series: g.series, ...(g.facet !== undefined ? { facet: g.facet } : {}), mean: num(s.mean), min: num(s.min), max: num(s.max), n: s.n };
    return errorBars === 'ci95' ? { ...point, ...ciBounds(g.values, s.mean, decimals) } : point;
  });
  const xType = chart.x === 'heapSizeBytes' || chart.x === 'liveObjects' ? 'quantitative' : chart.x === 'threads' ? 'ordinal' : 'nominal';
  const seeds = new Set(records.map((r) => r.seed)).size;
  return {
    title: chart.title ?? `${metric.label ?? metric.description} by ${AXIS_TITLES[chart.x].toLowerCase()}`,
    xTitle: AXIS_TITLES[chart.x],
    xType,
    yTitle: axisTitle(metric),
    subtitle: seeds > 1 ? `mean over ${seeds} seeds${ERROR_BAR_NOTES[errorBars]}` : 'one seed',
    seriesTitle: AXIS_TITLES[series] + (multiIdiom ? ' (idiom)' : ''),
    ...(chart.facet ? { facetTitle: AXIS_TITLES[chart.facet] } : {}),
    ...(chart.logY ? { logY: true } : {}),
    ...(chart.bars ? { bars: true } : {}),
    ...(chart.bars && series === chart.x ? { noOffset: true } : {}),
    ...(errorBars !== 'minmax' ? { errorBars } : {}),
    points,
  };
}
