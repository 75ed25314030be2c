/**
 * A growable map from integer keys (any safe integer) to numbers, on typed arrays, for
 * per-walk sets and maps that are built and dropped for every checked crash state (the
 * structure walks' visited nodes and keys): a host Set or Map of a hundred entries
 * regrows its table several times and leaves it all to the collector each time.
 *
 * Model: open addressing with linear probing over Float64Array keys and values at most
 * half full (the table doubles beyond), a multiplicative hash of the key's two 32-bit
 * halves; a slot is occupied when its stamp equals the table's epoch, so clear() is one
 * increment (the arrays are refilled only when the epoch wraps). `takeNumTable` and
 * `giveNumTable` keep emptied tables for the next walk.
 *
 * Invariants: keys are safe integers (-0 is 0); a key is present at most once; every
 * present key is reachable from its home slot without crossing an unoccupied slot.
 */
const TWO_32 = 0x1_0000_0000;
const MIN_BITS = 6;
const MAX_EPOCH = 0x7fff_ffff;

export class NumTable {
  private keys: Float64Array;
  private vals: Float64Array;
  private stamps: Int32Array;
  private epoch = 1;
  private bits: number;
  private count = 0;

  constructor(bits = MIN_BITS) {
    this.bits = bits;
    this.keys = new Float64Array(1 << bits);
    this.vals = new Float64Array(1 << bits);
    this.stamps = new Int32Array(1 << bits);
  }

  get size(): number {
    return this.count;
  }

  /** The value of `key`, or undefined when absent. */
  get(key: number): number | undefined {
    const s = this.slotOf(key);
    return s < 0 ? undefined : this.vals[s];
  }

  has(key: number): boolean {
    return this.slotOf(key) >= 0;
  }

  /** Set `key` to `value` (added when absent). */
  set(key: number, value: number): void {
    let s = this.home(key);
    const mask = (1 << this.bits) - 1;
    for (; this.stamps[s] === this.epoch; s = (s + 1) & mask) {
      if (this.keys[s] === key) {
        this.vals[s] = value;
        return;
      }
    }
    this.stamps[s] = this.epoch;
    this.keys[s] = key;
    this.vals[s] = value;
    if (++this.count * 2 > 1 << this.bits) this.grow();
  }

  /** Empty the table (its arrays are kept). */
  clear(): void {
    this.count = 0;
    if (this.epoch === MAX_EPOCH) {
      this.stamps.fill(0);
      this.epoch = 1;
    } else this.epoch++;
  }

  private home(key: number): number {
    const lo = key >>> 0;
    const hi = ((key - lo) / TWO_32) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The slot holding `key`, or -1. */
  private slotOf(key: number): number {
    const mask = (1 << this.bits) - 1;
    for (let s = this.home(key); this.stamps[s] === this.epoch; s = (s + 1) & mask) {
      if (this.keys[s] === key) return s;
    }
    return -1;
  }

  /** Double the table, re-inserting the occupied slots. */
  private grow(): void {
    const { keys, vals, stamps, epoch } = this;
    this.bits++;
    this.keys = new Float64Array(1 << this.bits);
    this.vals = new Float64Array(1 << this.bits);
    this.stamps = new Int32Array(1 << this.bits);
    this.epoch = 1;
    this.count = 0;
    for (let s = 0; s < keys.length; s++) if (stamps[s] === epoch) this.set(keys[s], vals[s]);
  }
}

/** Emptied tables kept for the next walk (host memory only; capped). */
const spare: NumTable[] = [];
const SPARE_MAX = 16;

/** An empty table: a kept one when there is one. */
export function takeNumTable(): NumTable {
  return spare.pop() ?? new NumTable();
}

/** Give a table no longer used back for reuse (emptied here). */
export function giveNumTable(t: NumTable): void {
  if (spare.length >= SPARE_MAX) return;
  t.clear();
  spare.push(t);
}
