/** The per-allocator crash-speed figure of `nvlab bench`: every listed allocator measured, checks never above states. */
import { describe, expect, it } from 'vitest';
import { BENCH_ALLOCATORS, crashRateByAllocator } from './bench.ts';

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
