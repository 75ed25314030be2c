/**
 * Crash jobs: plan, check (sharded), merge and replay (see api.ts for the contract).
 *
 * Model: plan = execute the run with the trace on + the enumeration sweep
 * (enumerate.ts); the jobs of one run executed in this process share the execution
 * (run-cache.ts). check = plan, then a second forward replay that stops at each point
 * holding states owned by the shard (ordinal % count === index), builds each state's
 * image as an overlay of the lower image, checks it (check.ts) against the durability
 * expectations of every point where that image occurs, and minimizes invalid ones
 * (minimize.ts). replay = decode the id, re-execute, replay to the point, check.
 *
 * Every checked state is counted in its first point's tally (tally.ts); the rows list
 * every state (listing 'all', the API default) or only the invalid and unknown ones
 * ('failures', what experiments write), which is all counterexamples need.
 *
 * Invariants: rows are sorted by compareCrashRows; merging shard results gives the
 * same bytes as one worker (every shard computes the same enumeration).
 */
import { PersistReplayer, type Deviation } from '../../sim/persistency/replay.ts';
import { hashHex } from '../../sim/persistency/hash.ts';
import { OpTracker, type CrashPoint } from '../../sim/crash/points.ts';
import type { OpRef } from '../../workloads/contract.ts';
import type { CheckStatesOptions, CrashJob, CrashPlan, CrashResolvers, CrashResult, CrashRow, Counterexample, ReplayReport, ShardSpec } from './api.ts';
import { mergeTallies, TallyBuilder } from './tally.ts';
import { CrashJobError, validateCrashJob, type JobContext } from './job.ts';
import { loadJobShared } from './run-cache.ts';
import { DEFAULTS, enumerateStates, type DistinctState, type Enumeration } from './enumerate.ts';
import { checkImage, checkNestedState, forgetRecovered, type CheckOptions, type CheckOutcome, type Expectation } from './check.ts';
import { minimizeState } from './minimize.ts';
import { checkPointShared, sharedChecking } from './share.ts';
import { phaseSharing } from './phase-cache.ts';
import { decodeStateId, encodeStateId } from './ids.ts';

export { CrashJobError, validateCrashJob, sharedChecking };

export function planCrashJob(job: CrashJob, resolvers: CrashResolvers = {}): CrashPlan {
  return enumerateStates(loadJobShared(job, resolvers), { countOnly: true }).plan;
}

/** A job planned (run executed, states enumerated), ready for checkSampleOf. */
export interface PlannedCrashJob {
  readonly plan: CrashPlan;
  readonly ctx: JobContext;
  readonly en: Enumeration;
}

export function planCrashJobFull(job: CrashJob, resolvers: CrashResolvers = {}): PlannedCrashJob {
  const ctx = loadJobShared(job, resolvers);
  const en = enumerateStates(ctx);
  return { plan: en.plan, ctx, en };
}

/**
 * Check the states of whole consecutive points from the middle of a planned job, at
 * least `n` of them (fewer only when the job has fewer), as the job's own check does
 * (shared checking over each point's states): a sample whose per-state time reflects the
 * job's (a spread sample, or part of a point, would defeat the sharing among a point's
 * states). Returns the states checked. The one-step form of prepareSampleOf, which the
 * calibration uses (task.ts) to time the check apart from its preparation.
 */
export function checkSampleOf(p: PlannedCrashJob, n: number): readonly DistinctState[] {
  return prepareSampleOf(p, n)();
}

/**
 * checkSampleOf in two steps: the preparation (choosing the states, the job's tally and
 * expectation index, the replay from the trace's start to the sample's first point,
 * all of which the job does once whatever its state count) now, and the check of the
 * sample's states when the returned function is called. Timing only the call gives a
 * per-state time that does not grow with the run's length (the replay to the middle
 * of a 100,000-op run took longer than checking 64 states). With `warmUpStates`, the
 * preparation also checks about that many states just before the sample (whole points),
 * so that the timed check runs on code the JIT has compiled: a fresh worker's first
 * checks ran 5-10x slower than its later ones, and the estimate of a 5,000-state job
 * came out 6-9x too long.
 */
