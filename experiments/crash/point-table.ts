/**
 * The kept crash points of a job, stored compactly (enumeration's `points`).
 *
 * Model: per point (ordinal = index) its trace position and how many operations had
 * completed, in typed arrays: no object per point, so a long run's hundreds of
 * thousands of points are two host allocations, not garbage the collector walks while
 * states are checked. A point's in-flight operations (needed only for the durability
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
import { doubled } from './grow.ts';

export class PointTable {
  private posArr = new Float64Array(1024);
  private doneArr = new Float64Array(1024);
  private n = 0;
  private readonly full = new Map<number, CrashPoint>();

  constructor(private readonly trace: PersistTrace) {}

  get length(): number {
    return this.n;
  }

  /** Append the next point (ordinal = length). */
  push(pos: number, completedCount: number): void {
    if (this.n === this.posArr.length) {
      this.posArr = doubled(this.posArr);
      this.doneArr = doubled(this.doneArr);
    }
    this.posArr[this.n] = pos;
    this.doneArr[this.n++] = completedCount;
  }

  pos(ord: number): number {
    this.check(ord);
    return this.posArr[ord];
  }

  completedCount(ord: number): number {
    this.check(ord);
    return this.doneArr[ord];
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
      const pos = this.posArr[ord];
      while (i < pos) ops.observe(t, i++);
      if (!this.full.has(ord)) this.full.set(ord, { pos, ordinal: ord, completedCount: this.doneArr[ord], inFlight: ops.inFlight() });
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
