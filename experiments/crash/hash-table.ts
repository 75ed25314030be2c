/**
 * Open-addressing table from 53-bit image-hash keys to small non-negative integers
 * (enumeration's dedup of crash states by image content).
 *
 * Model: a key is the pair (a, b) of an ImageHash with b masked to its low 21 bits,
 * exactly the bits hashKey keeps (so two hashes are the same key here iff their
 * hashKey values are equal). Keys live in typed arrays: no boxed number and no Map
 * entry per state (enumeration looks up every raw state; keys above 2^31 would be
 * heap numbers in a Map). Linear probing; the table doubles at half load.
 *
 * Invariants: get returns the value last set for the key, or -1; values are >= 0.
 */
export class HashTable {
  private keyA: Int32Array;
  private keyB: Int32Array;
  /** value + 1 per slot; 0 = empty. */
  private vals: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.keyA = new Int32Array(n);
    this.keyB = new Int32Array(n);
    this.vals = new Int32Array(n);
    this.mask = n - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value of key (a, b), or -1. */
  get(a: number, b: number): number {
    const ka = a | 0;
    const kb = b & 0x1f_ffff;
    for (let i = slotOf(ka, kb) & this.mask; ; i = (i + 1) & this.mask) {
      const v = this.vals[i];
      if (v === 0) return -1;
      if (this.keyA[i] === ka && this.keyB[i] === kb) return v - 1;
    }
  }

  /** Sets key (a, b) to value (>= 0). */
  set(a: number, b: number, value: number): void {
    if ((this.count + 1) * 2 > this.vals.length) this.grow();
    const ka = a | 0;
    const kb = b & 0x1f_ffff;
    for (let i = slotOf(ka, kb) & this.mask; ; i = (i + 1) & this.mask) {
      const v = this.vals[i];
      if (v === 0) {
        this.keyA[i] = ka;
        this.keyB[i] = kb;
        this.vals[i] = value + 1;
        this.count++;
        return;
      }
      if (this.keyA[i] === ka && this.keyB[i] === kb) {
        this.vals[i] = value + 1;
        return;
      }
    }
  }

  private grow(): void {
    const { keyA, keyB, vals } = this;
    const n = vals.length * 2;
    this.keyA = new Int32Array(n);
    this.keyB = new Int32Array(n);
    this.vals = new Int32Array(n);
    this.mask = n - 1;
    this.count = 0;
    for (let i = 0; i < vals.length; i++) if (vals[i] !== 0) this.set(keyA[i], keyB[i], vals[i] - 1);
  }
}

function slotOf(ka: number, kb: number): number {
  return Math.imul(ka ^ Math.imul(kb, 0x9e37_79b1), 0x85eb_ca6b) >>> 11;
}
