/**
 * The kept crash points of a job, stored compactly (enumeration's `points`).
 *
 * Model: per point (ordinal = index) its trace position and how many operations had
 * completed, in typed arrays: no object per point, so a long run's hundreds of
 * thousands of points are a few host allocations, not garbage the collector walks while
 * states are checked. The columns are Int32Array chunks of CHUNK points, interleaved
 * (pos, completed): appending never copies, and host memory (a page fault per fresh
 * 4 KiB here) grows with the points, not twice that. A point's in-flight operations (needed only for the durability
 * expectations of the points whose states are checked) are not stored: `prepare`
 * recomputes them for a list of ordinals with one scan of the trace's OP_BEGIN/OP_END
 * events (the OpTracker the enumeration sweep ran, observing every event before the
 * point), and `at` gives the full CrashPoint of a prepared point.
 *
 * Invariants: positions are strictly increasing with the ordinal; `at(ord)` equals
 * the CrashPoint scanCrashPoints gave for that ordinal (pos, ordinal, completedCount,
 * inFlight contents); an unprepared `at` scans the trace up to the point (correct,
 * O(trace)): callers prepare the points they will ask for.
 */
import type { PersistTrace } from '../../sim/api.ts';
import { OpTracker, type CrashPoint } from '../../sim/crash/points.ts';

const CHUNK_SHIFT = 15;
const CHUNK = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK - 1;

export class PointTable {
  /** Chunk c holds points c * CHUNK ..: word 2j the position, 2j + 1 the completed count of its j-th. */
  private readonly chunks: Int32Array[] = [];
  private n = 0;
  private readonly full = new Map<number, CrashPoint>();

  constructor(private readonly trace: PersistTrace) {}

  get length(): number {
    return this.n;
  }

  /** Append the next point (ordinal = length). */
  push(pos: number, completedCount: number): void {
    // Positions are stored as Int32: a later point of the same chunk may be past 2^31 too.
    if (!(pos <= 0x7fff_ffff)) throw new RangeError(`crash point at trace position ${pos}: beyond the point table's 2^31 positions`);
    const j = this.n & CHUNK_MASK;
    if (j === 0) this.chunks.push(new Int32Array(2 * CHUNK));
    const c = this.chunks[this.n >>> CHUNK_SHIFT];
    c[2 * j] = pos;
    c[2 * j + 1] = completedCount;
    this.n++;
  }

  pos(ord: number): number {
    this.check(ord);
    return this.chunks[ord >>> CHUNK_SHIFT][2 * (ord & CHUNK_MASK)];
  }

  completedCount(ord: number): number {
    this.check(ord);
    return this.chunks[ord >>> CHUNK_SHIFT][2 * (ord & CHUNK_MASK) + 1];
  }

  /** The full point (in-flight operations included); prepare it first to avoid a scan per call. */
  at(ord: number): CrashPoint {
    const p = this.full.get(ord);
    if (p !== undefined) return p;
    this.prepare([ord]);
    return this.full.get(ord)!;
  }

  /** Make `at` cheap for these ordinals (any order, repeats allowed): one scan of the trace up to the last. */
  prepare(ords: Iterable<number>): void {
    const want: number[] = [];
    for (const o of ords) {
      this.check(o);
      if (!this.full.has(o)) want.push(o);
    }
    if (want.length === 0) return;
    want.sort((a, b) => a - b);
    const t = this.trace;
    const ops = new OpTracker();
    let i = 0;
    for (const ord of want) {
      const pos = this.pos(ord);
      while (i < pos) ops.observe(t, i++);
      if (!this.full.has(ord)) this.full.set(ord, { pos, ordinal: ord, completedCount: this.completedCount(ord), inFlight: ops.inFlight() });
    }
  }

  /** Every point in order (prepares them all: for tests and small jobs). */
  all(): CrashPoint[] {
    const ords = Array.from({ length: this.n }, (_, i) => i);
    this.prepare(ords);
    return ords.map((o) => this.full.get(o)!);
  }

  private check(ord: number): void {
    if (!(ord >= 0 && ord < this.n && Number.isInteger(ord))) throw new RangeError(`no crash point ${ord} (job has ${this.n})`);
  }
}
