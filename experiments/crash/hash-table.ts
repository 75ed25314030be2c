/**
 * Open-addressing table from 53-bit image-hash keys to small non-negative integers
 * (enumeration's dedup of crash states by image content, in the modes with several
 * states a point; lower and upper in line mode dedup in a batch: first-seen.ts).
 *
 * Model: a key is the pair (a, b) of an ImageHash with b masked to its low 21 bits,
 * exactly the bits hashKey keeps (so two hashes are the same key here iff their
 * hashKey values are equal). Keys live in one interleaved Int32Array, two words a
 * slot (a, then b with bit 31 set: an occupied slot's second word is never 0), so a
 * probe touches one host cache line; values in a parallel Int32Array, read only on a
 * hit. No boxed number and no Map
 * entry per key (enumeration looks up every raw state; keys above 2^31 would be heap
 * numbers in a Map). Linear probing; the table doubles past 3/4 load (eight slots a
 * host cache line keep probes short; half the host memory of doubling at half load),
 * re-placing each key without comparing (keys are distinct).
 * Host memory: a long run's tables hold hundreds of thousands of keys, megabytes a
 * column, and fresh host memory costs a page fault per 4 KiB the first time it is
 * written (slower than the probes themselves here). Columns a table outgrows, and its
 * final ones once `release`d, go to the pool of columns.ts that later tables of the
 * same size take (zeroed): the next job's sweep reuses the last one's.
 *
 * Invariants: get returns the value last set for the key, or -1; values are >= 0;
 * getOrSet(a, b, v) is `get`, followed by set(a, b, v) when
 * that gave -1; after release only `size` answers.
 */
import { capacityOf, giveColumn, takeZeroed } from './columns.ts';

/** Marks an occupied slot's second word (b has 21 bits). */
const USED = 1 << 31;

export class HashTable {
  /** Two words a slot: key a, key b | USED (0: empty). */
  private keys: Int32Array;
  /** Value per slot. */
  private vals: Int32Array;
  /** Slot count - 1 (a power of two minus one). */
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    const n = capacityOf(capacity * 2);
    this.keys = takeZeroed(n * 2);
    this.vals = takeZeroed(n);
    this.mask = n - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value of key (a, b), or -1. */
  get(a: number, b: number): number {
    const s = this.keys;
    const mask = this.mask;
    if (mask < 0) throw new Error('hash table used after release');
    const ka = a | 0;
    const kb = (b & 0x1f_ffff) | USED;
    for (let i = slotOf(ka, kb) & mask; ; i = (i + 1) & mask) {
      const w = s[2 * i + 1];
      if (w === 0) return -1;
      if (w === kb && s[2 * i] === ka) return this.vals[i];
    }
  }

  /** Sets key (a, b) to value (>= 0). */
  set(a: number, b: number, value: number): void {
    this.checkValue(value);
    const i = this.find(a, b);
    if (i < 0) this.count++;
    this.vals[i < 0 ? ~i : i] = value;
  }

  /** The value of key (a, b) if present; else sets it to `value` and returns -1 (one probe sequence). */
  getOrSet(a: number, b: number, value: number): number {
    this.checkValue(value);
    const i = this.find(a, b);
    if (i >= 0) return this.vals[i];
    this.count++;
    this.vals[~i] = value;
    return -1;
  }

  /** Give the columns back to the pool for later tables (this one then answers only `size`). */
  release(): void {
    giveColumn(this.keys);
    giveColumn(this.vals);
    this.keys = RELEASED;
    this.vals = RELEASED;
    this.mask = -1;
  }

  private checkValue(value: number): void {
    if (this.mask < 0) throw new Error('hash table used after release');
    if (!(value >= 0)) throw new RangeError(`hash table value ${value}: expected >= 0`);
  }

  /** Key (a, b)'s slot if present; else ~slot of the empty slot it now holds (room made first). */
  private find(a: number, b: number): number {
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const s = this.keys;
    const mask = this.mask;
    const ka = a | 0;
    const kb = (b & 0x1f_ffff) | USED;
    for (let i = slotOf(ka, kb) & mask; ; i = (i + 1) & mask) {
      const w = s[2 * i + 1];
      if (w === 0) {
        s[2 * i] = ka;
        s[2 * i + 1] = kb;
        return ~i;
      }
      if (w === kb && s[2 * i] === ka) return i;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const n = (this.mask + 1) * 2;
    const mask = n - 1;
    const s = takeZeroed(n * 2);
    const v = takeZeroed(n);
    for (let j = 0; j <= this.mask; j++) {
      const kb = oldKeys[2 * j + 1];
      if (kb === 0) continue;
      const ka = oldKeys[2 * j];
      let i = slotOf(ka, kb) & mask;
      while (s[2 * i + 1] !== 0) i = (i + 1) & mask;
      s[2 * i] = ka;
      s[2 * i + 1] = kb;
      v[i] = oldVals[j];
    }
    giveColumn(oldKeys);
    giveColumn(oldVals);
    this.keys = s;
    this.vals = v;
    this.mask = mask;
  }
}

/** The slot a key hashes to (its b word includes USED: the same for every lookup of the key). */
function slotOf(ka: number, kb: number): number {
  return Math.imul(ka ^ Math.imul(kb, 0x9e37_79b1), 0x85eb_ca6b) >>> 11;
}

const RELEASED = new Int32Array(0);
