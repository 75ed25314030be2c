/**
 * The machine's cost rules (nvram-model.md rules 2-9) checked against their formulas,
 * misuse errors, counters and determinism (same program -> same counters, same trace hash).
 */
import { ReadTracker } from './read-set.ts';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCostModel, type CostModel, type CostOverrides, type PresetName } from './cost-model.ts';
import { MisuseError } from './errors.ts';
import { DRAM_BASE, NVRAM_BASE, createMachine, type SimMachine } from './machine.ts';
import { traceHash } from './trace-hash.ts';
import { SeededChoice } from './choice.ts';
import { TraceKind, type Counters } from './api.ts';
import { loadOrError } from './testing/load-or-error.ts';

/**
 * The rule tests check nvram-model.md's formulas on a core that stalls for every miss, so
 * posting store misses is off unless a test turns it on (the store buffer has its own
 * tests in sim/store-buffer.test.ts), and so are the hardware prefetchers
 * (sim/prefetcher.test.ts, sim/prefetch-core.test.ts).
 */
function machine(cores = 1, preset: PresetName = 'optane-adr', overrides: CostOverrides = {}): SimMachine {
  const m = createMachine({ cores, cost: makeCostModel(preset, { fillBufferEntries: 0, prefetchInFlightLines: 0, ...overrides }), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 22 });
  m.formatNvram();
  return m;
}

/** Rules 3 and 5: completion times of k write-backs issued at `issues`, and the fence cost at `now`. */
function expectedFence(cost: CostModel, issues: number[], now: number, latency: number): number {
  let done = 0;
  let last = -Infinity;
  for (const t of issues) {
    last = Math.max(t + latency, last + cost.flushPipelineCycles);
    done = Math.max(done, last);
  }
  return Math.max(cost.sfenceCycles, done - now);
}

