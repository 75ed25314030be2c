/**
 * Replay of a persistency trace (persistency.md P1-P9): lower bounds, pending units
 * and crash images at any recorded point.
 *
 * Model: per cache line L the ordered list W_L of its store units and lo_L, how many
 * are guaranteed durable. The replayer walks the trace forward once; at position t
 * (just before event t) it holds
 *   - `mem`: the lower image (every line at lo_L), a PersistedMemory over trace.base;
 *   - per dirty line the units beyond lo_L (`pending`, trace indices, program order);
 *   - per core the clwb/clflushopt/ntstore entries (line, n = |W_L| at issue) waiting
 *     for that core's next FENCE (P5-P7); clflush sets lo_L := |W_L| at once (P4).
 * Modes: 'line' (P2: a state picks a prefix of each line's pending units), 'word'
 * (P2w: a prefix per 8-byte word; lo_w = units of w among the first lo_L of L) and
 * 'eadr' (P8: every unit is durable when executed; the image is the program-order
 * prefix, so nothing is ever pending).
 * A crash state is a list of deviations (entity, extra): entity = line index (line
 * mode) or word index (word mode), extra = how many pending units of that entity
 * beyond its lower bound are durable (1..pendingCount). Its image is an overlay of
 * `mem` holding only the deviating lines, and its content hash is the lower hash
 * plus per-line deltas, so both cost O(deviating lines), never O(heap).
 *
 * Each line's state keeps the hash of its lower content until that content changes; a
 * raise that makes every pending unit durable moves it (and the lower hash) by the
 * line's full delta when that is known (no hashing: the new lower line is the upper one).
 * upperSummary (the upper image's hash and the box size) costs what changed since its
 * last call, not the dirty set; the ascending list of dirty lines (dirtyPairs, entities:
 * O(dirty) by nature) is merged lazily from the lines dirtied since it was last asked
 * for, so a replay that never lists them (finding crash points) never sorts.
 *
 * Invariants: positions only move forward; lo_L <= |W_L|; `pending` of L has exactly
 * |W_L| - lo_L entries (L is dirty iff it has some); `lowerHash` always equals hashImage(mem) (computed on first
 * use, so a replay that never hashes never pays for hashing its base; a caller that
 * knows the base's hash passes it with assumeBaseHash). A positions-only replayer
 * (finding crash points) tracks bounds and pending units but never writes `mem`.
 */
import type { NvramImage, PersistTrace } from '../api.ts';
import { TraceKind } from '../api.ts';
import { invariant } from '../errors.ts';
import { type ImageHash, addHash, hashImage, hashLineWords, subHash } from './hash.ts';
import { OverlayImage, PersistedMemory, newPage, writeUnit, type PageBuf } from './image.ts';

export type PersistencyMode = 'line' | 'word' | 'eadr';

/** One deviation from the lower image: entity (line or word index) and pending units made durable. */
export type Deviation = readonly [entity: number, extra: number];

/** Per line replay state; every field set at creation (one object shape for every line). */
interface LineState {
  readonly line: number;
  count: number;
  lo: number;
  /** Trace indices of the units beyond lo, in program order. */
  pending: number[];
  /** Line mode: hash delta of all pending units made durable (cleared when count or lo changes). */
  fullDelta?: ImageHash;
  /** Line mode: the pair [line, pending count] (cleared with fullDelta; pairs are never mutated). */
  pair?: [number, number];
  /** The line is in dirtySorted or in dirtyAdded (it may have turned clean since: see syncDirty). */
  listed?: boolean;
  /** Upper tracking: the line is in upperChanged (its units or bound changed since the last upperSummary). */
  touched?: boolean;
  /** Upper tracking: the full delta this line adds to upperDeltaSum (undefined: none). */
  contrib?: ImageHash;
  /** Upper tracking: the pending count whose factor (histN + 1) this line contributes to the box (0: none). */
  histN?: number;
  /** The hash of the line's lower content (lowA, lowB) is known (cleared when the lower image's line changes untracked). */
  lowOk: boolean;
  lowA: number;
  lowB: number;
}

