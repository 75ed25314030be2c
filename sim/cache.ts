/**
 * One set-associative cache level with true LRU, as one typed array (tags only, no data).
 *
 * Model: `sets` sets of `ways` entries. Each set is one contiguous block of `planes`
 * rows of `ways` Int32 values: row 0 the tags, row 1 the LRU stamps, row 2 a flag, and
 * further rows for the hierarchy (sim/coherence.ts: the LLC index of a private line, or
 * the owner and sharer bits of an LLC line). An entry is named by the position of its
 * tag; its value in row p sits `p * ways` further. Keeping a set's metadata together
 * makes a simulated miss touch a few adjacent host cache lines instead of one per array.
 * Before the rows, one Int32 counts the set's valid entries, so a lookup in an empty set
 * (every set right after a reset: a crash checker's recovery starts cold) scans nothing;
 * it sits just before the tags, so a lookup reads both from one host cache line in most
 * sets (a cold LLC set costs the host one memory read less than with the count after the
 * rows).
 * A tag is the 64 B line number + 1 (0 = empty, so a fresh array needs no fill and costs
 * no host memory until touched). LRU is exact: every touch stamps the entry with the
 * level's tick; the victim is an empty way if any, else the way with the smallest stamp.
 *
 * Invariants: a line appears at most once per cache; a set's count equals its non-zero
 * tags (only fill, invalidate and reset change tags); an empty entry's stamp is 0 and a
 * valid one's at least 1 (the victim scan relies on it); stamps of valid entries in a set
 * are distinct (each touch takes a fresh tick); the tick stays below 2^30: at the limit
 * every set's stamps are renumbered by rank (1..ways), which keeps the LRU order exactly.
 */
import { invariant } from './errors.ts';
import { lowerBound } from './search.ts';
import { SpareArrays } from './spare-arrays.ts';

const TICK_LIMIT = 1 << 30;
const RELEASED = new Int32Array(0);

/**
 * Arrays of released caches, all zero, by length: at most SPARES_PER_LENGTH each (a
 * process builds machines of a few shapes; the crash checker's pool keeps its own).
 */
const SPARES_PER_LENGTH = 2;
const spares = new SpareArrays(SPARES_PER_LENGTH);

/** Changed entries a checkpoint's journal holds before its rollback falls back to rewriting every recorded entry. */
const JOURNAL_NOTES = 1 << 14;
/**
 * A cache's journal fields before its first checkpoint: values of the fields' lasting types
 * (an empty list, a token), so arming a journal changes no field's representation (which
 * would deoptimize the simulator's code that uses caches).
 */
const NO_JOURNAL = new Int32Array(0);
const NO_OWNER: object = Object.freeze({});
export const ROW_TAG = 0;
export const ROW_STAMP = 1;
export const ROW_FLAG = 2;
/** First row free for the hierarchy's own per-entry values. */
export const ROW_USER = 3;

export class SetAssocCache {
  readonly sets: number;
  /** The entries (see the header); an empty array once released. */
  data: Int32Array;
  /** planes * ways + 1: Int32 values per set (the first one counts the set's valid entries). */
  readonly stride: number;
  /** Offset of a set's valid-entry count from its base (the entry of its first way): -1. */
  readonly countOff: number;
  /** Offsets of the stamp and flag rows from an entry. */
  readonly stampOff: number;
  readonly flagOff: number;
  /** sets - 1 when sets is a power of two, else -1 (then the set is line % sets). */
  private readonly setMask: number;
  tick = 0;

  constructor(
    readonly name: string,
    sizeBytes: number,
    readonly ways: number,
    readonly planes = ROW_USER,
    lineSizeBytes = 64,
  ) {
    invariant(Number.isInteger(ways) && ways >= 1, `${name}: ways must be a positive integer, got ${ways}`);
    const lines = sizeBytes / lineSizeBytes;
    if (!Number.isInteger(lines) || lines < ways || lines % ways !== 0) {
      throw new RangeError(`${name}: sizeBytes ${sizeBytes} must be a multiple of ways*lineSizeBytes = ${ways * lineSizeBytes}`);
    }
    this.sets = lines / ways;
    this.setMask = (this.sets & (this.sets - 1)) === 0 ? this.sets - 1 : -1;
    this.countOff = -1;
    this.stride = planes * ways + 1;
    this.stampOff = ways;
    this.flagOff = 2 * ways;
    this.data = spares.take(this.sets * this.stride) ?? new Int32Array(this.sets * this.stride);
    this.usedCap = (this.sets * this.ways) >>> 3;
  }

