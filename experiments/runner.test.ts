/**
 * The runner end to end on the pinned fixture spec (transient + a user-module
 * allocator and workload, crash jobs on list): the seed-42 results.csv is pinned; 1 and
 * 2 workers (the real CLI bin), two shards merged, and a resumed run give byte-identical
 * outputs. Refresh the pin after an intended model change with
 * `NVLAB_UPDATE_PINNED=1 npx vitest run experiments/runner.test.ts`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeDirs } from './merge.ts';
import { runExperiment, type RunOptions } from './runner.ts';
import { loadSpecFile, type ResolvedSpec } from './spec/resolve.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SPEC = join(ROOT, 'experiments/fixtures/pinned.json');
const PINNED = join(ROOT, 'experiments/fixtures/pinned-results.csv');
const COMPARED = ['results.csv', 'summary.csv', 'crash.csv', 'crash-summary.csv', 'report.html', 'charts/cycles.vl.json', 'charts/cycles.svg', 'charts/cycles.png'];

let tmp: string;
let spec: ResolvedSpec;

function opts(outDir: string, extra: Partial<RunOptions> = {}): RunOptions {
  return { outDir, workers: 1, resume: false, quiet: true, what: 'all', specFile: SPEC, ...extra };
}

function read(dir: string, file: string): Buffer {
  return readFileSync(join(dir, file));
}

/** Column sums of crash-summary.csv (integers only, no quoted cells). */
function summaryTotals(dir: string): Record<string, number> {
  const [head, ...rows] = read(dir, 'crash-summary.csv').toString().trim().split('\n').map((l) => l.split(','));
  const out: Record<string, number> = {};
  head.forEach((c, i) => (out[c] = rows.reduce((n, r) => n + Number(r[i] || 0), 0)));
  return out;
}