describe('cost rules', () => {
  it('rules 3 and 5: a fence after k pipelined clwb costs max(base, latest completion - now)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.nat({ max: 400 }), fc.nat({ max: 3 }), (k, extra, gap) => {
        const m = machine(1, 'optane-adr', { xpBufferEnabled: 0, extraFlushDelayCycles: extra });
        const c = m.core(0);
        for (let i = 0; i < k; i++) c.store64(NVRAM_BASE + i * 64, i + 1);
        const issues: number[] = [];
        for (let i = 0; i < k; i++) {
          issues.push(c.clockCycles);
          c.clwb(NVRAM_BASE + i * 64);
          c.compute(gap);
        }
        const now = c.clockCycles;
        const want = expectedFence(m.cost, issues, now, m.cost.nvmWriteBackCycles + extra);
        c.sfence();
        expect(c.clockCycles - now).toBe(want);
        expect(m.counters().explicitWriteBacks).toBe(k);
        expect(m.counters().nvmBytesWritten).toBe(64 * k);
      }),
      { numRuns: 60 },
    );
  });

  it('one clwb + sfence of a dirty line costs exactly the write-back latency (137)', () => {
    const m = machine(1, 'optane-adr', { xpBufferEnabled: 0 });
    const c = m.core(0);
    c.store64(NVRAM_BASE, 1);
    const t = c.clockCycles;
    c.clwb(NVRAM_BASE);
    c.sfence();
    expect(c.clockCycles - t).toBe(137);
  });

  it('rule 4: clflush is synchronous; a later fence has nothing to wait for', () => {
    const m = machine(1, 'optane-adr', { xpBufferEnabled: 0, extraFlushDelayCycles: 330 });
    const c = m.core(0);
    c.store64(NVRAM_BASE, 1);
    let t = c.clockCycles;
    c.clflush(NVRAM_BASE);
    expect(c.clockCycles - t).toBe(137 + 330);
    t = c.clockCycles;
    c.sfence();
    expect(c.clockCycles - t).toBe(m.cost.sfenceCycles);
    t = c.clockCycles;
    c.clflush(NVRAM_BASE); // clean now: only the issue cost
    expect(c.clockCycles - t).toBe(m.cost.flushIssueCycles);
  });

  it('rule 3: clwb drops the line by default (Cascade Lake); clwbRetainsLine keeps it', () => {
    for (const retain of [0, 1]) {
      const m = machine(1, 'optane-adr', { clwbRetainsLine: retain });
      const c = m.core(0);
      c.store64(NVRAM_BASE, 1);
      c.clwb(NVRAM_BASE);
      c.sfence();
      const before = m.counters();
      c.load64(NVRAM_BASE);
      const after = m.counters();
      expect(after.l1Misses - before.l1Misses).toBe(retain ? 0 : 1);
      expect(after.l1Hits - before.l1Hits).toBe(retain ? 1 : 0);
    }
  });

  it('rule 5: mfence base cost, and a CAS drains pending write-backs', () => {
    const m = machine(1, 'optane-adr', { xpBufferEnabled: 0 });
    const c = m.core(0);
    let t = c.clockCycles;
    c.mfence();
    expect(c.clockCycles - t).toBe(m.cost.mfenceCycles);
    c.store64(NVRAM_BASE + 64, 0); // the CAS line, owned and dirty: CAS costs casCycles
    c.store64(NVRAM_BASE, 1);
    t = c.clockCycles;
    c.clwb(NVRAM_BASE);
    c.cas64(NVRAM_BASE + 64, 0, 5);
    expect(c.clockCycles - t).toBe(Math.max(m.cost.flushIssueCycles + m.cost.casCycles, 137));
    t = c.clockCycles;
    c.sfence();
    expect(c.clockCycles - t).toBe(m.cost.sfenceCycles);
  });

  it('rule 2: a store miss pays the read-for-ownership; ntstore has none and is outstanding until a fence', () => {
    const m = machine(1, 'optane-adr', { xpBufferEnabled: 0 });
    const c = m.core(0);
    let t = c.clockCycles;
    c.store64(NVRAM_BASE + 4096, 1);
    expect(c.clockCycles - t).toBe(m.cost.nvmReadRandCycles);
    t = c.clockCycles;
    c.ntstore64(NVRAM_BASE + 8192, 2);
    c.ntstore64(NVRAM_BASE + 8200, 3); // same line: write-combined
    expect(c.clockCycles - t).toBe(m.cost.ntstoreIssueCycles + m.cost.l1HitCycles);
    const issued = t + m.cost.ntstoreIssueCycles;
    t = c.clockCycles;
    c.sfence();
    expect(c.clockCycles - t).toBe(issued + 137 - t);
    const n = m.counters();
    expect(n.ntstores).toBe(2);
    expect(n.explicitWriteBacks).toBe(1);
    expect(n.llcMisses).toBe(1); // only the store64; the ntstores did not read
  });

  it('rule 6: eADR charges the same as ADR (durability differs, costs do not)', () => {
    const run = (preset: PresetName) => {
      const m = machine(2, preset);
      randomProgram(m, 'eadr-vs-adr', 300);
      return { clocks: m.cores.map((c) => c.clockCycles), counters: m.counters(), hash: traceHash(m.trace!) };
    };
    expect(run('eadr')).toEqual(run('optane-adr'));
  });

  it('rule 9: a store to a line another core holds pays one coherence transfer', () => {
    const m = machine(2, 'optane-adr');
    const [a, b] = [m.core(0), m.core(1)];
    a.store64(NVRAM_BASE, 1);
    b.load64(NVRAM_BASE); // a owns it dirty: transfer, both share
    expect(m.counters(1).coherenceTransfers).toBe(1);
    expect(m.counters(1).llcHits).toBe(1);
    const t = a.clockCycles;
    a.store64(NVRAM_BASE + 8, 2); // a hits in L1 but b shares: upgrade with a transfer
    expect(a.clockCycles - t).toBe(m.cost.l1HitCycles + m.cost.coherenceTransferCycles);
    expect(m.counters(0).coherenceTransfers).toBe(1);
    const t2 = a.clockCycles;
    a.store64(NVRAM_BASE + 16, 3); // now exclusive: plain hit
    expect(a.clockCycles - t2).toBe(m.cost.l1HitCycles);
  });

  it('rule 8: evicting a dirty line is a write-back that costs bandwidth but adds no trace event', () => {
    const m = machine(1, 'optane-adr', {
      l1SizeBytes: 128, l1Ways: 2, l2SizeBytes: 256, l2Ways: 4, llcSizeBytes: 512, llcWays: 8, xpBufferEnabled: 0,
    });
    const c = m.core(0);
    for (let i = 0; i < 20; i++) c.store64(NVRAM_BASE + i * 64, i + 1);
    const n = m.counters();
    expect(n.evictionWriteBacks).toBe(12);
    expect(n.nvmBytesWritten).toBe(12 * 64);
    expect(n.explicitWriteBacks).toBe(0);
    const kinds = new Set<number>();
    for (let i = 0; i < m.trace!.length; i++) kinds.add(m.trace!.kind(i));
    expect([...kinds]).toEqual([TraceKind.STORE8]);
    // The evictions do not stall the core, and a fence does not wait for them.
    const t = c.clockCycles;
    c.sfence();
    expect(c.clockCycles - t).toBe(m.cost.sfenceCycles);
  });

  it('rule 1: the XPBuffer combines write-backs within an XPLine and amplifies scattered ones', () => {
    const flushLines = (offsets: number[]) => {
      const m = machine(1, 'optane-adr');
      const c = m.core(0);
      for (const o of offsets) c.store64(NVRAM_BASE + o, 1);
      const t = c.clockCycles;
      for (const o of offsets) c.clwb(NVRAM_BASE + o);
      c.sfence();
      return { bytes: m.counters().nvmBytesWritten, fence: c.clockCycles - t };
    };
    const seq = flushLines([0, 64, 128, 192]);
    const scattered = flushLines([0, 4096, 8192, 12288]);
    expect(seq.bytes).toBe(256);
    expect(scattered.bytes).toBe(1024);
    expect(scattered.fence).toBeGreaterThan(seq.fence);
  });
});