  /** Entry of the first way of the set holding `line`. */
  setBase(line: number): number {
    const m = this.setMask;
    return (m >= 0 ? line & m : line % this.sets) * this.stride + 1;
  }

  /** Entry holding `line`, or -1. Does not touch LRU. */
  find(line: number): number {
    return this.findIn(this.setBase(line), line);
  }

  /** find() given line's set base (setBase(line)), to compute it once per access. */
  findIn(base: number, line: number): number {
    const tag = line + 1;
    const d = this.data;
    if (d[base + this.countOff] === 0) return -1;
    const end = base + this.ways;
    for (let i = base; i < end; i++) if (d[i] === tag) return i;
    return -1;
  }

  /**
   * Set by findOrVictimIn when the line is absent: the entry victimIn(base) returned at
   * that moment (valid while the set's tags and stamps are unchanged).
   */
  missVictim = 0;

  /**
   * findIn() that, when the line is absent, also leaves in missVictim the entry
   * victimIn(base) would return, from the same pass over the tags where it can: in a set
   * with an empty way the victim is the first empty way (an empty entry's stamp is 0, a
   * valid one's at least 1), found among the tags; only a full set needs the stamp scan.
   * A miss path then chooses its victim without a second pass over the set.
   */
  findOrVictimIn(base: number, line: number): number {
    const tag = line + 1;
    const d = this.data;
    const n = d[base + this.countOff];
    if (n === 0) {
      this.missVictim = base;
      return -1;
    }
    const end = base + this.ways;
    if (n === this.ways) {
      for (let i = base; i < end; i++) if (d[i] === tag) return i;
      this.missVictim = this.victimIn(base);
      return -1;
    }
    let empty = -1;
    for (let i = base; i < end; i++) {
      const t = d[i];
      if (t === tag) return i;
      if (t === 0 && empty < 0) empty = i;
    }
    this.missVictim = empty;
    return -1;
  }

  /**
   * Base of the set of `line ^ 1` (the other line of its 128 B pair), given `base`, the
   * base of line's set: the neighbouring set when the set count is even (then line % sets
   * and (line ^ 1) % sets differ in their lowest bit only), else computed.
   */
  pairBase(base: number, line: number): number {
    if ((this.sets & 1) !== 0) return this.setBase(line ^ 1);
    return (line & 1) === 0 ? base + this.stride : base - this.stride;
  }

  /** Mark entry i most recently used. */
  touch(i: number): void {
    let t = ++this.tick;
    if (t >= TICK_LIMIT) t = this.renumber();
    this.data[i + this.stampOff] = t;
  }

  /** The entry to fill in line's set: an empty way, else the least recently used one. */
  victim(line: number): number {
    return this.victimIn(this.setBase(line));
  }

  /**
   * victim() given the set base: the entry with the smallest stamp, the first on ties. An
   * empty entry's stamp is 0 and a valid one's at least 1, so this is the first empty way
   * if any, else the least recently used. Branch-free: the stamps' order is unpredictable
   * for the host, and each mispredicted compare costs more than the arithmetic.
   */
  victimIn(base: number): number {
    const d = this.data;
    if (d[base + this.countOff] === 0) return base; // an empty set (a cache just reset): no scan
    const so = this.stampOff;
    let best = base;
    let bestStamp = d[base + so];
    for (let i = base + 1, end = base + this.ways; i < end; i++) {
      const s = d[i + so];
      const less = (s - bestStamp) >> 31; // -1 when s < bestStamp (stamps < 2^30: no overflow)
      best ^= (best ^ i) & less;
      bestStamp ^= (bestStamp ^ s) & less;
    }
    return best;
  }

  /** Line held by entry i, or -1 when empty. */
  lineAt(i: number): number {
    return this.data[i] - 1;
  }

  flag(i: number): number {
    return this.data[i + this.flagOff];
  }
  setFlag(i: number, flag: number): void {
    this.data[i + this.flagOff] = flag;
  }
  /** Value of entry i in row `row` (>= ROW_USER). */
  get(i: number, row: number): number {
    return this.data[i + row * this.ways];
  }
  set(i: number, row: number, value: number): void {
    this.data[i + row * this.ways] = value;
  }

