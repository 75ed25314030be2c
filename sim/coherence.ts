/**
 * The cache hierarchy: private L1 and L2 per core, one shared LLC, and line ownership.
 *
 * Model (nvram-model.md rules 2, 7, 8, 9): tags only (data lives in sim/memory.ts).
 * Inclusive: every line in a core's L1 is in its L2, every line in an L2 is in the LLC.
 * The LLC entry is the directory: a sharer bit per core (which L2s hold the line), an
 * owner (the core that holds it exclusively for writing, or none) and the dirty bit
 * (the line differs from memory; it lives here whichever core wrote it, because a
 * private eviction merges into the LLC and only an LLC eviction reaches memory).
 * - L1 hit: touch L1. L1 miss, L2 hit: touch L2, fill L1. L2 miss: LLC hit (touch) or
 *   memory read (fill LLC), then fill L2 and L1. Latency = the level that hit.
 * - Write-allocate with read-for-ownership: a store miss is filled like a load and pays
 *   the memory read. A store needs ownership: if any other core shares the line it pays
 *   one coherence transfer and the others' copies are invalidated. A read of a line
 *   another core owns pays one transfer and downgrades that owner to sharer.
 * - Evicting an L2 line removes it from that core's L1; its sharer bit and ownership in the
 *   LLC go stale (not cleared, to save a host-memory access per miss) and every use checks
 *   them against the L2s: a stale owner that touches the line again is still its owner
 *   (no transfer), any other core's access ends it. Evicting an LLC line removes it from
 *   every L2/L1 (back-invalidation) and, if dirty, is a write-back (reported in
 *   `evictedDirtyLine` for the issuing core to charge, rule 8).
 * - Memory reads (rule 7): a read of an XPLine-sized block that this core read recently
 *   (or the block just after one: a forward stream) costs the sequential latency, others
 *   the random one; the window holds the last `seqWindowLines` blocks per core.
 * The private-entry flag FLAG_MD means "this core owns the line and it is dirty": a store
 * that hits such an entry needs nothing else (the fast path of sim/core.ts checks the
 * L1 tag and this flag directly).
 *
 * Invariants (checkInvariants): inclusion; line in L2(c) => sharer bit c; an owner that
 * holds the line is its only holder; FLAG_MD in L1(c)/L2(c) <=> owner c and dirty.
 */
import type { Counters } from './api.ts';
import { ROW_USER, SetAssocCache } from './cache.ts';
import type { CostModel } from './cost-model.ts';
import { InvariantError, invariant } from './errors.ts';
import { WriteBackPath } from './writeback-path.ts';
import { ReadWindow } from './read-window.ts';

export const FLAG_MD = 1;
/** flushLine result bits. */
export const FLUSH_DIRTY = 1;
export const FLUSH_REMOTE = 2;
/** Hierarchy.servedBy values. */
export const SERVED_L1 = 1;
export const SERVED_L2 = 2;
export const SERVED_BEYOND = 3;

/** Row of a private entry holding the LLC entry of its line (inclusion keeps it fixed). */
const ROW_LLC = ROW_USER;
/** LLC rows: owning core + 1 (or 0), then `words` rows of sharer bits. */
const ROW_OWNER = ROW_USER;
const ROW_SHARERS = ROW_USER + 1;

/** One core's private caches. */
export class PrivateCaches {
  private readonly l1LlcOff: number;
  private readonly l2LlcOff: number;
  constructor(
    readonly l1: SetAssocCache,
    readonly l2: SetAssocCache,
  ) {
    this.l1LlcOff = ROW_LLC * l1.ways;
    this.l2LlcOff = ROW_LLC * l2.ways;
  }
  l1Llc(i: number): number {
    return this.l1.data[i + this.l1LlcOff];
  }
  l2Llc(j: number): number {
    return this.l2.data[j + this.l2LlcOff];
  }
  setL1Llc(i: number, e: number): void {
    this.l1.data[i + this.l1LlcOff] = e;
  }
  setL2Llc(j: number, e: number): void {
    this.l2.data[j + this.l2LlcOff] = e;
  }
}

