/**
 * The registered allocators under the crash checker (small runs: a few list ops, a
 * per-point cap): correct allocators give no invalid state in lower, upper, k-subsets
 * (k = 2) and read-driven line mode; every broken canary is caught with a minimized
 * counterexample; transient loses data. The full matrix (hashmap, cow-btree, more ops,
 * word mode) is `crashStudy` in study.ts, run by command, not here.
 */
import { describe, expect, it } from 'vitest';
import { findAllocator } from '../../allocators/registry.ts';
import type { Idiom } from '../../allocators/contract.ts';
import { checkCrashStates, type CrashJob, type CrashStateMode } from './api.ts';
import { synthRoots } from './testing/synth-roots.ts';

function job(allocator: string, idiom: Idiom, mode: CrashStateMode, workload = 'list'): CrashJob {
  return {
    allocator, workload, params: workload === 'list' ? { opsPerThread: 4 } : { ops: 5 }, idiom, threads: 1, seed: 3,
    nvramSizeBytes: 4 << 20, dramSizeBytes: 4 << 20, persistency: 'line', mode, k: 2, maxStatesPerPoint: 12, maxCounterexamples: 1,
  };
}
const present = (name: string): boolean => findAllocator(name) !== undefined;

describe('correct allocators: no invalid crash state (line mode, list)', () => {
  const cases: [string, Idiom][] = [
    ['makalu', 'malloc-then-link'], ['makalu-shipped', 'malloc-then-link'], ['pmdk', 'alloc-into'], ['pmdk', 'malloc-then-link'],
    ['nvm-malloc', 'malloc-then-link'], ['nvm-malloc-header-flush', 'alloc-into'], ['ralloc', 'malloc-then-link'],
  ];
  for (const [name, idiom] of cases) {
    it.skipIf(!present(name))(`${name} (${idiom})`, () => {
      for (const mode of ['lower', 'upper', 'k-subsets', 'read-driven'] as CrashStateMode[]) {
        const res = checkCrashStates(job(name, idiom, mode));
        expect(res.rows.length).toBeGreaterThan(0);
        expect(res.rows.filter((r) => r.verdict !== 'valid').map((r) => `${mode}: ${r.anomaly} ${r.detail}`)).toEqual([]);
      }
    });
  }
});

describe('broken canaries are caught with a counterexample', () => {
  const cases: [string, Idiom, CrashStateMode, string, RegExp][] = [
    ['makalu-broken-nolog', 'malloc-then-link', 'k-subsets', 'list', /makalu:take-run[\s\S]*undo-log entry is missing/],
    ['makalu-broken-noflush-section', 'malloc-then-link', 'lower', 'list', /makalu:/],
    ['makalu-broken-skiplog', 'malloc-then-link', 'lower', 'list', /recovery or protocol bug|makalu:/],
    ['makalu-broken-noflush-root', 'malloc-then-link', 'lower', 'synth-roots', /makalu:publish .* was not flushed/],
    ['pmdk-broken-early-apply', 'alloc-into', 'k-subsets', 'list', /pmdk:/],
    ['nvm-malloc-broken-nolog', 'alloc-into', 'lower', 'list', /nvm-malloc:/],
    ['nvm-malloc-broken-link-first', 'alloc-into', 'lower', 'list', /nvm-malloc:/],
    ['ralloc-broken-desc', 'malloc-then-link', 'lower', 'list', /./],
  ];
  for (const [name, idiom, mode, workload, expl] of cases) {
    it.skipIf(!present(name))(`${name} (${workload}, ${mode})`, () => {
      const res = checkCrashStates(job(name, idiom, mode, workload), { index: 0, count: 1 }, { workload: synthRoots });
      expect(res.rows.some((r) => r.verdict === 'invalid')).toBe(true);
      expect(res.counterexamples.length).toBeGreaterThan(0);
      expect(res.counterexamples[0].explanation.join('\n')).toMatch(expl);
    });
  }
});

describe('released Ralloc: large blocks (list nodes of 16 KiB, over its 14,336 B small-size limit)', () => {
  const big = (allocator: string): CrashJob => ({
    ...job(allocator, 'malloc-then-link', 'lower'), params: { opsPerThread: 6, keyRange: 4, nodeBytes: 16_384 }, nvramSizeBytes: 8 << 20,
  });
  it.skipIf(!present('ralloc-shipped'))('ralloc-shipped loses a reachable large block: the unflushed descriptor store is named', () => {
    const res = checkCrashStates(big('ralloc-shipped'));
    expect(res.rows.some((r) => r.verdict === 'invalid' && r.anomaly === 'double-allocation')).toBe(true);
    expect(res.counterexamples[0].explanation.join('\n')).toMatch(/ralloc:large-run .* was not flushed/);
  });
  it.skipIf(!present('ralloc'))('ralloc (designed) keeps them', () => {
    const res = checkCrashStates(big('ralloc'));
    expect(res.rows.length).toBeGreaterThan(0);
    expect(res.rows.filter((r) => r.verdict !== 'valid').map((r) => `${r.anomaly} ${r.detail}`)).toEqual([]);
  });
});

describe('reference behaviours', () => {
  it.skipIf(!present('transient'))('transient is reported as losing data (durability)', () => {
    const res = checkCrashStates(job('transient', 'malloc-then-link', 'lower'));
    expect(res.rows.some((r) => r.verdict === 'invalid' && r.anomaly === 'durability')).toBe(true);
  });
  it.skipIf(!present('nvm-malloc'))('finding: published nvm-malloc alloc-into has an ADR window (link durable, header not)', () => {
    const res = checkCrashStates(job('nvm-malloc', 'alloc-into', 'lower'));
    const cex = res.counterexamples[0];
    expect(cex).toBeDefined();
    expect(cex.explanation.join('\n')).toMatch(/nvm-malloc:activate .* was not flushed/);
  });
});