function newLineState(line: number): LineState {
  return { line, count: 0, lo: 0, pending: [], fullDelta: undefined, pair: undefined, listed: false, touched: false, contrib: undefined, histN: 0, lowOk: false, lowA: 0, lowB: 0 };
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const SMALL_BIGS: bigint[] = Array.from({ length: 256 }, (_, i) => BigInt(i));
function bigOf(f: number): bigint {
  return f < SMALL_BIGS.length ? SMALL_BIGS[f] : BigInt(f);
}

/** The upper image's hash and box size at the current position (see PersistReplayer.upperSummary). */
export interface UpperSummary {
  /** Content hash of the upper image (every pending unit durable). */
  readonly hash: ImageHash;
  /** prod over choosable entities of (pending units + 1): the size of the point's box of states. */
  readonly box: bigint;
  /** The same box as a number when it is a safe integer (<= 2^53 - 1), else -1 (sums without a BigInt per point). */
  readonly boxNumber: number;
}

/**
 * An UpperSummary whose BigInt box is made only when asked for (callers sum boxNumber
 * while it is exact); one per replayer, rewritten by each upperSummary call.
 */
class Summary implements UpperSummary {
  readonly hash: ImageHash = { a: 0, b: 0 };
  boxNumber = 1;
  big: bigint | undefined = undefined;
  get box(): bigint {
    return this.big ?? BigInt(this.boxNumber);
  }
}

export function unitSizeBytes(kind: TraceKind): number {
  switch (kind) {
    case TraceKind.STORE1: return 1;
    case TraceKind.STORE2: return 2;
    case TraceKind.STORE4: return 4;
    default: return 8;
  }
}
export function isStoreKind(kind: TraceKind): boolean {
  return kind <= TraceKind.NTSTORE8;
}

export class PersistReplayer {
  pos = 0;
  readonly mem: PersistedMemory;
  private lowerHashValue: ImageHash | undefined;
  private readonly lines = new Map<number, LineState>();
  /**
   * The dirty lines in ascending order as of the last syncDirty (lines dirtied since
   * are in dirtyAdded, lines cleaned since are still listed): brought up to date only
   * when asked, so a replay that never lists them (finding crash points) never sorts,
   * and a recovery trace dirtying thousands of lines in descending order costs
   * O(n log n), not O(n^2) shifts.
   */
  private readonly dirtySorted: number[] = [];
  /** The LineState of each line of dirtySorted (same order). */
  private readonly dirtyStates: LineState[] = [];
  /** Lines dirtied since the last syncDirty and not in dirtySorted (unordered). */
  private readonly dirtyAdded: number[] = [];
  /** Lines cleaned since the last syncDirty (still listed in dirtySorted or dirtyAdded). */
  private dirtyRemoved = 0;
  /** Per core, the flushed lines waiting for its next fence and the unit count each was flushed at (parallel lists). */
  private readonly corePending: LineState[][] = [];
  private readonly corePendingN: number[][] = [];
  private readonly tmpHash: ImageHash = { a: 0, b: 0 };
  private scratchPage: PageBuf | undefined;
  /**
   * Upper tracking (off until the first upperSummary): the lines whose units or bound
   * changed since the last upperSummary, the sum of every dirty line's full delta, and
   * how many dirty lines have each pending count (for the box size).
   */
  private upperTracking = false;
  private readonly upperChanged: LineState[] = [];
  private readonly upperDeltaSum: ImageHash = { a: 0, b: 0 };
  /** upperSummary's result, rewritten by each call. */
  private readonly summary = new Summary();
  /** The box (product of pending + 1 over the dirty lines) while below 2^53, exact. */
  private boxNum = 1;
  /** The box once at or above 2^53 (boxNum is then stale). */
  private boxBig: bigint | undefined;

  /**
   * @param positionsOnly track bounds and pending units only, never write the lower
   *   image (for finding crash points: no page copies); images and hashes then throw.
   */
  constructor(
    readonly trace: PersistTrace,
    readonly mode: PersistencyMode,
    readonly positionsOnly = false,
  ) {
    this.mem = new PersistedMemory(trace.base);
  }

  /** Content hash of the lower image (computed over the base on first use, then kept up to date). */
  get lowerHash(): ImageHash {
    invariant(!this.positionsOnly, 'a positions-only replay has no lower image to hash');
    if (this.lowerHashValue === undefined) {
      // mem differs from the base only in lines already raised; hash mem itself once.
      this.lowerHashValue = hashImage(this.mem);
    }
    return this.lowerHashValue;
  }

  /**
   * Take `h` as the content hash of the trace's base image (known to the caller, e.g.
   * a crash state's hash from its own replay), so the lower hash is kept up to date
   * line by line from the start and the base is never hashed whole. Only before the
   * first step; a wrong `h` gives wrong hashes, so pass only a hash of that very image.
   */
  assumeBaseHash(h: ImageHash): void {
    invariant(this.pos === 0 && !this.positionsOnly, 'assumeBaseHash: only on a fresh image-tracking replay');
    this.lowerHashValue = { a: h.a, b: h.b };
  }

  /** Would event i (the next one, i === pos) raise some lower bound? */
  raises(i: number): boolean {
    return this.raisesKind(i, this.trace.kind(i));
  }

  /** raises(i), given event i's kind k (for a scan that read it already). */
  raisesKind(i: number, k: TraceKind): boolean {
    const t = this.trace;
    if (this.mode === 'eadr') return isStoreKind(k);
    if (k === TraceKind.CLFLUSH) return (this.lines.get(t.arg(i))?.pending.length ?? 0) > 0;
    if (k === TraceKind.FENCE) {
      const c = t.core(i);
      const q = this.corePending[c];
      if (q === undefined) return false;
      const qn = this.corePendingN[c];
      for (let j = 0; j < q.length; j++) if (qn[j] > q[j].lo) return true;
    }
    return false;
  }

  /** Process event pos and move on. */
  step(): void {
    this.stepKind(this.trace.kind(this.pos));
  }

  /** step(), given the next event's kind k (for a scan that read it already). */
  stepKind(k: TraceKind): void {
    const t = this.trace;
    const i = this.pos;
    this.pos = i + 1;
    if (isStoreKind(k)) {
      const line = t.arg(i) >>> 6;
      const ls = this.lineState(line);
      ls.count++;
      ls.fullDelta = undefined;
      ls.pair = undefined;
      if (this.upperTracking && ls.touched !== true) this.touch(ls);
      ls.pending.push(i);
      if (this.mode === 'eadr') {
        this.raiseTo(line, ls, ls.count);
        return;
      }
      this.markDirty(line, ls);
      if (k === TraceKind.NTSTORE8) this.queue(t.core(i), ls, ls.count);
      return;
    }
    if (this.mode === 'eadr') return;
    if (k === TraceKind.CLFLUSH) {
      const ls = this.knownLine(t.arg(i));
      if (ls !== undefined) this.raiseTo(t.arg(i), ls, ls.count);
    } else if (k === TraceKind.CLWB || k === TraceKind.CLFLUSHOPT) {
      const ls = this.knownLine(t.arg(i));
      if (ls !== undefined && ls.count > ls.lo) this.queue(t.core(i), ls, ls.count);
    } else if (k === TraceKind.FENCE) {
      this.drain(t.core(i));
    }
  }

  advanceTo(target: number): void {
    invariant(target >= this.pos && target <= this.trace.length, `replay cannot move from ${this.pos} to ${target}`);
    while (this.pos < target) this.step();
  }

  private lineState(line: number): LineState {
    let ls = this.knownLine(line);
    if (ls === undefined) {
      ls = newLineState(line);
      this.lines.set(line, ls);
      this.lastLine = ls;
    }
    return ls;
  }

  /** The line's state if it has one (the last one looked up is at hand: a flush follows its line's store). */
  private knownLine(line: number): LineState | undefined {
    const last = this.lastLine;
    if (last !== undefined && last.line === line) return last;
    const ls = this.lines.get(line);
    if (ls !== undefined) this.lastLine = ls;
    return ls;
  }
  /** The state knownLine found last (states are never dropped: always current). */
  private lastLine: LineState | undefined;

  private queue(core: number, ls: LineState, n: number): void {
    let q = this.corePending[core];
    if (q === undefined) {
      q = [];
      this.corePending[core] = q;
      this.corePendingN[core] = [];
    }
    q.push(ls);
    this.corePendingN[core].push(n);
  }

  private drain(core: number): void {
    const q = this.corePending[core];
    if (q === undefined || q.length === 0) return;
    const qn = this.corePendingN[core];
    for (let j = 0; j < q.length; j++) {
      const ls = q[j];
      if (qn[j] > ls.lo) this.raiseTo(ls.line, ls, qn[j]);
    }
    emptyList(q);
    emptyList(qn);
  }

  /** lo_L := n: apply the first n - lo pending units to the lower image. */
  private raiseTo(line: number, ls: LineState, n: number): void {
    const k = n - ls.lo;
    if (k <= 0) return;
    const full = n === ls.count ? ls.fullDelta : undefined;
    ls.fullDelta = undefined;
    ls.pair = undefined;
    if (this.upperTracking && ls.touched !== true) this.touch(ls);
    if (this.positionsOnly) {
      dropFront(ls.pending, k);
      ls.lo = n;
      if (ls.pending.length === 0) this.markClean();
      return;
    }
    const page = this.mem.writable(line >>> 6);
    const w = (line & 63) * 16;
    const h = this.lowerHashValue;
    if (h !== undefined && full !== undefined) {
      // Every pending unit made durable (line mode): the new lower line is the upper line
      // whose delta over the old one is known, so the hashes move by it (no hashing).
      addHash(h, full);
      ls.lowA = (ls.lowA + full.a) >>> 0;
      ls.lowB = (ls.lowB + full.b) >>> 0;
      for (let j = 0; j < k; j++) this.applyUnit(page, ls.pending[j]);
    } else if (h !== undefined) {
      subHash(h, this.lowerHashOfLine(line));
      for (let j = 0; j < k; j++) this.applyUnit(page, ls.pending[j]);
      hashLineWords(line, page.u32, w, this.tmpHash);
      addHash(h, this.tmpHash);
      ls.lowA = this.tmpHash.a;
      ls.lowB = this.tmpHash.b;
      ls.lowOk = true;
    } else {
      for (let j = 0; j < k; j++) this.applyUnit(page, ls.pending[j]);
      ls.lowOk = false;
    }
    dropFront(ls.pending, k);
    ls.lo = n;
    if (ls.pending.length === 0) this.markClean();
  }

  private applyUnit(page: PageBuf, ev: number): void {
    const t = this.trace;
    writeUnit(page, t.arg(ev), unitSizeBytes(t.kind(ev)), t.valueLo(ev), t.valueHi(ev));
  }

  private touch(ls: LineState): void {
    ls.touched = true;
    this.upperChanged.push(ls);
  }

  /**
   * Line mode: the upper image's content hash and the box size at this position, kept
   * up to date from the lines changed since the last call (O(changed lines x their
   * pending units), not O(dirty lines)): the upper hash is the lower hash plus every
   * dirty line's full delta (the sum enumeration otherwise takes over dirtyPairs at
   * each point), the box the product of (pending + 1) over the dirty lines, kept by
   * dividing a changed line's old factor out and multiplying its new one in (in a double
   * while below 2^53, exact; in a BigInt beyond, so a lazily persisting allocator's
   * hundreds of dirty lines cost a few BigInt operations per point, not a power per
   * pending count). The first call starts the tracking (one pass over the dirty lines).
   * Equal to summing fullDelta and boxSize over dirtyPairs (tested). The summary (and
   * its hash object) is the replayer's own, rewritten by the next call: read it at once.
   */
  upperSummary(): UpperSummary {
    invariant(this.mode === 'line' && !this.positionsOnly, 'upperSummary is for image-tracking line-mode replays');
    if (!this.upperTracking) {
      this.upperTracking = true;
      this.syncDirty();
      for (let i = 0; i < this.dirtySorted.length; i++) this.touch(this.dirtyStates[i]);
    }
    const changed = this.upperChanged;
    const sum = this.upperDeltaSum;
    for (let i = 0; i < changed.length; i++) {
      const ls = changed[i];
      ls.touched = false;
      if (ls.contrib !== undefined) subHash(sum, ls.contrib);
      const n = ls.pending.length;
      ls.contrib = n > 0 ? (ls.fullDelta ??= this.lineDelta(ls, n)) : undefined;
      if (ls.contrib !== undefined) addHash(sum, ls.contrib);
      const old = ls.histN ?? 0;
      if (old !== n) {
        // Divide the line's old factor out (exact: it divides the product), then multiply the new one in.
        if (old > 0) this.boxDiv(old + 1);
        if (n > 0) this.boxMul(n + 1);
        ls.histN = n;
      }
    }
    emptyList(changed);
    const lower = this.lowerHash;
    const out = this.summary;
    out.hash.a = (lower.a + sum.a) >>> 0;
    out.hash.b = (lower.b + sum.b) >>> 0;
    out.boxNumber = this.boxBig === undefined ? this.boxNum : -1;
    out.big = this.boxBig;
    return out;
  }

  /** box *= f, in a double while the product stays below 2^53 (then exact), else in the BigInt. */
  private boxMul(f: number): void {
    if (this.boxBig === undefined) {
      const x = this.boxNum * f;
      // A product of integers at or above 2^53 rounds to at least 2^53: the test is exact.
      if (x <= Number.MAX_SAFE_INTEGER) this.boxNum = x;
      else this.boxBig = BigInt(this.boxNum) * bigOf(f);
      return;
    }
    this.boxBig *= bigOf(f);
  }

  /** box /= f for a factor f of the box (exact in either representation); back to a double below 2^53. */
  private boxDiv(f: number): void {
    if (this.boxBig === undefined) {
      this.boxNum /= f;
      return;
    }
    this.boxBig /= bigOf(f);
    if (this.boxBig <= MAX_SAFE_BIG) {
      this.boxNum = Number(this.boxBig);
      this.boxBig = undefined;
    }
  }

  // ---- queries at the current position ----

  /** Dirty lines (some unit not guaranteed), ascending. */
  dirtyLineList(): number[] {
    this.syncDirty();
    return this.dirtySorted.slice();
  }

  private markDirty(line: number, ls: LineState): void {
    // Called after a unit was added: the line turned dirty only if it is its one pending unit.
    if (ls.pending.length !== 1 || ls.listed === true) return;
    ls.listed = true;
    this.dirtyAdded.push(line);
  }

  /** A line turned clean (its last pending unit guaranteed): syncDirty drops it. */
  private markClean(): void {
    this.dirtyRemoved++;
  }

  /**
   * Bring dirtySorted and dirtyStates up to date: drop the listed lines no longer dirty,
   * merge in the lines dirtied since (sorted). O(listed + added log added), and nothing
   * when no line turned dirty or clean since the last call.
   */
  private syncDirty(): void {
    const added = this.dirtyAdded;
    if (added.length === 0 && this.dirtyRemoved === 0) return;
    const old = this.dirtySorted;
    const oldStates = this.dirtyStates;
    let n = 0;
    if (this.dirtyRemoved > 0) {
      // Keep the lines still dirty (in place); the others are no longer listed.
      for (let i = 0; i < old.length; i++) {
        if (oldStates[i].pending.length > 0) {
          old[n] = old[i];
          oldStates[n++] = oldStates[i];
        } else oldStates[i].listed = false;
      }
      truncate(old, n);
      truncate(oldStates, n);
      let m = 0;
      for (let i = 0; i < added.length; i++) {
        const ls = this.lines.get(added[i])!;
        if (ls.pending.length > 0) added[m++] = added[i];
        else ls.listed = false;
      }
      truncate(added, m);
      this.dirtyRemoved = 0;
    }
    if (added.length === 0) return;
    if (added.length > 1) added.sort((x, y) => x - y);
    // Merge in place from the back (appending in ascending order, the common case of a
    // growing heap, moves nothing): no new arrays.
    let i = old.length - 1;
    for (let x = 0; x < added.length; x++) {
      old.push(0);
      oldStates.push(oldStates[0] ?? this.lines.get(added[0])!);
    }
    let k = old.length - 1;
    for (let j = added.length - 1; j >= 0; k--) {
      if (i >= 0 && old[i] > added[j]) {
        old[k] = old[i];
        oldStates[k] = oldStates[i--];
      } else {
        old[k] = added[j];
        oldStates[k] = this.lines.get(added[j--])!;
      }
    }
    emptyList(added);
  }

  /** Line mode: [line, pending count] of every dirty line, ascending (pairs shared while unchanged). */
  dirtyPairs(): [number, number][] {
    invariant(this.mode === 'line', 'dirtyPairs is for line mode');
    this.syncDirty();
    const out: [number, number][] = new Array(this.dirtySorted.length);
    for (let i = 0; i < out.length; i++) {
      const ls = this.dirtyStates[i];
      out[i] = ls.pair ??= [this.dirtySorted[i], ls.pending.length];
    }
    return out;
  }

  /** Line mode: how many lines are dirty (brings the ascending list dirtyLineAt reads up to date). */
  dirtyCount(): number {
    invariant(this.mode === 'line', 'dirtyCount is for line mode');
    this.syncDirty();
    return this.dirtySorted.length;
  }
  /** Line mode: the i-th dirty line, ascending (i < dirtyCount(), asked at this position). */
  dirtyLineAt(i: number): number {
    return this.dirtySorted[i];
  }
  /** Line mode: the pending count of the i-th dirty line (as dirtyLineAt). */
  dirtyPendingAt(i: number): number {
    return this.dirtyStates[i].pending.length;
  }

  /** Line mode: fullDelta of the i-th dirty line (ascending order), which must be `line`. */
  dirtyFullDelta(i: number, line: number): ImageHash {
    this.syncDirty();
    const ls = this.dirtyStates[i];
    if (this.dirtySorted[i] !== line || ls === undefined) return this.fullDelta(line);
    return (ls.fullDelta ??= this.deviationDelta(line, ls.pending.length));
  }
  lineCount(line: number): number {
    return this.lines.get(line)?.count ?? 0;
  }
  lineLo(line: number): number {
    return this.lines.get(line)?.lo ?? 0;
  }
  /** Trace indices of the pending units of a line (do not modify). */
  pendingUnits(line: number): readonly number[] {
    return this.lines.get(line)?.pending ?? [];
  }

  /**
   * Choosable entities at this position, ascending: [entity, pendingCount] pairs
   * flattened. Line mode: dirty lines; word mode: words with pending units.
   */
  entities(): number[] {
    const out: number[] = [];
    if (this.mode === 'eadr') return out;
    if (this.mode === 'line') {
      // Sized once (enumeration asks at every crash point): no regrowth garbage.
      this.syncDirty();
      const n = this.dirtySorted.length;
      const flat = new Array<number>(2 * n);
      for (let i = 0; i < n; i++) {
        flat[2 * i] = this.dirtySorted[i];
        flat[2 * i + 1] = this.dirtyStates[i].pending.length;
      }
      return flat;
    }
    for (const line of this.dirtyLineList()) {
      const pend = this.lines.get(line)!.pending;
      const counts = new Map<number, number>();
      for (const ev of pend) {
        const w = this.trace.arg(ev) >>> 3;
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
      for (const w of [...counts.keys()].sort((x, y) => x - y)) out.push(w, counts.get(w)!);
    }
    return out;
  }

  entityLine(entity: number): number {
    return this.mode === 'word' ? entity >>> 3 : entity;
  }

  /** Check a deviation list against the current position (throws naming the bad entry). */
  validateDeviations(devs: readonly Deviation[]): void {
    const ents = this.entities();
    const avail = new Map<number, number>();
    for (let j = 0; j < ents.length; j += 2) avail.set(ents[j], ents[j + 1]);
    let prev = -1;
    for (const [e, x] of devs) {
      const n = avail.get(e);
      if (n === undefined) throw new RangeError(`deviation entity ${e} has no pending units at trace position ${this.pos}`);
      if (!Number.isInteger(x) || x < 1 || x > n) throw new RangeError(`deviation for entity ${e}: extra must be 1..${n}, got ${x}`);
      if (e <= prev) throw new RangeError(`deviations must be sorted by entity without repeats (entity ${e})`);
      prev = e;
    }
  }

  /** Apply the chosen pending units of one line (given the deviations touching it) onto a page copy. */
  private applyLineChoice(page: PageBuf, line: number, devs: readonly Deviation[], from: number, to: number): void {
    const pend = this.lines.get(line)!.pending;
    if (this.mode === 'line') {
      const x = devs[from][1];
      for (let j = 0; j < x; j++) this.applyUnit(page, pend[j]);
      return;
    }
    for (let d = from; d < to; d++) {
      const [w, x] = devs[d];
      let taken = 0;
      for (let j = 0; j < pend.length && taken < x; j++) {
        if (this.trace.arg(pend[j]) >>> 3 !== w) continue;
        this.applyUnit(page, pend[j]);
        taken++;
      }
    }
  }

  /** Iterate deviations grouped by line: cb(line, from, to). Deviations must be sorted. */
  private forEachLineGroup(devs: readonly Deviation[], cb: (line: number, from: number, to: number) => void): void {
    let d = 0;
    while (d < devs.length) {
      const line = this.entityLine(devs[d][0]);
      let e = d + 1;
      while (e < devs.length && this.entityLine(devs[e][0]) === line) e++;
      cb(line, d, e);
      d = e;
    }
  }

  /** The hash of a line's lower content (kept on the line's state until its lower content changes). */
  private lowerHashOfLine(line: number): ImageHash {
    const h = this.lowLine;
    const ls = this.lines.get(line);
    if (ls !== undefined && ls.lowOk) {
      h.a = ls.lowA;
      h.b = ls.lowB;
      return h;
    }
    hashLineWords(line, this.mem.view(line >>> 6).u32, (line & 63) * 16, h);
    if (ls !== undefined) {
      ls.lowA = h.a;
      ls.lowB = h.b;
      ls.lowOk = true;
    }
    return h;
  }
  /** lowerHashOfLine's result (read at once by its callers, never kept). */
  private readonly lowLine: ImageHash = { a: 0, b: 0 };

  /** Content hash of the state (lower + deviations), in O(deviating lines). */
  stateHash(devs: readonly Deviation[]): ImageHash {
    invariant(!this.positionsOnly, 'a positions-only replay has no images to hash');
    const h: ImageHash = { a: this.lowerHash.a, b: this.lowerHash.b };
    const s = (this.scratchPage ??= newPage()).u32;
    // Deviations grouped by line (no closure, no views: enumeration hashes every state).
    for (let from = 0; from < devs.length;) {
      const line = this.entityLine(devs[from][0]);
      let to = from + 1;
      while (to < devs.length && this.entityLine(devs[to][0]) === line) to++;
      const w = (line & 63) * 16;
      const src = this.mem.view(line >>> 6).u32;
      for (let k = w; k < w + 16; k++) s[k] = src[k];
      this.applyLineChoice(this.scratchPage!, line, devs, from, to);
      subHash(h, this.lowerHashOfLine(line));
      hashLineWords(line, s, w, this.tmpHash);
      addHash(h, this.tmpHash);
      from = to;
    }
    return h;
  }

  /**
   * Hash delta of one deviation alone: H(line with it) - H(lower line). In line mode (and
   * in word mode when no two deviating words share a line) a state's hash is the lower
   * hash plus the sum of its deviations' deltas, which makes hashing a state O(k).
   */
  deviationDelta(entity: number, extra: number): ImageHash {
    if (this.mode === 'line' && !this.positionsOnly) {
      const ls = this.lines.get(entity);
      if (ls !== undefined && extra >= 1 && extra <= ls.pending.length) return this.lineDelta(ls, extra);
    }
    this.oneDev[0] = entity;
    this.oneDev[1] = extra;
    const h = this.stateHash(this.oneDevs);
    const lower = this.lowerHash;
    h.a = (h.a - lower.a) >>> 0;
    h.b = (h.b - lower.b) >>> 0;
    return h;
  }
  /**
   * Line mode: deviationDelta(ls.line, x) for 1 <= x <= pending units: the line with its
   * first x pending units, hashed, minus its lower hash (stateHash's sum for one line,
   * without the group walk).
   */
  private lineDelta(ls: LineState, x: number): ImageHash {
    const line = ls.line;
    const page = (this.scratchPage ??= newPage());
    const s = page.u32;
    const w = (line & 63) * 16;
    const src = this.mem.view(line >>> 6).u32;
    for (let k = w; k < w + 16; k++) s[k] = src[k];
    for (let j = 0; j < x; j++) this.applyUnit(page, ls.pending[j]);
    const low = this.lowerHashOfLine(line);
    const lowA = low.a;
    const lowB = low.b;
    hashLineWords(line, s, w, this.tmpHash);
    return { a: (this.tmpHash.a - lowA) >>> 0, b: (this.tmpHash.b - lowB) >>> 0 };
  }
  /** deviationDelta's one-deviation list, reused (stateHash does not keep it). */
  private readonly oneDev: [number, number] = [0, 0];
  private readonly oneDevs: Deviation[] = [this.oneDev];

  /**
   * Line mode: deviationDelta(line, all its pending units), kept per line until the line
   * changes (crash-point enumeration asks it for every dirty line at every point).
   */
  fullDelta(line: number): ImageHash {
    invariant(this.mode === 'line', 'fullDelta is for line mode');
    const ls = this.lines.get(line);
    if (ls === undefined || ls.pending.length === 0) return { a: 0, b: 0 };
    return (ls.fullDelta ??= this.deviationDelta(line, ls.pending.length));
  }

  /** The state's image: an overlay of the lower image holding only the deviating lines' pages. */
  stateImage(devs: readonly Deviation[]): NvramImage {
    invariant(!this.positionsOnly, 'a positions-only replay builds no images');
    const pages = new Map<number, Uint8Array>();
    const bufs = new Map<number, PageBuf>();
    this.forEachLineGroup(devs, (line, from, to) => {
      const p = line >>> 6;
      let buf = bufs.get(p);
      if (buf === undefined) {
        buf = newPage(this.mem.view(p).u8);
        bufs.set(p, buf);
        pages.set(p, buf.u8);
      }
      this.applyLineChoice(buf, line, devs, from, to);
    });
    return new OverlayImage(this.mem, pages);
  }

  /** Deviations of the upper image (every entity at its full pending count). */
  upperDeviations(): Deviation[] {
    const ents = this.entities();
    const out: Deviation[] = [];
    for (let j = 0; j < ents.length; j += 2) out.push([ents[j], ents[j + 1]]);
    return out;
  }
}

// Array edits without splice's result array (the replayer edits these at every event).
// Shortened by pops, not by setting length: V8 then drops the array's backing store
// (a runtime call), which the next push allocates again.

/** Remove the first k elements of a (0 <= k <= a.length). */
function dropFront<T>(a: T[], k: number): void {
  const n = a.length - k;
  for (let j = 0; j < n; j++) a[j] = a[j + k];
  for (let j = 0; j < k; j++) a.pop();
}

/** Remove every element of a. */
function emptyList<T>(a: T[]): void {
  while (a.length > 0) a.pop();
}

/** Keep the first n elements of a (n <= a.length). */
function truncate<T>(a: T[], n: number): void {
  while (a.length > n) a.pop();
}