export function prepareSampleOf(p: PlannedCrashJob, n: number, warmUpStates = 0): () => readonly DistinctState[] {
  const { ctx, en } = p;
  const states = en.states;
  const from = pointStart(states, Math.max(0, Math.floor((states.length - n) / 2)));
  const to = pointEnd(states, Math.min(states.length, from + n));
  const warmFrom = pointStart(states, Math.max(0, from - warmUpStates));
  const owned = states.slice(from, to);
  const warm = states.slice(warmFrom, from);
  // One preparation for both: the replayer only moves forward, warm-up states first.
  const prep = prepareOwned(ctx, en, states.slice(warmFrom, to));
  checkOwned(ctx, en, warm, 'failures', undefined, prep);
  return () => {
    checkOwned(ctx, en, owned, 'failures', undefined, prep);
    return owned;
  };
}

/** The first index of the point of states[i] (states of one point are consecutive). */
function pointStart(states: readonly DistinctState[], i: number): number {
  while (i > 0 && i < states.length && states[i - 1].point === states[i].point) i--;
  return i;
}

/** Past the last index of the point of states[i - 1]. */
function pointEnd(states: readonly DistinctState[], i: number): number {
  while (i > 0 && i < states.length && states[i].point === states[i - 1].point) i++;
  return i;
}

/** The expectation at a point, given the run's completed ops in completion order. */
function expectationAt(ctx: JobContext, p: CrashPoint, completed: readonly OpRef[]): Expectation | undefined {
  const w = ctx.workload;
  if (w.expectedKeys === undefined) return undefined;
  const done = completed.slice(0, p.completedCount);
  const fly: OpRef[] = p.inFlight.map(([thread, opIndex]) => ({ thread, opIndex }));
  const e = w.expectedKeys(ctx.run.streams, done, fly);
  return { pos: p.pos, completedCount: p.completedCount, mustContain: e.mustContain, mustNotContain: e.mustNotContain };
}

function checkOptions(job: CrashJob, expectations: Expectation[]): CheckOptions {
  return { expectations, nestedPoints: job.nestedPoints ?? DEFAULTS.nestedPoints, probeBlocks: job.probeBlocks ?? DEFAULTS.probeBlocks };
}

function makeRow(job: CrashJob, pos: number, ordinal: number, devs: readonly Deviation[], o: CheckOutcome): CrashRow {
  return {
    allocator: job.allocator,
    workload: job.workload,
    idiom: job.idiom,
    seed: String(job.seed),
    persistency: job.persistency,
    mode: job.mode,
    crashPoint: pos,
    stateOrdinal: ordinal,
    stateId: encodeStateId({ job, pos, devs }),
    verdict: o.verdict,
    anomaly: o.anomaly,
    detail: o.detail,
    leakedBytes: o.leakedBytes,
    recoveryCycles: o.recoveryCycles,
    deviations: devs.length,
    nestedStates: o.nestedStates,
  };
}

/** Failing expectation subset: the first occurrence whose expectation fails (for minimization and ids). */
function failingPos(o: CheckOutcome, exps: Expectation[], firstPos: number): { pos: number; exps: Expectation[] } {
  if (o.anomaly !== 'durability') return { pos: firstPos, exps };
  const m = /crash point (\d+)/.exec(o.detail);
  const pos = m ? Number(m[1]) : firstPos;
  return { pos, exps: exps.filter((e) => e.pos === pos) };
}

function counterexample(ctx: JobContext, r: PersistReplayer, row: CrashRow, devs: Deviation[], o: CheckOutcome, opts: CheckOptions): Counterexample {
  const job = ctx.job;
  if (o.nested !== undefined || job.minimize === false) {
    const id = o.nested !== undefined ? encodeStateId({ job, pos: row.crashPoint, devs, nested: o.nested }) : row.stateId;
    return { stateId: row.stateId, minimizedId: id, anomaly: o.anomaly, detail: o.detail, explanation: [o.nested !== undefined ? `crash inside recovery (nested point ${o.nested.pos}); replay the minimized id to see it` : 'not minimized'], stores: [] };
  }
  const m = minimizeState(ctx, r, devs, o.anomaly, opts);
  return { stateId: row.stateId, minimizedId: encodeStateId({ job, pos: r.pos, devs: m.devs }), anomaly: o.anomaly, detail: o.detail, explanation: m.explanation, stores: m.stores };
}

