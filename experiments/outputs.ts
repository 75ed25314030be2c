/**
 * Write the experiment's outputs from stored records: results.csv, crash.csv,
 * crash-summary.csv (both written a job at a time), and for
 * a whole experiment (not a single shard) summary.csv (statistics over seeds),
 * charts/*.{vl.json,svg,png}, validation.csv (when the spec names measured references)
 * and report.html.
 *
 * Invariants: every file depends only on the spec and the records (byte-identical for
 * any workers, shards or resume); every file is written atomically.
 */
import { join } from 'node:path';
import { renderPng, renderSvg, vegaLiteSpec, type ChartInput } from '../reports/charts.ts';
import { renderReport, type ReportSection } from '../reports/html.ts';
import { chartInput } from './chart-data.ts';
import { cycleSplitInput } from './cycle-split.ts';
import type { CrashResult, CrashRow } from './crash/api.ts';
import type { Manifest } from './manifest.ts';
import { writeAtomic, writeAtomicChunks } from './output.ts';
import type { RunRecord } from './record.ts';
import { buildReportModel } from './report-model.ts';
import type { ResolvedSpec } from './spec/resolve.ts';
import { crashCsvChunks, crashSummaryChunks, resultsCsv, summaryCsv } from './tables.ts';
import { VALIDATION_CHARTS, errorChartInput, ratioChartInput, validate, validationCsv, validationSection } from './validation.ts';

export interface OutputOptions {
  readonly whole: boolean;
  readonly manifest: Manifest;
  /** The listed rows of crash job i, loaded when crash.csv is written (default: crash[i].rows). */
  readonly crashRows?: (i: number) => readonly CrashRow[];
}

/**
 * A crash result as held for the report: its invalid and unknown rows only (the report
 * reads the tallies and those), so a run listing every state keeps one job's rows in
 * memory at a time (crash.csv reloads them through OutputOptions.crashRows).
 */
export function lightCrashResult(c: CrashResult): CrashResult {
  return c.listing === 'all' ? { ...c, rows: c.rows.filter((r) => r.verdict !== 'valid') } : c;
}

/** Job i's rows, loaded only when the writer reaches job i. */
/**
 * Failing states listed per crash point in crash.csv under the default listing
 * ('failures'): the first ones in row order (shard-independent: rows are merged and
 * sorted per job); every state is still counted per point in crash-summary.csv, and
 * `--all-states` lists them all. A broken allocator can fail in hundreds of thousands of
 * states; a person reads a few per point and the counts.
 */
export const FAILURES_LISTED_PER_POINT = 5;

function* eachJob(crash: readonly CrashResult[], rowsOf: (i: number) => readonly CrashRow[]): Generator<readonly CrashRow[]> {
  for (let i = 0; i < crash.length; i++) {
    const rows = rowsOf(i);
    yield crash[i].listing === 'all' ? rows : firstPerPoint(rows, FAILURES_LISTED_PER_POINT);
  }
}

function firstPerPoint(rows: readonly CrashRow[], max: number): CrashRow[] {
  const out: CrashRow[] = [];
  let point = -1;
  let n = 0;
  for (const r of rows) {
    if (r.crashPoint !== point) {
      point = r.crashPoint;
      n = 0;
    }
    if (n++ < max) out.push(r);
  }
  return out;
}

export async function writeOutputs(spec: ResolvedSpec, outDir: string, records: readonly RunRecord[], crash: readonly CrashResult[], opts: OutputOptions): Promise<string[]> {
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array) => {
    writeAtomic(join(outDir, name), data);
    files.push(name);
  };
  const stream = (name: string, chunks: Iterable<string>) => {
    writeAtomicChunks(join(outDir, name), chunks);
    files.push(name);
  };
  if (records.length > 0) put('results.csv', resultsCsv(spec.raw.name, records));
  if (crash.length > 0) {
    const rowsOf = opts.crashRows ?? ((i: number) => crash[i].rows);
    stream('crash.csv', crashCsvChunks(eachJob(crash, rowsOf)));
    stream('crash-summary.csv', crashSummaryChunks(crash));
  }
  if (!opts.whole) return files;
  if (records.length > 0) put('summary.csv', summaryCsv(spec.raw.name, records));
  const render = async (name: string, input: ChartInput) => {
    const vl = vegaLiteSpec(input);
    const svg = await renderSvg(vl);
    put(`charts/${name}.vl.json`, `${JSON.stringify(vl, null, 2)}\n`);
    put(`charts/${name}.svg`, svg);
    put(`charts/${name}.png`, renderPng(svg));
    return { title: input.title, svg, file: `charts/${name}.svg` };
  };
  const charts: { title: string; svg: string; file: string }[] = [];
  for (const chart of spec.charts) {
    const input = chartInput(chart, records);
    if (input.points.length > 0) charts.push(await render(chart.name, input));
  }
  const split = cycleSplitInput(records);
  if (split !== undefined) charts.push(await render('cycle-split', split));
  const sections: ReportSection[] = [];
  if (spec.validation && records.length > 0) {
    const v = validate(records, spec.validation.published, spec.validation.native);
    put('validation.csv', validationCsv(spec.raw.name, v));
    const validationCharts = [];
    const [ratiosName, errorName] = VALIDATION_CHARTS;
    for (const [name, input] of [[ratiosName, ratioChartInput(v)], [errorName, errorChartInput(v)]] as const) {
      if (input.points.length > 0) validationCharts.push(await render(name, input));
    }
    sections.push(validationSection(v, validationCharts, spec.validation.publishedFile));
  }
  put('report.html', renderReport(buildReportModel(spec, opts.manifest, records, crash, charts, sections)));
  return files;
}
