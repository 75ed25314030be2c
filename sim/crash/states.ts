/**
 * Crash states at one crash point, per mode (persistency.md, "States per crash point").
 *
 * Model: the box at a point is prod_e [0, n_e] over the choosable entities e (dirty
 * lines, or words in word mode) with n_e pending units; a state is a deviation list
 * [(e, extra)] sorted by entity (extra 1..n_e; absent = lower).
 *   lower      only the lower image
 *   upper      only the upper image (every entity at n_e)
 *   k-subsets  lower, upper, and every choice of <= k entities set to n_e (Chipmunk)
 *   prefixes   lower, upper, and every choice of <= k entities, each at any 1..n_e
 *   exhaustive the whole box when box <= limit, else lower, upper and `limit` seeded samples
 *   read-driven  prefixes restricted to entities whose line recovery read, plus lower and upper
 * When a mode would give more than maxStates, lower, upper and a seeded sample of
 * maxStates - 2 states are returned instead, and `sampled` says so.
 *
 * Invariants: deterministic for the same replayer position, options and Choice stream;
 * every returned deviation list is valid at the point.
 */
import type { Choice } from '../choice.ts';
import type { Deviation } from '../persistency/replay.ts';

export type CrashStateMode = 'lower' | 'upper' | 'k-subsets' | 'prefixes' | 'exhaustive' | 'read-driven';

export interface StateGenOptions {
  readonly mode: CrashStateMode;
  readonly k: number;
  readonly exhaustiveLimit: number;
  readonly maxStates: number;
  /** Seeded draws for sampling (only consulted when sampling). */
  readonly choice: () => Choice;
  /** read-driven: the lines recovery read on the lower image. */
  readonly readLine?: (line: number) => boolean;
  /** Entity -> its line (word mode: word >>> 3). */
  readonly lineOf: (entity: number) => number;
  /** k-subsets: entities whose full pending units (n) leave the image unchanged (skipped: they only repeat other states). */
  readonly isNoop?: (entity: number, n: number) => boolean;
  /** Pairs reused across the points of one enumeration (see pairs). */
  readonly pairCache?: Map<number, [number, number]>;
  /** The pairs of ents, when the caller has them (the same list pairs(ents) would give). */
  readonly pairs?: () => [number, number][];
}

export interface PointStates {
  readonly states: Deviation[][];
  /** The upper state's deviations (every entity at n_e): the very array listed in `states` when the mode lists the upper state from it (callers may test identity). */
  readonly upper: Deviation[];
  readonly box: bigint;
  readonly sampled: boolean;
  readonly note?: string;
}

/** Box size prod (n_e + 1) of flattened [entity, n] pairs. */
export function boxSize(ents: readonly number[]): bigint {
  return boxOfPairs(pairs(ents));
}

/** boxSize of [entity, n] pairs. */
function boxOfPairs(ps: readonly (readonly [number, number])[]): bigint {
  // Factors are multiplied in doubles while exact (below 2^53), then folded into a BigInt.
  let b = 1n;
  let n = 1;
  for (const [, count] of ps) {
    const f = count + 1;
    if (n > Number.MAX_SAFE_INTEGER / f) {
      b *= BigInt(n);
      n = 1;
    }
    n *= f;
  }
  return b * BigInt(n);
}

/** Number of choices of <= k entities of ps, each at any of its n_e values (prefixes) or one value. */
function subsetCount(ps: readonly (readonly [number, number])[], k: number, allPrefixes: boolean): number {
  const e = new Array<number>(k + 1).fill(0);
  e[0] = 1;
  for (const [, n] of ps) for (let j = k; j >= 1; j--) e[j] += e[j - 1] * (allPrefixes ? n : 1);
  let s = 0;
  for (let j = 1; j <= k; j++) s += e[j];
  return s;
}

/**
 * [entity, n] pairs of flattened ents. With a cache (entity -> last pair), a pair is
 * reused while its n is unchanged: consecutive points share most dirty lines and the
 * upper states keep their pairs, so sharing saves most of that memory (pairs are never
 * mutated).
 */
function pairs(ents: readonly number[], cache?: Map<number, [number, number]>): [number, number][] {
  const out: [number, number][] = [];
  for (let j = 0; j < ents.length; j += 2) {
    const e = ents[j];
    const n = ents[j + 1];
    let t = cache?.get(e);
    if (t === undefined || t[1] !== n) {
      t = [e, n];
      cache?.set(e, t);
    }
    out.push(t);
  }
  return out;
}

/** Every choice of 1..k entities from ps, each at n (or every 1..n with allPrefixes). */
function subsets(ps: readonly [number, number][], k: number, allPrefixes: boolean, out: Deviation[][]): void {
  subsetsFrom(ps, k, allPrefixes, out, [], 0);
}

