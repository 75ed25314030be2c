/**
 * The per-core cycle limit: a core that runs past it (on the fast L1 path, the slow
 * path or compute) throws CycleBudgetError; without a limit nothing changes. A limit
 * given as a lower bound with a raise (the crash checker's, before a functional run's
 * cycles are known) stops the core where the raised limit would have.
 */
import { describe, expect, it } from 'vitest';
import { makeCostModel } from './cost-model.ts';
import { CycleBudgetError } from './errors.ts';
import { createMachine } from './machine.ts';

function machine() {
  const m = createMachine({ cores: 1, cost: makeCostModel(), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 20 });
  m.formatNvram();
  return m;
}

describe('cycle limit', () => {
  it('stops a loop of L1 hits (the fast path) once the clock passes the limit', () => {
    const m = machine();
    const core = m.core(0);
    const a = m.layout.nvramBase + 64;
    core.store64(a, 1);
    core.setCycleLimit(core.clockCycles + 10_000);
    let loads = 0;
    expect(() => { for (;;) { core.load64(a); loads++; } }).toThrow(CycleBudgetError);
    expect(loads).toBeGreaterThan(1000);
    expect(core.clockCycles).toBeGreaterThan(10_000);
  });
  it('stops stores, slow-path accesses and compute too', () => {
    const m = machine();
    const core = m.core(0);
    core.setCycleLimit(5_000);
    expect(() => { for (let i = 0; ; i++) core.store64(m.layout.dramBase + 64 * (i % 4096), i); }).toThrow(CycleBudgetError);
    const c2 = machine().core(0);
    c2.setCycleLimit(100);
    expect(() => c2.compute(101)).toThrow(/limit of 100 cycles/);
  });
  it('has no limit by default and reset() clears one', () => {
    const m = machine();
    const core = m.core(0);
    core.compute(1e12);
    core.setCycleLimit(10);
    core.reset();
    expect(() => core.compute(1e6)).not.toThrow();
  });
  it('a lower bound with a raise stops where the raised limit stops, asking for it once', () => {
    const loop = (core: ReturnType<typeof machine>['cores'][number], base: number) => {
      let i = 0;
      try {
        for (;; i++) core.store64(base + 64 * (i % 4096), i);
      } catch (e) {
        return { i, clock: core.clockCycles, message: (e as Error).message };
      }
    };
    const eager = machine();
    eager.core(0).setCycleLimit(50_000);
    const lazy = machine();
    let raises = 0;
    lazy.core(0).setCycleLimit(5_000, () => {
      raises++;
      return 50_000;
    });
    expect(loop(lazy.core(0), lazy.layout.dramBase)).toEqual(loop(eager.core(0), eager.layout.dramBase));
    expect(raises).toBe(1);
    // A raise below the bound keeps the bound; a clock already past the raised limit stops at once.
    const low = machine().core(0);
    low.setCycleLimit(100, () => 10);
    expect(() => low.compute(101)).toThrow(/limit of 100 cycles/);
    const past = machine().core(0);
    past.setCycleLimit(100, () => 200);
    expect(() => past.compute(201)).toThrow(/limit of 200 cycles/);
  });
});