export class Hierarchy {
  readonly llc: SetAssocCache;
  readonly priv: PrivateCaches[];
  readonly words: number;
  /** Set by access(): the dirty line an LLC eviction pushed to memory, or -1. */
  evictedDirtyLine = -1;
  /** Set by access(): the L1 entry of the accessed line in the accessing core's L1. */
  l1Idx = 0;
  /** Set by access(): the level that held the line, SERVED_L1, SERVED_L2 or SERVED_BEYOND (LLC, another core, memory). */
  servedBy = SERVED_L1;
  private lastLlcIdx = -1;
  /** Set by fromShared(): the flag c's private copy of the line takes (FLAG_MD if c owns it and it is dirty, else 0). */
  private lastFlag = 0;
  /** The line of the last fromShared() and its LLC set base (the pair line's base follows from it). */
  private lastLlcLine = -1;
  private lastLlcBase = 0;
  /**
   * A victim chosen ahead (see victimAhead): core probeCore's L2 entry probeVictim is
   * what victimIn would return for probeLine's set, as long as probeLine stays >= 0.
   * Every change of a private cache's entries other than the fill it is for (an LLC
   * eviction's back-invalidation, a flush, another access) sets probeLine to -1.
   */
  private probeLine = -1;
  private probeCore = -1;
  private probeVictim = 0;
  /** Tests: false chooses every L2 victim after the LLC lookup (results must not change). */
  keepVictims = true;
  private llcData: Int32Array;
  private readonly dirtyOff: number;
  private readonly ownerOff: number;
  private readonly sharersOff: number;
  private readonly llcWays: number;
  private readonly readWindow: ReadWindow;
  private readonly writeBackPath: WriteBackPath;
  private readonly blockShift: number;
  private readonly l1HitCycles: number;
  private readonly l2HitCycles: number;
  private readonly llcHitCycles: number;
  private readonly transferCycles: number;

  constructor(
    readonly cost: CostModel,
    readonly cores: number,
    /** First line number of NVRAM: lines at or above are NVM, below DRAM. */
    readonly nvmFirstLine: number,
  ) {
    invariant(cost.lineSizeBytes === 64, `lineSizeBytes must be 64, got ${cost.lineSizeBytes}`);
    this.words = (cores + 31) >>> 5;
    this.llc = new SetAssocCache('llc', cost.llcSizeBytes, cost.llcWays, ROW_SHARERS + this.words);
    this.priv = [];
    for (let c = 0; c < cores; c++) {
      this.priv.push(new PrivateCaches(new SetAssocCache('l1', cost.l1SizeBytes, cost.l1Ways, ROW_LLC + 1), new SetAssocCache('l2', cost.l2SizeBytes, cost.l2Ways, ROW_LLC + 1)));
    }
    this.llcData = this.llc.data;
    // Every change of an LLC entry happens in fromShared, ownForStore or flushLine, which note its set.
    this.llc.changesNoted = true;
    this.llcWays = cost.llcWays;
    this.dirtyOff = this.llc.flagOff;
    this.ownerOff = ROW_OWNER * cost.llcWays;
    this.sharersOff = ROW_SHARERS * cost.llcWays;
    this.readWindow = new ReadWindow(cores, cost.seqWindowLines);
    this.writeBackPath = new WriteBackPath(cost.writeBackPathLines);
    const blockLines = Math.max(1, cost.xpLineSizeBytes >>> 6);
    invariant((blockLines & (blockLines - 1)) === 0, `xpLineSizeBytes must be 64 * 2^k, got ${cost.xpLineSizeBytes}`);
    this.blockShift = 31 - Math.clz32(blockLines);
    this.l1HitCycles = cost.l1HitCycles;
    this.l2HitCycles = cost.l2HitCycles;
    this.llcHitCycles = cost.llcHitCycles;
    this.transferCycles = cost.coherenceTransferCycles;
  }

  // LLC entry fields (e is an LLC entry).
  private owner(e: number): number {
    return this.llcData[e + this.ownerOff];
  }
  private setOwner(e: number, ownerPlusOne: number): void {
    this.llcData[e + this.ownerOff] = ownerPlusOne;
  }
  private dirty(e: number): boolean {
    return this.llcData[e + this.dirtyOff] !== 0;
  }
  private setDirty(e: number, dirty: number): void {
    this.llcData[e + this.dirtyOff] = dirty;
  }
  /** Position of the sharer word holding core c's bit. */
  private sharerPos(e: number, c: number): number {
    return e + this.sharersOff + (c >>> 5) * this.llcWays;
  }

