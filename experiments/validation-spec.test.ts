/**
 * The spec's "validation" field end to end: a missing or malformed published-data file
 * (or calibration) is a spec error naming the field, exit 1 and no output folder; a good
 * one gives validation.csv and the "Model vs reality" report section.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from './testing/main.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHURN = join(ROOT, 'experiments/fixtures/churn-workload.ts');
let tmp: string;
let n = 0;

const SPEC = {
  name: 'validation-small',
  seeds: [42],
  allocators: ['transient', 'ralloc'],
  workloads: [{ name: CHURN, params: { opsPerThread: 5 } }],
  threads: [1, 2],
  heapSizes: ['1MiB'],
  dramSize: '4MiB',
};

const CSV = 'source,benchmark,allocator,threads,trial,metric,value,unit,citation\n'
  + 'paper,churn,ralloc,2,1,execTime,2,s,o/r@abc1234:data/churn/churn_r.csv\n'
  + 'paper,churn,jemalloc,2,1,execTime,3,s,o/r@abc1234:data/churn/churn_je.csv\n';

async function runSpec(spec: unknown): Promise<{ code: number; err: string; out: string }> {
  const file = join(tmp, `spec${n++}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const out = join(tmp, `out${n}`);
  const { code, err } = await runMain(['run', file, '--out', out, '--workers', '1', '--quiet']);
  return { code, err, out };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nvlab-validation-'));
  writeFileSync(join(tmp, 'published.csv'), CSV);
  writeFileSync(join(tmp, 'bad.csv'), CSV.replace('execTime,3,s', 'execTime,3,ms'));
  writeFileSync(join(tmp, 'calibration.json'), JSON.stringify({ allocFreePairNs: { glibc: 10, libpmemobj: 'slow' } }));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('spec "validation"', () => {
  it('a missing published file is an error naming validation.published', async () => {
    const r = await runSpec({ ...SPEC, validation: { published: 'nope.csv' } });
    expect(r.err).toMatch(/validation\.published: expected a published-data CSV as experiments\/validation\/README\.md describes \(path relative to the spec\), found cannot read published data .*nope\.csv: ENOENT/);
    expect([r.code, existsSync(r.out)]).toEqual([1, false]);
  });

  it('a malformed published file names its line and column', async () => {
    const r = await runSpec({ ...SPEC, validation: { published: 'bad.csv' } });
    expect(r.err).toMatch(/validation\.published: .*bad\.csv:3: column unit: expected s for execTime, found "ms"/);
    expect([r.code, existsSync(r.out)]).toEqual([1, false]);
  });

  it('a malformed calibration names its field', async () => {
    const r = await runSpec({ ...SPEC, validation: { published: 'published.csv', calibration: 'calibration.json' } });
    expect(r.err).toMatch(/validation\.calibration: .*calibration\.json: allocFreePairNs\.libpmemobj: expected a positive number of nanoseconds, found "slow"/);
    expect([r.code, existsSync(r.out)]).toEqual([1, false]);
  });

  it('a spec chart may not take a validation chart\'s name', async () => {
    const r = await runSpec({ ...SPEC, charts: [{ name: 'validation-error', metric: 'cyclesPerOp', x: 'threads' }], validation: { published: 'published.csv' } });
    expect(r.err).toMatch(/charts\[0\]\.name: expected a name other than validation-ratios and validation-error \(the validation charts\), found "validation-error"/);
    expect([r.code, existsSync(r.out)]).toEqual([1, false]);
  });

  it('a good one gives validation.csv and the "Model vs reality" section', async () => {
    const r = await runSpec({ ...SPEC, validation: { published: 'published.csv' } });
    expect(r.code).toBe(0);
    const lines = readFileSync(join(r.out, 'validation.csv'), 'utf8').trimEnd().split('\n');
    const row = lines.find((l) => l.includes(',churn,') && l.includes(',2,transient/ralloc,'))!;
    // Published jemalloc/ralloc = 3 / 2; the simulated ratio is whatever the run gave, and the error factor is computed from both.
    expect(row).toMatch(/^validation-small,churn,[^,]*,optane-adr,2,transient\/ralloc,\d+\.\d{4},paper,jemalloc\/ralloc,1\.5000,\d+\.\d{4},(yes|no),/);
    const html = readFileSync(join(r.out, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Model vs reality</h2>');
    expect(html).toContain('Files: o/r@abc1234: data/churn/*');
    expect(existsSync(join(r.out, 'charts/validation-ratios.svg'))).toBe(true);
  });
});
