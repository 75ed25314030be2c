/**
 * The write-back path: lines recently written back by a flush that dropped them from the
 * caches (clflush, clflushopt, clwb on a part that does not retain the line), and still
 * held on their way to the media (the memory controller's write pending queue and, on
 * Optane, the DIMM's XPBuffer). A cache miss on such a line is served from there, at
 * `writeBackPathReadCycles`, not at the media's read latency (rule 10, nvram-model.md).
 *
 * Model: a FIFO of the last `writeBackPathLines` distinct lines written back this way
 * (machine-wide); a line leaves when newer write-backs push it out, or when it is read
 * back into the caches. The FIFO depends on the order of flushes only, not on time, so
 * results stay deterministic and independent of host speed.
 *
 * Speed: the held lines are also keys of an open-addressing hash table (linear probing,
 * at most half full, backward-shift deletion) giving each line's FIFO position, so
 * add and take cost O(1), not a scan of the FIFO; no host object is allocated per line.
 *
 * Invariants: at most writeBackPathLines lines; a line is in the FIFO at most once; a
 * FIFO position holds a line (>= 0) iff the table maps that line to that position.
 */
export class WriteBackPath {
  /** FIFO positions: a line, or -1 (empty, or taken out by a read). */
  private readonly ring: Int32Array;
  /** Hash table slots: line + 1, or 0 (empty). */
  private readonly keys: Int32Array;
  /** The FIFO position of each slot's line. */
  private readonly slotPos: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private held = 0;
  private pos = 0;

  constructor(readonly capacityLines: number) {
    this.ring = new Int32Array(Math.max(1, capacityLines)).fill(-1);
    const bits = Math.max(4, 32 - Math.clz32(Math.max(1, capacityLines) * 2 - 1));
    this.keys = new Int32Array(1 << bits);
    this.slotPos = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
  }

  /** A dropped dirty line was written back. */
  add(line: number): void {
    if (this.capacityLines === 0 || this.slotOf(line) >= 0) return;
    const p = this.pos;
    const old = this.ring[p];
    if (old >= 0) this.removeSlot(this.slotOf(old));
    this.ring[p] = line;
    this.insert(line, p);
    this.pos = p + 1 === this.capacityLines ? 0 : p + 1;
  }

  /** A miss on `line`: true (and the line leaves the path) if it is still held. */
  take(line: number): boolean {
    if (this.held === 0) return false;
    const s = this.slotOf(line);
    if (s < 0) return false;
    this.ring[this.slotPos[s]] = -1;
    this.removeSlot(s);
    return true;
  }

  reset(): void {
    this.ring.fill(-1);
    if (this.held !== 0) this.keys.fill(0);
    this.held = 0;
    this.pos = 0;
  }

  private home(line: number): number {
    return Math.imul(line, 0x9e3779b1) >>> this.shift;
  }

  /** The table slot holding `line`, or -1. */
  private slotOf(line: number): number {
    const keys = this.keys;
    for (let s = this.home(line); ; s = (s + 1) & this.mask) {
      const k = keys[s];
      if (k === line + 1) return s;
      if (k === 0) return -1;
    }
  }

  private insert(line: number, p: number): void {
    const keys = this.keys;
    let s = this.home(line);
    while (keys[s] !== 0) s = (s + 1) & this.mask;
    keys[s] = line + 1;
    this.slotPos[s] = p;
    this.held++;
  }

  /** Empty slot s, moving later entries of its probe run back (linear probing's deletion). */
  private removeSlot(s: number): void {
    const keys = this.keys;
    const mask = this.mask;
    this.held--;
    let i = s;
    let j = s;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === 0) break;
      const h = this.home(k - 1);
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
      keys[i] = k;
      this.slotPos[i] = this.slotPos[j];
      i = j;
    }
    keys[i] = 0;
  }
}