beforeAll(async () => {
  process.env.NVLAB_GIT_COMMIT = 'pinned-test';
  tmp = mkdtempSync(join(tmpdir(), 'nvlab-runner-'));
  spec = await loadSpecFile(SPEC);
  await runExperiment(spec, opts(join(tmp, 'w1')));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('runner', () => {
  it('reproduces the pinned seed-42 results.csv', () => {
    const csv = read(join(tmp, 'w1'), 'results.csv').toString();
    if (process.env.NVLAB_UPDATE_PINNED) writeFileSync(PINNED, csv);
    expect(csv.split('\n').length).toBe(spec.allocators.length * spec.workloads.length * spec.threads.length + 2);
    expect(csv).toBe(readFileSync(PINNED, 'utf8'));
  });

  it('lists the invalid and unknown states in crash.csv, counts every state in crash-summary.csv, and a manifest with wall clock only there', () => {
    const dir = join(tmp, 'w1');
    const crash = read(dir, 'crash.csv').toString().trim().split('\n');
    expect(crash[0]).toBe('allocator,workload,idiom,seed,persistency,mode,crashPoint,stateId,verdict,anomaly,leakedBytes,recoveryCycles,detail');
    const ids = crash.slice(1).map((l) => l.split(',')[7]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(crash.slice(1).map((l) => l.split(',')[8]).every((v) => v === 'invalid' || v === 'unknown')).toBe(true);
    const sum = summaryTotals(dir);
    expect(sum.invalid + sum.unknown).toBe(ids.length);
    expect(sum.invalid).toBeGreaterThan(0); // the transient allocator loses data
    expect(sum.valid).toBeGreaterThan(0);
    const manifest = JSON.parse(read(dir, 'manifest.json').toString());
    expect(manifest.counts.crashStates).toBe(sum.checkedStates);
    expect(manifest.specHash).toBe(spec.hash);
    expect(manifest.seeds).toEqual([42]);
    expect(manifest.wallClock.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(manifest.nvlab.gitCommit).toBe('pinned-test');
    for (const f of ['results.csv', 'crash.csv', 'crash-summary.csv', 'report.html']) expect(read(dir, f).toString()).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
  });

  it('--all-states (crash.listing "all") lists every state; the summary and the failing rows are unchanged', async () => {
    const allSpec = await loadSpecFile(SPEC, (data) => {
      data.crash = { ...(data.crash as object), listing: 'all' };
    });
    const dir = join(tmp, 'all');
    await runExperiment(allSpec, opts(dir, { what: 'crash' }));
    const lines = read(dir, 'crash.csv').toString().trim().split('\n');
    expect(lines.length - 1).toBe(summaryTotals(dir).checkedStates);
    const failing = lines.filter((l, i) => i === 0 || l.split(',')[8] !== 'valid');
    expect(`${failing.join('\n')}\n`).toBe(read(join(tmp, 'w1'), 'crash.csv').toString());
    expect(read(dir, 'crash-summary.csv').equals(read(join(tmp, 'w1'), 'crash-summary.csv'))).toBe(true);
  });

  it('a state budget: shared out before the jobs start, announced, reported, and identical when sharded and merged', async () => {
    const budgetSpec = await loadSpecFile(SPEC, (data) => {
      data.crash = { ...(data.crash as object), budget: { maxStatesTotal: 150 } };
    });
    const said: string[] = [];
    await runExperiment(budgetSpec, opts(join(tmp, 'b'), { what: 'crash', say: (l) => said.push(l) }));
    const t = summaryTotals(join(tmp, 'b'));
    expect(t.checkedStates).toBe(150);
    expect(t.distinctStates).toBe(summaryTotals(join(tmp, 'w1')).checkedStates);
    expect(said[0]).toBe('planning 12 crash jobs (each run re-executed, its crash states enumerated)');
    expect(said[1]).toMatch(/^crash plan: 12 jobs, 150 distinct states to check of \d+ found/);
    expect(said.some((l) => /distinct states > its share of crash.budget.maxStatesTotal: checks a seeded sample of \d+/.test(l))).toBe(true);
    expect(read(join(tmp, 'b'), 'run.log').toString()).toMatch(/crash budget: maxStatesTotal 150: 150 of \d+ distinct states checked/);
    expect(read(join(tmp, 'b'), 'report.html').toString()).toMatch(/Crash state budget \(crash.budget.maxStatesTotal 150\): 150 of \d+ distinct states checked/);
    await runExperiment(budgetSpec, opts(join(tmp, 'b1'), { what: 'crash', shard: { index: 1, count: 2 } }));
    await runExperiment(budgetSpec, opts(join(tmp, 'b2'), { what: 'crash', shard: { index: 2, count: 2 } }));
    await mergeDirs([join(tmp, 'b1'), join(tmp, 'b2')], join(tmp, 'bm'));
    for (const f of ['crash.csv', 'crash-summary.csv', 'report.html']) expect(read(join(tmp, 'bm'), f).equals(read(join(tmp, 'b'), f)), f).toBe(true);
  });

  it('a budget below one state per job is refused, naming the field, before any job runs', async () => {
    const tiny = await loadSpecFile(SPEC, (data) => {
      data.crash = { ...(data.crash as object), budget: { maxStatesTotal: 5 } };
    });
    await expect(runExperiment(tiny, opts(join(tmp, 'tiny'), { what: 'crash' }))).rejects.toThrow(/^crash.budget.maxStatesTotal: expected at least one state per crash job \(12 jobs have states\), found 5$/);
    expect(existsSync(join(tmp, 'tiny', 'crash-jobs'))).toBe(false);
  });

  it('gives byte-identical files with 2 workers through the real CLI bin', () => {
    const out = join(tmp, 'w2');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nvlab.mjs'), 'run', SPEC, '--out', out, '--workers', '2'], {
      encoding: 'utf8', env: { ...process.env, NVLAB_GIT_COMMIT: 'pinned-test', CI: 'true' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('report.html');
    for (const f of COMPARED) expect(read(out, f).equals(read(join(tmp, 'w1'), f)), f).toBe(true);
  });

  it('merges two shards into byte-identical files', async () => {
    await runExperiment(spec, opts(join(tmp, 's1'), { shard: { index: 1, count: 2 } }));
    await runExperiment(spec, opts(join(tmp, 's2'), { shard: { index: 2, count: 2 } }));
    expect(existsSync(join(tmp, 's1', 'report.html'))).toBe(false); // a shard writes CSVs only
    const s1 = readdirSync(join(tmp, 's1', 'runs')).length;
    const s2 = readdirSync(join(tmp, 's2', 'runs')).length;
    // 6 allocators x 2 workloads x 2 thread counts = 24 runs, split evenly.
    expect([s1, s2]).toEqual([12, 12]);
    await mergeDirs([join(tmp, 's1'), join(tmp, 's2')], join(tmp, 'merged'));
    for (const f of COMPARED) expect(read(join(tmp, 'merged'), f).equals(read(join(tmp, 'w1'), f)), f).toBe(true);
  });

  it('refuses to merge when a shard is missing', async () => {
    await expect(mergeDirs([join(tmp, 's1')], join(tmp, 'half'))).rejects.toThrow(/missing/);
    expect(existsSync(join(tmp, 'half'))).toBe(false);
  });

  it('resumes after an interruption and ends with the same files', async () => {
    const dir = join(tmp, 'resumed');
    cpSync(join(tmp, 'w1'), dir, { recursive: true });
    const runs = readdirSync(join(dir, 'runs'));
    for (const f of runs.slice(0, 5)) rmSync(join(dir, 'runs', f));
    rmSync(join(dir, 'crash-jobs', readdirSync(join(dir, 'crash-jobs'))[0]));
    for (const f of ['results.csv', 'crash.csv', 'crash-summary.csv', 'report.html']) rmSync(join(dir, f));
    const summary = await runExperiment(spec, opts(dir, { resume: true }));
    expect(summary.executedRuns).toBe(5);
    for (const f of COMPARED) expect(read(dir, f).equals(read(join(tmp, 'w1'), f)), f).toBe(true);
  });
});