/** The choices extending cur with entities from index start on (a module-level recursion: no closure per point). */
function subsetsFrom(ps: readonly [number, number][], k: number, allPrefixes: boolean, out: Deviation[][], cur: Deviation[], start: number): void {
  if (cur.length > 0) out.push(cur.slice());
  if (cur.length === k) return;
  for (let i = start; i < ps.length; i++) {
    const pair = ps[i];
    const e = pair[0];
    const n = pair[1];
    for (let x = allPrefixes ? 1 : n; x <= n; x++) {
      // The full count reuses the pair's tuple (deviations are never mutated): no tuple per state.
      cur.push(x === n ? pair : [e, x]);
      subsetsFrom(ps, k, allPrefixes, out, cur, i + 1);
      cur.pop();
    }
  }
}

/** The whole box in mixed-radix order (lower first). */
function wholeBox(ps: readonly [number, number][], out: Deviation[][]): void {
  const digits = new Array<number>(ps.length).fill(0);
  for (;;) {
    const s: Deviation[] = [];
    for (let i = 0; i < ps.length; i++) if (digits[i] > 0) s.push([ps[i][0], digits[i]]);
    out.push(s);
    let i = 0;
    while (i < ps.length && digits[i] === ps[i][1]) digits[i++] = 0;
    if (i === ps.length) return;
    digits[i]++;
  }
}

function sampleBox(ps: readonly [number, number][], count: number, c: Choice, out: Deviation[][]): void {
  for (let s = 0; s < count; s++) {
    const d: Deviation[] = [];
    for (const [e, n] of ps) {
      const x = c.intInclusive(0, n);
      if (x > 0) d.push([e, x]);
    }
    out.push(d);
  }
}

function sampleSubsets(ps: readonly [number, number][], k: number, allPrefixes: boolean, count: number, c: Choice, out: Deviation[][]): void {
  const picked: number[] = [];
  for (let s = 0; s < count; s++) {
    const size = c.intInclusive(1, Math.min(k, ps.length));
    // Distinct indices in draw order (a repeated draw is drawn again), then ascending.
    picked.length = 0;
    while (picked.length < size) {
      const i = c.index(ps.length);
      if (!picked.includes(i)) picked.push(i);
    }
    picked.sort((a, b) => a - b);
    const d: Deviation[] = new Array<Deviation>(size);
    for (let j = 0; j < size; j++) {
      const pair = ps[picked[j]];
      // The full count reuses the pair's tuple (deviations are never mutated), as subsets does.
      d[j] = allPrefixes ? [pair[0], c.intInclusive(1, pair[1])] : pair;
    }
    out.push(d);
  }
}

/**
 * The states at one point. `ents` is the flattened [entity, n] list of the point's
 * choosable entities; it is not read when `o.pairs` gives them as pairs.
 */
export function statesAtPoint(ents: readonly number[], o: StateGenOptions): PointStates {
  // all is a fresh array (pairs never returns a shared one) and is never mutated: it is the upper state.
  const all = o.pairs?.() ?? pairs(ents, o.pairCache);
  const box = boxOfPairs(all);
  if (o.mode === 'lower') return { states: [[]], upper: all, box, sampled: false };
  if (o.mode === 'upper') return { states: [all], upper: all, box, sampled: false };
  const ps = o.mode === 'read-driven' ? all.filter(([e]) => o.readLine!(o.lineOf(e))) : all.slice();
  const base: Deviation[][] = [[]];
  if (all.length > 0) base.push(all);
  if (o.mode === 'exhaustive') {
    if (box <= BigInt(o.exhaustiveLimit)) {
      const out: Deviation[][] = [];
      wholeBox(all, out);
      return { states: out, upper: all, box, sampled: false };
    }
    sampleBox(all, o.exhaustiveLimit, o.choice(), base);
    return { states: base, upper: all, box, sampled: true, note: `exhaustive: box ${box} > limit ${o.exhaustiveLimit}, sampled ${o.exhaustiveLimit} states` };
  }
  const allPrefixes = o.mode !== 'k-subsets';
  if (!allPrefixes && o.isNoop !== undefined) {
    // Drop the no-op entities in place (ps is this call's own copy).
    let kept = 0;
    for (let i = 0; i < ps.length; i++) if (!o.isNoop(ps[i][0], ps[i][1])) ps[kept++] = ps[i];
    ps.length = kept;
  }
  const n = subsetCount(ps, o.k, allPrefixes);
  if (n + base.length > o.maxStates) {
    sampleSubsets(ps, o.k, allPrefixes, Math.max(0, o.maxStates - base.length), o.choice(), base);
    return { states: base, upper: all, box, sampled: true, note: `${o.mode}: ${n} choices > maxStatesPerPoint ${o.maxStates}, sampled` };
  }
  subsets(ps, o.k, allPrefixes, base);
  return { states: base, upper: all, box, sampled: false };
}