  /** Put `line` into entry i (which the caller has emptied or is replacing), as MRU. */
  fill(i: number, line: number, flag: number): void {
    this.fillIn(this.setBase(line), i, line, flag);
  }

  /** fill() given line's set base (setBase(line)): no second set computation (a modulo in the LLC). */
  fillIn(base: number, i: number, line: number, flag: number): void {
    const d = this.data;
    if (d[i] === 0) {
      this.noteUsed(i);
      d[base + this.countOff]++;
    }
    d[i] = line + 1;
    d[i + this.flagOff] = flag;
    this.touch(i);
  }

  /**
   * fillIn() of entry i known empty: its tag and every row are 0 (an entry never filled,
   * or emptied by invalidate, reset or a checkpoint's restore, which zero every row), so
   * a flag of 0 is not written (the caller writes only non-zero rows too).
   */
  fillEmptyIn(base: number, i: number, line: number, flag: number): void {
    const d = this.data;
    this.noteUsed(i);
    d[base + this.countOff]++;
    d[i] = line + 1;
    if (flag !== 0) d[i + this.flagOff] = flag;
    this.touch(i);
  }

  /** Empty entry i (every row). */
  invalidate(i: number): void {
    const tag = this.data[i];
    this.invalidateIn(tag !== 0 ? this.setBase(tag - 1) : 0, i);
  }

  /** invalidate() given the base of entry i's set: empty entry i (every row). */
  invalidateIn(base: number, i: number): void {
    const d = this.data;
    if (d[i] !== 0) d[base + this.countOff]--;
    for (let r = 0, w = this.ways; r < this.planes; r++) d[i + r * w] = 0;
  }

  /** Every entry (valid or not), in set order: for scans in tests and invariant checks. */
  allEntries(): number[] {
    const out: number[] = [];
    for (let b = 1; b < this.data.length; b += this.stride) for (let w = 0; w < this.ways; w++) out.push(b + w);
    return out;
  }

  /** Renumber stamps of every set by rank; returns the next free tick. */
  private renumber(): number {
    const order: number[] = [];
    const d = this.data;
    const so = this.stampOff;
    for (let base = 1; base < d.length; base += this.stride) {
      order.length = 0;
      for (let i = base; i < base + this.ways; i++) if (d[i] !== 0) order.push(i);
      order.sort((a, b) => d[a + so] - d[b + so]);
      for (let r = 0; r < order.length; r++) d[order[r] + so] = r + 1;
    }
    this.tick = this.ways + 1;
    if (this.journalCount >= 0) this.journalCount = -1; // every set's stamps changed
    return this.tick;
  }

  /** Valid lines of the set holding `line`, least recently used first (tests, debugging). */
  setContents(line: number): number[] {
    const base = this.setBase(line);
    const idx: number[] = [];
    for (let i = base; i < base + this.ways; i++) if (this.data[i] !== 0) idx.push(i);
    idx.sort((a, b) => this.data[a + this.stampOff] - this.data[b + this.stampOff]);
    return idx.map((i) => this.data[i] - 1);
  }

  /** The stored count of valid entries of the set holding `line` (tests check it against the tags). */
  validCount(line: number): number {
    return this.data[this.setBase(line) + this.countOff];
  }

  /** Test hook: force the tick near its limit so renumbering is exercised. */
  setTickForTest(tick: number): void {
    this.tick = tick;
  }

  // ---- cheap reset (crash checking reuses one machine per state) ----
  /**
   * Entries filled from empty since the last reset: usedEntries[0, usedCount), or
   * usedCount = -1 once more than an eighth of the cache (then reset fills the array).
   * A typed array allocated once: no list regrown per crash state.
   */
  private usedEntries: Int32Array | undefined;
  private usedCount = 0;
  /** Entries tracked before reset falls back to a fill: an eighth of the cache. */
  private readonly usedCap: number;

  private noteUsed(i: number): void {
    const n = this.usedCount;
    if (n < 0) return;
    if (n >= this.usedCap) {
      this.usedCount = -1;
      return;
    }
    const u = (this.usedEntries ??= new Int32Array(Math.max(1, this.usedCap)));
    u[n] = i;
    this.usedCount = n + 1;
  }

