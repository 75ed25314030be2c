/**
 * Enumeration of a job's distinct crash states (the planning sweep).
 *
 * Model: one forward replay of the run's trace (sim/persistency/replay.ts); at each
 * kept crash point (sim/crash/points.ts) the mode's states (sim/crash/states.ts) are
 * hashed in O(deviating lines) and deduplicated by image content hash across the
 * whole job (lower and upper in line mode take the point's lower and upper hashes and
 * box from the replayer, which keeps them up to date from the lines changed since the
 * previous point: no list of the dirty lines per point, whose length grows with a lazily
 * persisting allocator's run). A distinct state remembers its first point and choices (to build and
 * check it) and every point where the same image occurs (the durability oracle is
 * evaluated at each, since the completed operations differ). read-driven needs the
 * lines recovery reads on each point's lower image: recovery runs once per distinct
 * lower image, recording the pages it pulls from the image (page granularity: a
 * sound over-approximation of the lines read).
 * Storage: the points go to a PointTable (typed arrays; in-flight ops recomputed for
 * the points asked for), each point's (lower, upper) hash pair to a KeyLog whose
 * distinct keys are counted after the sweep (first-seen.ts: cache-sized partitions, not
 * one table probed per point); lower and upper in line mode (one state per point) log
 * each point's state hash the same way, number the distinct ones after the sweep and
 * make DistinctState objects only for the states kept (with a job cap, a few thousand
 * of a long run's hundreds of thousands), with the same ordinals, occurrences and
 * sample as objects made during the sweep would have.
 *
 * Invariants: the list of distinct states and its order depend only on the job;
 * ordinals are dense from 0; sampling (exhaustive over its limit, per-point and job
 * caps) uses the job's seed tree and is reported in the plan's notes.
 */
import { SeedTree } from '../../sim/choice.ts';
import { lowerBound } from '../../sim/search.ts';
import { PersistReplayer, type Deviation } from '../../sim/persistency/replay.ts';
import { addHash, hashKey, type ImageHash } from '../../sim/persistency/hash.ts';
import { scanCrashPoints } from '../../sim/crash/points.ts';
import { statesAtPoint, type StateGenOptions } from '../../sim/crash/states.ts';
import type { PersistTrace } from '../../sim/api.ts';
import type { CrashPlan } from './api.ts';
import type { JobContext } from './job.ts';
import { checkImage } from './check.ts';
import { HashTable } from './hash-table.ts';
import { PointTable } from './point-table.ts';
import { KeyLog, countDistinct, firstSeen } from './first-seen.ts';
import { giveColumn } from './columns.ts';
import { UpperLog } from './upper-log.ts';
import { BoxSum } from './box-sum.ts';

export interface DistinctState {
  ordinal: number;
  /** Ordinal of the first point where the image occurs. */
  readonly point: number;
  devs: Deviation[];
  /** The image's content hash (ImageHash a, b), as enumeration summed it: the same as the replayer's stateHash(devs) at the point. */
  readonly hashA: number;
  readonly hashB: number;
  /** Every point where this image occurs (ascending, first included), with the choices that give it there. */
  readonly occurrences: { readonly point: number; devs: Deviation[] }[];
}

export interface Enumeration {
  readonly plan: CrashPlan;
  /** The kept crash points (compact: in-flight operations recomputed for the points asked for, see point-table.ts). */
  readonly points: PointTable;
  readonly states: DistinctState[];
  /** The points where distinct states were first seen (before the job cap), ascending ordinals, and how many at each. */
  readonly foundAt: FoundAt;
  /** Ordinals of the points whose states were a seeded sample of the mode's states. */
  readonly sampledAt: ReadonlySet<number>;
  /** The job cap (maxStates) replaced the distinct states by a seeded sample. */
  readonly capped: boolean;
}

/** Parallel lists: point ordinals (ascending) and the distinct states first seen at each (> 0). */
export interface FoundAt {
  readonly ords: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
}

export const DEFAULTS = { k: 2, exhaustiveLimit: 256, maxStatesPerPoint: 4096, nestedPoints: 1, probeBlocks: 32, maxCounterexamples: 3 } as const;