describe('locks', () => {
  it('a core waiting for a release takes the lock line from the releasing core with one transfer', () => {
    // A spinning waiter (a wait inside the spin window): no sleep, no wake latency.
    const m = machine(2, 'optane-adr', { mutexSpinCycles: 1000 });
    const lockAddr = m.reserveDram(64);
    const [a, b] = [m.core(0), m.core(1)];
    a.lock(lockAddr);
    a.compute(100);
    a.unlock(lockAddr);
    const released = a.clockCycles;
    b.compute(50);
    b.lock(lockAddr);
    const n = m.counters(1);
    expect(n.lockAcquires).toBe(1);
    expect(n.lockWaitCycles).toBe(released - 50);
    expect(n.coherenceTransfers).toBe(1);
    expect(b.clockCycles).toBe(released + m.cost.casCycles + m.cost.llcHitCycles - m.cost.l1HitCycles + m.cost.coherenceTransferCycles);
  });

  it('unlock by a core that does not hold the lock is misuse naming the holder', () => {
    const m = machine(2);
    const l = m.reserveDram(64);
    m.core(0).lock(l);
    expect(() => m.core(1).unlock(l)).toThrow(/lock-misuse.*held by core 0/);
    expect(() => m.core(1).lock(l)).toThrow(/lock-misuse/);
  });
});

