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
 * Invariants: integers only; a tally depends only on the states counted, not on their
 * order or on which shard counted them: `mergeTallies` of the shards of a job (each
 * shard counts the states it owns, `found` is the same in every shard) equals the tally
 * of one unsharded check, byte for byte once serialised.
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
  private readonly declared: number[] = [];
  private readonly found: number[] = [];
  private readonly byPoint = new Map<number, MutableTally>();

  /** Declare a point (trace position) owning `found` distinct states; call in ascending order (throws otherwise). */
  point(crashPoint: number, found: number): void {
    const n = this.declared.length;
    if (n > 0 && crashPoint <= this.declared[n - 1]) throw new Error(`tally: crash point ${crashPoint} declared after ${this.declared[n - 1]} (ascending order expected)`);
    this.declared.push(crashPoint);
    this.found.push(found);
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

  /** Every declared point's tally, ascending (points without states: zero counts). */
  result(): PointTally[] {
    const out: PointTally[] = new Array(this.declared.length);
    for (let i = 0; i < out.length; i++) {
      const t = this.byPoint.get(this.declared[i]);
      out[i] = t !== undefined ? freeze(t) : unchecked(this.declared[i], this.found[i]);
    }
    return out;
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

/** Merge the tallies of a job's shards (each a list sorted by crashPoint). */
export function mergeTallies(parts: readonly (readonly PointTally[])[]): PointTally[] {
  const acc = new Map<number, MutableTally>();
  for (const part of parts) {
    for (const t of part) {
      let m = acc.get(t.crashPoint);
      if (m === undefined) {
        m = emptyTally(t.crashPoint, t.found);
        acc.set(t.crashPoint, m);
      } else if (m.found !== t.found) throw new Error(`tally merge: shards disagree on the states found at crash point ${t.crashPoint} (${m.found} vs ${t.found})`);
      addCounts(m, t);
      m.maxLeakedBytes = Math.max(m.maxLeakedBytes, t.maxLeakedBytes);
      for (const [c, n] of t.recoveryCycles) m.cycles.set(c, (m.cycles.get(c) ?? 0) + n);
    }
  }
  return [...acc.values()].sort((a, b) => a.crashPoint - b.crashPoint).map(freeze);
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

export function jobTotals(points: readonly PointTally[]): JobTotals {
  const t = { found: 0, ...zeroCounts() };
  for (const p of points) {
    t.found += p.found;
    addCounts(t, p);
  }
  return t;
}