function formatBox(box: bigint): { text: string; log2: number } {
  const bits = box.toString(2).length;
  const top = Number(box >> BigInt(Math.max(0, bits - 52)));
  const log2 = Math.max(0, bits - 52) + Math.log2(top);
  const dec = box.toString();
  return { text: dec.length <= 30 ? dec : `2^${log2.toFixed(1)}`, log2: Math.round(log2 * 100) / 100 };
}

/**
 * With `countOnly`, the plan alone: the same sweep, hashing and deduplication, but no
 * state is kept (plan.distinctStates and plan.states as the full enumeration gives
 * them; `states` and `foundAt` empty): planning a job retains no per-state object.
 */
export function enumerateStates(ctx: JobContext, opts: { countOnly?: boolean } = {}): Enumeration {
  const countOnly = opts.countOnly === true;
  const lazyUpper = ctx.job.mode === 'upper' && ctx.job.persistency === 'line';
  // Lower and upper states in line mode need only the point's lower and upper hashes and
  // box, which the replayer keeps up to date: per-point work independent of the dirty set.
  const summaryOnly = (ctx.job.mode === 'lower' || ctx.job.mode === 'upper') && ctx.job.persistency === 'line';
  let distinct = 0;
  const { job, run } = ctx;
  const trace = run.machine.trace!;
  const r = new PersistReplayer(trace, job.persistency);
  const seeds = SeedTree.root(job.seed).child('crash');
  const byHash = new HashTable(4096);
  const states: DistinctState[] = [];
  const points = new PointTable(trace);
  const notes = new Set<string>();
  const readCache = new Map<number, ReadonlySet<number>>();
  // Each point's (lower, upper) image pair, whose distinct ones are the plan's distinctPoints.
  const pointPairs = new KeyLog();
  const box = new BoxSum();
  let rawStates = 0;
  let sampled = false;
  let sampledPoints = 0;
  const sampledAt = new Set<number>();
  let firstNote = '';
  const lineOf = (e: number): number => r.entityLine(e);
  const deltas = new Map<number, { count: number; lo: number; d: ImageHash }>();
  const pairCache = new Map<number, [number, number]>();
  // Per-point state read by the functions below (created once: no closures per point).
  let curPos = 0;
  let lower: ImageHash = { a: 0, b: 0 };
  let readPages: ReadonlySet<number> = new Set();
  let noopCalls = 0;
  let upperFast = false;
  const upperSum: ImageHash = { a: 0, b: 0 };
  // This point's full-count deltas, gathered by isNoop (k-subsets) in ascending entity
  // order: entity fullE[j] at count fullN[j] (-1: not kept) has delta (fullA[j], fullB[j]).
  let fullE = new Float64Array(64);
  let fullN = new Int32Array(64);
  let fullA = new Uint32Array(64);
  let fullB = new Uint32Array(64);
  /** Index of entity e among this point's gathered full deltas, or -1 (binary search). */
  const fullIndex = (e: number): number => {
    const i = lowerBound(fullE, e, noopCalls);
    return i < noopCalls && fullE[i] === e ? i : -1;
  };
  const deltaOf = (e: number, x: number): ImageHash => {
    // A deviation's delta depends only on its line's units: the same while the line's
    // store count and lower bound are (kept across points).
    const line = lineOf(e);
    const count = r.lineCount(line);
    const lo = r.lineLo(line);
    const key = e * 4096 + x;
    const c = deltas.get(key);
    if (c !== undefined && c.count === count && c.lo === lo) return c.d;
    const d = r.deviationDelta(e, x);
    deltas.set(key, { count, lo, d });
    return d;
  };
  const growFull = (): void => {
    const n = fullE.length * 2;
    const e2 = new Float64Array(n);
    const n2 = new Int32Array(n);
    const a2 = new Uint32Array(n);
    const b2 = new Uint32Array(n);
    e2.set(fullE);
    n2.set(fullN);
    a2.set(fullA);
    b2.set(fullB);
    [fullE, fullN, fullA, fullB] = [e2, n2, a2, b2];
  };
  // hashOf's result (no object per state): the state's hash is (ha, hb).
  let ha = 0;
  let hb = 0;
  // Lower and upper in line mode (one state per point): each point's state hash, in
  // typed arrays, deduplicated after the sweep (first-seen.ts); unless counting only,
  // objects are made then for the states kept (a capped long run keeps a few thousand of
  // hundreds of thousands, and the checks then run beside no dead weight for the
  // collector to walk).
  const compact = summaryOnly && !countOnly;
  const pointHashes = new KeyLog();
  // Upper mode: each point's upper deviations while they are few (else materializeUpper replays).
  const upperLog = lazyUpper && !countOnly ? new UpperLog(run.setupTraceLength) : undefined;
  const hashOf = (devs: readonly Deviation[]): void => {
    // The sum of lower and the deviations' deltas (addHash inlined).
    let a = lower.a;
    let b = lower.b;
    let prevLine = -1;
    for (let i = 0; i < devs.length; i++) {
      const e = devs[i][0];
      const x = devs[i][1];
      const line = lineOf(e);
      if (line === prevLine || x >= 4096) {
        const h = r.stateHash(devs);
        ha = h.a;
        hb = h.b;
        return;
      }
      prevLine = line;
      const j = noopCalls > 0 ? fullIndex(e) : -1;
      if (j >= 0 && fullN[j] === x) {
        a = (a + fullA[j]) >>> 0;
        b = (b + fullB[j]) >>> 0;
      } else {
        const d = deltaOf(e, x);
        a = (a + d.a) >>> 0;
        b = (b + d.b) >>> 0;
      }
    }
    ha = a;
    hb = b;
  };
  // Line mode: the upper state (the point's dirty pairs, in the replayer's order) is the
  // lower hash plus each dirty line's full delta, cached on the line (no lookup by key).
  const upperHashOf = (devs: readonly Deviation[]): void => {
    let a = lower.a;
    let b = lower.b;
    for (let i = 0; i < devs.length; i++) {
      const d = r.dirtyFullDelta(i, devs[i][0]);
      a = (a + d.a) >>> 0;
      b = (b + d.b) >>> 0;
    }
    ha = a;
    hb = b;
  };
  /** Deduplicate the state with hash (a, b) found at point `ordinal` (devs: its choices there). */
  const addState = (ordinal: number, a: number, b: number, devs: Deviation[]): void => {
    const i = byHash.get(a, b);
    if (countOnly) {
      if (i < 0) byHash.set(a, b, distinct++);
      return;
    }
    if (i >= 0) {
      const seen = states[i];
      if (seen.occurrences[seen.occurrences.length - 1].point !== ordinal) seen.occurrences.push({ point: ordinal, devs });
      return;
    }
    byHash.set(a, b, states.length);
    // The state is its own first occurrence (it has the point and devs): one object less per state.
    const occurrences: { point: number; devs: Deviation[] }[] = [];
    const st: DistinctState = { ordinal: states.length, point: ordinal, devs, hashA: a, hashB: b, occurrences };
    occurrences.push(st);
    states.push(st);
  };
  const genOptions: StateGenOptions = {
    mode: job.mode,
    k: job.k ?? DEFAULTS.k,
    exhaustiveLimit: job.exhaustiveLimit ?? DEFAULTS.exhaustiveLimit,
    maxStates: job.maxStatesPerPoint ?? DEFAULTS.maxStatesPerPoint,
    choice: () => seeds.child(`point:${curPos}`).choice(),
    readLine: job.mode === 'read-driven' ? (line) => readPages.has(line >>> 6) : undefined,
    lineOf,
    pairCache,
    pairs: job.persistency === 'line' ? () => r.dirtyPairs() : undefined,
    isNoop: (e, n) => {
      // Called once per entity in ascending order (k-subsets): the i-th dirty line.
      const d = upperFast ? r.dirtyFullDelta(noopCalls, e) : deltaOf(e, n);
      if (noopCalls === fullE.length) growFull();
      fullE[noopCalls] = e;
      fullN[noopCalls] = n < 4096 ? n : -1;
      fullA[noopCalls] = d.a;
      fullB[noopCalls] = d.b;
      noopCalls++;
      // The upper state is the sum of the same deltas (line mode): gather it here.
      if (n >= 4096) upperFast = false;
      addHash(upperSum, d);
      return d.a === 0 && d.b === 0;
    },
  };
  const counts = scanCrashPoints(r, run.setupTraceLength, (p) => {
    points.push(p.pos, p.completedCount);
    // Line mode: statesAtPoint takes the dirty lines as pairs (genOptions.pairs), not the flat list.
    const ents = job.persistency === 'line' ? NO_ENTITIES : r.entities();
    if (job.mode === 'read-driven') {
      const key = hashKey(r.lowerHash);
      let pages = readCache.get(key);
      if (pages === undefined) {
        pages = checkImage(ctx, r.stateImage([]), { expectations: [], nestedPoints: 0, probeBlocks: 0, trackReads: true, recoverOnly: true }).readPages ?? new Set();
        readCache.set(key, pages);
      }
      readPages = pages;
    }
    curPos = p.pos;
    lower = r.lowerHash;
    if (summaryOnly) {
      // Lower or upper, line mode: one state per point, its hash and the point's upper
      // hash and box kept up to date by the replayer (no list of the dirty lines).
      const up = r.upperSummary();
      // Boxes below 2^53 summed without a BigInt per point (box-sum.ts).
      if (up.boxNumber < 0) box.addBig(up.box);
      else box.addNumber(up.boxNumber);
      const pk = pairKey(lower, up.hash.a, up.hash.b);
      pointPairs.push(pk.a, pk.b);
      const h = job.mode === 'upper' ? up.hash : lower;
      rawStates++;
      pointHashes.push(h.a, h.b);
      upperLog?.record(r);
      return;
    }
    noopCalls = 0;
    upperFast = job.persistency === 'line';
    upperSum.a = lower.a;
    upperSum.b = lower.b;
    const gen = statesAtPoint(ents, genOptions);
    box.addBig(gen.box);
    if (gen.sampled) {
      sampled = true;
      sampledPoints++;
      sampledAt.add(p.ordinal);
      if (firstNote === '' && gen.note !== undefined) firstNote = `${gen.note} (at trace position ${p.pos})`;
    }
    // isNoop saw every entity once (k-subsets, line mode): the upper hash is their sum.
    const upperDevs = gen.upper;
    if (upperFast && noopCalls === upperDevs.length) {
      ha = upperSum.a;
      hb = upperSum.b;
    } else if (job.persistency === 'line') upperHashOf(upperDevs);
    else hashOf(upperDevs);
    const upperA = ha;
    const upperB = hb;
    const pk = pairKey(lower, upperA, upperB);
    pointPairs.push(pk.a, pk.b);
    for (const devs of gen.states) {
      rawStates++;
      if (devs === upperDevs) {
        ha = upperA;
        hb = upperB;
      } else hashOf(devs);
      // Upper mode keeps no deviation list per state (one per point, as long as the dirty
      // set): the chosen states get theirs after the sweep (materializeUpper).
      addState(p.ordinal, ha, hb, lazyUpper ? LAZY_UPPER : devs);
    }
  });
  // The table's host memory goes to the next job's sweep.
  byHash.release();
  const compactStates = summaryOnly ? numberStates(pointHashes) : undefined;
  pointHashes.release();
  const distinctPoints = countDistinct(pointPairs);
  pointPairs.release();
  if (compactStates !== undefined) distinct = compactStates.distinct;
  if (sampledPoints > 0) notes.add(`sampled at ${sampledPoints} of ${counts.points} crash points; first: ${firstNote}`);
  // One state per point in compact storage: every distinct state was first seen at its own point.
  const foundAt = compact ? { ords: compactStates!.first, counts: new Int32Array(distinct).fill(1) } : foundOf(states);
  if (!countOnly && !compact) distinct = states.length;
  let chosenCount = distinct;
  let picked: Int32Array | undefined;
  if (job.maxStates !== undefined && distinct > job.maxStates) {
    sampled = true;
    notes.add(`job cap: ${distinct} distinct states > maxStates ${job.maxStates}; checked a seeded sample of ${job.maxStates}`);
    chosenCount = job.maxStates;
    if (!countOnly) picked = sampleIndices(distinct, job.maxStates, seeds.child('job-cap'));
  }
  let chosen = states;
  if (compact) chosen = keptStates({ picked, ...compactStates!, points: points.length, upper: job.mode === 'upper' });
  if (compactStates !== undefined) giveColumn(compactStates.pointState);
  else if (picked !== undefined) chosen = pickStates(states, picked);
  if (upperLog !== undefined) {
    materializeUpper(trace, points, chosen, upperLog);
    upperLog.release();
  }
  const b = formatBox(box.total());
  const plan: CrashPlan = {
    rawPoints: counts.rawPoints,
    points: counts.points,
    distinctPoints,
    boxSize: b.text,
    boxSizeLog2: b.log2,
    rawStates,
    distinctStates: distinct,
    states: chosenCount,
    sampled,
    notes: [...notes].sort(),
    traceEvents: trace.length,
    setupTraceEvents: run.setupTraceLength,
    opsCompleted: run.history.length,
  };
  return { plan, points, states: chosen, foundAt, sampledAt, capped: chosenCount !== distinct };
}

