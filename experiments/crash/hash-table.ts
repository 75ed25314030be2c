/**
 * Open-addressing table from 53-bit image-hash keys to small non-negative integers
 * (enumeration's dedup of crash states by image content).
 *
 * Model: a key is the pair (a, b) of an ImageHash with b masked to its low 21 bits,
 * exactly the bits hashKey keeps (so two hashes are the same key here iff their
 * hashKey values are equal). Slots live in one interleaved Int32Array, four words a
 * slot (key a, key b, value + 1, unused), so a probe touches one host cache line, not
 * one per column (a long run's table of hundreds of thousands of states is far larger
 * than the host's caches): no boxed number and no Map entry per state (enumeration
 * looks up every raw state; keys above 2^31 would be heap numbers in a Map). Linear
 * probing; the table doubles at half load, re-placing each key without comparing
 * (keys are distinct).
 *
 * Invariants: get returns the value last set for the key, or -1; values are >= 0;
 * getOrSet(a, b, v) is `get`, followed by set(a, b, v) when that gave -1.
 */
/** Int32 words a slot: key a, key b (21 bits), value + 1 (0 = empty), padding. */
const W = 4;

export class HashTable {
  private slots: Int32Array;
  /** Slot count - 1 (a power of two minus one). */
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.slots = new Int32Array(n * W);
    this.mask = n - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value of key (a, b), or -1. */
  get(a: number, b: number): number {
    const s = this.slots;
    const mask = this.mask;
    const ka = a | 0;
    const kb = b & 0x1f_ffff;
    for (let i = slotOf(ka, kb) & mask; ; i = (i + 1) & mask) {
      const p = i * W;
      const v = s[p + 2];
      if (v === 0) return -1;
      if (s[p] === ka && s[p + 1] === kb) return v - 1;
    }
  }

  /** Sets key (a, b) to value (>= 0). */
  set(a: number, b: number, value: number): void {
    const p = this.find(a, b);
    if (this.slots[p + 2] === 0) this.count++;
    this.slots[p + 2] = value + 1;
  }

  /** The value of key (a, b) if present; else sets it to `value` (>= 0) and returns -1 (one probe sequence). */
  getOrSet(a: number, b: number, value: number): number {
    const p = this.find(a, b);
    const v = this.slots[p + 2];
    if (v !== 0) return v - 1;
    this.slots[p + 2] = value + 1;
    this.count++;
    return -1;
  }

  /** Word index of key (a, b)'s slot: its own, or the empty one it would take (the key written there; room made first). */
  private find(a: number, b: number): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const s = this.slots;
    const mask = this.mask;
    const ka = a | 0;
    const kb = b & 0x1f_ffff;
    for (let i = slotOf(ka, kb) & mask; ; i = (i + 1) & mask) {
      const p = i * W;
      if (s[p + 2] === 0) {
        s[p] = ka;
        s[p + 1] = kb;
        return p;
      }
      if (s[p] === ka && s[p + 1] === kb) return p;
    }
  }

  private grow(): void {
    const old = this.slots;
    const n = (this.mask + 1) * 2;
    const s = new Int32Array(n * W);
    const mask = n - 1;
    for (let q = 0; q < old.length; q += W) {
      if (old[q + 2] === 0) continue;
      const ka = old[q];
      const kb = old[q + 1];
      let i = slotOf(ka, kb) & mask;
      while (s[i * W + 2] !== 0) i = (i + 1) & mask;
      const p = i * W;
      s[p] = ka;
      s[p + 1] = kb;
      s[p + 2] = old[q + 2];
    }
    this.slots = s;
    this.mask = mask;
  }
}

function slotOf(ka: number, kb: number): number {
  return Math.imul(ka ^ Math.imul(kb, 0x9e37_79b1), 0x85eb_ca6b) >>> 11;
}
