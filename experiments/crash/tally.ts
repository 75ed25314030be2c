/**
 * Per-crash-point tallies of a crash job: what crash-summary.csv and the report are
 * built from, so crash.csv need only list the states worth reading (invalid, unknown).
 *
 * Model: a distinct state belongs to the first crash point where its image occurs (the
 * row's crashPoint). For every point that owns at least one distinct state (before
 * the job cap), a tally keeps: `found` (distinct states first seen there, before the
 * job cap), `states` checked, how many of them were reached by seeded sampling (the
 * point's generator sampled, or the job cap drew them), the count per verdict, leaked
 * bytes (sum and max), and the recovery cycles as a histogram ([cycles, states]
 * ascending), from which min, median (lower median: the element at index
 * floor((n - 1) / 2), an integer) and max are exact.
 *
 * A job's tallies are kept columnar (JobTallies): the points and their `found` counts as
 * two lists, and a tally object only for the points where a state was checked. A capped
 * long run owns distinct states at hundreds of thousands of points and checks states at
 * a few thousand: an object per point cost more than a tenth of such a job (their
 * allocation and the young GC's copies) and tens of megabytes in its JSON record.
 * `summaryTallies` gives the rows of crash-summary.csv, where consecutive unchecked
 * points share one row (a capped long job: a few hundred rows, not hundreds of thousands).
 *
 * Invariants: integers only; a tally depends only on the states counted, not on their
 * order or on which shard counted them: `mergeTallies` of the shards of a job (each
 * shard declares every point with the same `found` and counts the states it owns)
 * equals the tallies of one unsharded check, byte for byte once serialised.
 */
import type { Verdict } from './api.ts';
import { lowerBound } from '../../sim/search.ts';

export interface PointTally {
  /** Trace position of the crash point (the rows' crashPoint). */
  readonly crashPoint: number;
  /** Distinct states first seen at this point, before the job cap (maxStates / budget). */
  readonly found: number;
  /** States checked (found minus those the job cap left out). */
  readonly states: number;
  /** Checked states reached by seeded sampling (the point was sampled, or the job cap drew them). */
  readonly sampled: number;
  readonly valid: number;
  readonly invalid: number;
  readonly unknown: number;
  readonly leakedBytes: number;
  readonly maxLeakedBytes: number;
  /** Histogram of recovery cycles: [cycles, states] pairs, cycles ascending. */
  readonly recoveryCycles: readonly (readonly [number, number])[];
}

/** A job's (or shard's) tallies, columnar (see the module header). */
export interface JobTallies {
  /** Trace positions of the crash points owning distinct states, ascending. */
  readonly crashPoints: readonly number[];
  /** Distinct states first seen at each of crashPoints, before the job cap. */
  readonly found: readonly number[];
  /** The tallies of the points where at least one state was checked, ascending by crashPoint. */
  readonly checked: readonly PointTally[];
}

type MutableTally = { -readonly [K in Exclude<keyof PointTally, 'recoveryCycles'>]: PointTally[K] } & { cycles: Map<number, number> };

/** The counts that add up over states, shards and points. */
const SUMMED = ['states', 'sampled', 'valid', 'invalid', 'unknown', 'leakedBytes'] as const;
type Summed = (typeof SUMMED)[number];

function zeroCounts(): Record<Summed, number> {
  return { states: 0, sampled: 0, valid: 0, invalid: 0, unknown: 0, leakedBytes: 0 };
}

function addCounts(into: Record<Summed, number>, from: Readonly<Record<Summed, number>>): void {
  for (const k of SUMMED) into[k] += from[k];
}

function emptyTally(crashPoint: number, found: number): MutableTally {
  return { crashPoint, found, ...zeroCounts(), maxLeakedBytes: 0, cycles: new Map() };
}

/** The outcome fields a tally needs (a CheckOutcome or a CrashRow). */
export interface TallyOutcome {
  readonly verdict: Verdict;
  readonly leakedBytes: number;
  readonly recoveryCycles: number;
}

/**
 * Accumulates one shard's states point by point. Declared points are kept as two
 * lists; a point's tally object is made at its first state (a capped long run declares
 * hundreds of thousands of points and counts states at a few thousand).
 */
export class TallyBuilder {
  private readonly byPoint = new Map<number, MutableTally>();

  /**
   * The points `declared` (ascending trace positions) owning `found` distinct states
   * each (the builder keeps both lists: result() returns them); throws when they do not
   * ascend or differ in length.
   */
  constructor(
    private readonly declared: readonly number[],
    private readonly found: readonly number[],
  ) {
    if (found.length !== declared.length) throw new Error(`tally: ${declared.length} crash points declared with ${found.length} found counts`);
    for (let i = 1; i < declared.length; i++) {
      if (declared[i] <= declared[i - 1]) throw new Error(`tally: crash point ${declared[i]} declared after ${declared[i - 1]} (ascending order expected)`);
    }
  }

  /** The tally of a declared point, made on first use (undefined when not declared). */
  private tallyOf(crashPoint: number): MutableTally | undefined {
    let t = this.byPoint.get(crashPoint);
    if (t !== undefined) return t;
    const d = this.declared;
    const i = lowerBound(d, crashPoint);
    if (i === d.length || d[i] !== crashPoint) return undefined;
    t = emptyTally(crashPoint, this.found[i]);
    this.byPoint.set(crashPoint, t);
    return t;
  }

  add(crashPoint: number, o: TallyOutcome, sampled: boolean): void {
    const t = this.tallyOf(crashPoint);
    if (t === undefined) throw new Error(`tally: state at undeclared crash point ${crashPoint}`);
    t.states++;
    if (sampled) t.sampled++;
    t[o.verdict]++;
    t.leakedBytes += o.leakedBytes;
    if (o.leakedBytes > t.maxLeakedBytes) t.maxLeakedBytes = o.leakedBytes;
    t.cycles.set(o.recoveryCycles, (t.cycles.get(o.recoveryCycles) ?? 0) + 1);
  }