/**
 * The durability expectations of a state: one per occurrence whose crash point has
 * one, each point's computed once (states share points).
 */
function stateExpectations(ctx: JobContext, en: Enumeration): (s: DistinctState) => Expectation[] {
  const cache = new Map<number, Expectation | undefined>();
  // The workload's index answers each point in time independent of the run's length.
  const w = ctx.workload;
  const index = w.expectedKeys !== undefined && w.expectedKeysIndex !== undefined ? w.expectedKeysIndex(ctx.run.streams, ctx.run.history) : undefined;
  const compute = (p: CrashPoint): Expectation | undefined => {
    if (index === undefined) return expectationAt(ctx, p, ctx.run.history);
    const e = index(p.completedCount, p.inFlight.map(([thread, opIndex]) => ({ thread, opIndex })));
    return { pos: p.pos, completedCount: p.completedCount, mustContain: e.mustContain, mustNotContain: e.mustNotContain };
  };
  const at = (pointOrd: number): Expectation | undefined => {
    if (!cache.has(pointOrd)) cache.set(pointOrd, compute(en.points.at(pointOrd)));
    return cache.get(pointOrd);
  };
  return (s) => s.occurrences.map((x) => at(x.point)).filter((e): e is Expectation => e !== undefined);
}

/**
 * The tally of a shard's states: every point owning distinct states is declared (with
 * the same `found` in every shard), each owned state counted at its first point.
 */
function shardTally(en: Enumeration): { tally: TallyBuilder; count: (s: DistinctState, o: CheckOutcome) => void } {
  const { ords, counts } = en.foundAt;
  const crashPoints = new Array<number>(ords.length);
  const found = new Array<number>(ords.length);
  for (let i = 0; i < ords.length; i++) {
    crashPoints[i] = en.points.pos(ords[i]);
    found[i] = counts[i];
  }
  const tally = new TallyBuilder(crashPoints, found);
  const count = (s: DistinctState, o: CheckOutcome) => tally.add(en.points.pos(s.point), o, en.capped || en.sampledAt.has(s.point));
  return { tally, count };
}

export function checkCrashStates(job: CrashJob, shard: ShardSpec = { index: 0, count: 1 }, resolvers: CrashResolvers = {}, options: CheckStatesOptions = {}): CrashResult {
  const listing = options.listing ?? 'all';
  if (!Number.isInteger(shard.count) || shard.count < 1) throw new CrashJobError('shard.count', 'a positive integer', shard.count);
  if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) throw new CrashJobError('shard.index', `an integer in 0..${shard.count - 1}`, shard.index);
  const ctx = loadJobShared(job, resolvers);
  const en = enumerateStates(ctx);
  const owned = en.states.filter((s) => s.ordinal % shard.count === shard.index);
  const { rows, tally } = checkOwned(ctx, en, owned, listing, options.onState);
  forgetRecovered();
  rows.sort(compareCrashRows);
  // Counterexamples depend on all rows (the first invalid ones per anomaly), so a
  // sharded check leaves them to mergeCrashResults, which computes the same ones.
  const cexs = shard.count === 1 ? explainRows(ctx, en, rows) : [];
  return { job, shard, plan: en.plan, listing, rows, tallies: tally.result(), counterexamples: cexs };
}

/** What checkOwned needs before its first state: expectations, the shard's tally, a replayer at the first owned point. */
interface OwnedPrep {
  readonly expectationsOf: (s: DistinctState) => Expectation[];
  readonly r: PersistReplayer;
  readonly tally: TallyBuilder;
  readonly count: (s: DistinctState, o: CheckOutcome) => void;
}

