/**
 * The project's crash checker (experiments/crash) on Makalu: every crash state of the
 * list workload (malloc-then-link) is valid for `makalu` and `makalu-shipped`, and the
 * broken canaries that workload can expose are reported invalid.
 */
import { describe, expect, it } from 'vitest';
import { checkCrashStates, type CrashJob } from '../../experiments/crash/api.ts';
import { factories } from './index.ts';

const MiB = 1024 * 1024;
const job = (allocator: string, ops = 14, idiom: CrashJob['idiom'] = 'malloc-then-link'): CrashJob => ({
  allocator, workload: 'list', params: { opsPerThread: ops, keyRange: 16, insertPercent: 70 }, idiom, threads: 1, seed: 1,
  nvramSizeBytes: 4 * MiB, dramSizeBytes: 16 * MiB, persistency: 'line', mode: 'k-subsets', k: 1, nestedPoints: 1, probeBlocks: 16,
});

describe('makalu: the crash checker (list workload, line-granular ADR, 1-line deviations)', () => {
  for (const name of ['makalu', 'makalu-shipped']) {
    it(`finds every crash state of ${name} valid`, () => {
      const rows = checkCrashStates(job(name)).rows;
      expect(rows.length).toBeGreaterThan(50);
      expect(rows.filter((r) => r.verdict !== 'valid').map((r) => `${r.anomaly}: ${r.detail}`).slice(0, 5)).toEqual([]);
    }, 60_000);
  }
  // makalu-broken-noflush-root is checked under alloc-into below: under malloc-then-link
  // the list workload publishes with its own flushes and never calls setRoot/mallocTo.
  for (const f of factories.filter((x) => x.broken === true && x.name !== 'makalu-broken-noflush-root')) {
    it(`catches the canary ${f.name}`, () => {
      const rows = checkCrashStates(job(f.name, 6)).rows;
      expect(rows.some((r) => r.verdict === 'invalid')).toBe(true);
    }, 60_000);
  }
  it('finds every crash state of makalu valid under alloc-into (mallocTo: malloc, init, store, flush, fence)', () => {
    const rows = checkCrashStates(job('makalu', 14, 'alloc-into')).rows;
    expect(rows.length).toBeGreaterThan(50);
    expect(rows.filter((r) => r.verdict !== 'valid').map((r) => `${r.anomaly}: ${r.detail}`).slice(0, 5)).toEqual([]);
  }, 60_000);
  it('catches the canary makalu-broken-noflush-root under alloc-into (a completed publication is lost)', () => {
    const rows = checkCrashStates(job('makalu-broken-noflush-root', 6, 'alloc-into')).rows;
    expect(rows.some((r) => r.verdict === 'invalid' && r.anomaly === 'durability')).toBe(true);
  }, 60_000);
});