describe('misuse', () => {
  const cases: [string, (m: SimMachine) => unknown, string, number][] = [
    ['out-of-bounds load', (m) => m.core(1).load64(0x10), 'out-of-bounds', 0x10],
    ['past the end of NVRAM', (m) => m.core(1).store64(NVRAM_BASE + (1 << 22) - 4, 1), 'out-of-bounds', NVRAM_BASE + (1 << 22) - 4],
    ['null store', (m) => m.core(1).store(0, 4, 1), 'out-of-bounds', 0],
    ['misaligned atomic store', (m) => m.core(1).storeAtomic64(NVRAM_BASE + 4, 1), 'misaligned-atomic', NVRAM_BASE + 4],
    ['misaligned cas', (m) => m.core(1).cas64(DRAM_BASE + 2, 0, 1), 'misaligned-atomic', DRAM_BASE + 2],
    ['misaligned ntstore', (m) => m.core(1).ntstore64(NVRAM_BASE + 12, 1), 'misaligned-atomic', NVRAM_BASE + 12],
    ['value too large', (m) => m.core(1).store64(NVRAM_BASE, 2 ** 53), 'bad-value', NVRAM_BASE],
    ['negative value', (m) => m.core(1).store(DRAM_BASE, 2, -1), 'bad-value', DRAM_BASE],
    ['byte overflow', (m) => m.core(1).store(DRAM_BASE, 1, 256), 'bad-value', DRAM_BASE],
  ];
  for (const [name, f, kind, addr] of cases) {
    it(`${name} raises ${kind} naming the address and the core`, () => {
      const m = machine(2);
      try {
        f(m);
        expect.unreachable('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(MisuseError);
        const err = e as MisuseError;
        expect(err.kind).toBe(kind);
        expect(err.addr).toBe(addr);
        expect(err.coreId).toBe(1);
        expect(err.message).toContain(`0x${addr.toString(16)}`);
        expect(err.message).toContain('core 1');
      }
    });
  }

  it('a read of NVRAM before format is unformatted-read; a fractional address is out-of-bounds', () => {
    const m = createMachine({ cores: 1, cost: makeCostModel(), dramSizeBytes: 4096, nvramSizeBytes: 4096 });
    expect(() => m.core(0).load64(NVRAM_BASE)).toThrow(/unformatted-read at 0x40000000 on core 0/);
    expect(() => m.core(0).load(NVRAM_BASE + 1, 1)).toThrow(/unformatted-read/);
    m.formatNvram();
    expect(() => m.core(0).load64(NVRAM_BASE + 0.5)).toThrow(/out-of-bounds/);
    expect(() => m.core(0).load64(NVRAM_BASE + 2 ** 32)).toThrow(/out-of-bounds/);
  });

  it('a misaligned store is legal, several units, and reads back', () => {
    const m = machine(1);
    const c = m.core(0);
    c.store64(NVRAM_BASE + 60, 0x1234_5678_9abc); // crosses a line boundary
    expect(c.load64(NVRAM_BASE + 60)).toBe(0x1234_5678_9abc);
    expect(m.trace!.length).toBe(8);
    expect(m.counters().l1Misses).toBe(2);
  });
});

describe('address space', () => {
  it('simulates 1 GiB of NVRAM with host memory growing only with touched pages', () => {
    const m = createMachine({ cores: 1, cost: makeCostModel(), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 30 });
    m.formatNvram();
    const c = m.core(0);
    for (let i = 0; i < 16; i++) c.store64(NVRAM_BASE + i * (64 << 20) + 8, i + 1);
    for (let i = 0; i < 16; i++) expect(c.load64(NVRAM_BASE + i * (64 << 20) + 8)).toBe(i + 1);
    expect(c.load64(NVRAM_BASE + (1 << 30) - 8)).toBe(0);
    expect(m.nvram.ownedPageCount()).toBe(16);
  });
});

/** A seeded random program of every instruction kind on all cores (round robin). */
function randomProgram(m: SimMachine, seed: string, steps: number): void {
  const ch = new SeededChoice(seed);
  const dram = m.reserveDram(4096);
  for (let s = 0; s < steps; s++) {
    const c = m.core(s % m.cores.length);
    const nv = NVRAM_BASE + ch.index(64) * 8 * (ch.chance(1, 4) ? 97 : 1);
    const a = (nv & ~7) >>> 0;
    switch (ch.index(10)) {
      case 0: case 1: c.store64(a, ch.index(1 << 30)); break;
      case 2: c.load64(a); break;
      case 3: c.store(dram + ch.index(512), 1, ch.index(256)); break;
      case 4: c.clwb(a); break;
      case 5: c.clflushopt(a); break;
      case 6: c.sfence(); break;
      case 7: c.cas64(a, c.load64(a), ch.index(1000)); break;
      case 8: c.ntstore64(a, ch.index(1000)); break;
      default: c.clflush(a); break;
    }
  }
}

describe('fast path', () => {
  it('gives the same values, clocks, counters, trace and memory as the slow path', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(0, 2, 10), fc.constantFrom(0, 32), (cores, seed, fillBufferEntries, prefetchInFlightLines) => {
        const run = (fast: boolean) => {
          const m = machine(cores, 'optane-adr', { fillBufferEntries, prefetchInFlightLines });
          for (const c of m.cores) c.setFastPath(fast);
          const loaded: number[] = [];
          const ch = new SeededChoice(seed);
          const dram = m.reserveDram(1024);
          for (let s = 0; s < 400; s++) {
            const c = m.core(ch.index(cores));
            const base = ch.chance(1, 3) ? dram : NVRAM_BASE + ch.index(3) * 4096;
            const a = base + ch.index(6) * 64 + ch.index(8) * 8 + (ch.chance(1, 20) ? 4 : 0);
            const k = ch.index(10);
            if (k < 3) loaded.push(loadOrError(() => c.load64(a)));
            else if (k === 9) loaded.push(c.load(a, 4));
            else if (k < 6) c.store64(a, ch.chance(1, 5) ? ch.index(1 << 30) * 4096 + 7 : ch.index(1 << 30));
            else if (k === 6) c.clwb(a);
            else if (k === 7 && (a & 7) === 0) loaded.push(loadOrError(() => (c.cas64(a, 0, ch.index(100)) ? 1 : 0)));
            else c.sfence();
          }
          const mem: number[] = [];
          for (let off = 0; off < 3 * 4096; off += 4) mem.push(m.peek(NVRAM_BASE + off, 4));
          for (let off = 0; off < 1024; off += 4) mem.push(m.peek(dram + off, 4));
          return { loaded, mem, clocks: m.cores.map((c) => c.clockCycles), counters: m.cores.map((c) => ({ ...c.counters })), hash: traceHash(m.trace!) };
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 40 },
    );
  });
});

