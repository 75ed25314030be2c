/**
 * Charts render headless, deterministically, with unit-bearing axis titles; the report
 * page is self-contained and escapes text.
 */
import { describe, expect, it } from 'vitest';
import { renderPng, renderSvg, vegaLiteSpec, type ChartInput } from './charts.ts';
import { renderReport } from './html.ts';
import { toCsv } from './csv.ts';

const INPUT: ChartInput = {
  title: 'Cycles per op by threads',
  subtitle: 'mean over 2 seeds; error bars: min to max',
  xTitle: 'Threads',
  xType: 'ordinal',
  yTitle: 'Cycles per op (cycles/op)',
  seriesTitle: 'Allocator',
  points: [
    { x: 1, series: 'a', mean: 10, min: 9, max: 11, n: 2 },
    { x: 2, series: 'a', mean: 8, min: 7.5, max: 8.5, n: 2 },
    { x: 1, series: 'b', mean: 12, min: 12, max: 12, n: 2 },
    { x: 2, series: 'b', mean: 14, min: 13, max: 15, n: 2 },
  ],
};

describe('charts', () => {
  it('renders SVG with axis titles and error bars, identically twice', async () => {
    const spec = vegaLiteSpec(INPUT);
    const a = await renderSvg(spec);
    const b = await renderSvg(vegaLiteSpec(INPUT));
    expect(a).toBe(b);
    expect(a).toContain('Cycles per op (cycles/op)');
    expect(a).toContain('Threads');
    expect(JSON.stringify(spec)).toContain('"errorbar"');
    const png = renderPng(a);
    expect(Buffer.from(png.subarray(0, 8)).toString('hex')).toBe('89504e470d0a1a0a');
  });
});

describe('dashed lines', () => {
  it('dashes lines by the points\' dash group, colour still by series, with a legend', async () => {
    const input: ChartInput = { ...INPUT, errorBars: 'none', dashTitle: 'Source', points: INPUT.points.map((p, i) => ({ ...p, dash: i % 2 === 0 ? 'simulated' : 'published' })) };
    const spec = JSON.stringify(vegaLiteSpec(input));
    expect(spec).toContain('"strokeDash":{"field":"dash","type":"nominal","title":"Source","legend":{"symbolType":"stroke"');
    expect(JSON.stringify(vegaLiteSpec(INPUT))).not.toContain('strokeDash');
    const svg = await renderSvg(vegaLiteSpec(input));
    expect(svg).toContain('Source');
    expect(svg).toContain('stroke-dasharray');
  });
});

describe('report and csv', () => {
  it('is one self-contained page with escaped text', () => {
    const html = renderReport({
      title: 'nvlab · <x>', facts: [['spec', 'a&b']], headlines: [{ label: 'makalu / pmdk', value: '0.50×', detail: 'd' }],
      charts: [{ title: 't', svg: '<svg></svg>', file: 'charts/t.svg' }], tables: [{ title: 'T', columns: [{ name: 'c', numeric: true }], rows: [['1']] }],
      crashTables: [], counterexamples: [{ title: 'cx', lines: ['store <a>'] }], notes: [], specJson: '{}',
    });
    expect(html).toContain('&lt;x&gt;');
    expect(html).toContain('store &lt;a&gt;');
    expect(html).not.toMatch(/<script|<link|src="http/);
  });

  it('writes a header and empty cells for missing values', () => {
    expect(toCsv(['a', 'b'], [{ a: 'x,y', b: null }, { a: 1, b: '2' }])).toBe('a,b\n"x,y",\n1,2\n');
  });
});

describe('error bars', () => {
  const layers = (input: ChartInput) => (vegaLiteSpec(input) as unknown as { layer: { mark: { type: string }; encoding: { y: { field: string }; y2?: { field: string } } }[] }).layer;

  it('span min..max by default, the confidence interval with ci95, and are absent with none', () => {
    expect(layers(INPUT).map((l) => l.mark.type)).toEqual(['line', 'errorbar']);
    expect(layers(INPUT)[1].encoding.y.field).toBe('min');
    const ci = layers({ ...INPUT, errorBars: 'ci95', points: INPUT.points.map((p) => ({ ...p, ciLow: p.mean - 1, ciHigh: p.mean + 1 })) });
    expect([ci[1].encoding.y.field, ci[1].encoding.y2?.field]).toEqual(['ciLow', 'ciHigh']);
    expect(layers({ ...INPUT, errorBars: 'none' }).map((l) => l.mark.type)).toEqual(['line']);
  });
});
