/**
 * The per-core window of recently read memory blocks behind rule 7 (sequential versus
 * random memory reads, nvram-model.md).
 *
 * Model: each core keeps the last `size` distinct blocks (XPLine-sized) it read from
 * memory, oldest dropped first. A read is sequential when its block, or the block just
 * before it (a forward stream), is in the window; a block not yet in it is then added.
 *
 * Speed: a bucket table (block & 255, per core) counts the window's blocks in each bucket
 * and names the latest one added, so a lookup costs O(1) unless two blocks of the window
 * share a bucket (then the ring is scanned). Results are those of a plain FIFO scan (a
 * property test checks).
 *
 * Invariants: count[c][b] = number of ring entries of core c in bucket b; last[c][b] is
 * the newest of them (entries leave oldest first, so with one left it is that one).
 * Ring entries hold block + 1 (0 = empty).
 */
const BUCKET_BITS = 8;
const BUCKET_MASK = (1 << BUCKET_BITS) - 1;

export class ReadWindow {
  private readonly ring: Int32Array;
  private readonly next: Int32Array;
  private readonly count: Int32Array;
  private readonly last: Int32Array;

  constructor(
    readonly cores: number,
    /** Blocks remembered per core (0: every read is random). */
    readonly size: number,
  ) {
    this.ring = new Int32Array(Math.max(1, cores * size));
    this.next = new Int32Array(cores);
    this.count = new Int32Array(cores << BUCKET_BITS);
    this.last = new Int32Array(cores << BUCKET_BITS);
  }

  /** Core c reads `block` (>= 0) from memory: is the read sequential? Records the block. */
  read(c: number, block: number): boolean {
    const present = this.has(c, block);
    const seq = present || (block > 0 && this.has(c, block - 1));
    if (!present && this.size > 0) this.add(c, block);
    return seq;
  }

  private has(c: number, block: number): boolean {
    const k = (c << BUCKET_BITS) + (block & BUCKET_MASK);
    const n = this.count[k];
    if (n === 0) return false;
    if (n === 1) return this.last[k] === block + 1;
    for (let i = c * this.size, end = i + this.size; i < end; i++) if (this.ring[i] === block + 1) return true;
    return false;
  }

  /** Append block to core c's ring, dropping its oldest entry. */
  private add(c: number, block: number): void {
    const base = c * this.size;
    const pos = this.next[c];
    const old = this.ring[base + pos];
    this.ring[base + pos] = block + 1;
    this.next[c] = pos + 1 === this.size ? 0 : pos + 1;
    // The ring drops its oldest entry; the latest one added to a bucket leaves it last,
    // so when a bucket is down to one entry, `last` already names it.
    if (old !== 0) this.count[(c << BUCKET_BITS) + ((old - 1) & BUCKET_MASK)]--;
    const k = (c << BUCKET_BITS) + (block & BUCKET_MASK);
    this.count[k]++;
    this.last[k] = block + 1;
  }

  /** Forget every read (crash checking reuses one machine). */
  reset(): void {
    this.ring.fill(0);
    this.next.fill(0);
    this.count.fill(0);
    this.last.fill(0);
  }
}
