/**
 * Records + crash results -> the report model (tables, headline ratios, crash verdicts,
 * counterexamples). Pure: the same inputs give the same model.
 */
import { formatRatio, ratio, summarize, addRatio, type Ratio } from '../reports/number.ts';
import type { Headline, ReportModel, Table } from '../reports/html.ts';
import type { CrashResult } from './crash/api.ts';
import { jobTotals } from './crash/tally.ts';
import { findMetric, type Metric } from './metrics.ts';
import type { Manifest } from './manifest.ts';
import { byConfiguration, type RunRecord } from './record.ts';
import type { ResolvedSpec } from './spec/resolve.ts';

function configKey(r: RunRecord): string {
  return JSON.stringify([r.workload, r.params, r.preset, r.heapSizeBytes, r.threads]);
}

/** Mean over seeds per (config, allocator, idiom). */
function means(records: readonly RunRecord[], metric: Metric): Map<string, Ratio> {
  const groups = new Map<string, Ratio[]>();
  for (const r of records) {
    const v = metric.value(r);
    if (v === null) continue;
    const key = JSON.stringify([configKey(r), r.allocator, r.idiom]);
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  return new Map([...groups].map(([k, vs]) => [k, summarize(vs).mean]));
}

function resultTables(spec: ResolvedSpec, records: readonly RunRecord[]): Table[] {
  const metrics = spec.metrics.filter((m) => records.some((r) => m.value(r) !== null));
  const seeds = new Set(records.map((r) => r.seed)).size;
  const tables: Table[] = [];
  const configs = byConfiguration(records);
  for (const workload of [...new Set(records.map((r) => r.workload))]) {
    const rows = configs.filter((g) => g[0].workload === workload).map((group) => {
      const r = group[0];
      const cells = metrics.map((m) => {
        const vs = group.map((x) => m.value(x)).filter((v): v is Ratio => v !== null);
        return vs.length === 0 ? '' : formatRatio(summarize(vs).mean, m.decimals);
      });
      return [r.allocator, r.idiom, r.params, r.preset, `${r.heapSizeBytes / 1048576} MiB`, String(r.threads), ...cells];
    });
    tables.push({
      title: `Workload ${workload}`,
      note: seeds > 1 ? `Means over ${seeds} seeds; per-seed rows are in results.csv, the spread (standard deviation, 95 % confidence interval, min, max) in summary.csv.` : 'One seed; every row is in results.csv.',
      columns: [
        { name: 'allocator' }, { name: 'idiom' }, { name: 'params' }, { name: 'platform' }, { name: 'heap' }, { name: 'threads', numeric: true },
        ...metrics.map((m) => ({ name: `${m.name} (${m.unit})`, title: m.description, numeric: true })),
      ],
      rows,
    });
  }
  return tables;
}

function defaultHeadline(spec: ResolvedSpec): { subject: string; baseline: string; metric: string }[] {
  if (spec.raw.headline) return spec.raw.headline;
  const names = spec.allocators.map((f) => f.name);
  const subject = names.includes('makalu') ? 'makalu' : names[0];
  const baseline = names.includes('pmdk') ? 'pmdk' : names.find((n) => n !== subject);
  if (!baseline || subject === baseline) return [];
  return ['cyclesPerOp', 'flushesPerOp', 'fencesPerOp'].map((metric) => ({ subject, baseline, metric }));
}

function headlines(spec: ResolvedSpec, records: readonly RunRecord[]): Headline[] {
  const out: Headline[] = [];
  for (const h of defaultHeadline(spec)) {
    const metric = findMetric(h.metric)!;
    const m = means(records, metric);
    let sumS = ratio(0);
    let sumB = ratio(0);
    let configs = 0;
    for (const r of records) {
      if (r.allocator !== h.subject || r.seed !== records[0].seed) continue;
      const s = m.get(JSON.stringify([configKey(r), r.allocator, r.idiom]));
      const bKey = [...m.keys()].find((k) => k.startsWith(JSON.stringify([configKey(r), h.baseline]).slice(0, -1)));
      const b = bKey ? m.get(bKey) : undefined;
      if (!s || !b) continue;
      sumS = addRatio(sumS, s);
      sumB = addRatio(sumB, b);
      configs++;
    }
    if (configs === 0 || sumB.num === 0n) continue;
    const value = { num: sumS.num * sumB.den, den: sumS.den * sumB.num };
    out.push({
      label: `${h.subject} / ${h.baseline}: ${metric.name}`,
      value: `${formatRatio(value, 2)}×`,
      detail: `Ratio of summed means over ${configs} configuration${configs === 1 ? '' : 's'} (${metric.unit}; ${metric.lowerIsBetter ? 'below 1 favours ' + h.subject : 'above 1 favours ' + h.subject}).`,
    });
  }
  return out;
}

/** What a crash job's allocator promises: a correct allocator must give no invalid state; a canary (deliberately broken) and the volatile reference must give some. */
type Promise = 'correct' | 'canary' | 'volatile';

function promises(spec: ResolvedSpec): (allocator: string) => Promise {
  const kind = new Map(spec.crashAllocators.map((f) => [f.name, f.volatile === true ? 'volatile' : f.broken === true ? 'canary' : 'correct'] as const));
  return (a) => kind.get(a) ?? 'correct';
}

/**
 * Row class of a verdict count: for a correct allocator any invalid state is bad, else
 * any unknown one a warning. A canary or the volatile reference is expected to fail: caught
 * is good, a canary with no invalid state is bad (the checker missed it).
 */
function verdictClass(promise: Promise, invalid: number, unknown: number): string {
  if (promise !== 'correct') return invalid > 0 ? 'expected' : 'bad';
  return invalid > 0 ? 'bad' : unknown > 0 ? 'warn' : 'good';
}

/** The verdict cell of one allocator x workload: "valid n" or how many of n were invalid / unknown, and whether that was expected. */
function verdictCell(promise: Promise, states: number, invalid: number, unknown: number): string {
  const counts = invalid > 0 ? `INVALID ${invalid}/${states}` : unknown > 0 ? `unknown ${unknown}/${states}` : `valid ${states}`;
  if (promise === 'canary') return invalid > 0 ? `${counts}: canary caught` : `${counts}: canary NOT caught`;
  if (promise === 'volatile') return invalid > 0 ? `${counts}: volatile, expected` : counts;
  return counts;
}

/** allocator x workload: distinct states and how many were invalid / unknown, over every idiom, mode and persistency. */
function crashSummary(crash: readonly CrashResult[], promiseOf: (allocator: string) => Promise): Table {
  const workloads = [...new Set(crash.map((c) => c.job.workload))];
  const allocators = [...new Set(crash.map((c) => c.job.allocator))];
  const rows: string[][] = [];
  const classes: (string | undefined)[] = [];
  for (const a of allocators) {
    let bad = 0;
    let unsure = 0;
    const cells = workloads.map((w) => {
      const ts = crash.filter((c) => c.job.allocator === a && c.job.workload === w).map((c) => jobTotals(c.tallies));
      const states = ts.reduce((n, t) => n + t.states, 0);
      if (states === 0) return '';
      const invalid = ts.reduce((n, t) => n + t.invalid, 0);
      const unknown = ts.reduce((n, t) => n + t.unknown, 0);
      bad += invalid;
      unsure += unknown;
      return verdictCell(promiseOf(a), states, invalid, unknown);
    });
    rows.push([a, ...cells]);
    classes.push(verdictClass(promiseOf(a), bad, unsure));
  }
  return {
    title: 'Verdicts per allocator and workload',
    note: 'Distinct crash states over every idiom, mode and persistency rule checked: "valid n", or how many of them were invalid / unknown. Canaries (deliberately broken variants) and the volatile reference must give invalid states: a caught canary is marked in grey, a canary the checker missed in red.',
    columns: [{ name: 'allocator' }, ...workloads.map((w) => ({ name: w }))],
    rows,
    rowClasses: classes,
  };
}

/** 'complete', or 'sampled' with the share of the distinct states checked when a job cap or budget left some out. */
function coverage(c: CrashResult): string {
  if (!c.plan.sampled) return 'complete';
  const found = c.plan.distinctStates ?? c.plan.states;
  return found > c.plan.states ? `sampled: ${c.plan.states}/${found}` : 'sampled';
}

export function crashTables(spec: ResolvedSpec, crash: readonly CrashResult[]): Table[] {
  if (crash.length === 0) return [];
  const promiseOf = promises(spec);
  const rows: string[][] = [];
  const classes: (string | undefined)[] = [];
  for (const c of crash) {
    const j = c.job;
    const t = jobTotals(c.tallies);
    // Valid states have no anomaly, and every invalid or unknown state is listed.
    const anomalies = [...new Set(c.rows.filter((r) => r.anomaly !== '').map((r) => r.anomaly))].join(' ');
    rows.push([j.allocator, j.workload, j.idiom, j.persistency, j.mode, String(j.seed), String(c.plan.distinctPoints), c.plan.boxSize, String(t.states), String(t.valid), String(t.invalid), String(t.unknown), String(t.leakedBytes), anomalies, coverage(c)]);
    classes.push(verdictClass(promiseOf(j.allocator), t.invalid, t.unknown));
  }
  return [crashSummary(crash, promiseOf), {
    title: 'Verdicts per allocator, workload, idiom and mode',
    note: `One line per crash job; crash-summary.csv has one row per job and checked crash point (consecutive unchecked points share one), crash.csv one row per ${crash.some((c) => c.listing === 'all') ? 'distinct crash state' : 'invalid or unknown crash state'}. "box" is what an eager checker would visit.`,
    columns: ['allocator', 'workload', 'idiom', 'persistency', 'mode', 'seed', 'crash points', 'box', 'states', 'valid', 'invalid', 'unknown', 'leaked B', 'anomalies', 'coverage']
      .map((name, i) => ({ name, numeric: i >= 5 && i <= 12 })),
    rows,
    rowClasses: classes,
  }];
}

/**
 * One minimized counterexample per crash job (two for broken variants), the
 * allocators that promise persistence first and the volatile reference last, at most 30.
 * A counterexample whose text (anomaly, detail, explanation, stores) repeats one already
 * shown for the same allocator, workload, idiom, persistency and mode is folded into it
 * (the seeds are listed), so a job shows its distinct explanations.
 */
export function counterexamples(spec: ResolvedSpec, crash: readonly CrashResult[]): ReportModel['counterexamples'] {
  const volatile = new Set(spec.crashAllocators.filter((f) => f.volatile).map((f) => f.name));
  const broken = new Set(spec.crashAllocators.filter((f) => f.broken).map((f) => f.name));
  const rank = (c: CrashResult) => (volatile.has(c.job.allocator) ? 2 : broken.has(c.job.allocator) ? 1 : 0);
  const ordered = [...crash].sort((a, b) => rank(a) - rank(b));
  const shown = new Map<string, { head: string; seeds: string[]; lines: string[] }>();
  for (const c of ordered) {
    const j = c.job;
    const head = `${j.allocator} · ${j.workload} · ${j.idiom} · ${j.persistency} · ${j.mode}`;
    let taken = 0;
    for (const cx of c.counterexamples) {
      if (taken >= (broken.has(j.allocator) ? 2 : 1)) break;
      const text = [cx.detail, ...cx.explanation, ...cx.stores.map((s) => `${s.role} store #${s.traceIndex} at 0x${s.addr.toString(16)} by ${s.site} (${s.op}): ${s.missing}`)];
      const key = JSON.stringify([head, cx.anomaly, text]);
      const seen = shown.get(key);
      if (seen !== undefined) {
        if (!seen.seeds.includes(String(j.seed))) seen.seeds.push(String(j.seed));
        continue;
      }
      if (shown.size >= 30) break;
      shown.set(key, { head: `${head}: ${cx.anomaly}`, seeds: [String(j.seed)], lines: [...text, `replay: npx nvlab replay '${cx.minimizedId}'`] });
      taken++;
    }
  }
  return [...shown.values()].map((s) => ({ title: `${s.head} (seed${s.seeds.length > 1 ? 's' : ''} ${s.seeds.join(', ')})`, lines: s.lines }));
}

/**
 * Word mode findings: a correct (not broken, not volatile) allocator with invalid states
 * in word mode but none in line mode on the same workload. Reported as a finding of
 * the stricter model, with the anomalies seen; the counterexamples section has them.
 */
function wordModeNotes(spec: ResolvedSpec, crash: readonly CrashResult[]): string[] {
  const skip = new Set(spec.crashAllocators.filter((f) => f.volatile || f.broken).map((f) => f.name));
  const out: string[] = [];
  const pairs = new Set(crash.map((c) => JSON.stringify([c.job.allocator, c.job.workload])));
  for (const key of pairs) {
    const [a, w] = JSON.parse(key) as [string, string];
    if (skip.has(a)) continue;
    const jobs = (p: string) => crash.filter((c) => c.job.allocator === a && c.job.workload === w && c.job.persistency === p);
    const line = jobs('line').map((c) => jobTotals(c.tallies));
    const word = jobs('word').flatMap((c) => c.rows).filter((r) => r.verdict === 'invalid');
    if (line.some((t) => t.states > 0) && line.every((t) => t.invalid === 0) && word.length > 0) {
      const anomalies = [...new Set(word.map((r) => r.anomaly))].join(', ');
      out.push(`Finding (word mode): ${a} on ${w} is valid in line mode but has ${word.length} invalid states in word mode (${anomalies}). A 64 B write-back is not failure-atomic, so a later word of a line (a log entry, a header) can persist without an earlier one; the published design assumed line atomicity. The model is not weakened to hide this; see the counterexamples.`);
    }
  }
  return out;
}

/** Allocators that declare no instruction path lengths are charged no instructions: say so. */
function instructionNotes(spec: ResolvedSpec): string[] {
  const bare = spec.allocators.filter((f) => f.pathLengths === undefined).map((f) => f.name);
  if (bare.length === 0) return [];
  return [`No instruction path lengths declared by ${bare.join(', ')}: their code is charged no instructions (only memory, persist and lock costs), so their compute time is missing and their cycles are a lower bound; the other allocators charge the measured path lengths of the real code (allocators/*/path-lengths.ts).`];
}

/** The state budget's coverage: states checked of those found, and the jobs it sampled (nothing dropped silently). */
function budgetNotes(spec: ResolvedSpec, crash: readonly CrashResult[]): string[] {
  const budget = spec.crash?.budget?.maxStatesTotal;
  if (budget === undefined || crash.length === 0) return [];
  const found = crash.reduce((a, c) => a + (c.plan.distinctStates ?? c.plan.states), 0);
  const checked = crash.reduce((a, c) => a + c.plan.states, 0);
  const cut = crash.filter((c) => (c.plan.distinctStates ?? c.plan.states) > c.plan.states);
  if (cut.length === 0) return [`Crash state budget (crash.budget.maxStatesTotal ${budget}): every one of the ${found} distinct states was checked.`];
  return [`Crash state budget (crash.budget.maxStatesTotal ${budget}): ${checked} of ${found} distinct states checked (${((100 * checked) / found).toFixed(1)} %); ${cut.length} job${cut.length === 1 ? '' : 's'} checked a seeded sample (coverage column; per crash point in crash-summary.csv, distinctStates against checkedStates).`];
}

export function buildReportModel(spec: ResolvedSpec, manifest: Manifest, records: readonly RunRecord[], crash: readonly CrashResult[], charts: ReportModel['charts'], sections: NonNullable<ReportModel['sections']> = []): ReportModel {
  const exclusions = (spec.crash?.exclude ?? []).map((e) => {
    const what = (['allocator', 'workload', 'idiom', 'persistency', 'mode'] as const).filter((k) => e[k] !== undefined).map((k) => `${k} ${e[k]}`).join(', ');
    return `Crash jobs excluded by the spec (${what}): ${e.reason}`;
  });
  const notes = [...exclusions, ...instructionNotes(spec), ...budgetNotes(spec, crash), ...wordModeNotes(spec, crash), ...crash.flatMap((c) => c.plan.notes.map((n) => `${c.job.allocator} · ${c.job.workload} · ${c.job.mode}: ${n}`))];
  return {
    title: `nvlab · ${spec.raw.name}`,
    ...(spec.raw.description ? { description: spec.raw.description } : {}),
    facts: [
      ['experiment', spec.raw.name],
      ['spec sha256', spec.hash],
      ['seeds', spec.seeds.join(', ')],
      ['allocators', spec.allocators.map((f) => f.name).join(', ')],
      ['workloads', spec.workloads.map((w) => w.workload.name).join(', ')],
      ['platforms', spec.platforms.map((p) => p.name).join(', ')],
      ['runs / crash jobs', `${records.length} / ${crash.length}`],
      ['nvlab', `${manifest.nvlab.version} (commit ${manifest.nvlab.gitCommit ?? 'unknown'})`],
    ],
    headlines: headlines(spec, records),
    charts,
    tables: resultTables(spec, records),
    crashTables: crashTables(spec, crash),
    counterexamples: counterexamples(spec, crash),
    notes,
    specJson: spec.json,
    ...(sections.length > 0 ? { sections } : {}),
  };
}
