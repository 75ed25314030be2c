/**
 * A fixed-capacity map from non-negative integer keys to integer values, for the
 * machine's small indexes that must answer in O(1) without a host object per entry
 * (the write-back path's held lines, the XPBuffer's XPLines).
 *
 * Model: open addressing with linear probing over typed arrays sized to at least twice
 * `capacity` (so probe runs stay short), a multiplicative hash of the key, and
 * backward-shift deletion (no tombstones: a table that churns forever never degrades).
 *
 * Invariants: at most `capacity` keys; a key is present at most once; a slot holds
 * key + 1 or 0 (empty); every present key is reachable from its home slot without
 * crossing an empty slot.
 */
export class IntMap {
  /** Slots: key + 1, or 0 (empty). */
  private readonly keys: Int32Array;
  private readonly vals: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private count = 0;

  constructor(readonly capacity: number) {
    const bits = Math.max(4, 32 - Math.clz32(Math.max(1, capacity) * 2 - 1));
    this.keys = new Int32Array(1 << bits);
    this.vals = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
  }

  get size(): number {
    return this.count;
  }

  /** The value of `key`, or -1 when absent. */
  get(key: number): number {
    const s = this.slotOf(key);
    return s < 0 ? -1 : this.vals[s];
  }

  has(key: number): boolean {
    return this.count !== 0 && this.slotOf(key) >= 0;
  }

  /** Add `key` (absent, and the map below capacity) with `value`. */
  add(key: number, value: number): void {
    const keys = this.keys;
    let s = this.home(key);
    while (keys[s] !== 0) s = (s + 1) & this.mask;
    keys[s] = key + 1;
    this.vals[s] = value;
    this.count++;
  }

  /** Remove `key` and return its value, or -1 when absent. */
  delete(key: number): number {
    if (this.count === 0) return -1;
    const s = this.slotOf(key);
    if (s < 0) return -1;
    const v = this.vals[s];
    this.removeSlot(s);
    return v;
  }

  clear(): void {
    if (this.count !== 0) this.keys.fill(0);
    this.count = 0;
  }

  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  /** The slot holding `key`, or -1. */
  private slotOf(key: number): number {
    const keys = this.keys;
    for (let s = this.home(key); ; s = (s + 1) & this.mask) {
      const k = keys[s];
      if (k === key + 1) return s;
      if (k === 0) return -1;
    }
  }

  /** Empty slot s, moving later entries of its probe run back (linear probing's deletion). */
  private removeSlot(s: number): void {
    const keys = this.keys;
    const mask = this.mask;
    this.count--;
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
      this.vals[i] = this.vals[j];
      i = j;
    }
    keys[i] = 0;
  }
}