function prepareOwned(ctx: JobContext, en: Enumeration, owned: readonly DistinctState[]): OwnedPrep {
  const r = new PersistReplayer(ctx.run.machine.trace!, ctx.job.persistency);
  if (owned.length > 0) r.advanceTo(en.points.pos(owned[0].point));
  // The points whose expectations the owned states need, their in-flight ops found in one scan.
  en.points.prepare(occurrencePoints(owned));
  return { expectationsOf: stateExpectations(ctx, en), r, ...shardTally(en) };
}

/** The point ordinals of every occurrence of the states. */
function occurrencePoints(states: readonly DistinctState[]): number[] {
  const out: number[] = [];
  for (const s of states) for (const o of s.occurrences) out.push(o.point);
  return out;
}

/** Check the owned states (ascending ordinals): their rows (unsorted) and the shard's tally. */
function checkOwned(ctx: JobContext, en: Enumeration, owned: readonly DistinctState[], listing: 'all' | 'failures', onState: (() => void) | undefined, prep: OwnedPrep = prepareOwned(ctx, en, owned)): { rows: CrashRow[]; tally: TallyBuilder } {
  const job = ctx.job;
  const { expectationsOf, r, tally, count } = prep;
  const rows: CrashRow[] = [];
  const { nestedPoints, probeBlocks } = checkOptions(job, []);
  const emit = (s: (typeof owned)[number], pos: number, o: CheckOutcome) => {
    count(s, o);
    if (listing === 'all' || o.verdict !== 'valid') rows.push(makeRow(job, pos, s.ordinal, s.devs, o));
    onState?.();
  };
  const alone = (s: DistinctState): void => {
    const pos = en.points.pos(s.point);
    r.advanceTo(pos);
    const exps = expectationsOf(s);
    // Enumeration already summed the image's hash (the same as r.stateHash(s.devs)).
    const opts: CheckOptions = { expectations: exps, nestedPoints, probeBlocks, imageHash: { a: s.hashA, b: s.hashB } };
    emit(s, pos, checkImage(ctx, r.stateImage(s.devs), opts));
  };
  if (sharedChecking.enabled) {
    const pace = new SharingPace();
    // Owned states come in ordinal order, so those of one point are consecutive.
    for (let i = 0; i < owned.length; ) {
      let j = i + 1;
      while (j < owned.length && owned[j].point === owned[i].point) j++;
      if (pace.shared()) {
        const pos = en.points.pos(owned[i].point);
        r.advanceTo(pos);
        pace.measure(() => checkPointShared(ctx, r, owned.slice(i, j), (s, o) => emit(s, pos, o(expectationsOf(s))), nestedPoints, probeBlocks), j - i);
      } else {
        for (let k = i; k < j; k++) alone(owned[k]);
        // Each a full check (the bench reports the checks run).
        sharedChecking.checks += j - i;
        pace.alone(j - i);
      }
      i = j;
    }
  } else for (const s of owned) alone(s);
  return { rows, tally };
}

/**
 * The pace of shared checking (SharingPace): `trialStates` checked through share.ts
 * before (and again after each alone block) its savings are weighed; sharing goes on
 * while it saves at least one full check per `minSavingRatio` checks; else the next
 * `aloneBlockStates` states are checked alone. `enabled` false checks every state of a
 * job through share.ts however little it shares; `aloneStates` counts states checked
 * alone this way (tests and reports).
 */
export const sharingPace = { enabled: true, trialStates: 256, minSavingRatio: 32, aloneBlockStates: 2048, aloneStates: 0 };

/**
 * Whether a job's next point is checked through share.ts or each state alone
 * (checkImage, the reference path: every state gets the same outcome either way,
 * share.test.ts). Sharing records every check's read set and keeps checks, recovery
 * classes and phases for later images; that pays where states of a point or nearby
 * points read alike (a 200-op list: 10-20 % of the states take a kept check, 50-97 %
 * of the phases repeat), but not in a capped long run, whose few thousand sampled
 * states lie ~80 crash points apart and share nothing (Makalu's 100,000-op list: 1
 * check reused in 5,000, no phase; checking alone cost 0.80-0.86 ms a state against
 * 0.92-1.13 shared). After sharingPace.trialStates states checked shared, if fewer than
 * one full check in sharingPace.minSavingRatio was saved (a state taking another's
 * check, a recovered machine reused or rolled back, a phase, probe or nested check
 * found kept), the next sharingPace.aloneBlockStates states are checked alone, then
 * sharing is tried again.
 * Host speed only; deterministic (counts of the job's own checks).
 */
