/**
 * The recency order of a fixed set of entries 0..n-1 (a cache-like table's victim
 * choice: the XPBuffer's XPLines, the L2 prefetcher's streams), as a doubly linked
 * list over two typed arrays: no host object per entry, every operation O(1).
 *
 * Model: entries join at the most recent end (`pushMru`), move there when used
 * (`touch`), leave from anywhere (`unlink`; the victim is `lru`); `clear` empties the
 * list (entries' links are rewritten when they join again).
 *
 * Invariants: each listed entry is linked once; `lru` and `mru` are -1 exactly when
 * the list is empty; an entry's links are meaningful only while it is listed.
 */
export class LruList {
  /** Per entry, the next older and the next newer listed entry (-1 at the ends). */
  private readonly older: Int32Array;
  private readonly newer: Int32Array;
  private lruEntry = -1;
  private mruEntry = -1;

  constructor(entries: number) {
    this.older = new Int32Array(entries);
    this.newer = new Int32Array(entries);
  }

  /** The least recently used listed entry, or -1. */
  get lru(): number {
    return this.lruEntry;
  }

  /** The most recently used listed entry, or -1. */
  get mru(): number {
    return this.mruEntry;
  }

  /** List entry e (not listed) as the most recent. */
  pushMru(e: number): void {
    const m = this.mruEntry;
    this.older[e] = m;
    this.newer[e] = -1;
    if (m >= 0) this.newer[m] = e;
    else this.lruEntry = e;
    this.mruEntry = e;
  }

  /** Take listed entry e out of the list. */
  unlink(e: number): void {
    const o = this.older[e];
    const w = this.newer[e];
    if (o >= 0) this.newer[o] = w;
    else this.lruEntry = w;
    if (w >= 0) this.older[w] = o;
    else this.mruEntry = o;
  }

  /** Make listed entry e the most recent. */
  touch(e: number): void {
    if (e === this.mruEntry) return;
    this.unlink(e);
    this.pushMru(e);
  }

  clear(): void {
    this.lruEntry = -1;
    this.mruEntry = -1;
  }
}
