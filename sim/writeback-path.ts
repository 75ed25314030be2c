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
 * Speed: the held lines are also keys of an IntMap (int-map.ts) giving each line's FIFO
 * position, so add and take cost O(1), not a scan of the FIFO; no host object is
 * allocated per line.
 *
 * Invariants: at most writeBackPathLines lines; a line is in the FIFO at most once; a
 * FIFO position holds a line (>= 0) iff the map maps that line to that position.
 */
import { IntMap } from './int-map.ts';
export class WriteBackPath {
  /** FIFO positions: a line, or -1 (empty, or taken out by a read). */
  private readonly ring: Int32Array;
  /** Held line -> its FIFO position. */
  private readonly held: IntMap;
  private pos = 0;

  constructor(readonly capacityLines: number) {
    this.ring = new Int32Array(Math.max(1, capacityLines)).fill(-1);
    this.held = new IntMap(Math.max(1, capacityLines));
  }

  /** A dropped dirty line was written back. */
  add(line: number): void {
    if (this.capacityLines === 0 || this.held.has(line)) return;
    const p = this.pos;
    const old = this.ring[p];
    if (old >= 0) this.held.delete(old);
    this.ring[p] = line;
    this.held.add(line, p);
    this.pos = p + 1 === this.capacityLines ? 0 : p + 1;
  }

  /** A miss on `line`: true (and the line leaves the path) if it is still held. */
  take(line: number): boolean {
    const p = this.held.delete(line);
    if (p < 0) return false;
    this.ring[p] = -1;
    return true;
  }

  reset(): void {
    this.ring.fill(-1);
    this.held.clear();
    this.pos = 0;
  }
}