  /**
   * The cache is done: its array, emptied (reset), goes to the spares that later caches
   * of the same shape take instead of a fresh zero-filled one (a 27.5 MB LLC's array is
   * 9 MB: allocating it per executed run cost a few ms and V8 major GCs). The cache must
   * not be used after; its `data` is an empty array from now on.
   */
  release(): void {
    if (this.data.length === 0) return;
    this.reset();
    spares.give(this.data);
    this.data = RELEASED;
  }

  /** Empty the cache as if freshly constructed (every row); costs the entries used, not the cache size. */
  reset(): void {
    const n = this.usedCount;
    if (n < 0) this.data.fill(0);
    else for (let k = 0; k < n; k++) this.invalidate(this.usedEntries![k]);
    this.usedCount = 0;
    this.tick = 0;
    if (this.journalCount >= 0) this.journalCount = -1;
  }

  // ---- change journal (a checkpoint's rollback rewrites only the sets changed since) ----
  /**
   * True when every change of this cache's entries is reported through noteChanged (the
   * hierarchy does for its LLC, whose rows it writes directly: sim/coherence.ts); only
   * then does a checkpoint keep a journal. Host bookkeeping only: nothing simulated reads it.
   */
  changesNoted = false;
  /**
   * Entries (any entry of their set) noted as changed since the armed checkpoint:
   * journal[0, journalCount), or journalCount = -1 while none is armed, once more than JOURNAL_NOTES were
   * noted, the cache was reset or its stamps renumbered (the rollback then rewrites every
   * recorded entry). `journalOwner` names the checkpoint that armed it (a later
   * checkpoint of the same cache takes the journal over).
   */
  private journal: Int32Array = NO_JOURNAL;
  private journalCount = -1;
  private journalOwner: object = NO_OWNER;

  /** Note that entry i's set changes (called before or after the change, within the same operation). */
  noteChanged(i: number): void {
    const n = this.journalCount;
    if (n < 0) return;
    const j = this.journal;
    if (n === j.length) this.journalCount = -1;
    else {
      j[n] = i;
      this.journalCount = n + 1;
    }
  }