  /** Charge one access of core c to `line`; returns its cycles and counts hits, misses, transfers. */
  access(c: number, line: number, write: boolean, cnt: Counters): number {
    this.evictedDirtyLine = -1;
    this.probeLine = -1;
    const p = this.priv[c];
    const l1 = p.l1;
    const l1Base = l1.setBase(line);
    let i = l1.findIn(l1Base, line);
    if (i >= 0) {
      this.servedBy = SERVED_L1;
      return this.l1Hit(c, i, line, write, cnt);
    }
    cnt.l1Misses++;
    const l2 = p.l2;
    const l2Base = l2.setBase(line);
    let j = l2.findOrVictimIn(l2Base, line);
    let cycles: number;
    if (j >= 0) {
      cnt.l2Hits++;
      l2.touch(j);
      cycles = this.l2HitCycles;
      this.servedBy = SERVED_L2;
    } else {
      cnt.l2Misses++;
      this.servedBy = SERVED_BEYOND;
      this.victimAhead(c, line, l2.missVictim);
      cycles = this.fromShared(c, line, write, cnt, false);
      j = this.fillL2(c, line, l2Base, this.l2Victim(c, line, l2Base));
    }
    i = l1.victimIn(l1Base);
    l1.fillIn(l1Base, i, line, l2.flag(j));
    const e = p.l2Llc(j);
    p.setL1Llc(i, e);
    this.l1Idx = i;
    if (write && l1.flag(i) === 0) cycles += this.ownForStore(c, line, e, cnt, i, j);
    return cycles;
  }

  /**
   * A store by core c that hits its L1 at entry i (what access() does for that case):
   * count the hit, touch LRU, take ownership if needed; returns the cycles.
   */
  storeHitL1(c: number, i: number, line: number, cnt: Counters): number {
    this.evictedDirtyLine = -1;
    return this.l1Hit(c, i, line, true, cnt);
  }

  /** Core c's access to `line` hits its L1 at entry i: count, touch LRU, take ownership for a store; returns the cycles. */
  private l1Hit(c: number, i: number, line: number, write: boolean, cnt: Counters): number {
    const p = this.priv[c];
    const l1 = p.l1;
    cnt.l1Hits++;
    l1.touch(i);
    this.l1Idx = i;
    if (write && l1.flag(i) === 0) return this.l1HitCycles + this.ownForStore(c, line, p.l1Llc(i), cnt, i, -1);
    return this.l1HitCycles;
  }

  /**
   * The line is in c's L1 (entry i) and L2 (entry j, or -1 to look it up) with LLC entry e,
   * without FLAG_MD: take ownership and mark it dirty.
   */
  private ownForStore(c: number, line: number, e: number, cnt: Counters, i: number, j: number): number {
    if (this.llcData[e] !== line + 1) broken(`line ${line} of core ${c} not at its LLC entry ${e}`);
    this.llc.noteChanged(e);
    let cycles = 0;
    if (this.owner(e) !== c + 1) {
      if (this.takeExclusive(e, line, c)) {
        cycles = this.transferCycles;
        cnt.coherenceTransfers++;
      }
      this.setOwner(e, c + 1);
    }
    this.setDirty(e, 1);
    const p = this.priv[c];
    p.l1.setFlag(i, FLAG_MD);
    p.l2.setFlag(j >= 0 ? j : p.l2.find(line), FLAG_MD);
    return cycles;
  }

  /**
   * A hardware prefetch by core c of `line`, which is not in its L2 (sim/prefetcher.ts):
   * bring it into the LLC and c's L2 (not L1), shared, or owned if `own` (a prefetch for
   * a store stream takes ownership as a demand store would, but leaves the dirty bit
   * alone: it writes nothing). Counts coherence transfers and `prefetches`, not the
   * demand hit and miss counters. Returns the cycles until its data arrives; sets
   * `evictedDirtyLine` as access() does.
   */
  prefetch(c: number, line: number, own: boolean, cnt: Counters): number {
    this.evictedDirtyLine = -1;
    cnt.prefetches++;
    const l2Base = this.priv[c].l2.setBase(line);
    const cycles = this.fromShared(c, line, own, cnt, true);
    this.fillL2(c, line, l2Base, this.l2Victim(c, line, l2Base));
    return cycles;
  }

  /**
   * True when core c's L2 holds `line` (no LRU touch). When it does not, the victim its
   * fill would take is kept (victimAhead), for a prefetch() of the line that follows.
   */
  inL2(c: number, line: number): boolean {
    const l2 = this.priv[c].l2;
    if (l2.findOrVictimIn(l2.setBase(line), line) >= 0) return true;
    this.victimAhead(c, line, l2.missVictim);
    return false;
  }