/** Placeholder deviations of an upper-mode state until materializeUpper gives the real ones. */
const LAZY_UPPER: Deviation[] = [];

/**
 * Upper mode, line persistency: every occurrence of the chosen states gets the upper
 * deviations of its point (every dirty line at its pending count), the very list the
 * sweep hashed there: from the sweep's log when complete, else by one forward replay
 * to the points that need them (dirtyPairs of a positions-only replay tracks the same
 * pending units: replay.test.ts).
 */
function materializeUpper(trace: PersistTrace, points: PointTable, chosen: readonly DistinctState[], log: UpperLog): void {
  const at = new Map<number, { devs: Deviation[] }[]>();
  for (const s of chosen) {
    for (const occ of s.occurrences) {
      let list = at.get(occ.point);
      if (list === undefined) at.set(occ.point, (list = []));
      list.push(occ as { devs: Deviation[] });
    }
  }
  const r = log.complete ? undefined : new PersistReplayer(trace, 'line', true);
  for (const ord of [...at.keys()].sort((x, y) => x - y)) {
    r?.advanceTo(points.pos(ord));
    const devs = r === undefined ? log.devsAt(ord) : r.dirtyPairs();
    for (const occ of at.get(ord)!) occ.devs = devs;
  }
}

const PAIR: ImageHash = { a: 0, b: 0 };
const NO_ENTITIES: readonly number[] = [];

