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
 * - Evicting an L2 line removes it from that core's L1 and the core's sharer bit; evicting
 *   an LLC line removes it from every L2/L1 (back-invalidation) and, if dirty, is a write-back
 *   (reported in `evictedDirtyLine` for the issuing core to charge, rule 8).
 * - Memory reads (rule 7): a read of an XPLine-sized block that this core read recently
 *   (or the block just after one: a forward stream) costs the sequential latency, others
 *   the random one; the window holds the last `seqWindowLines` blocks per core.
 * The private-entry flag FLAG_MD means "this core owns the line and it is dirty": a store
 * that hits such an entry needs nothing else (the fast path of sim/core.ts).
 *
 * Invariants (checkInvariants): inclusion; sharer bit c <=> line in L2(c); an owner is the
 * only sharer; FLAG_MD in L1(c)/L2(c) <=> owner c and dirty.
 */
import type { Counters } from './api.ts';
import { SetAssocCache } from './cache.ts';
import type { CostModel } from './cost-model.ts';
import { InvariantError, invariant } from './errors.ts';

export const FLAG_MD = 1;
/** flushLine result bits. */
export const FLUSH_DIRTY = 1;
export const FLUSH_REMOTE = 2;

/** One core's private caches plus the line it touched last in L1 (for the fast path). */
export class PrivateCaches {
  /** Line of the most recent L1 access of this core (it is MRU in its L1 set), or -1. */
  lastLine = -1;
  /** L1 entry index of lastLine. */
  lastIdx = 0;
  /** l1.flags, one indirection less on the store fast path. */
  readonly l1Flags: Uint8Array;
  /** Per L1 / L2 entry: the LLC entry of its line (valid while the entry is; inclusion keeps it fixed). */
  readonly l1Llc: Int32Array;
  readonly l2Llc: Int32Array;
  constructor(
    readonly l1: SetAssocCache,
    readonly l2: SetAssocCache,
  ) {
    this.l1Flags = l1.flags;
    this.l1Llc = new Int32Array(l1.tags.length);
    this.l2Llc = new Int32Array(l2.tags.length);
  }
}