  /**
   * Keep `victim`, the entry victimIn returns now for line's set in c's L2, for the fill of
   * `line` that follows: the LLC lookup between them (fromShared) changes no entry of that
   * set unless it evicts an LLC line, whose back-invalidation drops the kept victim (a
   * line of the same LLC set lies in the same L2 set, the LLC's set count being a multiple
   * of the L2's), as does any other change of a private cache.
   */
  private victimAhead(c: number, line: number, victim: number): void {
    if (!this.keepVictims) return;
    this.probeLine = line;
    this.probeCore = c;
    this.probeVictim = victim;
  }

  /** The entry to fill with `line` in c's L2 (set base l2Base): the victim kept ahead if still valid, else victimIn. */
  private l2Victim(c: number, line: number, l2Base: number): number {
    const kept = this.probeLine === line && this.probeCore === c;
    this.probeLine = -1;
    return kept ? this.probeVictim : this.priv[c].l2.victimIn(l2Base);
  }

  /**
   * L2 miss of core c: find or fetch the line in the LLC and register c. A prefetch
   * (`prefetch`) is not counted as an LLC hit or miss and, for a store stream (`write`),
   * takes ownership without marking the line dirty.
   */
  private fromShared(c: number, line: number, write: boolean, cnt: Counters, prefetch: boolean): number {
    const llc = this.llc;
    // The pair line of the previous lookup (the spatial prefetcher's) has its set next to it.
    const base = (line ^ 1) === this.lastLlcLine ? llc.pairBase(this.lastLlcBase, this.lastLlcLine) : llc.setBase(line);
    this.lastLlcLine = line;
    this.lastLlcBase = base;
    llc.noteChanged(base);
    let e = llc.findOrVictimIn(base, line);
    let cycles: number;
    let flag = 0; // the private flag of c's copy once registered: FLAG_MD if c owns the line and it is dirty
    if (e >= 0) {
      if (!prefetch) cnt.llcHits++;
      llc.touch(e);
      cycles = this.llcHitCycles;
      const o = this.owner(e);
      if (write) {
        if (this.takeExclusive(e, line, c)) {
          cycles += this.transferCycles;
          cnt.coherenceTransfers++;
        }
        this.setOwner(e, c + 1);
        if (!prefetch) this.setDirty(e, 1);
        flag = !prefetch || this.dirty(e) ? FLAG_MD : 0;
      } else if (o === c + 1) {
        flag = this.dirty(e) ? FLAG_MD : 0;
      } else if (o !== 0) {
        const q = this.priv[o - 1];
        const j = q.l2.find(line);
        if (j >= 0) {
          cycles += this.transferCycles;
          cnt.coherenceTransfers++;
          q.l2.setFlag(j, 0); // the owner keeps a shared copy: no longer FLAG_MD
          const i = q.l1.find(line);
          if (i >= 0) q.l1.setFlag(i, 0);
        }
        this.setOwner(e, 0);
      }
    } else {
      if (!prefetch) cnt.llcMisses++;
      cycles = this.memoryReadCycles(c, line);
      e = llc.missVictim; // the set is unchanged since the lookup: victimIn(base)
      if (this.llcData[e] !== 0) this.evictLlc(e, base);
      // Entry e is empty, every row 0: only non-zero values are written (a clean fill
      // writes neither the dirty nor the owner row, host cache lines a miss need not touch).
      const dirty = write && !prefetch ? 1 : 0;
      llc.fillEmptyIn(base, e, line, dirty);
      if (write) this.setOwner(e, c + 1);
      flag = dirty !== 0 ? FLAG_MD : 0;
    }
    this.llcData[this.sharerPos(e, c)] |= 1 << (c & 31);
    this.lastLlcIdx = e;
    this.lastFlag = flag;
    return cycles;
  }

  /** Put line into c's L2 at entry j, the victim of its set (base l2Base), after fromShared; returns j. */
  private fillL2(c: number, line: number, l2Base: number, j: number): number {
    const p = this.priv[c];
    const victim = p.l2.lineAt(j);
    if (victim >= 0) this.dropFromL2(c, victim);
    const e = this.lastLlcIdx;
    p.l2.fillIn(l2Base, j, line, this.lastFlag);
    p.setL2Llc(j, e);
    return j;
  }