/**
 * One table key for the pair (lower image hash, upper image hash (ua, ub)) of a point:
 * the upper hash scrambled (multiply-xorshift) and folded into the lower one. Only for
 * counting distinct points (collisions as unlikely as between image hashes).
 */
function pairKey(lower: ImageHash, ua: number, ub: number): ImageHash {
  PAIR.a = (lower.a ^ Math.imul(ua ^ (ub << 11), 0x9e3779b1)) >>> 0;
  PAIR.b = (lower.b ^ Math.imul(ub ^ (ua >>> 7), 0x85ebca6b)) >>> 0;
  return PAIR;
}

/**
 * The job cap's seeded sample: `n` of the indices 0..count-1, ascending; depends only on
 * count, n and the seed. Up to 2 x SAMPLE_SPREAD states, each index is drawn on its own
 * (a partial Fisher-Yates shuffle with the seed's draws). Beyond, the sample is at least
 * SAMPLE_SPREAD blocks of `clusterSize(n)` consecutive indices (aligned blocks drawn by the
 * same shuffle, the last one cut to make n): distinct states are numbered in sweep
 * order, so a block's states are neighbours in the run, whose recovery reads mostly the
 * same lines and whose checks share work (share.ts, phase-cache.ts), while the blocks
 * still spread over the whole run. Every block is equally likely, so every state is
 * (but for the cut block) equally likely to be checked, as with single draws.
 */