describe('fast path on a read-tracked machine (crash checking, sim/read-set.ts)', () => {
  it('gives the same values, clocks, counters, trace and read set as the slow path', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.string({ minLength: 1, maxLength: 8 }), (cores, seed) => {
        const run = (fast: boolean) => {
          const m = machine(cores, 'optane-adr');
          const ch = new SeededChoice(seed);
          const dram = m.reserveDram(1024);
          // Untracked set-up stores (recovery reads an image written before), then tracking
          // as the checker attaches it: a new set per phase, hints dropped at each reset.
          for (let s = 0; s < 60; s++) m.core(0).store64(NVRAM_BASE + ch.index(3 * 64) * 64 + ch.index(8) * 8, ch.index(1 << 30));
          const sets: Set<number>[] = [];
          const tracker = new ReadTracker(m.nvram.sizeBytes, new Set());
          const loaded: number[] = [];
          for (let phase = 0; phase < 3; phase++) {
            const lines = new Set<number>();
            sets.push(lines);
            tracker.reset(lines);
            m.nvram.track = tracker;
            for (const c of m.cores) c.setFastPath(fast);
            for (let s = 0; s < 300; s++) {
              const c = m.core(ch.index(cores));
              const base = ch.chance(1, 3) ? dram : NVRAM_BASE + ch.index(3) * 4096;
              const a = base + ch.index(6) * 64 + ch.index(8) * 8 + (ch.chance(1, 20) ? 4 : 0);
              const k = ch.index(8);
              if (k < 3) loaded.push(loadOrError(() => c.load64(a)));
              else if (k === 3) loaded.push(c.load(a, 4));
              else if (k < 6) c.store64(a, ch.index(1 << 30));
              else if (k === 6) c.store(a, 4, ch.index(1 << 30));
              else c.clwb(a);
            }
          }
          return { loaded, sets: sets.map((x) => [...x].sort((p, q) => p - q)), clocks: m.cores.map((c) => c.clockCycles), counters: m.cores.map((c) => ({ ...c.counters })), hash: traceHash(m.trace!) };
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 30 },
    );
  });
});

describe('determinism', () => {
  it('the same program gives the same counters, clocks and trace hash', () => {
    const run = (seed: string) => {
      const m = machine(3);
      randomProgram(m, seed, 2000);
      return { clocks: m.cores.map((c) => c.clockCycles), counters: m.counters(), perCore: [0, 1, 2].map((i) => m.counters(i)), hash: traceHash(m.trace!) };
    };
    const a = run('det-1');
    expect(run('det-1')).toEqual(a);
    expect(run('det-2').hash).not.toBe(a.hash);
    m3check(a.counters, a.perCore);
  });

  it('a machine built after another was disposed (reusing its trace buffers) records the same trace', () => {
    // 150k NVRAM stores: three trace chunks, so the later machine takes recycled chunks.
    const run = () => {
      const m = machine(1);
      const c = m.core(0);
      for (let i = 0; i < 150_000; i++) c.store64(NVRAM_BASE + ((i * 72) % (1 << 19)) * 8, i);
      const out = { length: m.trace!.length, hash: traceHash(m.trace!) };
      m.dispose();
      return out;
    };
    const first = run();
    expect(first.length).toBeGreaterThan(2 * 65536);
    expect(run()).toEqual(first);
  });
});

function m3check(total: Counters, per: Counters[]): void {
  for (const k of Object.keys(total) as (keyof Counters)[]) expect(per.reduce((s, c) => s + c[k], 0)).toBe(total[k]);
}
