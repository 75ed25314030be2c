/**
 * The hardware prefetchers inside the machine (sim/prefetcher.ts driven by sim/core.ts):
 * exact timing of a prefetched line, what a sequential walk gains, and that prefetching
 * changes time and cache contents only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededChoice } from './choice.ts';
import { makeCostModel, type CostOverrides } from './cost-model.ts';
import { DRAM_BASE, NVRAM_BASE, createMachine, type SimMachine } from './machine.ts';
import { traceHash } from './trace-hash.ts';
import { loadOrError } from './testing/load-or-error.ts';

const OFF: CostOverrides = { prefetchInFlightLines: 0 };

function machine(cores: number, overrides: CostOverrides = {}): SimMachine {
  const m = createMachine({ cores, cost: makeCostModel('optane-adr', overrides), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 22 });
  m.formatNvram();
  return m;
}

describe('prefetching in the core', () => {
  it('a load of a line still being prefetched waits for the rest of its fill, then pays an L2 hit', () => {
    const m = machine(1, { prefetchAdjacentLine: 0 });
    const cost = m.cost;
    const c = m.core(0);
    const page = NVRAM_BASE + 8 * 4096;
    c.load64(page); // cold, random NVM read; allocates the page's stream
    const t1 = c.clockCycles;
    expect(t1).toBe(cost.nvmReadRandCycles);
    c.load64(page + 64); // the same XPLine: a sequential read; the stream is ascending now
    const t2 = c.clockCycles;
    expect(t2 - t1).toBe(cost.nvmReadSeqCycles);
    // Lines 2 and 3 were prefetched at t1 (the request's start), from the same XPLine.
    expect(c.counters.prefetches).toBe(2);
    c.load64(page + 128);
    expect(c.clockCycles).toBe(t1 + cost.nvmReadSeqCycles + cost.l2HitCycles);
    expect(c.counters.l2Hits).toBe(1);
  });

  it('a load of a line whose prefetch has arrived pays an L2 hit', () => {
    const m = machine(1, { prefetchAdjacentLine: 0 });
    const c = m.core(0);
    c.load64(NVRAM_BASE);
    c.load64(NVRAM_BASE + 64);
    c.compute(10_000);
    const t = c.clockCycles;
    c.load64(NVRAM_BASE + 192);
    expect(c.clockCycles - t).toBe(m.cost.l2HitCycles);
  });

  it('a store stream prefetches with ownership: the later stores need no transfer, and nothing becomes dirty early', () => {
    const m = machine(2, { fillBufferEntries: 0 });
    const [a, b] = m.cores;
    const base = NVRAM_BASE + 4096;
    for (let k = 0; k < 6; k++) b.load64(base + k * 64); // b shares lines 0-5
    for (let k = 0; k < 4; k++) a.store64(base + k * 64, k + 1);
    // Lines 4-7 were prefetched for ownership by a's store stream: b lost 4 and 5, clean.
    const w = m.hierarchy.where((base >>> 6) + 5);
    expect(w.l2).toEqual([0]);
    expect(w.owner).toBe(0);
    expect(w.dirty).toBe(false);
    a.compute(10_000); // the prefetches have arrived
    const t = a.clockCycles;
    a.store64(base + 5 * 64, 9); // an L2 hit on an owned line: no transfer (stores stall here: fillBufferEntries 0)
    expect(a.clockCycles - t).toBe(m.cost.l2HitCycles);
    expect(m.hierarchy.where((base >>> 6) + 5).dirty).toBe(true);
    m.hierarchy.checkInvariants();
  });

  it('a sequential walk of cold NVRAM gets cheaper; a prefetch never crosses its 4 KiB page', () => {
    const walk = (overrides: CostOverrides) => {
      const m = machine(1, overrides);
      const c = m.core(0);
      for (let k = 0; k < 64; k++) c.load64(NVRAM_BASE + 4096 + k * 64);
      const next = m.hierarchy.where((NVRAM_BASE + 8192) >>> 6);
      return { cycles: c.clockCycles, prefetches: c.counters.prefetches, nextPageCached: next.llc };
    };
    const on = walk({});
    const off = walk(OFF);
    expect(off.prefetches).toBe(0);
    expect(on.prefetches).toBeGreaterThan(50);
    expect(on.cycles * 3).toBeLessThan(off.cycles);
    expect(on.nextPageCached).toBe(false);
  });

  it('changes time and cache contents only: values, memory and the persistency trace match a machine without it', () => {
    // No bound on the clocks is asserted here: with several cores a prefetch for
    // ownership takes a line another core is using (it pays a transfer on its next
    // access), a prefetch can evict a useful line, and prefetched media reads change
    // which later reads count as sequential. The single-core bound is the next test.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(0, 10), (cores, seed, fillBufferEntries) => {
        const run = (overrides: CostOverrides) => {
          const m = machine(cores, { fillBufferEntries, ...overrides });
          const loaded: number[] = [];
          const ch = new SeededChoice(seed);
          const dram = m.reserveDram(4096);
          for (let s = 0; s < 500; s++) {
            const c = m.core(ch.index(cores));
            const base = ch.chance(1, 3) ? dram : NVRAM_BASE + ch.index(3) * 4096;
            // Runs of neighbouring lines, so that streams form.
            const a = base + ((s >> 2) % 64) * 64 + ch.index(8) * 8;
            const k = ch.index(10);
            if (k < 4) loaded.push(loadOrError(() => c.load64(a)));
            else if (k < 7) c.store64(a, ch.index(1 << 30));
            else if (k === 7) c.clwb(a);
            else if (k === 8) loaded.push(c.cas64(a, 0, ch.index(100)) ? 1 : 0);
            else c.sfence();
          }
          const mem: number[] = [];
          for (let off = 0; off < 3 * 4096; off += 8) mem.push(m.peek(NVRAM_BASE + off, 4));
          for (let off = 0; off < 4096; off += 8) mem.push(m.peek(dram + off, 4));
          const cnt = m.counters();
          m.hierarchy.checkInvariants();
          return { loaded, mem, hash: traceHash(m.trace!), loads: cnt.loads, stores: cnt.stores, flushes: cnt.clwbs, prefetches: cnt.prefetches };
        };
        const on = run({});
        const off = run(OFF);
        expect(off.prefetches).toBe(0);
        expect({ ...on, prefetches: 0 }).toEqual(off);
      }),
      { numRuns: 25 },
    );
  });

  it('on one core, when nothing can be evicted and every media read costs the same, each L1 miss costs at most one L2 hit more', () => {
    // Why this bound: the caches of the prefetching machine then hold a superset of the
    // other's lines at every point of the program, so each access is served from the same
    // level or a nearer one; a line still being prefetched costs the rest of a fill that
    // started no later than the other machine's, plus an L2 hit. Random reads only
    // (seqWindowLines 0) and no write-back path, because a prefetch's media read would
    // otherwise change what later reads cost. A small footprint (3 NVRAM pages, one DRAM
    // page) in the default caches: nothing is evicted.
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(0, 10), (seed, fillBufferEntries) => {
        const run = (overrides: CostOverrides) => {
          const m = machine(1, { fillBufferEntries, seqWindowLines: 0, writeBackPathLines: 0, ...overrides });
          const c = m.core(0);
          const ch = new SeededChoice(seed);
          for (let s = 0; s < 400; s++) {
            const base = ch.chance(1, 4) ? DRAM_BASE + 64 * 1024 : NVRAM_BASE + ch.index(3) * 4096;
            const a = base + (ch.chance(3, 4) ? (s >> 1) % 64 : ch.index(64)) * 64;
            const k = ch.index(8);
            if (k < 4) loadOrError(() => c.load64(a));
            else if (k < 6) c.store64(a, s);
            else if (k === 6) c.clwb(a);
            else c.sfence();
          }
          c.sfence();
          return { clock: c.clockCycles, misses: c.counters.l1Misses };
        };
        const on = run({});
        const off = run(OFF);
        expect(on.misses).toBe(off.misses);
        expect(on.clock).toBeLessThanOrEqual(off.clock + on.misses * makeCostModel().l2HitCycles);
      }),
      { numRuns: 60 },
    );
  });
});