class SharingPace {
  private mode: 'trial' | 'alone' = 'trial';
  private left = sharingPace.trialStates;
  private checks = 0;
  private saved = 0;

  shared(): boolean {
    return !sharingPace.enabled || this.mode === 'trial';
  }

  /** Run a point's shared check of `states` states and count what it saved. */
  measure(run: () => void, states: number): void {
    const c0 = sharedChecking.checks;
    const s0 = savings();
    run();
    const checks = sharedChecking.checks - c0;
    this.checks += checks;
    this.saved += states - checks + savings() - s0;
    this.left -= states;
    if (this.left > 0 || !sharingPace.enabled) return;
    if (this.saved * sharingPace.minSavingRatio < this.checks) {
      this.mode = 'alone';
      this.left = sharingPace.aloneBlockStates;
      // The kept recovered machine will not be reused meanwhile: its checkpoint's buffers go.
      forgetRecovered();
    } else this.left = sharingPace.trialStates;
    this.checks = 0;
    this.saved = 0;
  }

  /** Count states checked alone. */
  alone(states: number): void {
    sharingPace.aloneStates += states;
    this.left -= states;
    if (this.left > 0) return;
    this.mode = 'trial';
    this.left = sharingPace.trialStates;
  }
}

/** Recoveries, phases, probes and nested checks that kept results saved so far (process counters). */
function savings(): number {
  return phaseSharing.recoveryReuses + phaseSharing.phaseHits + phaseSharing.probeHits + phaseSharing.nestedHits;
}

/**
 * Minimize and explain the first `maxCounterexamples` invalid rows of each anomaly (in
 * row order), each at the crash point where it fails. Deterministic in the rows.
 */
function explainRows(ctx: JobContext, en: Enumeration, rows: readonly CrashRow[]): Counterexample[] {
  const job = ctx.job;
  const limit = job.maxCounterexamples ?? DEFAULTS.maxCounterexamples;
  const perAnomaly = new Map<string, number>();
  const picked: CrashRow[] = [];
  for (const row of rows) {
    if (row.verdict !== 'invalid') continue;
    const n = perAnomaly.get(row.anomaly) ?? 0;
    if (n >= limit) continue;
    perAnomaly.set(row.anomaly, n + 1);
    picked.push(row);
  }
  const expectationsOf = stateExpectations(ctx, en);
  const pickedStates = picked.map((row) => en.states.find((x) => x.ordinal === row.stateOrdinal)!);
  en.points.prepare(occurrencePoints(pickedStates));
  const out: Counterexample[] = [];
  for (const [n, row] of picked.entries()) {
    const s = pickedStates[n];
    const exps = expectationsOf(s);
    const r = new PersistReplayer(ctx.run.machine.trace!, job.persistency);
    r.advanceTo(row.crashPoint);
    const o = checkImage(ctx, r.stateImage(s.devs), checkOptions(job, exps));
    if (o.verdict !== 'invalid') continue;
    const f = failingPos(o, exps, row.crashPoint);
    if (f.pos !== row.crashPoint) {
      // The image fails only at a later occurrence: minimize there.
      const occ = s.occurrences.find((x) => en.points.pos(x.point) === f.pos)!;
      r.advanceTo(f.pos);
      out.push(counterexample(ctx, r, { ...row, stateId: encodeStateId({ job, pos: f.pos, devs: occ.devs }) }, occ.devs, o, checkOptions(job, f.exps)));
    } else out.push(counterexample(ctx, r, row, s.devs, o, checkOptions(job, f.exps)));
  }
  return out;
}