export class Hierarchy {
  readonly llc: SetAssocCache;
  readonly priv: PrivateCaches[];
  /** Per LLC entry: owning core + 1, or 0. */
  readonly owner: Int32Array;
  /** Per LLC entry: `words` 32-bit words of sharer bits. */
  readonly sharers: Uint32Array;
  readonly words: number;
  /** Set by access(): the dirty line an LLC eviction pushed to memory, or -1. */
  evictedDirtyLine = -1;
  private lastLlcIdx = -1;
  private readonly recent: Int32Array;
  private readonly recentPos: Int32Array;
  private readonly window: number;
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
    this.llc = new SetAssocCache('llc', cost.llcSizeBytes, cost.llcWays);
    this.priv = [];
    for (let c = 0; c < cores; c++) {
      this.priv.push(new PrivateCaches(new SetAssocCache('l1', cost.l1SizeBytes, cost.l1Ways), new SetAssocCache('l2', cost.l2SizeBytes, cost.l2Ways)));
    }
    this.words = (cores + 31) >>> 5;
    this.owner = new Int32Array(this.llc.tags.length);
    this.sharers = new Uint32Array(this.llc.tags.length * this.words);
    this.window = cost.seqWindowLines;
    this.recent = new Int32Array(Math.max(1, cores * this.window));
    this.recentPos = new Int32Array(cores);
    const blockLines = Math.max(1, cost.xpLineSizeBytes >>> 6);
    invariant((blockLines & (blockLines - 1)) === 0, `xpLineSizeBytes must be 64 * 2^k, got ${cost.xpLineSizeBytes}`);
    this.blockShift = 31 - Math.clz32(blockLines);
    this.l1HitCycles = cost.l1HitCycles;
    this.l2HitCycles = cost.l2HitCycles;
    this.llcHitCycles = cost.llcHitCycles;
    this.transferCycles = cost.coherenceTransferCycles;
  }

  /** Charge one access of core c to `line`; returns its cycles and counts hits, misses, transfers. */
  access(c: number, line: number, write: boolean, cnt: Counters): number {
    this.evictedDirtyLine = -1;
    const p = this.priv[c];
    const l1 = p.l1;
    let i = l1.find(line);
    if (i >= 0) {
      cnt.l1Hits++;
      l1.touch(i);
      p.lastLine = line;
      p.lastIdx = i;
      if (write && l1.flags[i] === 0) return this.l1HitCycles + this.ownForStore(c, line, p.l1Llc[i], cnt);
      return this.l1HitCycles;
    }
    cnt.l1Misses++;
    const l2 = p.l2;
    let j = l2.find(line);
    let cycles: number;
    if (j >= 0) {
      cnt.l2Hits++;
      l2.touch(j);
      cycles = this.l2HitCycles;
    } else {
      cnt.l2Misses++;
      cycles = this.fromShared(c, line, write, cnt);
      j = this.fillL2(c, line);
    }
    i = l1.victim(line);
    l1.fill(i, line, l2.flags[j]);
    const e = p.l2Llc[j];
    p.l1Llc[i] = e;
    p.lastLine = line;
    p.lastIdx = i;
    if (write && l1.flags[i] === 0) cycles += this.ownForStore(c, line, e, cnt);
    return cycles;
  }

  /** The line is in c's L1 and L2 (LLC entry e) without FLAG_MD: take ownership and mark it dirty. */
  private ownForStore(c: number, line: number, e: number, cnt: Counters): number {
    if (this.llc.tags[e] !== line + 1) broken(`line ${line} of core ${c} not at its LLC entry ${e}`);
    let cycles = 0;
    if (this.owner[e] !== c + 1) {
      if (this.hasOtherSharers(e, c)) {
        cycles = this.transferCycles;
        cnt.coherenceTransfers++;
        this.invalidateOthers(e, line, c);
      }
      this.owner[e] = c + 1;
    }
    this.llc.flags[e] = 1;
    this.setPrivateFlag(c, line, FLAG_MD);
    return cycles;
  }

  /** L2 miss of core c: find or fetch the line in the LLC and register c. */
  private fromShared(c: number, line: number, write: boolean, cnt: Counters): number {
    const llc = this.llc;
    let e = llc.find(line);
    let cycles: number;
    if (e >= 0) {
      cnt.llcHits++;
      llc.touch(e);
      cycles = this.llcHitCycles;
      const o = this.owner[e];
      if (write) {
        if (this.hasOtherSharers(e, c)) {
          cycles += this.transferCycles;
          cnt.coherenceTransfers++;
          this.invalidateOthers(e, line, c);
        }
        this.owner[e] = c + 1;
        llc.flags[e] = 1;
      } else if (o !== 0) {
        cycles += this.transferCycles;
        cnt.coherenceTransfers++;
        this.setPrivateFlag(o - 1, line, 0);
        this.owner[e] = 0;
      }
    } else {
      cnt.llcMisses++;
      cycles = this.memoryReadCycles(c, line);
      e = llc.victim(line);
      if (llc.tags[e] !== 0) this.evictLlc(e);
      llc.fill(e, line, write ? 1 : 0);
      this.owner[e] = write ? c + 1 : 0;
    }
    this.sharers[e * this.words + (c >>> 5)] |= 1 << (c & 31);
    this.lastLlcIdx = e;
    return cycles;
  }

  /** Put line into c's L2 (after fromShared); returns its L2 entry. */
  private fillL2(c: number, line: number): number {
    const p = this.priv[c];
    const j = p.l2.victim(line);
    const victim = p.l2.lineAt(j);
    if (victim >= 0) this.dropFromL2(c, victim, p.l2Llc[j]);
    const e = this.lastLlcIdx;
    const flag = this.owner[e] === c + 1 && this.llc.flags[e] === 1 ? FLAG_MD : 0;
    p.l2.fill(j, line, flag);
    p.l2Llc[j] = e;
    return j;
  }

  /** c's L2 evicts `victim` (LLC entry e): remove it from c's L1 and c's sharer bit; ownership ends. */
  private dropFromL2(c: number, victim: number, e: number): void {
    const p = this.priv[c];
    const i = p.l1.find(victim);
    if (i >= 0) p.l1.invalidate(i);
    if (p.lastLine === victim) p.lastLine = -1;
    if (this.llc.tags[e] !== victim + 1) broken(`L2 victim ${victim} of core ${c} not at its LLC entry ${e}`);
    this.sharers[e * this.words + (c >>> 5)] &= ~(1 << (c & 31));
    if (this.owner[e] === c + 1) this.owner[e] = 0;
  }

  /** The LLC evicts entry e: back-invalidate every private copy; report a dirty line. */
  private evictLlc(e: number): void {
    const line = this.llc.lineAt(e);
    this.removeAllPrivate(e, line);
    if (this.llc.flags[e] === 1) this.evictedDirtyLine = line;
    this.owner[e] = 0;
    this.llc.invalidate(e);
  }

  /**
   * clwb / clflushopt / clflush / ntstore by core c: write back if dirty; drop the line
   * from every cache unless `keep` (then it stays, clean). Returns FLUSH_* bits.
   */
  flushLine(c: number, line: number, keep: boolean): number {
    const e = this.llc.find(line);
    if (e < 0) return 0;
    let r = this.llc.flags[e] === 1 ? FLUSH_DIRTY : 0;
    const o = this.owner[e];
    if (o !== 0 && o !== c + 1 && r !== 0) r |= FLUSH_REMOTE;
    if (keep) {
      this.llc.flags[e] = 0;
      if (o !== 0) this.setPrivateFlag(o - 1, line, 0);
      return r;
    }
    this.removeAllPrivate(e, line);
    this.owner[e] = 0;
    this.llc.invalidate(e);
    return r;
  }

  // ---- helpers ----

  private hasOtherSharers(e: number, c: number): boolean {
    const base = e * this.words;
    const cw = c >>> 5;
    for (let k = 0; k < this.words; k++) {
      let w = this.sharers[base + k];
      if (k === cw) w &= ~(1 << (c & 31));
      if (w !== 0) return true;
    }
    return false;
  }

  /** Remove line from every sharer except c; c becomes the only sharer. */
  private invalidateOthers(e: number, line: number, c: number): void {
    this.removeAllPrivate(e, line, c);
    this.sharers[e * this.words + (c >>> 5)] = 1 << (c & 31);
    this.setPrivateFlag(c, line, 0);
  }

  /** Remove line from the L1/L2 of every sharer of entry e except `keepCore`; clear the bits. */
  private removeAllPrivate(e: number, line: number, keepCore = -1): void {
    const base = e * this.words;
    for (let k = 0; k < this.words; k++) {
      let w = this.sharers[base + k];
      this.sharers[base + k] = 0;
      while (w !== 0) {
        const bit = w & -w;
        w ^= bit;
        const d = (k << 5) + 31 - Math.clz32(bit);
        if (d !== keepCore) this.removePrivate(d, line);
      }
    }
  }

  private removePrivate(d: number, line: number): void {
    const p = this.priv[d];
    const i = p.l1.find(line);
    if (i >= 0) p.l1.invalidate(i);
    const j = p.l2.find(line);
    if (j >= 0) p.l2.invalidate(j);
    if (p.lastLine === line) p.lastLine = -1;
  }

  private setPrivateFlag(d: number, line: number, flag: number): void {
    const p = this.priv[d];
    const i = p.l1.find(line);
    if (i >= 0) p.l1.flags[i] = flag;
    const j = p.l2.find(line);
    if (j >= 0) p.l2.flags[j] = flag;
  }

  /** Rule 7: sequential latency for a recently read block (or the next one), random otherwise. */
  private memoryReadCycles(c: number, line: number): number {
    const block = line >>> this.blockShift;
    const base = c * this.window;
    let seq = false;
    let present = false;
    for (let k = base, end = base + this.window; k < end; k++) {
      const b = this.recent[k] - 1;
      if (b === block) present = true;
      if (b === block || b === block - 1) seq = true;
    }
    if (!present && this.window > 0) {
      const pos = this.recentPos[c];
      this.recent[base + pos] = block + 1;
      this.recentPos[c] = pos + 1 === this.window ? 0 : pos + 1;
    }
    const cost = this.cost;
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
    return { l1, l2, llc: e >= 0, owner: e >= 0 ? this.owner[e] - 1 : -1, dirty: e >= 0 && this.llc.flags[e] === 1 };
  }

  /** Check the invariants of the module header (tests; O(cache size)). */
  checkInvariants(): void {
    for (let c = 0; c < this.cores; c++) {
      const p = this.priv[c];
      for (let i = 0; i < p.l1.tags.length; i++) {
        const line = p.l1.lineAt(i);
        if (line < 0) continue;
        const j = p.l2.find(line);
        if (!(j >= 0)) broken(`L1 of core ${c} holds line ${line} not in its L2`);
        if (!(p.l1.flags[i] === p.l2.flags[j])) broken(`L1/L2 flags differ for line ${line} on core ${c}`);
        if (p.l1Llc[i] !== p.l2Llc[j]) broken(`L1/L2 LLC index differ for line ${line} on core ${c}`);
      }
      for (let j = 0; j < p.l2.tags.length; j++) {
        const line = p.l2.lineAt(j);
        if (line < 0) continue;
        const e = this.llc.find(line);
        if (!(e >= 0)) broken(`L2 of core ${c} holds line ${line} not in the LLC`);
        if (p.l2Llc[j] !== e) broken(`L2 of core ${c}: LLC index of line ${line} is ${p.l2Llc[j]}, expected ${e}`);
        if (!((this.sharers[e * this.words + (c >>> 5)] & (1 << (c & 31))) !== 0)) broken(`sharer bit missing: line ${line} core ${c}`);
        const md = this.owner[e] === c + 1 && this.llc.flags[e] === 1 ? FLAG_MD : 0;
        if (!(p.l2.flags[j] === md)) broken(`flag of line ${line} on core ${c} is ${p.l2.flags[j]}, expected ${md}`);
      }
    }
    for (let e = 0; e < this.llc.tags.length; e++) {
      const line = this.llc.lineAt(e);
      if (line < 0) continue;
      let count = 0;
      for (let c = 0; c < this.cores; c++) {
        const bit = (this.sharers[e * this.words + (c >>> 5)] & (1 << (c & 31))) !== 0;
        if (bit) count++;
        if (!(bit === this.priv[c].l2.find(line) >= 0)) broken(`sharer bit of core ${c} wrong for line ${line}`);
      }
      const o = this.owner[e];
      if (o !== 0) if (!(count === 1 && this.priv[o - 1].l2.find(line) >= 0)) broken(`owner ${o - 1} of line ${line} is not the only sharer`);
    }
  }

  /** Empty every cache and the ownership state, as if freshly constructed (crash checking). */
  reset(): void {
    const used = this.llc.entriesInUse();
    if (used === undefined) {
      this.owner.fill(0);
      this.sharers.fill(0);
    } else {
      for (const e of used) {
        this.owner[e] = 0;
        for (let w = 0; w < this.words; w++) this.sharers[e * this.words + w] = 0;
      }
    }
    this.llc.reset();
    for (const p of this.priv) {
      p.l1.reset();
      p.l2.reset();
      p.lastLine = -1;
      p.lastIdx = 0;
    }
    this.evictedDirtyLine = -1;
    this.lastLlcIdx = -1;
    this.recent.fill(0);
    this.recentPos.fill(0);
  }
}

function broken(message: string): never {
  throw new InvariantError(`cache hierarchy: ${message}`);
}