  /**
   * c's L2 evicts `victim`: remove it from c's L1. The LLC entry is left alone (saving a
   * host-memory access per miss): c's sharer bit and ownership go stale and are checked
   * against the L2s when they matter (takeExclusive, reads of an owned line, flushes).
   */
  private dropFromL2(c: number, victim: number): void {
    const p = this.priv[c];
    const i = p.l1.find(victim);
    if (i >= 0) p.l1.invalidate(i);
  }

  /** The LLC evicts entry e of the set at `base`: back-invalidate every private copy; report a dirty line. */
  private evictLlc(e: number, base: number): void {
    this.probeLine = -1;
    const line = this.llc.lineAt(e);
    this.removeAllPrivate(e, line);
    if (this.dirty(e)) this.evictedDirtyLine = line;
    this.llc.invalidateIn(base, e);
  }

  /**
   * clwb / clflushopt / clflush / ntstore by core c: write back if dirty; drop the line
   * from every cache unless `keep` (then it stays, clean). Returns FLUSH_* bits.
   */
  flushLine(c: number, line: number, keep: boolean): number {
    this.probeLine = -1;
    const e = this.llc.find(line);
    if (e < 0) return 0;
    this.llc.noteChanged(e);
    let r = this.dirty(e) ? FLUSH_DIRTY : 0;
    const o = this.owner(e);
    if (o !== 0 && o !== c + 1 && r !== 0 && this.priv[o - 1].l2.find(line) >= 0) r |= FLUSH_REMOTE;
    if (keep) {
      this.setDirty(e, 0);
      if (o !== 0) this.setPrivateFlag(o - 1, line, 0);
      return r;
    }
    this.removeAllPrivate(e, line);
    this.llc.invalidate(e);
    if (r !== 0) this.writeBackPath.add(line);
    return r;
  }

  // ---- helpers ----

  /**
   * Core c takes the line (LLC entry e) for itself: every other core's copy leaves its L1
   * and L2 and every other sharer bit is cleared (stale ones too); c's own bit and copies
   * are left alone (the caller sets c's bit and flag). True if another core held the
   * line in its L2 (a coherence transfer). One pass: each other sharer's L2 is searched once.
   */
  private takeExclusive(e: number, line: number, c: number): boolean {
    const d = this.llcData;
    const cw = c >>> 5;
    let found = false;
    for (let k = 0, pos = e + this.sharersOff; k < this.words; k++, pos += this.llcWays) {
      const keep = k === cw ? 1 << (c & 31) : 0;
      let w = d[pos] & ~keep;
      if (w === 0) continue;
      d[pos] &= keep;
      while (w !== 0) {
        const bit = w & -w;
        w ^= bit;
        if (this.dropIfInL2((k << 5) + 31 - Math.clz32(bit), line)) found = true;
      }
    }
    return found;
  }

  /** Remove line from core d's L2 and L1 if its L2 holds it (by inclusion its L1 holds it only then); true if it did. */
  private dropIfInL2(d: number, line: number): boolean {
    const p = this.priv[d];
    const l2 = p.l2;
    const b = l2.setBase(line);
    const j = l2.findIn(b, line);
    if (j < 0) return false;
    this.probeLine = -1;
    l2.invalidateIn(b, j);
    const i = p.l1.find(line);
    if (i >= 0) p.l1.invalidate(i);
    return true;
  }

  /** Remove line from the L1/L2 of every sharer of entry e (stale bits too: dropIfInL2 finds nothing there); clear the bits. */
  private removeAllPrivate(e: number, line: number): void {
    const d = this.llcData;
    for (let k = 0, pos = e + this.sharersOff; k < this.words; k++, pos += this.llcWays) {
      let w = d[pos];
      d[pos] = 0;
      while (w !== 0) {
        const bit = w & -w;
        w ^= bit;
        this.dropIfInL2((k << 5) + 31 - Math.clz32(bit), line);
      }
    }
  }

  private setPrivateFlag(d: number, line: number, flag: number): void {
    const p = this.priv[d];
    const i = p.l1.find(line);
    if (i >= 0) p.l1.setFlag(i, flag);
    const j = p.l2.find(line);
    if (j >= 0) p.l2.setFlag(j, flag);
  }

