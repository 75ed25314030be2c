/**
 * The cache hierarchy against a naive reference (per-set LRU lists per core for L1/L2,
 * one for the LLC, a Map of owners, Sets of sharers, a Set of dirty lines) for random
 * multi-core programs of loads, stores and flushes: cycles, hit/miss/transfer counts,
 * eviction write-backs and flush results per step, and the contents of every cache in
 * LRU order at the end. The hierarchy's own invariants are checked after every step.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Counters } from './api.ts';
import { FLUSH_DIRTY, FLUSH_REMOTE, Hierarchy } from './coherence.ts';
import { makeCostModel, type CostModel } from './cost-model.ts';
import { zeroCounters } from './counters.ts';

class Lru {
  readonly sets: number[][];
  constructor(readonly nsets: number, readonly ways: number) {
    this.sets = Array.from({ length: nsets }, () => []);
  }
  private set(line: number): number[] { return this.sets[line % this.nsets]; }
  has(line: number): boolean { return this.set(line).includes(line); }
  touch(line: number): void { const s = this.set(line); s.splice(s.indexOf(line), 1); s.push(line); }
  /** Insert as MRU; returns the evicted LRU line or -1. */
  insert(line: number): number {
    const s = this.set(line);
    const v = s.length === this.ways ? s.shift()! : -1;
    s.push(line);
    return v;
  }
  remove(line: number): void { const s = this.set(line); const k = s.indexOf(line); if (k >= 0) s.splice(k, 1); }
}

interface Step { cycles: number; evicted: number }

/** The policy of sim/coherence.ts, written the obvious way. */
class NaiveHierarchy {
  readonly l1: Lru[] = [];
  readonly l2: Lru[] = [];
  readonly llc: Lru;
  readonly owner = new Map<number, number>();
  readonly sharers = new Map<number, Set<number>>();
  readonly dirty = new Set<number>();
  /** Dirty lines a dropping flush wrote back, oldest first (rule 10's write-back path). */
  readonly writeBackPath: number[] = [];
  constructor(readonly cost: CostModel, readonly cores: number) {
    for (let c = 0; c < cores; c++) {
      this.l1.push(new Lru(cost.l1SizeBytes / 64 / cost.l1Ways, cost.l1Ways));
      this.l2.push(new Lru(cost.l2SizeBytes / 64 / cost.l2Ways, cost.l2Ways));
    }
    this.llc = new Lru(cost.llcSizeBytes / 64 / cost.llcWays, cost.llcWays);
  }
  private shr(line: number): Set<number> {
    let s = this.sharers.get(line);
    if (!s) { s = new Set(); this.sharers.set(line, s); }
    return s;
  }
  private removePrivate(d: number, line: number): void { this.l1[d].remove(line); this.l2[d].remove(line); }
  private takeOwnership(c: number, line: number, cnt: Counters): number {
    let cycles = 0;
    const s = this.shr(line);
    if (this.owner.get(line) !== c && [...s].some((d) => d !== c)) {
      cycles = this.cost.coherenceTransferCycles;
      cnt.coherenceTransfers++;
      for (const d of s) if (d !== c) this.removePrivate(d, line);
    }
    if (this.owner.get(line) !== c) { s.clear(); s.add(c); }
    this.owner.set(line, c);
    this.dirty.add(line);
    return cycles;
  }
  access(c: number, line: number, write: boolean, cnt: Counters): Step {
    let evicted = -1;
    const owned = () => this.owner.get(line) === c && this.dirty.has(line);
    if (this.l1[c].has(line)) {
      cnt.l1Hits++;
      this.l1[c].touch(line);
      let cycles = this.cost.l1HitCycles;
      if (write && !owned()) cycles += this.takeOwnership(c, line, cnt);
      return { cycles, evicted };
    }
    cnt.l1Misses++;
    let cycles: number;
    if (this.l2[c].has(line)) {
      cnt.l2Hits++;
      this.l2[c].touch(line);
      cycles = this.cost.l2HitCycles;
    } else {
      cnt.l2Misses++;
      if (this.llc.has(line)) {
        cnt.llcHits++;
        this.llc.touch(line);
        cycles = this.cost.llcHitCycles;
        if (write) {
          cycles += this.takeOwnership(c, line, cnt);
        } else if (this.owner.has(line) && this.owner.get(line) !== c) {
          if (this.l2[this.owner.get(line)!].has(line)) {
            cycles += this.cost.coherenceTransferCycles;
            cnt.coherenceTransfers++;
          }
          this.owner.delete(line);
        }
      } else {
        cnt.llcMisses++;
        const held = this.writeBackPath.indexOf(line);
        if (held >= 0) this.writeBackPath.splice(held, 1);
        cycles = held >= 0 ? this.cost.writeBackPathReadCycles : line >= (0x4000_0000 >>> 6) ? this.cost.nvmReadRandCycles : this.cost.dramReadRandCycles;
        const v = this.llc.insert(line);
        if (v >= 0) {
          for (const d of this.shr(v)) this.removePrivate(d, v);
          this.sharers.delete(v);
          this.owner.delete(v);
          if (this.dirty.delete(v)) evicted = v;
        }
        if (write) { this.owner.set(line, c); this.dirty.add(line); }
      }
      this.shr(line).add(c);
      const v2 = this.l2[c].insert(line);
      if (v2 >= 0) {
        this.l1[c].remove(v2);
        this.shr(v2).delete(c); // ownership survives until another core touches the line
      }
    }
    this.l1[c].insert(line);
    if (write && !owned()) cycles += this.takeOwnership(c, line, cnt);
    return { cycles, evicted };
  }
  flush(c: number, line: number, keep: boolean): number {
    if (!this.llc.has(line)) return 0;
    let r = this.dirty.has(line) ? FLUSH_DIRTY : 0;
    const o = this.owner.get(line);
    if (o !== undefined && o !== c && r !== 0 && this.l2[o].has(line)) r |= FLUSH_REMOTE;
    this.dirty.delete(line);
    if (keep) return r;
    for (const d of this.shr(line)) this.removePrivate(d, line);
    this.sharers.delete(line);
    this.owner.delete(line);
    this.llc.remove(line);
    if (r !== 0 && !this.writeBackPath.includes(line)) {
      this.writeBackPath.push(line);
      if (this.writeBackPath.length > this.cost.writeBackPathLines) this.writeBackPath.shift();
    }
    return r;
  }
}

