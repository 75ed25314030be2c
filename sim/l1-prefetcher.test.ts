/**
 * The L1 IP-stride prefetcher (sim/l1-prefetcher.ts): its table against a naive model
 * that replays each site's whole miss history, and, inside the machine, what a strided
 * load walk gains and that the prefetcher changes time only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpStridePrefetcher } from './l1-prefetcher.ts';
import { SeededChoice } from './choice.ts';
import { makeCostModel, type CostOverrides } from './cost-model.ts';
import { DRAM_BASE, NVRAM_BASE, createMachine, type SimMachine } from './machine.ts';
import { traceHash } from './trace-hash.ts';
import { loadOrError } from './testing/load-or-error.ts';

/** The header's rule over the full history: miss n of a site is prefetched iff misses n-3..n-1 had one regular stride pointing at its line in the page of miss n-1. */
class ReferenceStride {
  private readonly history = new Map<number, { addr: number; t: number }[]>();
  constructor(readonly maxStrideBytes: number) {}
  miss(site: number, addr: number, t: number): number {
    const h = this.history.get(site) ?? [];
    this.history.set(site, h);
    let issued = -1;
    const n = h.length;
    if (n >= 3) {
      const s = h[n - 1].addr - h[n - 2].addr;
      const s0 = h[n - 2].addr - h[n - 3].addr;
      const target = h[n - 1].addr + s;
      const regular = s !== 0 && s === s0 && Math.abs(s) <= this.maxStrideBytes;
      const inPage = target >= 0 && Math.floor(target / 4096) === Math.floor(h[n - 1].addr / 4096);
      if (regular && inPage && Math.floor(target / 64) === Math.floor(addr / 64)) issued = h[n - 1].t;
    }
    h.push({ addr, t });
    return issued;
  }
}

function machine(overrides: CostOverrides = {}, cores = 1): SimMachine {
  const m = createMachine({ cores, cost: makeCostModel('optane-adr', overrides), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 22 });
  m.formatNvram();
  return m;
}

describe('IpStridePrefetcher', () => {
  it('predicts exactly what the naive replay of each site\'s miss history predicts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 128, 2048),
        fc.array(fc.record({ site: fc.integer({ min: 0, max: 3 }), step: fc.constantFrom(-4096, -2048, -192, -64, 0, 8, 64, 64, 64, 128, 2048, 2112, 5000) }), { maxLength: 300 }),
        (maxStride, ops) => {
          const real = new IpStridePrefetcher(maxStride);
          const ref = new ReferenceStride(maxStride);
          const addr = [8192, 8192, 8192, 8192];
          let t = 0;
          for (const op of ops) {
            addr[op.site] = Math.max(0, addr[op.site] + op.step);
            t += 1 + (op.step & 7);
            expect(real.miss(op.site, addr[op.site], t)).toBe(ref.miss(op.site, addr[op.site], t));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a saved fill never makes a miss cheaper than an L1 hit nor saves more than the time since the prefetch', () => {
    expect(IpStridePrefetcher.saved(13, 100, 95, 1)).toBe(5);
    expect(IpStridePrefetcher.saved(13, 100, 20, 1)).toBe(12);
    expect(IpStridePrefetcher.saved(1, 100, 20, 1)).toBe(0);
  });
});

describe('the L1 stride prefetcher in the core', () => {
  it('a load walk with a 128 B stride over lines in L2 pays L1 hits once the stride is seen twice; off, L2 hits', () => {
    const walk = (overrides: CostOverrides): number[] => {
      const m = machine({ prefetchInFlightLines: 0, fillBufferEntries: 0, ...overrides });
      const c = m.core(0);
      const base = DRAM_BASE + 64 * 1024;
      for (let a = base; a < base + 32 * 1024 + 4096; a += 64) c.load64(a); // 36 KiB: the first lines leave L1 (32 KiB), stay in L2
      const cost: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t = c.clockCycles;
        c.load64(base + i * 128);
        cost.push(c.clockCycles - t);
      }
      return cost;
    };
    const cost = makeCostModel();
    expect(walk({ l1StridePrefetchMaxBytes: 0 })).toEqual(Array(8).fill(cost.l2HitCycles));
    // Misses 0-2 train (miss 2 sees the stride twice and prefetches line 3 at its start).
    // The prefetch runs one stride ahead and is issued at the previous miss's start: miss
    // 3 comes 13 cycles after it (fully hidden, an L1 hit), miss 4 only 1 cycle after
    // miss 3 (12 cycles left to wait), and so on: back to back, every other miss is hidden.
    const h = cost.l1HitCycles;
    const l2 = cost.l2HitCycles;
    expect(walk({})).toEqual([l2, l2, l2, h, l2 - h, h, l2 - h, h]);
  });

  it('changes time only: values, memory, counters and the persistency trace match a machine without it, and one core is never slower', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(0, 10), (cores, seed, fillBufferEntries) => {
        const run = (overrides: CostOverrides) => {
          const m = machine({ fillBufferEntries, ...overrides }, cores);
          const loaded: number[] = [];
          const ch = new SeededChoice(seed);
          const dram = m.reserveDram(64 * 1024);
          for (let s = 0; s < 300; s++) {
            const c = m.core(ch.index(cores));
            c.setSite(ch.index(3));
            const base = ch.chance(1, 3) ? dram : NVRAM_BASE + ch.index(3) * 4096;
            // Strided runs (so that strides form) and random lines.
            const a = base + (ch.chance(3, 4) ? ((s * 3) % 64) * 64 : ch.index(64) * 64) + ch.index(8) * 8;
            const k = ch.index(10);
            if (k < 5) loaded.push(loadOrError(() => c.load64(a)));
            else if (k < 8) c.store64(a, ch.index(1 << 30));
            else if (k === 8) c.clwb(a);
            else c.sfence();
          }
          const mem: number[] = [];
          for (let off = 0; off < 3 * 4096; off += 8) mem.push(m.peek(NVRAM_BASE + off, 4));
          for (let off = 0; off < 4096; off += 8) mem.push(m.peek(dram + off, 4));
          const { computeCycles: _c, persistCycles: _p, idleCycles: _i, lockWaitCycles: _l, ...cnt } = m.counters();
          m.hierarchy.checkInvariants();
          return { loaded, mem, hash: traceHash(m.trace!), cnt, clock: m.core(0).clockCycles };
        };
        const on = run({});
        const off = run({ l1StridePrefetchMaxBytes: 0 });
        expect({ ...on, clock: 0 }).toEqual({ ...off, clock: 0 });
        if (cores === 1) expect(on.clock).toBeLessThanOrEqual(off.clock);
      }),
      { numRuns: 15 },
    );
  });
});