export function compareCrashRows(a: CrashRow, b: CrashRow): number {
  const keys: (keyof CrashRow)[] = ['allocator', 'workload', 'idiom', 'seed', 'persistency', 'mode'];
  for (const k of keys) {
    if (a[k] !== b[k]) return String(a[k]) < String(b[k]) ? -1 : 1;
  }
  return a.crashPoint - b.crashPoint || a.stateOrdinal - b.stateOrdinal || (a.stateId < b.stateId ? -1 : a.stateId > b.stateId ? 1 : 0);
}

/**
 * Merge shard results of one job: rows re-sorted; counterexamples recomputed from the
 * merged rows (re-executing the run once), exactly as a single worker computes them.
 */
export function mergeCrashResults(results: readonly CrashResult[], resolvers: CrashResolvers = {}): CrashResult {
  if (results.length === 0) throw new CrashJobError('results', 'at least one shard result', 0);
  const rows = results.flatMap((x) => x.rows).sort(compareCrashRows);
  const job = results[0].job;
  let cexs: Counterexample[];
  if (results.length === 1 && results[0].shard.count === 1) cexs = results[0].counterexamples.slice();
  else {
    const ctx = loadJobShared(job, resolvers);
    cexs = explainRows(ctx, enumerateStates(ctx), rows);
  }
  const listing = results[0].listing;
  if (results.some((x) => x.listing !== listing)) throw new CrashJobError('results', `shard results of one listing (${listing})`, results.map((x) => x.listing));
  return { job, shard: { index: 0, count: 1 }, plan: results[0].plan, listing, rows, tallies: mergeTallies(results.map((x) => x.tallies)), counterexamples: cexs };
}

export function replayState(id: string, resolvers: CrashResolvers = {}): ReplayReport {
  const ref = decodeStateId(id);
  const ctx = loadJobShared(ref.job, resolvers);
  const trace = ctx.run.machine.trace!;
  if (ref.pos > trace.length) throw new CrashJobError('pos', `a trace position <= ${trace.length}`, ref.pos);
  const r = new PersistReplayer(trace, ref.job.persistency);
  const ops = new OpTracker();
  while (r.pos < ref.pos) {
    ops.observe(trace, r.pos);
    r.step();
  }
  r.validateDeviations(ref.devs);
  const p: CrashPoint = { pos: ref.pos, ordinal: 0, completedCount: ops.completedCount, inFlight: ops.inFlight() };
  const e = ref.pos >= ctx.run.setupTraceLength ? expectationAt(ctx, p, ops.completed.map(([thread, opIndex]) => ({ thread, opIndex }))) : undefined;
  const opts = checkOptions(ref.job, e ? [e] : []);
  const image = r.stateImage(ref.devs);
  const hash = hashHex(r.stateHash(ref.devs));
  const o: CheckOutcome = ref.nested !== undefined ? checkNestedState(ctx, image, ref.nested.pos, ref.nested.devs) : checkImage(ctx, image, opts);
  const row = makeRow(ref.job, ref.pos, 0, ref.devs, o);
  const cex = o.verdict === 'invalid' && ref.nested === undefined ? counterexample(ctx, r, { ...row, stateId: id }, ref.devs.slice(), o, opts) : undefined;
  const text = [
    `crash state ${id.slice(0, 24)}...`,
    `run: ${ref.job.allocator} on ${ref.job.workload} (${ref.job.idiom}, ${ref.job.threads} threads, seed ${ref.job.seed}), ${ref.job.persistency} mode`,
    `crash point: trace position ${ref.pos} of ${trace.length}; ${ops.completedCount} ops completed; ${ref.devs.length} deviations from the lower image`,
    `image hash: ${hash}`,
    `verdict: ${o.verdict}${o.anomaly ? ` (${o.anomaly})` : ''}${o.detail ? `: ${o.detail}` : ''}`,
    `recovery: ${o.recoveryCycles} cycles; leaked ${o.leakedBytes} B; nested states ${o.nestedStates}`,
    ...(cex ? ['counterexample:', ...cex.explanation.map((l) => `  - ${l}`), `minimized id: ${cex.minimizedId}`] : []),
  ].join('\n');
  return { row: { ...row, stateId: id }, counterexample: cex, text, imageHash: hash };
}

