/**
 * Chart data -> vega-lite spec -> SVG (vega, headless) -> PNG (resvg).
 *
 * Model: a chart shows one metric (mean over seeds as lines or bars, with error bars from
 * min to max, over the 95 % confidence interval of the mean, or none) against an x axis,
 * one colour per series, optionally one panel per facet value.
 * Axis titles carry the unit from the metric metadata. Rendering uses vega's 'none'
 * renderer and toSVG, so no browser or canvas is needed.
 *
 * Categorical x values keep the data's order (the spec's order), not the alphabet.
 *
 * Invariants: the spec and the SVG depend only on the data (no timestamps, no random ids).
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ChartPoint {
  readonly x: number | string;
  readonly series: string;
  readonly facet?: string;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
  /** Bounds of the 95 % confidence interval of the mean (charts with errorBars 'ci95'). */
  readonly ciLow?: number;
  readonly ciHigh?: number;
  /** Line style group (charts with `dashTitle`): e.g. simulated vs measured, same colour. */
  readonly dash?: string;
}

/** Which point fields the error bars span; 'none' draws none. */
export type ErrorBars = 'minmax' | 'ci95' | 'none';
const ERROR_FIELDS: Record<Exclude<ErrorBars, 'none'>, readonly [string, string]> = { minmax: ['min', 'max'], ci95: ['ciLow', 'ciHigh'] };

export interface ChartInput {
  readonly title: string;
  readonly xTitle: string;
  readonly xType: 'quantitative' | 'ordinal' | 'nominal';
  readonly yTitle: string;
  /** Line under the title (e.g. what the error bars show). */
  readonly subtitle?: string;
  readonly seriesTitle: string;
  readonly facetTitle?: string;
  readonly logY?: boolean;
  readonly bars?: boolean;
  /** Bars: one bar per x value (the colour repeats x), no side-by-side offset. */
  readonly noOffset?: boolean;
  /** Bars: the series are stacked segments of one bar per x value (parts of a whole). */
  readonly stacked?: boolean;
  /** Default 'minmax'. */
  readonly errorBars?: ErrorBars;
  /** Lines dashed by the points' `dash` field, with this legend title (lines only). */
  readonly dashTitle?: string;
  readonly points: readonly ChartPoint[];
}

const PALETTE = ['#1b6ca8', '#d1495b', '#edae49', '#00798c', '#66a182', '#8d6a9f', '#30638e', '#e07a5f', '#3d405b', '#81b29a', '#f2cc8f', '#6d597a'];

export function vegaLiteSpec(c: ChartInput): TopLevelSpec {
  const hasFacet = c.points.some((p) => p.facet !== undefined);
  const x = { field: 'x', type: c.xType, title: c.xTitle, ...(c.xType === 'quantitative' ? { scale: { zero: false } } : { axis: { labelAngle: c.xType === 'ordinal' ? 0 : -30 }, sort: null }) };
  // Bars start at zero, which a log scale cannot show: bars always use a linear scale.
  const yScale = c.logY && !c.bars ? { type: 'log' } : { zero: !!c.bars };
  const color = { field: 'series', type: 'nominal', title: c.seriesTitle, scale: { range: PALETTE } };
  const offset = c.bars && !c.noOffset && !c.stacked ? { xOffset: { field: 'series', type: 'nominal' } } : {};
  const stack = c.stacked ? { stack: 'zero' } : {};
  const order = c.stacked ? { order: { field: 'order', type: 'quantitative' } } : {};
  const main = c.bars
    ? { mark: { type: 'bar' }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: c.yTitle, scale: yScale, ...stack }, color: c.stacked ? { ...color, sort: null } : color, ...offset, ...order } }
    : { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: c.yTitle, scale: yScale }, color, ...(c.dashTitle ? { strokeDash: { field: 'dash', type: 'nominal', title: c.dashTitle, legend: { symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 2, encode: { symbols: { update: { stroke: { value: '#333' } } } } } } } : {}) } };
  const errorBars = c.errorBars ?? 'minmax';
  const layers: object[] = [main];
  if (errorBars !== 'none') {
    const [low, high] = ERROR_FIELDS[errorBars];
    layers.push({
      mark: { type: 'errorbar', ticks: false, thickness: 1.5 },
      encoding: { x, y: { field: low, type: 'quantitative', title: c.yTitle, scale: yScale }, y2: { field: high }, color, ...offset },
    });
  }
  const layered = { width: hasFacet ? 250 : 300, height: 180, layer: layers };
  const common = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: c.subtitle ? { text: c.title, subtitle: c.subtitle } : c.title,
    data: { values: c.points.map((p, i) => (c.stacked ? { ...p, order: i } : { ...p })) },
    config: { font: 'DejaVu Sans, sans-serif', background: 'white', view: { stroke: '#ccc' }, legend: { labelLimit: 320 } },
  };
  if (!hasFacet) return { ...common, ...layered } as unknown as TopLevelSpec;
  return { ...common, facet: { field: 'facet', type: 'nominal', title: c.facetTitle }, columns: 2, spec: layered, resolve: { scale: { y: 'independent' } } } as unknown as TopLevelSpec;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function renderPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