// Tiny caches so that every level evicts: L1 2 sets x 2 ways, L2 2 x 3, LLC 3 x 3 (non power of two).
// The reference charges every access its latency, so store misses are not posted here
// (sim/store-buffer.test.ts checks posting against a stalling core).
const tiny = makeCostModel('optane-adr', {
  l1SizeBytes: 2 * 2 * 64, l1Ways: 2, l2SizeBytes: 2 * 3 * 64, l2Ways: 3, llcSizeBytes: 3 * 3 * 64, llcWays: 3, seqWindowLines: 0, fillBufferEntries: 0,
});
const NV_LINE = 0x4000_0000 >>> 6;
const DRAM_LINE = 0x1000_0000 >>> 6;

const op = fc.record({
  kind: fc.constantFrom('load', 'store', 'store', 'load', 'clwb', 'clwb-keep'),
  core: fc.nat({ max: 2 }),
  line: fc.nat({ max: 23 }),
  dram: fc.boolean(),
});

describe('Hierarchy vs naive reference', () => {
  it('agrees on cycles, counts, write-backs and contents for random 3-core programs', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 250 }), (ops) => {
        const h = new Hierarchy(tiny, 3, NV_LINE);
        const ref = new NaiveHierarchy(tiny, 3);
        const real = [zeroCounters(), zeroCounters(), zeroCounters()];
        const naive = [zeroCounters(), zeroCounters(), zeroCounters()];
        const universe = new Set<number>();
        for (const o of ops) {
          const line = (o.dram ? DRAM_LINE : NV_LINE) + o.line;
          universe.add(line);
          if (o.kind === 'load' || o.kind === 'store') {
            const cycles = h.access(o.core, line, o.kind === 'store', real[o.core]);
            const r = ref.access(o.core, line, o.kind === 'store', naive[o.core]);
            expect(cycles).toBe(r.cycles);
            expect(h.evictedDirtyLine).toBe(r.evicted);
          } else {
            expect(h.flushLine(o.core, line, o.kind === 'clwb-keep')).toBe(ref.flush(o.core, line, o.kind === 'clwb-keep'));
          }
          expect(real).toEqual(naive);
          h.checkInvariants();
        }
        for (const line of universe) {
          const w = h.where(line);
          const cores = [0, 1, 2];
          expect(w.l1).toEqual(cores.filter((c) => ref.l1[c].has(line)));
          expect(w.l2).toEqual(cores.filter((c) => ref.l2[c].has(line)));
          expect(w.llc).toBe(ref.llc.has(line));
          expect(w.dirty).toBe(w.llc && ref.dirty.has(line));
          expect(w.owner).toBe(ref.owner.get(line) ?? -1);
          for (let c = 0; c < 3; c++) {
            expect(h.priv[c].l1.setContents(line)).toEqual(ref.l1[c].sets[line % ref.l1[c].nsets]);
            expect(h.priv[c].l2.setContents(line)).toEqual(ref.l2[c].sets[line % ref.l2[c].nsets]);
          }
          expect(h.llc.setContents(line)).toEqual(ref.llc.sets[line % ref.llc.nsets]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('victims kept ahead of the LLC lookup (demand misses, prefetches after inL2) leave every cache as victims chosen after it', () => {
    // Small caches (evictions and back-invalidations at most steps), 3 cores, stores that
    // take lines from other cores, flushes, and prefetches as sim/prefetcher.ts issues them.
    const cost: CostModel = { ...makeCostModel('optane-adr'), l1SizeBytes: 2 * 2 * 64, l1Ways: 2, l2SizeBytes: 8 * 2 * 64, l2Ways: 2, llcSizeBytes: 8 * 3 * 64, llcWays: 3 };
    const pop = fc.record({ kind: fc.constantFrom('load', 'store', 'prefetch', 'prefetch-own', 'clwb'), core: fc.nat({ max: 2 }), line: fc.nat({ max: 47 }) });
    fc.assert(
      fc.property(fc.array(pop, { minLength: 1, maxLength: 300 }), (ops) => {
        const a = new Hierarchy(cost, 3, 1 << 24);
        const b = new Hierarchy(cost, 3, 1 << 24);
        b.keepVictims = false;
        const ca = zeroCounters();
        const cb = zeroCounters();
        for (const { kind, core, line } of ops) {
          if (kind === 'clwb') expect(a.flushLine(core, line, false)).toBe(b.flushLine(core, line, false));
          else if (kind === 'load' || kind === 'store') expect(a.access(core, line, kind === 'store', ca)).toBe(b.access(core, line, kind === 'store', cb));
          else {
            const inL2 = a.inL2(core, line);
            expect(b.inL2(core, line)).toBe(inL2);
            if (!inL2) expect(a.prefetch(core, line, kind === 'prefetch-own', ca)).toBe(b.prefetch(core, line, kind === 'prefetch-own', cb));
          }
          expect(a.evictedDirtyLine).toBe(b.evictedDirtyLine);
        }
        a.checkInvariants();
        expect(ca).toEqual(cb);
        expect(Array.from(a.llc.data)).toEqual(Array.from(b.llc.data));
        for (let c = 0; c < 3; c++) {
          expect(Array.from(a.priv[c].l1.data)).toEqual(Array.from(b.priv[c].l1.data));
          expect(Array.from(a.priv[c].l2.data)).toEqual(Array.from(b.priv[c].l2.data));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('an L2 eviction that drops a line from L1 frees the L1 way the new line then takes', () => {
    // One set per level: L1 2 ways, L2 3 ways. After Y Z Y W Y, L1 holds {W, Y} (W least
    // recent) and L2 {Y, Z, W} (Y least recent). A miss on V evicts Y from L2, hence from
    // L1, so V must take Y's freed way and W must stay (an L1 victim chosen before the L2
    // eviction would wrongly evict W).
    const cost = makeCostModel('optane-adr', { l1SizeBytes: 2 * 64, l1Ways: 2, l2SizeBytes: 3 * 64, l2Ways: 3, llcSizeBytes: 8 * 64, llcWays: 8 });
    const h = new Hierarchy(cost, 1, NV_LINE);
    const cnt = zeroCounters();
    const [Y, Z, W, V] = [NV_LINE, NV_LINE + 1, NV_LINE + 2, NV_LINE + 3];
    for (const line of [Y, Z, Y, W, Y, V]) h.access(0, line, false, cnt);
    expect(h.priv[0].l1.setContents(W)).toEqual([W, V]);
    expect(h.priv[0].l2.setContents(W)).toEqual([Z, W, V]);
    h.checkInvariants();
  });

  it('an LLC eviction that drops a line from L2 frees the L2 way the new line then takes', () => {
    // One set per level: L1 1 way, L2 2 ways, LLC 2 ways. After A B A, L2 holds {B, A}
    // (B least recent: the second A hit L2) and the LLC {A, B} (A least recent). A miss
    // on C evicts A from the LLC, hence from L2, so C must take A's freed L2 way and B stay.
    const cost = makeCostModel('optane-adr', { l1SizeBytes: 64, l1Ways: 1, l2SizeBytes: 2 * 64, l2Ways: 2, llcSizeBytes: 2 * 64, llcWays: 2 });
    const h = new Hierarchy(cost, 1, NV_LINE);
    const cnt = zeroCounters();
    const [A, B, C] = [NV_LINE, NV_LINE + 1, NV_LINE + 2];
    for (const line of [A, B, A, C]) h.access(0, line, false, cnt);
    expect(h.priv[0].l2.setContents(A)).toEqual([B, C]);
    expect(h.llc.setContents(A)).toEqual([B, C]);
    h.checkInvariants();
  });

  it('rule 7: a read of a recently read block (or the next one) costs the sequential latency', () => {
    const cost = makeCostModel('optane-adr');
    const h = new Hierarchy(cost, 1, NV_LINE);
    const cnt = zeroCounters();
    expect(h.access(0, NV_LINE + 100, false, cnt)).toBe(cost.nvmReadRandCycles);
    expect(h.access(0, NV_LINE + 101, false, cnt)).toBe(cost.nvmReadSeqCycles); // same 256 B block
    expect(h.access(0, NV_LINE + 104, false, cnt)).toBe(cost.nvmReadSeqCycles); // next block: a stream
    expect(h.access(0, NV_LINE + 5000, false, cnt)).toBe(cost.nvmReadRandCycles);
    expect(h.access(0, DRAM_LINE + 8, false, cnt)).toBe(cost.dramReadRandCycles);
    expect(h.access(0, DRAM_LINE + 9, false, cnt)).toBe(cost.dramReadSeqCycles);
  });
});
