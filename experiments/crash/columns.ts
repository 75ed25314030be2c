/**
 * Host memory of crash enumeration's large Int32 columns: hash-table slots
 * (hash-table.ts), key logs and work arrays (first-seen.ts), upper logs (upper-log.ts).
 *
 * Model: a long run's columns are megabytes, and fresh host memory costs a page fault
 * per 4 KiB when first written (slower than the sweep's own work on it) and counts
 * towards V8's external memory, which triggers collections. Columns a structure is done
 * with go to one capped pool of spare arrays by length; later columns of the same length
 * take them, so the next job's sweep reuses the last one's memory. Lengths are powers of
 * two (capacityOf) or fixed multiples of them, so they repeat from job to job.
 *
 * Invariants: takeColumn's contents are stale (its user reads only entries it wrote);
 * takeZeroed's are zero; a column is given back at most once and not used after.
 */
import { SpareArrays } from '../../sim/spare-arrays.ts';

/** Pooled bytes at most (host memory a worker keeps between jobs). */
const SPARE_MAX_BYTES = 96 << 20;
const spare = new SpareArrays(Number.POSITIVE_INFINITY, SPARE_MAX_BYTES);
/** Columns below this length are cheap to allocate: not pooled. */
const SPARE_MIN_LENGTH = 1 << 14;

/** An Int32Array of length n with stale contents: a spare one if any, else a new one. */
export function takeColumn(n: number): Int32Array {
  return (n >= SPARE_MIN_LENGTH ? spare.take(n) : undefined) ?? new Int32Array(n);
}

/** A zeroed Int32Array of length n (a spare one, cleared, if any). */
export function takeZeroed(n: number): Int32Array {
  const a = n >= SPARE_MIN_LENGTH ? spare.take(n) : undefined;
  return a !== undefined ? a.fill(0) : new Int32Array(n);
}

/** Give a column back (a view of the start of one counts as the whole). */
export function giveColumn(a: Int32Array): void {
  const whole = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : new Int32Array(a.buffer);
  if (whole.length >= SPARE_MIN_LENGTH) spare.give(whole);
}

/** A column of twice a's length (at least 16) holding a's first n entries (a is given back). */
export function grownColumn(a: Int32Array, n: number): Int32Array {
  const b = takeColumn(Math.max(16, 2 * a.length));
  b.set(a.subarray(0, n));
  giveColumn(a);
  return b;
}

/** The power of two (at least 16) that holds n entries. */
export function capacityOf(n: number): number {
  let c = 16;
  while (c < n) c *= 2;
  return c;
}
