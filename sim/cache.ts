/**
 * One set-associative cache level with true LRU, as typed arrays (tags only, no data).
 *
 * Model: `sets * ways` entries; entry i = set * ways + way. A tag is the 64 B line
 * number + 1 (0 = empty, so a fresh array needs no fill and costs no host memory until
 * touched). LRU is exact: every touch stamps the entry with the level's tick; the victim
 * is an empty way if any, else the way with the smallest stamp (ties cannot happen:
 * stamps within a set are distinct because each touch takes a fresh tick). A per-entry
 * flag byte is kept for the hierarchy (sim/coherence.ts: owned-and-dirty).
 *
 * Invariants: a line appears at most once per cache; stamps of valid entries in a set
 * are distinct; the tick stays a small integer: when it reaches 2^30 every set's stamps
 * are renumbered by rank (0..ways-1), which keeps the LRU order exactly.
 */
import { invariant } from './errors.ts';

const TICK_LIMIT = 1 << 30;

export class SetAssocCache {
  readonly sets: number;
  readonly tags: Int32Array;
  readonly stamps: Int32Array;
  readonly flags: Uint8Array;
  /** sets - 1 when sets is a power of two, else -1 (then the set is line % sets). */
  private readonly setMask: number;
  private tick = 0;

  constructor(
    readonly name: string,
    sizeBytes: number,
    readonly ways: number,
    lineSizeBytes = 64,
  ) {
    invariant(Number.isInteger(ways) && ways >= 1, `${name}: ways must be a positive integer, got ${ways}`);
    const lines = sizeBytes / lineSizeBytes;
    if (!Number.isInteger(lines) || lines < ways || lines % ways !== 0) {
      throw new RangeError(`${name}: sizeBytes ${sizeBytes} must be a multiple of ways*lineSizeBytes = ${ways * lineSizeBytes}`);
    }
    this.sets = lines / ways;
    this.setMask = (this.sets & (this.sets - 1)) === 0 ? this.sets - 1 : -1;
    this.tags = new Int32Array(lines);
    this.stamps = new Int32Array(lines);
    this.flags = new Uint8Array(lines);
  }

  /** First entry index of the set holding `line`. */
  setBase(line: number): number {
    const m = this.setMask;
    return (m >= 0 ? line & m : line % this.sets) * this.ways;
  }

  /** Entry index holding `line`, or -1. Does not touch LRU. */
  find(line: number): number {
    const tag = line + 1;
    const tags = this.tags;
    const base = this.setBase(line);
    const end = base + this.ways;
    for (let i = base; i < end; i++) if (tags[i] === tag) return i;
    return -1;
  }

  /** Mark entry i most recently used. */
  touch(i: number): void {
    let t = ++this.tick;
    if (t >= TICK_LIMIT) t = this.renumber();
    this.stamps[i] = t;
  }

  /** The entry to fill in line's set: an empty way, else the least recently used one. */
  victim(line: number): number {
    const base = this.setBase(line);
    const tags = this.tags;
    const stamps = this.stamps;
    let best = base;
    let bestStamp = 0x7fffffff;
    for (let i = base, end = base + this.ways; i < end; i++) {
      if (tags[i] === 0) return i;
      if (stamps[i] < bestStamp) {
        bestStamp = stamps[i];
        best = i;
      }
    }
    return best;
  }

  /** Line held by entry i, or -1 when empty. */
  lineAt(i: number): number {
    return this.tags[i] - 1;
  }

  /** Put `line` into entry i (which the caller has emptied or is replacing), as MRU. */
  fill(i: number, line: number, flag: number): void {
    if (this.tags[i] === 0) this.noteUsed(i);
    this.tags[i] = line + 1;
    this.flags[i] = flag;
    this.touch(i);
  }

  invalidate(i: number): void {
    this.tags[i] = 0;
    this.flags[i] = 0;
    this.stamps[i] = 0;
  }

  /** Renumber stamps of every set by rank; returns the next free tick. */
  private renumber(): number {
    const order: number[] = [];
    for (let base = 0; base < this.tags.length; base += this.ways) {
      order.length = 0;
      for (let i = base; i < base + this.ways; i++) if (this.tags[i] !== 0) order.push(i);
      order.sort((a, b) => this.stamps[a] - this.stamps[b]);
      for (let r = 0; r < order.length; r++) this.stamps[order[r]] = r + 1;
    }
    this.tick = this.ways + 1;
    return this.tick;
  }

  /** Valid lines of the set holding `line`, least recently used first (tests, debugging). */
  setContents(line: number): number[] {
    const base = this.setBase(line);
    const idx: number[] = [];
    for (let i = base; i < base + this.ways; i++) if (this.tags[i] !== 0) idx.push(i);
    idx.sort((a, b) => this.stamps[a] - this.stamps[b]);
    return idx.map((i) => this.tags[i] - 1);
  }

  /** Test hook: force the tick near its limit so renumbering is exercised. */
  setTickForTest(tick: number): void {
    this.tick = tick;
  }

  // ---- cheap reset (crash checking reuses one machine per worker; added by the crash helper) ----
  /** Entries filled from empty since the last reset, or undefined once too many to track. */
  private usedEntries: number[] | undefined = [];

  private noteUsed(i: number): void {
    const u = this.usedEntries;
    if (u === undefined) return;
    if (u.length >= this.tags.length >>> 3) this.usedEntries = undefined;
    else u.push(i);
  }

  /** Entries that may be non-empty (undefined: any entry). */
  entriesInUse(): readonly number[] | undefined {
    return this.usedEntries;
  }

  /** Empty the cache as if freshly constructed; costs the entries used, not the cache size. */
  reset(): void {
    const u = this.usedEntries;
    if (u === undefined) {
      this.tags.fill(0);
      this.flags.fill(0);
      this.stamps.fill(0);
    } else {
      for (const i of u) {
        this.tags[i] = 0;
        this.flags[i] = 0;
        this.stamps[i] = 0;
      }
    }
    this.usedEntries = [];
    this.tick = 0;
  }
}
