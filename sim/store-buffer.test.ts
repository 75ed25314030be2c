/**
 * Posted store misses (sim/store-buffer.ts): the buffer against a naive list model, and
 * what a core pays for stores, loads, flushes and fences with posting on.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCostModel, type CostOverrides } from './cost-model.ts';
import { NVRAM_BASE, createMachine, type SimMachine } from './machine.ts';
import { traceHash } from './trace-hash.ts';
import { SeededChoice } from './choice.ts';
import { PostedStores } from './store-buffer.ts';

function machine(overrides: CostOverrides = {}, cores = 1): SimMachine {
  const m = createMachine({ cores, cost: makeCostModel('optane-adr', { xpBufferEnabled: 0, ...overrides }), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 22 });
  m.formatNvram();
  return m;
}

describe('PostedStores against a naive list of fills', () => {
  it('gives the same continue times and fill times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ op: fc.nat({ max: 3 }), line: fc.nat({ max: 7 }), gap: fc.nat({ max: 300 }), lat: fc.integer({ min: 2, max: 700 }) }), { maxLength: 60 }),
        (capacity, steps) => {
          const sb = new PostedStores(capacity);
          let fills: { line: number; done: number }[] = [];
          let now = 0;
          for (const s of steps) {
            now += s.gap;
            fills = fills.filter((f) => f.done > now);
            if (s.op <= 1) {
              let at = now;
              if (!fills.some((f) => f.line === s.line)) {
                if (fills.length === capacity) {
                  at = Math.min(...fills.map((f) => f.done));
                  fills = fills.filter((f) => f.done > at);
                }
                fills.push({ line: s.line, done: at + s.lat });
              }
              expect(sb.post(s.line, now, s.lat)).toBe(at);
              now = at;
            } else if (s.op === 2) {
              expect(sb.pendingDone(s.line, now)).toBe(fills.find((f) => f.line === s.line)?.done ?? -1);
            } else {
              const end = Math.max(now, ...fills.map((f) => f.done));
              expect(sb.drain(now)).toBe(end);
              fills = [];
              now = end;
            }
            expect(sb.count).toBe(fills.length);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects a capacity that is not a non-negative integer', () => {
    expect(() => new PostedStores(-1)).toThrow(/fillBufferEntries/);
    expect(() => new PostedStores(1.5)).toThrow(/fillBufferEntries/);
  });
});

describe('a core with posted store misses', () => {
  it('a store miss costs an L1 hit; a load of the line waits for its fill', () => {
    const m = machine();
    const c = m.core(0);
    const t = c.clockCycles;
    c.store64(NVRAM_BASE + 4096, 1);
    expect(c.clockCycles - t).toBe(m.cost.l1HitCycles);
    c.load64(NVRAM_BASE + 4096 + 8);
    // The load waits for the fill (issued at t), then hits.
    expect(c.clockCycles - t).toBe(m.cost.nvmReadRandCycles + m.cost.l1HitCycles);
  });

  it('a further store to a pending line merges; a miss with every fill buffer busy waits for the earliest', () => {
    const m = machine({ fillBufferEntries: 2 });
    const c = m.core(0);
    const lat = m.cost.nvmReadRandCycles;
    const t = c.clockCycles;
    c.store64(NVRAM_BASE + 4096, 1);
    c.store64(NVRAM_BASE + 4096 + 8, 2); // merges with the pending fill
    c.store64(NVRAM_BASE + 3 * 4096, 3);
    expect(c.clockCycles - t).toBe(3 * m.cost.l1HitCycles);
    c.store64(NVRAM_BASE + 5 * 4096, 4); // both buffers busy: wait for the first fill
    expect(c.clockCycles - t).toBe(lat + m.cost.l1HitCycles);
  });

  it('a flush of a pending line starts its write-back when the fill completes: persisting costs what it did without posting', () => {
    const persist = (fillBufferEntries: number) => {
      const m = machine({ fillBufferEntries });
      const c = m.core(0);
      c.store64(NVRAM_BASE + 4096, 1);
      c.clwb(NVRAM_BASE + 4096);
      c.sfence();
      return c.clockCycles;
    };
    expect(persist(10)).toBe(persist(0));
  });

  it('mfence, sfence, CAS and unlock drain every pending fill', () => {
    for (const end of ['mfence', 'sfence', 'cas', 'unlock'] as const) {
      const m = machine();
      const c = m.core(0);
      const lock = m.reserveDram(64);
      if (end === 'unlock') c.lock(lock);
      const t = c.clockCycles;
      c.store64(NVRAM_BASE + 4096, 1);
      if (end === 'mfence') c.mfence();
      else if (end === 'sfence') c.sfence();
      else if (end === 'cas') c.cas64(NVRAM_BASE + 8192, 0, 1);
      else c.unlock(lock);
      expect(c.clockCycles - t, end).toBeGreaterThanOrEqual(m.cost.nvmReadRandCycles);
    }
  });

  it('changes time only: values, trace and miss counts are those of a stalling core, and no clock is later', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.string({ minLength: 1, maxLength: 8 }), (cores, seed) => {
        const run = (fillBufferEntries: number) => {
          const m = machine({ fillBufferEntries }, cores);
          const ch = new SeededChoice(seed);
          const loaded: number[] = [];
          for (let s = 0; s < 300; s++) {
            const c = m.core(ch.index(cores));
            const a = NVRAM_BASE + ch.index(16) * 4096 + ch.index(8) * 8;
            const k = ch.index(10);
            if (k < 3) loaded.push(c.load64(a));
            else if (k < 7) c.store64(a, ch.index(1 << 30));
            else if (k === 7) c.clwb(a);
            else if (k === 8) c.sfence();
            else c.cas64(a, 0, 1);
          }
          const n = m.counters();
          return { loaded, hash: traceHash(m.trace!), misses: n.llcMisses, stores: n.stores, clocks: m.cores.map((c) => c.clockCycles) };
        };
        const posted = run(10);
        const stalled = run(0);
        expect({ ...posted, clocks: [] }).toEqual({ ...stalled, clocks: [] });
        posted.clocks.forEach((t, i) => expect(t).toBeLessThanOrEqual(stalled.clocks[i]));
      }),
      { numRuns: 60 },
    );
  });
});
