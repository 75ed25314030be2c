/**
 * Crash points of a recorded run (persistency.md, "Crash points").
 *
 * Model: a candidate crash point is a trace position p (the crash happens just before
 * event p): before every event that raises a lower bound (a clflush of a line with
 * unguaranteed units, a fence that drains a pending entry beyond lo; in eADR every
 * store unit), at every operation boundary (before OP_BEGIN, after OP_END) and at the
 * end. Between two raising events the box of allowed images only grows, so these
 * points cover every state. A candidate is skipped when neither a store nor a raise
 * happened since the previous kept point (its box is identical). Points before
 * `startPos` (format and workload setup) are not crash points.
 *
 * Invariants: the callback runs with the replayer positioned exactly at the point;
 * the point it gets is the scan's own object, updated in place for the next point (a
 * caller keeping points copies them; its in-flight list is the tracker's, read only
 * if asked for); kept points are strictly increasing; counts are deterministic.
 */
import type { PersistTrace } from '../api.ts';
import { TraceKind } from '../api.ts';
import { type PersistReplayer, isStoreKind } from '../persistency/replay.ts';

export interface CrashPoint {
  /** Trace position: the crash happens just before event `pos`. */
  readonly pos: number;
  /** Ordinal among kept points. */
  readonly ordinal: number;
  /** Operations completed (OP_END seen) before the point, in completion order: [thread, opIndex] pairs. */
  readonly completedCount: number;
  /** Operations begun and not ended before the point: [thread, opIndex] pairs. */
  readonly inFlight: readonly (readonly [number, number])[];
}

export interface PointCounts {
  rawPoints: number;
  points: number;
}

const NONE: readonly (readonly [number, number])[] = Object.freeze([]);

/** Tracks completed and in-flight operations from OP_BEGIN / OP_END events. */
export class OpTracker {
  completedCount = 0;
  /** Thread and op index of each completed op (the pairs are made only when `completed` is read). */
  private readonly doneThread: number[] = [];
  private readonly doneOp: number[] = [];
  private readonly donePairs: [number, number][] = [];
  /** The ops in flight: thread and op index (parallel lists, unordered; a thread at most once). */
  private readonly openThread: number[] = [];
  private readonly openOp: number[] = [];
  /** inFlight's list until the next OP_BEGIN or OP_END (the points of one operation share it). */
  private flight: readonly (readonly [number, number])[] | undefined = NONE;

  observe(t: PersistTrace, i: number): void {
    const k = t.kind(i);
    if (k === TraceKind.OP_BEGIN) {
      const j = this.openThread.indexOf(t.valueLo(i));
      if (j >= 0) this.openOp[j] = t.arg(i);
      else {
        this.openThread.push(t.valueLo(i));
        this.openOp.push(t.arg(i));
      }
      this.flight = undefined;
    } else if (k === TraceKind.OP_END) {
      const j = this.openThread.indexOf(t.valueLo(i));
      if (j >= 0) {
        // Swap in the last entry (the list is unordered; inFlight sorts).
        this.openThread[j] = this.openThread[this.openThread.length - 1];
        this.openOp[j] = this.openOp[this.openOp.length - 1];
        this.openThread.pop();
        this.openOp.pop();
      }
      this.flight = undefined;
      this.doneThread.push(t.valueLo(i));
      this.doneOp.push(t.arg(i));
      this.completedCount++;
    }
  }
  /** Completed ops in completion order ([thread, opIndex]): one list, extended as more complete. */
  get completed(): readonly (readonly [number, number])[] {
    const out = this.donePairs;
    for (let j = out.length; j < this.completedCount; j++) out.push([this.doneThread[j], this.doneOp[j]]);
    return out;
  }
  /** In-flight ops sorted by thread (one shared empty list when none: recovery traces have no ops). */
  inFlight(): readonly (readonly [number, number])[] {
    return (this.flight ??= this.openThread.length === 0 ? NONE : this.openThread.map((th, j): [number, number] => [th, this.openOp[j]]).sort((a, b) => a[0] - b[0]));
  }
}

/** The state of one scan (module-level functions: no closure created per scan). */
interface Scan {
  readonly counts: PointCounts;
  readonly ops: OpTracker;
  readonly cb: (p: CrashPoint, ops: OpTracker) => void;
  changed: boolean;
  lastCandidate: number;
  /** The point handed to cb, updated in place for each kept point. */
  readonly point: ScanPoint;
}

/** A scan's current crash point (in-flight operations asked of the tracker only if read). */
class ScanPoint implements CrashPoint {
  pos = 0;
  ordinal = 0;
  completedCount = 0;
  /** A #private field: copies of the point ({ ...p }) hold only its data. */
  readonly #ops: OpTracker;
  constructor(ops: OpTracker) {
    this.#ops = ops;
  }
  get inFlight(): readonly (readonly [number, number])[] {
    return this.#ops.inFlight();
  }
}

function candidate(s: Scan, pos: number): void {
  if (pos === s.lastCandidate) return;
  s.lastCandidate = pos;
  s.counts.rawPoints++;
  if (!s.changed) return;
  s.changed = false;
  const p = s.point;
  p.pos = pos;
  p.ordinal = s.counts.points++;
  p.completedCount = s.ops.completedCount;
  s.cb(p, s.ops);
}

/** Walk the trace from the replayer's position, calling cb at each kept crash point. */
export function scanCrashPoints(r: PersistReplayer, startPos: number, cb: (p: CrashPoint, ops: OpTracker) => void): PointCounts {
  const t = r.trace;
  const ops = new OpTracker();
  while (r.pos < startPos) {
    ops.observe(t, r.pos);
    r.step();
  }
  const s: Scan = { counts: { rawPoints: 0, points: 0 }, ops, cb, changed: true, lastCandidate: -1, point: new ScanPoint(ops) };
  // The previous event was an OP_END (within the scan): its next position is a candidate.
  let afterEnd = r.pos > startPos && t.kind(r.pos - 1) === TraceKind.OP_END;
  const n = t.length;
  while (r.pos < n) {
    const i = r.pos;
    const k = t.kind(i);
    const raises = r.raisesKind(i, k);
    if (raises || k === TraceKind.OP_BEGIN || afterEnd) candidate(s, i);
    // The tracker only acts on operation boundaries.
    if (k === TraceKind.OP_BEGIN || k === TraceKind.OP_END) ops.observe(t, i);
    if (raises || isStoreKind(k)) s.changed = true;
    afterEnd = k === TraceKind.OP_END;
    r.stepKind(k);
  }
  candidate(s, t.length);
  return s.counts;
}