export function sampleIndices(count: number, n: number, seed: SeedTree): Int32Array {
  const size = clusterSize(n);
  const blocks = Math.ceil(count / size);
  const c = seed.choice();
  const idx = new Int32Array(blocks);
  for (let i = 0; i < blocks; i++) idx[i] = i;
  const out = new Int32Array(n);
  let taken = 0;
  for (let i = 0; taken < n; i++) {
    const j = i + c.index(blocks - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
    const lo = idx[i] * size;
    for (let x = lo; x < Math.min(lo + size, count) && taken < n; x++) out[taken++] = x;
  }
  return out.sort();
}

/** Independent draws of the job cap's sample (clusters of one) up to this many blocks' worth. */
export const SAMPLE_SPREAD = 256;

/** States per block of a job cap of n: 1 up to 2 x SAMPLE_SPREAD, then n / SAMPLE_SPREAD rounded down. */
export function clusterSize(n: number): number {
  return n < 2 * SAMPLE_SPREAD ? 1 : Math.floor(n / SAMPLE_SPREAD);
}

/** The states at the picked indices (ascending), renumbered 0..n-1. */
function pickStates(states: DistinctState[], picked: Int32Array): DistinctState[] {
  const out = Array.from(picked, (i) => states[i]);
  out.forEach((s, i) => (s.ordinal = i));
  return out;
}

/** foundAt of a list of states in sweep order (their first points ascending). */
function foundOf(states: readonly DistinctState[]): FoundAt {
  const ords: number[] = [];
  const counts: number[] = [];
  for (const s of states) {
    if (ords.length > 0 && ords[ords.length - 1] === s.point) counts[counts.length - 1]++;
    else {
      ords.push(s.point);
      counts.push(1);
    }
  }
  return { ords, counts };
}

/** The distinct states of compact storage: each one's first point and hash, and each point's state. */
interface CompactStates {
  readonly distinct: number;
  readonly first: Int32Array;
  readonly a: Uint32Array;
  readonly b: Uint32Array;
  readonly pointState: Int32Array;
}

/** The distinct states among the points' state hashes, numbered in order of first point (pointState pooled: give it back). */
function numberStates(hashes: KeyLog): CompactStates {
  const n = hashes.n;
  // In place: each position's first position (<= it) becomes that position's state.
  const pointState = firstSeen(hashes);
  let distinct = 0;
  for (let p = 0; p < n; p++) if (pointState[p] === p) distinct++;
  const first = new Int32Array(distinct);
  const a = new Uint32Array(distinct);
  const b = new Uint32Array(distinct);
  let i = 0;
  for (let p = 0; p < n; p++) {
    const f = pointState[p];
    if (f !== p) {
      pointState[p] = pointState[f];
      continue;
    }
    first[i] = p;
    a[i] = hashes.a[p] >>> 0;
    b[i] = hashes.b[p] >>> 0;
    pointState[p] = i++;
  }
  return { distinct, first, a, b, pointState };
}

/**
 * The DistinctState objects of compact storage (one state per point): the picked
 * indices (all when undefined), numbered in order, each with every point where its
 * image occurs (ascending, first included), as addState would have listed them.
 */
function keptStates(c: CompactStates & { picked: Int32Array | undefined; points: number; upper: boolean }): DistinctState[] {
  const n = c.picked === undefined ? c.distinct : c.picked.length;
  const slot = new Int32Array(c.distinct).fill(-1);
  const out: DistinctState[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = c.picked === undefined ? i : c.picked[i];
    slot[s] = i;
    const occurrences: { point: number; devs: Deviation[] }[] = [];
    const st: DistinctState = { ordinal: i, point: c.first[s], devs: c.upper ? LAZY_UPPER : [], hashA: c.a[s], hashB: c.b[s], occurrences };
    occurrences.push(st);
    out[i] = st;
  }
  for (let ord = 0; ord < c.points; ord++) {
    const i = slot[c.pointState[ord]];
    if (i >= 0 && out[i].point !== ord) out[i].occurrences.push({ point: ord, devs: c.upper ? LAZY_UPPER : [] });
  }
  return out;
}
