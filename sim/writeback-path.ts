/**
 * The write-back path: lines recently written back by a flush that dropped them from the
 * caches (clflush, clflushopt, clwb on a part that does not retain the line), and still
 * held on their way to the media (the memory controller's write pending queue and, on
 * Optane, the DIMM's XPBuffer). A cache miss on such a line is served from there, at
 * `writeBackPathReadCycles`, not at the media's read latency (rule 10, nvram-model.md).
 *
 * Model: a FIFO of the last `writeBackPathLines` distinct lines written back this way
 * (machine-wide); a line leaves when newer write-backs push it out, or when it is read
 * back into the caches. The FIFO depends on the order of flushes only, not on time, so
 * results stay deterministic and independent of host speed.
 *
 * Invariants: at most writeBackPathLines lines; a line is in the FIFO at most once.
 */
export class WriteBackPath {
  private readonly ring: Int32Array;
  private readonly held = new Set<number>();
  private pos = 0;

  constructor(readonly capacityLines: number) {
    this.ring = new Int32Array(Math.max(1, capacityLines)).fill(-1);
  }

  /** A dropped dirty line was written back. */
  add(line: number): void {
    if (this.capacityLines === 0 || this.held.has(line)) return;
    const old = this.ring[this.pos];
    if (old >= 0) this.held.delete(old);
    this.ring[this.pos] = line;
    this.held.add(line);
    this.pos = (this.pos + 1) % this.capacityLines;
  }

  /** A miss on `line`: true (and the line leaves the path) if it is still held. */
  take(line: number): boolean {
    if (this.held.size === 0 || !this.held.has(line)) return false;
    this.held.delete(line);
    for (let i = 0; i < this.capacityLines; i++) if (this.ring[i] === line) this.ring[i] = -1;
    return true;
  }

  reset(): void {
    this.ring.fill(-1);
    this.held.clear();
    this.pos = 0;
  }
}
