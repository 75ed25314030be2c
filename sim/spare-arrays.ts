/**
 * A pool of spare Int32Arrays by length: host memory handed from a structure that is
 * done (a released cache, an outgrown hash-table column) to a later one of the same
 * length, instead of a fresh allocation (fresh host memory costs a page fault per 4 KiB
 * when first written, and large ones V8 major GCs). Nothing simulated depends on it.
 *
 * Model: `take(n)` returns a kept array of length exactly n (the one given last first),
 * or undefined; `give(a)` keeps `a` while the pool holds fewer than `maxPerLength`
 * arrays of its length and the kept bytes stay within `maxBytes`, else drops it.
 *
 * Invariants: an array is kept at most once and handed out at most once per give; its
 * contents are as given (a user that gives only zeroed arrays takes zeroed arrays).
 */
export class SpareArrays {
  private readonly byLength = new Map<number, Int32Array[]>();
  private bytes = 0;

  constructor(
    readonly maxPerLength: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Bytes of the arrays kept. */
  get keptBytes(): number {
    return this.bytes;
  }

  take(length: number): Int32Array | undefined {
    const a = this.byLength.get(length)?.pop();
    if (a !== undefined) this.bytes -= a.byteLength;
    return a;
  }

  give(a: Int32Array): void {
    let list = this.byLength.get(a.length);
    if (list === undefined) this.byLength.set(a.length, (list = []));
    if (list.length >= this.maxPerLength || this.bytes + a.byteLength > this.maxBytes) return;
    list.push(a);
    this.bytes += a.byteLength;
  }
}
