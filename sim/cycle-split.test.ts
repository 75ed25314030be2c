/**
 * Where a core's cycles go (Counters.computeCycles, persistCycles, lockWaitCycles,
 * idleCycles; memory is the rest): each kind of instruction lands in its own part, the
 * parts never exceed the clock, and Core.instructions charges count x 1000 / ipcMilli
 * exactly (remainder carried).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCostModel, type CostOverrides } from './cost-model.ts';
import { NVRAM_BASE, createMachine, type SimMachine } from './machine.ts';

function machine(cores = 1, overrides: CostOverrides = {}): SimMachine {
  const m = createMachine({ cores, cost: makeCostModel('optane-adr', overrides), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 20, trace: false });
  m.formatNvram();
  return m;
}

describe('cycle split', () => {
  it('loads and stores are memory only; compute, flushes and fences, waits are their own parts', () => {
    const m = machine();
    const c = m.core(0);
    c.store64(NVRAM_BASE, 1);
    c.load64(NVRAM_BASE + 4096);
    const k = m.counters(0);
    expect(k.computeCycles + k.persistCycles + k.idleCycles + k.lockWaitCycles).toBe(0);
    const t0 = c.clockCycles;
    c.compute(50);
    expect(m.counters(0).computeCycles).toBe(50);
    c.clwb(NVRAM_BASE);
    c.sfence();
    expect(m.counters(0).persistCycles).toBe(c.clockCycles - t0 - 50);
    c.waitUntil(c.clockCycles + 1000);
    expect(m.counters(0).idleCycles).toBe(1000);
  });

  it('instructions cost count x 1000 / ipcMilli cycles, exact over many calls', () => {
    const m = machine(1, { ipcMilli: 3000 });
    const c = m.core(0);
    for (let i = 0; i < 10; i++) c.instructions(7);
    expect(m.counters(0).instructions).toBe(70);
    expect(c.clockCycles).toBe(Math.floor(70 / 3));
    expect(m.counters(0).computeCycles).toBe(c.clockCycles);
  });

  it('property: the named parts never exceed the clock', () => {
    const step = fc.oneof(
      fc.record({ k: fc.constant('store' as const), line: fc.integer({ min: 0, max: 63 }) }),
      fc.record({ k: fc.constant('load' as const), line: fc.integer({ min: 0, max: 63 }) }),
      fc.record({ k: fc.constant('clwb' as const), line: fc.integer({ min: 0, max: 63 }) }),
      fc.record({ k: fc.constant('fence' as const), line: fc.constant(0) }),
      fc.record({ k: fc.constant('cas' as const), line: fc.integer({ min: 0, max: 63 }) }),
      fc.record({ k: fc.constant('instr' as const), line: fc.integer({ min: 0, max: 500 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const m = machine();
        const c = m.core(0);
        for (const s of steps) {
          const a = NVRAM_BASE + 64 * s.line;
          if (s.k === 'store') c.store64(a, 1);
          else if (s.k === 'load') c.load64(a);
          else if (s.k === 'clwb') c.clwb(a);
          else if (s.k === 'fence') c.sfence();
          else if (s.k === 'cas') c.cas64(a, 0, 0);
          else c.instructions(s.line);
        }
        const k = m.counters(0);
        expect(k.computeCycles + k.persistCycles + k.idleCycles + k.lockWaitCycles).toBeLessThanOrEqual(c.clockCycles);
      }),
      { seed: 42, numRuns: 100 },
    );
  });
});
