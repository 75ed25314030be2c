/**
 * Bad input gives a clear error naming the field, what was expected and what was
 * found, a non-zero exit, no stack trace, and no output folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runMain } from './testing/main.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHURN = join(ROOT, 'experiments/fixtures/churn-workload.ts');
let tmp: string;
let n = 0;

const GOOD = {
  name: 'bad-input',
  seeds: [42],
  allocators: ['transient'],
  workloads: [{ name: CHURN, params: { opsPerThread: 5 } }],
  threads: [1],
  heapSizes: ['1MiB'],
  dramSize: '4MiB',
};

/** Run `nvlab run` in-process on a spec (object or raw text); returns exit code, stderr and whether --out appeared. */
async function runSpec(spec: unknown, outDir?: string): Promise<{ code: number; err: string; wrote: boolean }> {
  const file = join(tmp, `spec${n++}.json`);
  writeFileSync(file, typeof spec === 'string' ? spec : JSON.stringify(spec));
  const out = outDir ?? join(tmp, `out${n}`);
  const { code, err } = await runMain(['run', file, '--out', out, '--workers', '1', '--quiet']);
  return { code, err, wrote: existsSync(out) };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nvlab-errors-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('bad input', () => {
  it('malformed JSON', async () => {
    const r = await runSpec('{ "name": "x", "seeds": [1,] }');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\(root\): expected valid JSON, found a syntax error/);
    expect(r.wrote).toBe(false);
  });

  it('unknown allocator, listing the valid names', async () => {
    const r = await runSpec({ ...GOOD, allocators: ['transient', 'jemalloc'] });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/allocators\[1\]: expected an allocator name \(one of: transient, .*\) or a module path, found "jemalloc"/);
    expect(r.wrote).toBe(false);
  });

  it('unknown preset', async () => {
    const r = await runSpec({ ...GOOD, preset: 'optane' });
    expect(r.err).toMatch(/preset: expected a preset name \(one of: optane-adr, dram, eadr, cxl\) or the path of a preset file ending in \.json .*, found "optane"/);
    expect([r.code, r.wrote]).toEqual([1, false]);
  });

  it('unknown workload, listing the valid names', async () => {
    const r = await runSpec({ ...GOOD, workloads: [{ name: 'lisst' }] });
    expect(r.err).toMatch(/workloads\[0\]\.name: expected a workload name \(one of: .*list.*\) or a module path, found "lisst"/);
    expect([r.code, r.wrote]).toEqual([1, false]);
  });

  it('negative and zero counts, all reported at once', async () => {
    const r = await runSpec({ ...GOOD, seeds: [-1], threads: [0], workloads: [{ name: CHURN, params: { opsPerThread: 0 } }] });
    expect(r.err).toMatch(/seeds\[0\]: expected a number at least 0, found -1/);
    expect(r.err).toMatch(/threads\[0\]: expected a number at least 1, found 0/);
    expect([r.code, r.wrote]).toEqual([1, false]);
    const p = await runSpec({ ...GOOD, workloads: [{ name: CHURN, params: { opsPerThread: 0 } }] });
    expect(p.err).toMatch(/workloads\[0\]\.params\.opsPerThread: expected an integer in 1\.\.1000000 \(with 1 thread, heap 1048576 B\), found 0/);
    expect([p.code, p.wrote]).toEqual([1, false]);
  });

  it('a crash bound that would explode', async () => {
    const r = await runSpec({ ...GOOD, crash: { modes: ['k-subsets', 'exhaustive'], k: 9, exhaustiveLimit: 1e9, maxStates: 1e12 } });
    expect(r.err).toMatch(/crash\.k: expected k at most 3 \(states grow as lines\^k\), found 9/);
    expect(r.err).toMatch(/crash\.exhaustiveLimit: expected at most 100000 states per crash point, found 1000000000/);
    expect(r.err).toMatch(/crash\.maxStates: expected at most 1000000 states per job/);
    expect([r.code, r.wrote]).toEqual([1, false]);
  });

  it('an unknown field (a typo) is an error, not ignored', async () => {
    const r = await runSpec({ ...GOOD, thread: [2] });
    expect(r.err).toMatch(/thread: expected no such field/);
    expect([r.code, r.wrote]).toEqual([1, false]);
  });

  it('an unwritable output folder', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    const r = await runSpec(GOOD, join(file, 'out'));
    expect(r.err).toMatch(/cannot write to output folder .*a-file\/out: ENOTDIR/);
    expect(r.code).toBe(1);
  });

  it('the real bin prints no stack trace and exits non-zero', () => {
    const file = join(tmp, 'bin.json');
    writeFileSync(file, JSON.stringify({ ...GOOD, allocators: ['nope'] }));
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nvlab.mjs'), 'run', file, '--out', join(tmp, 'bin-out')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nvlab: invalid experiment spec .*bin\.json \(1 problem\):\n {2}- allocators\[0\]: expected an allocator name/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(tmp, 'bin-out'))).toBe(false);
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin/nvlab.mjs'), 'run', file, '--workers', '-2'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--workers/);
  });
});
