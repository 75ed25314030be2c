/**
 * The project's crash checker (experiments/crash) on Makalu: every crash state of the
 * list workload (malloc-then-link) is valid for `makalu` and `makalu-shipped`, and the
 * broken canaries that workload can expose are reported invalid.
 */
import { describe, expect, it } from 'vitest';
import { checkCrashStates, type CrashJob } from '../../experiments/crash/api.ts';
import { factories } from './index.ts';

const MiB = 1024 * 1024;
const job = (allocator: string, ops = 14): CrashJob => ({
  allocator, workload: 'list', params: { opsPerThread: ops, keyRange: 16, insertPercent: 70 }, idiom: 'malloc-then-link', threads: 1, seed: 1,
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
  // makalu-broken-noflush-root is left to recovery.test.ts: the list workload publishes
  // with its own flushes under malloc-then-link, so it never calls setRoot/mallocTo.
  for (const f of factories.filter((x) => x.broken === true && x.name !== 'makalu-broken-noflush-root')) {
    it(`catches the canary ${f.name}`, () => {
      const rows = checkCrashStates(job(f.name, 6)).rows;
      expect(rows.some((r) => r.verdict === 'invalid')).toBe(true);
    }, 60_000);
  }
});
