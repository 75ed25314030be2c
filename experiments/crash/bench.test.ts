/** The per-allocator crash-speed figure of `nvlab bench`: every listed allocator measured, checks never above states. */
import { describe, expect, it } from 'vitest';
import { BENCH_ALLOCATORS, crashRateByAllocator, runLengthRates } from './bench.ts';

describe('crashRateByAllocator', () => {
  it('reports states/s and full checks for makalu, pmdk, nvm-malloc and ralloc', () => {
    const r = crashRateByAllocator(8, 1);
    expect(Object.keys(r)).toEqual([...BENCH_ALLOCATORS]);
    for (const x of Object.values(r)) {
      expect(x.states).toBeGreaterThan(0);
      expect(x.checks).toBeGreaterThan(0);
      expect(x.checks).toBeLessThanOrEqual(x.states);
      expect(x.statesPerSec).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('runLengthRates', () => {
  it('times a short and a capped long job per allocator and mode, and their ratio', () => {
    const r = runLengthRates({ shortOps: 6, longOps: 30, maxStates: 7, allocators: ['makalu', 'ralloc'], modes: ['lower', 'upper'] });
    expect(Object.keys(r)).toEqual(['makalu', 'ralloc']);
    for (const byMode of Object.values(r)) {
      expect(Object.keys(byMode)).toEqual(['lower', 'upper']);
      for (const x of Object.values(byMode)) {
        expect(x.long.states).toBe(7);
        expect(x.short.states).toBeGreaterThan(0);
        expect(x.short.statesPerSec).toBeGreaterThan(0);
        expect(x.ratio).toBeCloseTo(x.long.statesPerSec / x.short.statesPerSec, 1);
        expect(x.ratioCpu).toBeGreaterThan(0);
      }
    }
  }, 120_000);
});
