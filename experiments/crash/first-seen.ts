/**
 * Batch deduplication of a sequence of 53-bit image-hash keys (enumeration's per-point
 * states and (lower, upper) pairs of a long run, hundreds of thousands of keys).
 *
 * Model: a key is (a, b) with b masked to its low 21 bits, exactly the bits hashKey and
 * HashTable keep. `firstSeen` gives, for every position i, the first position j <= i
 * holding the same key. Instead of one table as large as the distinct keys (every probe
 * a host cache and TLB miss once it outgrows the caches, and a regrowth per doubling),
 * the keys are first split by a mix of their bits into partitions of about
 * PARTITION_KEYS (a counting pass, then a stable scatter of the keys with their
 * positions: sequential writes), and each partition is deduplicated on its own in a small open-addressing
 * table that stays in cache, reused from one partition to the next.
 * Host memory: the logs and work arrays of a long run are megabytes, taken from the
 * pool of columns.ts in power-of-two capacities and given back (KeyLog.release, and the
 * caller gives back firstSeen's result), so the next job's sweep reuses them (contents
 * stale: only entries below n are read).
 *
 * Invariants: first[i] <= i; first[i] === i iff no earlier position has the key;
 * first[i] === first[j] iff positions i and j hold the same key; the result depends only
 * on the keys (not on the partitioning).
 */
import { capacityOf, giveColumn, grownColumn, takeColumn } from './columns.ts';

/** Keys a partition holds on average (its table, 12 bytes a slot at half load or less, fits a host L2 cache). */
const PARTITION_KEYS = 4096;
const B_MASK = 0x1f_ffff;
/** Marks a table slot's second word as occupied (b has 21 bits). */
const USED = 1 << 31;

/**
 * Keys appended one at a time: key i is (a[i], b[i] & 0x1fffff), for i < n (a and b kept
 * whole, as 32-bit words: a caller reads a hash back with `>>> 0`).
 */
export class KeyLog {
  a = takeColumn(1024);
  b = takeColumn(1024);
  n = 0;

  push(a: number, b: number): void {
    if (this.n === this.a.length) {
      this.a = grownColumn(this.a, this.n);
      this.b = grownColumn(this.b, this.n);
    }
    this.a[this.n] = a;
    this.b[this.n++] = b;
  }

  /** Give the columns back to the pool (the log is then empty). */
  release(): void {
    giveColumn(this.a);
    giveColumn(this.b);
    this.a = this.b = new Int32Array(0);
    this.n = 0;
  }
}

/**
 * first[i]: the first position holding key i's key, for i < keys.n (see the module
 * header; a pooled array: `giveColumn` it when done).
 */
export function firstSeen(keys: KeyLog): Int32Array {
  const { a, b, n } = keys;
  const bits = partitionBits(n);
  const parts = 1 << bits;
  const cap = capacityOf(n);
  const mix = takeColumn(cap);
  const starts = new Int32Array(parts + 1);
  for (let i = 0; i < n; i++) {
    const h = mixKey(a[i] | 0, (b[i] & B_MASK) | USED);
    mix[i] = h;
    starts[(h >>> (32 - bits)) + 1]++;
  }
  for (let p = 0; p < parts; p++) starts[p + 1] += starts[p];
  // The keys by partition, ascending positions within each (a stable scatter), as
  // (a, b | USED, position) triples: each partition's keys are then read in sequence.
  const sorted = takeColumn(3 * cap);
  const next = starts.slice(0, parts);
  for (let i = 0; i < n; i++) {
    const k = 3 * next[mix[i] >>> (32 - bits)]++;
    sorted[k] = a[i] | 0;
    sorted[k + 1] = (b[i] & B_MASK) | USED;
    sorted[k + 2] = i;
  }
  let largest = 0;
  for (let p = 0; p < parts; p++) largest = Math.max(largest, starts[p + 1] - starts[p]);
  const table = new Int32Array(3 * tableSlots(largest));
  const first = mix;
  for (let p = 0; p < parts; p++) dedupPartition(sorted, starts[p], starts[p + 1], table, first);
  giveColumn(sorted);
  return first.subarray(0, n);
}

/** How many distinct keys the log holds. */
export function countDistinct(keys: KeyLog): number {
  const first = firstSeen(keys);
  let count = 0;
  for (let i = 0; i < keys.n; i++) if (first[i] === i) count++;
  giveColumn(first);
  return count;
}

/** log2 of the partition count for n keys: about PARTITION_KEYS each (at least 1: a shift by 32 - 0 would be a shift by 0). */
function partitionBits(n: number): number {
  let bits = 1;
  while (bits < 16 && n >>> bits > PARTITION_KEYS) bits++;
  return bits;
}

/** Slots of a partition's table for `count` keys: a power of two, at least twice the keys (and 16). */
function tableSlots(count: number): number {
  return capacityOf(2 * count);
}

/**
 * first[] of the keys sorted[from..to) (one partition's triples, ascending positions): a
 * linear-probing table of the same triples over the first slots of `table`, cleared first.
 */
function dedupPartition(sorted: Int32Array, from: number, to: number, table: Int32Array, first: Int32Array): void {
  const slots = tableSlots(to - from);
  const mask = slots - 1;
  table.fill(0, 0, 3 * slots);
  for (let k = 3 * from; k < 3 * to; k += 3) {
    const ka = sorted[k];
    const kb = sorted[k + 1];
    const i = sorted[k + 2];
    for (let s = mixKey(ka, kb) & mask; ; s = (s + 1) & mask) {
      const w = table[3 * s + 1];
      if (w === 0) {
        table[3 * s] = ka;
        table[3 * s + 1] = kb;
        table[3 * s + 2] = i;
        first[i] = i;
        break;
      }
      if (w === kb && table[3 * s] === ka) {
        first[i] = table[3 * s + 2];
        break;
      }
    }
  }
}

/** A 32-bit mix of key (ka, kb): its top bits pick the partition, its low bits the slot in it. */
function mixKey(ka: number, kb: number): number {
  let h = Math.imul(ka ^ Math.imul(kb, 0x9e37_79b1), 0x85eb_ca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2_ae35) | 0;
}
