/**
 * Write the experiment's outputs from stored records: results.csv, crash.csv, and for
 * a whole experiment (not a single shard) summary.csv (statistics over seeds),
 * charts/*.{vl.json,svg,png} and report.html.
 *
 * Invariants: every file depends only on the spec and the records (byte-identical for
 * any workers, shards or resume); every file is written atomically.
 */
import { join } from 'node:path';
import { renderPng, renderSvg, vegaLiteSpec } from '../reports/charts.ts';
import { renderReport } from '../reports/html.ts';
import { chartInput } from './chart-data.ts';
import { cycleSplitInput } from './cycle-split.ts';
import type { CrashResult } from './crash/api.ts';
import type { Manifest } from './manifest.ts';
import { writeAtomic } from './output.ts';
import type { RunRecord } from './record.ts';
import { buildReportModel } from './report-model.ts';
import type { ResolvedSpec } from './spec/resolve.ts';
import { crashCsv, resultsCsv, summaryCsv } from './tables.ts';

export interface OutputOptions {
  readonly whole: boolean;
  readonly manifest: Manifest;
}

export async function writeOutputs(spec: ResolvedSpec, outDir: string, records: readonly RunRecord[], crash: readonly CrashResult[], opts: OutputOptions): Promise<string[]> {
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array) => {
    writeAtomic(join(outDir, name), data);
    files.push(name);
  };
  if (records.length > 0) put('results.csv', resultsCsv(spec.raw.name, records));
  if (crash.length > 0) put('crash.csv', crashCsv(crash.flatMap((c) => c.rows)));
  if (!opts.whole) return files;
  if (records.length > 0) put('summary.csv', summaryCsv(spec.raw.name, records));
  const charts: { title: string; svg: string; file: string }[] = [];
  for (const chart of spec.charts) {
    const input = chartInput(chart, records);
    if (input.points.length === 0) continue;
    const vl = vegaLiteSpec(input);
    const svg = await renderSvg(vl);
    put(`charts/${chart.name}.vl.json`, `${JSON.stringify(vl, null, 2)}\n`);
    put(`charts/${chart.name}.svg`, svg);
    put(`charts/${chart.name}.png`, renderPng(svg));
    charts.push({ title: input.title, svg, file: `charts/${chart.name}.svg` });
  }
  const split = cycleSplitInput(records);
  if (split !== undefined) {
    const vl = vegaLiteSpec(split);
    const svg = await renderSvg(vl);
    put('charts/cycle-split.vl.json', `${JSON.stringify(vl, null, 2)}\n`);
    put('charts/cycle-split.svg', svg);
    put('charts/cycle-split.png', renderPng(svg));
    charts.push({ title: split.title, svg, file: 'charts/cycle-split.svg' });
  }
  put('report.html', renderReport(buildReportModel(spec, opts.manifest, records, crash, charts)));
  return files;
}