  /** The declared points and the tallies of those with states, ascending (the builder is done). */
  result(): JobTallies {
    const checked = [...this.byPoint.values()].sort((a, b) => a.crashPoint - b.crashPoint).map(freeze);
    return { crashPoints: this.declared, found: this.found, checked };
  }
}

/**
 * A row of crash-summary.csv: a checked point's tally (crashPointLast = crashPoint), or
 * the consecutive points crashPoint..crashPointLast none of whose states was checked,
 * with their distinct states summed in `found` and zero counts.
 */
export type SummaryTally = PointTally & { readonly crashPointLast: number };

/** The summary rows of a job's tallies, ascending: every point in exactly one row. */
export function* summaryTallies(t: JobTallies): Generator<SummaryTally> {
  let c = 0;
  for (let i = 0; i < t.crashPoints.length; ) {
    const next = t.checked[c];
    if (next !== undefined && next.crashPoint === t.crashPoints[i]) {
      yield { ...next, crashPointLast: next.crashPoint };
      c++;
      i++;
      continue;
    }
    const stop = next === undefined ? Infinity : next.crashPoint;
    let found = 0;
    const first = i;
    for (; i < t.crashPoints.length && t.crashPoints[i] < stop; i++) found += t.found[i];
    yield { ...unchecked(t.crashPoints[first], found), crashPointLast: t.crashPoints[i - 1] };
  }
}

/** The tally of a point none of whose states was counted (freeze of its empty tally, without making one). */
function unchecked(crashPoint: number, found: number): PointTally {
  return { crashPoint, found, states: 0, sampled: 0, valid: 0, invalid: 0, unknown: 0, leakedBytes: 0, maxLeakedBytes: 0, recoveryCycles: [] };
}

function freeze(t: MutableTally): PointTally {
  const recoveryCycles = [...t.cycles.entries()].sort((a, b) => a[0] - b[0]);
  return {
    crashPoint: t.crashPoint, found: t.found, states: t.states, sampled: t.sampled, valid: t.valid, invalid: t.invalid, unknown: t.unknown,
    leakedBytes: t.leakedBytes, maxLeakedBytes: t.maxLeakedBytes, recoveryCycles,
  };
}

/** Merge the tallies of a job's shards (each declares the same points with the same `found`). */
export function mergeTallies(parts: readonly JobTallies[]): JobTallies {
  if (parts.length === 0) return { crashPoints: [], found: [], checked: [] };
  const { crashPoints, found } = parts[0];
  for (const part of parts) sameDeclarations(parts[0], part);
  const acc = new Map<number, MutableTally>();
  for (const part of parts) {
    for (const t of part.checked) {
      let m = acc.get(t.crashPoint);
      if (m === undefined) acc.set(t.crashPoint, (m = emptyTally(t.crashPoint, t.found)));
      addCounts(m, t);
      m.maxLeakedBytes = Math.max(m.maxLeakedBytes, t.maxLeakedBytes);
      for (const [c, n] of t.recoveryCycles) m.cycles.set(c, (m.cycles.get(c) ?? 0) + n);
    }
  }
  return { crashPoints, found, checked: [...acc.values()].sort((a, b) => a.crashPoint - b.crashPoint).map(freeze) };
}

/** Shards of one job declare the same points with the same `found` (else they were not of one enumeration). */
function sameDeclarations(a: JobTallies, b: JobTallies): void {
  const n = Math.max(a.crashPoints.length, b.crashPoints.length);
  for (let i = 0; i < n; i++) {
    if (a.crashPoints[i] !== b.crashPoints[i] || a.found[i] !== b.found[i]) {
      const at = a.crashPoints[i] ?? b.crashPoints[i];
      throw new Error(`tally merge: shards disagree on the states found at crash point ${at} (${a.found[i] ?? 'none'} vs ${b.found[i] ?? 'none'})`);
    }
  }
}

/** Min, lower median and max of a histogram (undefined when it is empty). */
export function cycleStats(h: readonly (readonly [number, number])[]): { min: number; median: number; max: number } | undefined {
  const n = h.reduce((s, [, c]) => s + c, 0);
  if (n === 0) return undefined;
  const mid = Math.floor((n - 1) / 2);
  let seen = 0;
  let median = h[0][0];
  for (const [c, k] of h) {
    if (seen + k > mid) {
      median = c;
      break;
    }
    seen += k;
  }
  return { min: h[0][0], median, max: h[h.length - 1][0] };
}

/** A job's per-point counts summed (found: distinct states before the job cap). */
export type JobTotals = Pick<PointTally, 'found' | 'states' | 'sampled' | 'valid' | 'invalid' | 'unknown' | 'leakedBytes'>;

export function jobTotals(t: JobTallies): JobTotals {
  const totals = { found: 0, ...zeroCounts() };
  for (const f of t.found) totals.found += f;
  for (const p of t.checked) addCounts(totals, p);
  return totals;
}

/** A stored record's tallies are of this format (an older nvlab kept a list of point tallies, or none). */
export function isJobTallies(x: unknown): x is JobTallies {
  const t = x as Partial<JobTallies> | undefined;
  return typeof t === 'object' && t !== null && Array.isArray(t.crashPoints) && Array.isArray(t.found) && Array.isArray(t.checked) && t.found.length === t.crashPoints.length;
}

/** The largest bytes one checked state leaked (0 when none). */
export function maxLeakedBytes(t: JobTallies): number {
  return t.checked.reduce((m, p) => Math.max(m, p.maxLeakedBytes), 0);
}