  /**
   * The cache as it is now, to come back to (crash checking rolls a recovered machine
   * back: experiments/crash/checkpoint.ts). Records its scalar fields and the entries
   * filled since its last reset (every other entry is empty: the invariant reset() relies
   * on) with their sets' valid counts; a cache past its used-entry tracking (more than
   * an eighth of it filled) is copied whole, or not at all above `maxWholeBytes`
   * (undefined). `arrays` are this cache's own typed arrays, which the caller must not
   * record again. `restore()` empties the entries filled since (or, when the cache was
   * reset or overflowed its tracking since, resets it), then writes the recorded
   * entries, counts and fields back; it writes a field only when its value changed
   * (writing a field never written since construction deoptimizes the simulator's hot
   * code). `int32(n)` supplies scratch arrays of length n.
   */
  checkpoint(int32: (n: number) => Int32Array, maxWholeBytes: number): { restore: () => void; arrays: readonly Int32Array[] } | undefined {
    const rec = this as unknown as Record<string, unknown>;
    const used = this.usedEntries;
    const count = this.usedCount;
    const arrays = used === undefined ? [this.data] : [this.data, used];
    const ks: string[] = [];
    const vs: unknown[] = [];
    for (const k of Object.keys(this)) {
      const v = rec[k];
      if (typeof v === 'object' && v !== null && v !== used) continue; // data (contents recorded below)
      if (k === 'journal' || k === 'journalCount' || k === 'journalOwner') continue; // the journal's own (set below)
      ks.push(k);
      vs.push(v);
    }
    const fields = (): void => {
      for (let j = 0; j < ks.length; j++) if (!Object.is(rec[ks[j]], vs[j])) rec[ks[j]] = vs[j];
    };
    if (count < 0) {
      if (this.data.byteLength > maxWholeBytes) return undefined;
      const whole = int32(this.data.length);
      whole.set(this.data);
      return {
        arrays,
        restore: () => {
          this.data.set(whole);
          fields();
          if (this.journalCount >= 0) this.journalCount = -1; // not a change it noted
        },
      };
    }
    const usedCopy = used === undefined ? undefined : int32(count);
    if (usedCopy !== undefined) usedCopy.set(used!.subarray(0, count));
    const { stride, ways, planes, data } = this;
    // Each entry's rows and its set's valid count (an entry emptied and filled again is
    // listed twice: written back twice, the same values), in address order: written
    // back as one sweep over the (9 MB for the LLC) array instead of in fill order.
    const sorted = int32(count);
    if (usedCopy !== undefined) {
      sorted.set(usedCopy);
      sorted.sort();
    }
    const values = int32(count * (planes + 1));
    const countAt = int32(count);
    for (let k = 0, v = 0; k < count; k++) {
      const i = sorted[k];
      for (let r = 0; r < planes; r++) values[v++] = data[i + r * ways];
      countAt[k] = Math.floor((i - 1) / stride) * stride;
      values[v++] = data[countAt[k]];
    }
    // With a journal (changesNoted), a rollback rewrites only the sets noted since: their
    // entries recorded here, the rest of the set emptied (every entry not filled since the
    // last reset is empty: the invariant reset() relies on).
    const token = this.changesNoted ? {} : undefined;
    if (token !== undefined) {
      if (this.journal.length === 0) this.journal = new Int32Array(JOURNAL_NOTES);
      this.journalCount = 0;
      this.journalOwner = token;
    }
    /** Write the recorded entries sorted[from, to) back: every row, and their sets' counts. */
    const writeRecorded = (d: Int32Array, from: number, to: number): void => {
      for (let k = from, v = k * (planes + 1); k < to; k++) {
        const i = sorted[k];
        for (let r = 0; r < planes; r++) d[i + r * ways] = values[v++];
        d[countAt[k]] = values[v++];
      }
    };
    const restoreSet = (b: number): void => {
      const d = this.data;
      for (let x = b - 1, end = b - 1 + stride; x < end; x++) d[x] = 0;
      writeRecorded(d, lowerBound(sorted, b, count), lowerBound(sorted, b + ways, count));
    };
    const restoreNoted = (): boolean => {
      const n = this.journalCount;
      if (token === undefined || this.journalOwner !== token || n < 0 || !startsWith(this.usedCount, used, usedCopy)) return false;
      const noted = this.journal.subarray(0, n);
      for (let k = 0; k < n; k++) noted[k] -= (noted[k] - 1) % stride;
      noted.sort();
      for (let k = 0; k < n; k++) if (k === 0 || noted[k] !== noted[k - 1]) restoreSet(noted[k]);
      fields();
      this.journalCount = 0;
      return true;
    };
    const restore = (): void => {
      if (restoreNoted()) return;
      const d = this.data;
      const now = this.usedCount;
      if (!startsWith(now, used, usedCopy)) this.reset();
      else {
        // The used list still starts with the checkpoint's (no reset since). Entries filled
        // from empty since the checkpoint (listed after its `count`) were empty then, and
        // so were their sets unless a recorded entry is there (its count is written back
        // below): emptied, with their sets' counts. Recorded entries are written back
        // whole whatever happened to them since.
        // (The list itself, which a cache untouched before the checkpoint creates since.)
        const u = this.usedEntries!;
        for (let k = count; k < now; k++) {
          const i = u[k];
          for (let r = 0; r < planes; r++) d[i + r * ways] = 0;
          d[Math.floor((i - 1) / stride) * stride] = 0;
        }
      }
      fields();
      if (usedCopy !== undefined) used!.set(usedCopy);
      writeRecorded(d, 0, count);
      // The cache is as at the checkpoint again: its journal starts over, or, owned by
      // another checkpoint, misses these changes.
      const restarted = token !== undefined && this.journalOwner === token ? 0 : -1;
      if (this.journalCount !== restarted) this.journalCount = restarted;
    };
    return { arrays, restore };
  }
}

/** Whether a cache's used list (`now` entries, -1: past tracking) still begins with the recorded one. */
function startsWith(now: number, used: Int32Array | undefined, prefix: Int32Array | undefined): boolean {
  const n = prefix?.length ?? 0;
  if (now < n) return false;
  for (let k = 0; k < n; k++) if (used![k] !== prefix![k]) return false;
  return true;
}
