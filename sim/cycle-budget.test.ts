/**
 * The per-core cycle limit: a core that runs past it (on the fast L1 path, the slow
 * path or compute) throws CycleBudgetError; without a limit nothing changes.
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
});
