/**
 * Posted store misses: the part of a core's store buffer that lets it run on while stores
 * wait for their lines (nvram-model.md rule 2, refined; issue 13).
 *
 * Model. An out-of-order x86 core retires a store into its store buffer and goes on; the
 * store's read-for-ownership miss proceeds in a line fill buffer, and the core stalls
 * only when every fill buffer is busy (Intel 64 and IA-32 Architectures Optimization
 * Reference Manual, 2.2 "Skylake Server microarchitecture": 10 L1D fill buffers; the
 * store buffer itself, 56 entries, is not the limit for the miss-bound code modelled
 * here). So a store miss issued at t with latency L costs the core `l1HitCycles`, and the
 * line's fill completes at t + L. What must wait for that fill:
 * - a load of the same line (store-to-load forwarding covers only the stored bytes; a
 *   load of the line's other words waits for the fill, and allocator code reads the
 *   line's other words: simpler and conservative);
 * - a write-back of the line (clwb, clflushopt, clflush, ntstore): a flush is ordered
 *   after older stores to its line, so its write-back starts when the fill completes;
 * - every pending fill, at sfence, mfence and locked instructions (CAS, lock acquire and
 *   release): they drain the store buffer.
 * A further store to a line whose fill is pending merges into it. A new miss when all
 * `fillBufferEntries` are busy waits for the earliest fill to complete. Capacity 0 turns
 * posting off (a store miss stalls the core for its full latency, as a load does).
 *
 * Invariants: at most `capacity` fills pending; each pending line appears once; fill
 * times are integers; entries whose fill is at or before the caller's clock are dropped
 * before any answer, so `count` is the number of fills still in flight.
 */
export class PostedStores {
  private readonly lines: Int32Array;
  private readonly doneCycles: Float64Array;
  /** Fills still in flight (entries [0, count)). */
  count = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity >= 0)) throw new RangeError(`fillBufferEntries must be a non-negative integer, got ${capacity}`);
    this.lines = new Int32Array(Math.max(capacity, 1));
    this.doneCycles = new Float64Array(Math.max(capacity, 1));
  }

  /** When the pending fill of `line` completes, or -1 if none is in flight at `nowCycles`. */
  pendingDone(line: number, nowCycles: number): number {
    this.expire(nowCycles);
    for (let i = 0; i < this.count; i++) if (this.lines[i] === line) return this.doneCycles[i];
    return -1;
  }

  /**
   * Post a store miss to `line` issued at `issueCycles` whose fill takes `latencyCycles`.
   * Returns the cycle at which the core may go on: `issueCycles`, or the earliest fill's
   * completion when every fill buffer was busy. A line already pending merges (no entry).
   */
  post(line: number, issueCycles: number, latencyCycles: number): number {
    let at = issueCycles;
    if (this.pendingDone(line, at) >= 0) return at;
    if (this.count === this.capacity) {
      at = this.earliestDone();
      this.expire(at);
    }
    this.lines[this.count] = line;
    this.doneCycles[this.count] = at + latencyCycles;
    this.count++;
    return at;
  }

  /** The cycle at which every pending fill has completed (at least `nowCycles`); empties the buffer. */
  drain(nowCycles: number): number {
    let at = nowCycles;
    for (let i = 0; i < this.count; i++) if (this.doneCycles[i] > at) at = this.doneCycles[i];
    this.count = 0;
    return at;
  }

  reset(): void {
    this.count = 0;
  }

  private earliestDone(): number {
    let t = Infinity;
    for (let i = 0; i < this.count; i++) if (this.doneCycles[i] < t) t = this.doneCycles[i];
    return t;
  }

  /** Drop the fills complete at `nowCycles` (order within the buffer does not matter). */
  private expire(nowCycles: number): void {
    let i = 0;
    while (i < this.count) {
      if (this.doneCycles[i] <= nowCycles) {
        this.count--;
        this.lines[i] = this.lines[this.count];
        this.doneCycles[i] = this.doneCycles[this.count];
      } else {
        i++;
      }
    }
  }
}