  /** Rule 7: sequential latency for a recently read block (or the next one), random otherwise. */
  private memoryReadCycles(c: number, line: number): number {
    const seq = this.readWindow.read(c, line >>> this.blockShift);
    const cost = this.cost;
    if (this.writeBackPath.take(line)) return cost.writeBackPathReadCycles;
    if (line >= this.nvmFirstLine) return seq ? cost.nvmReadSeqCycles : cost.nvmReadRandCycles;
    return seq ? cost.dramReadSeqCycles : cost.dramReadRandCycles;
  }

  /** Which caches hold `line`: for tests and debugging. */
  where(line: number): { l1: number[]; l2: number[]; llc: boolean; owner: number; dirty: boolean } {
    const e = this.llc.find(line);
    const l1: number[] = [];
    const l2: number[] = [];
    for (let c = 0; c < this.cores; c++) {
      if (this.priv[c].l1.find(line) >= 0) l1.push(c);
      if (this.priv[c].l2.find(line) >= 0) l2.push(c);
    }
    return { l1, l2, llc: e >= 0, owner: e >= 0 ? this.owner(e) - 1 : -1, dirty: e >= 0 && this.dirty(e) };
  }

  private hasSharer(e: number, c: number): boolean {
    return (this.llcData[this.sharerPos(e, c)] & (1 << (c & 31))) !== 0;
  }

  /** Check the invariants of the module header (tests; O(cache size)). */
  checkInvariants(): void {
    for (let c = 0; c < this.cores; c++) {
      const p = this.priv[c];
      for (const i of p.l1.allEntries()) {
        const line = p.l1.lineAt(i);
        if (line < 0) continue;
        const j = p.l2.find(line);
        if (j < 0) broken(`L1 of core ${c} holds line ${line} not in its L2`);
        if (p.l1.flag(i) !== p.l2.flag(j)) broken(`L1/L2 flags differ for line ${line} on core ${c}`);
        if (p.l1Llc(i) !== p.l2Llc(j)) broken(`L1/L2 LLC index differ for line ${line} on core ${c}`);
      }
      for (const j of p.l2.allEntries()) {
        const line = p.l2.lineAt(j);
        if (line < 0) continue;
        const e = this.llc.find(line);
        if (e < 0) broken(`L2 of core ${c} holds line ${line} not in the LLC`);
        if (p.l2Llc(j) !== e) broken(`L2 of core ${c}: LLC index of line ${line} is ${p.l2Llc(j)}, expected ${e}`);
        if (!this.hasSharer(e, c)) broken(`sharer bit missing: line ${line} core ${c}`);
        const md = this.owner(e) === c + 1 && this.dirty(e) ? FLAG_MD : 0;
        if (p.l2.flag(j) !== md) broken(`flag of line ${line} on core ${c} is ${p.l2.flag(j)}, expected ${md}`);
      }
    }
    for (const e of this.llc.allEntries()) {
      const line = this.llc.lineAt(e);
      if (line < 0) continue;
      for (let c = 0; c < this.cores; c++) {
        const bit = this.hasSharer(e, c);
        if (!bit && this.priv[c].l2.find(line) >= 0) broken(`sharer bit of core ${c} missing for line ${line}`);
      }
      const o = this.owner(e);
      if (o !== 0 && this.priv[o - 1].l2.find(line) >= 0) {
        for (let c = 0; c < this.cores; c++) if (c !== o - 1 && this.priv[c].l2.find(line) >= 0) broken(`owner ${o - 1} of line ${line} is not the only holder`);
      }
    }
  }

  /** The caches are done (their machine's run ended): their arrays go to later machines (SetAssocCache.release). Not used after. */
  release(): void {
    this.llc.release();
    // The L1s stay: the cores read their arrays directly (SimCore.l1Data), and they are small.
    for (const p of this.priv) p.l2.release();
    this.llcData = this.llc.data;
  }

  /** Empty every cache and the ownership state, as if freshly constructed (crash checking). */
  reset(): void {
    this.llc.reset(); // owner and sharer rows live in the LLC's entries
    for (const p of this.priv) {
      p.l1.reset();
      p.l2.reset();
    }
    this.evictedDirtyLine = -1;
    this.lastLlcIdx = -1;
    this.lastLlcLine = -1;
    this.probeLine = -1;
    this.readWindow.reset();
    this.writeBackPath.reset();
  }
}

function broken(message: string): never {
  throw new InvariantError(`cache hierarchy: ${message}`);
}
