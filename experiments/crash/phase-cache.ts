/**
 * Sharing the parts of a shared check (check.ts checkShared) across images that a part
 * cannot tell apart, when the whole check cannot be shared (share.ts).
 *
 * Model: a check runs recovery (open), the structure oracles (checkConsistency, verify,
 * walkHeap), nested recoveries and the allocate-until-full probe. Consecutive crash
 * points of PMDK, nvm_malloc and Makalu differ in a line the structure oracles read (a
 * bitmap word, a root, a list node), so whole checks rarely repeat; but recovery, and
 * often the walk, the consistency check, the probe and the nested recoveries, read none
 * of the lines that differ. Each part's own read set is recorded (ReadTracker.restart
 * on the checking machine; its own set on a nested machine) and its result kept in a
 * LineCache keyed by the bytes of the image on the lines that determine it:
 *   recovery class  the lines recovery read (R_open): images agreeing there recover
 *                   identically (same reads, values, stores, cycles), so they reach the
 *                   same machine and allocator state after open. The checking machine
 *                   as recovery left it is kept while only reads happen on it, and a
 *                   later image of its class is checked on it without recovering
 *                   again: its NVRAM is moved onto the new image, keeping the bytes
 *                   recovery wrote (PagedMemory.rebaseKeepingWrites; lines of R_open
 *                   hold the same bytes in both images), its trace's base becomes the
 *                   new image, and the read set starts as R_open. A probe that must
 *                   run (its mallocs change the machine) first checkpoints the machine
 *                   and allocator (checkpoint.ts), and the next image of the class
 *                   starts from the machine rolled back to that checkpoint (over the
 *                   image it was taken on) instead of a new recovery, while
 *                   checkpoints pay (worthCheckpointing);
 *   read-only parts within a class, checkConsistency, the heap walk (with the
 *                   oracle's extent indexes) and the workload's verify (with the index
 *                   of the reachable objects), keyed by the lines they read outside
 *                   R_open (R_open's bytes are fixed by the class, so every part's
 *                   read set leaves them out: they are in every check's read set);
 *   probe run       within a class, the lines the probe's mallocs read (lines recovery
 *                   wrote in full are not counted: recovery fixed them), the probe's
 *                   sizes and block count: the addresses the mallocs return, or what a
 *                   malloc threw. The overlap checks are then evaluated against this
 *                   state's reachable objects in the probe's order (probeVerdict);
 *   nested check    the lines the nested recovery and its oracles read from the nested
 *                   image (recovery's stores so far over the state's image): its
 *                   outcome (null, or what it threw).
 * Soundness: each part is a deterministic computation over what it reads, started from
 * a state fixed by the class: the structure oracles only read memory through
 * MemoryReader peeks and are read-only (the Allocator and Workload contracts), and the
 * nested recovery runs on its own machine, so the recovered machine and allocator are
 * as open left them until the probe runs; a machine on which the probe ran (or anything
 * charged happened: its clocks, trace or owned pages moved) is reused only after a
 * rollback to its checkpoint, which restores every object of the machine and allocator
 * (checkpoint.ts: the checkpoint test compares the rolled-back machine with the
 * checkpointed one value by value and with a fresh recovery), and one another check
 * used (recovered anew) is not reused. A cached probe run records every malloc up to the end (it does not stop
 * at an overlap, which depends on the state's reachable objects), so it answers any
 * state of its class; the reads of mallocs past a failing one only enlarge the read set
 * (sound). On a hit, the part's recorded lines join the check's read set, so share.ts
 * still shares the check only among states that agree on everything it depended on.
 * The property tests in share.test.ts compare every state's row with the
 * one-state-at-a-time check, with these caches on and off.
 *
 * Invariants: per job (keyed by its JobContext), a few entries each (least recent
 * evicted); nothing here changes what is simulated or charged for any state, nor the
 * recovery cycles reported.
 */
import { LineCache } from './line-cache.ts';
import type { JobContext } from './job.ts';
import type { SharedCheck } from './check.ts';
import type { ConsistencyReport, HeapWalk } from '../../allocators/contract.ts';
import type { ExtentIndex } from './intervals.ts';
import type { VerifyReport } from '../../workloads/contract.ts';

/** Recovery classes kept per job, probe runs per class, nested checks per job. */
export const CLASS_ENTRIES = 8;
export const PROBE_ENTRIES = 8;
export const NESTED_ENTRIES = 8;
/** Whole checks kept per recovery class (share.ts keeps as many per job for checks without a class). */
export const CLASS_CHECK_ENTRIES = 8;

/** Hits and misses of the phase caches (tests and reports); `enabled` false runs every phase. */
export const phaseSharing = { enabled: true, probeHits: 0, probeRuns: 0, nestedHits: 0, nestedRuns: 0, recoveryReuses: 0, phaseHits: 0, phaseRuns: 0 };

/** What the probe's mallocs returned, in order (0 ends it), and what the last one threw, if any. */
export interface ProbeRun {
  readonly sizes: readonly number[];
  readonly blocks: number;
  readonly addrs: readonly number[];
  readonly threw: boolean;
  readonly thrown: unknown;
  /** The lines the probe read (added to the read set of a check that reuses the run). */
  readonly lines: readonly number[];
}

/** Images that recover identically (same recovery read lines and bytes), with their probe runs. */
export interface RecoveryClass {
  /** The lines recovery reads (first-read order), and as a set. */
  readonly openLines: readonly number[];
  readonly openSet: ReadonlySet<number>;
  readonly probes: LineCache<ProbeRun>;
  /** The allocator's checkConsistency and walkHeap (with the oracle's extent indexes) on the recovered memory. */
  readonly consistency: LineCache<PhaseRun<ConsistencyReport>>;
  readonly walks: LineCache<PhaseRun<Walked>>;
  /** The workload's verify on the recovered memory, with the oracle's index of the reachable objects. */
  readonly verifies: LineCache<PhaseRun<Verified>>;
  /** Whole checks of the class's images, keyed by the lines they read after recovery (share.ts). */
  readonly checks: LineCache<SharedCheck>;
  /** Recoveries run for images of this class (check.ts checkpoints only a class recovered again and again). */
  recoveries: number;
}

/** A read-only phase's result (or what it threw) and every line it read (its cache key leaves out the class's recovery lines). */
export interface PhaseRun<T> {
  readonly value: T | undefined;
  readonly threw: boolean;
  readonly thrown: unknown;
  readonly lines: readonly number[];
}

/** A heap walk with the structure oracle's indexes of its allocated and free extents. */
export interface Walked {
  readonly walk: HeapWalk;
  readonly allocated: ExtentIndex;
  readonly free: ExtentIndex;
}

/** A verify report with the structure oracle's index of its reachable objects (undefined: the workload has no verify). */
export interface Verified {
  readonly report: VerifyReport | undefined;
  readonly reach: ExtentIndex;
}

/** A new recovery class for images on which recovery reads `openLines` (no phase kept yet). */
export function newRecoveryClass(openLines: readonly number[]): RecoveryClass {
  return {
    openLines,
    openSet: new Set(openLines),
    probes: new LineCache(PROBE_ENTRIES),
    consistency: new LineCache(PROBE_ENTRIES),
    walks: new LineCache(PROBE_ENTRIES),
    verifies: new LineCache(PROBE_ENTRIES),
    checks: new LineCache(CLASS_CHECK_ENTRIES),
    recoveries: 0,
  };
}

/** A nested recovery's outcome (null: it passed (1)-(2); else what it threw) and the lines it read. */
export interface NestedRun {
  readonly err: unknown;
  readonly lines: readonly number[];
}

export interface PhaseCaches {
  readonly classes: LineCache<RecoveryClass>;
  readonly nested: LineCache<NestedRun>;
  /** Lookups and hits per kind of part in this job (worthSharing). */
  readonly stats: Record<PartKind, { lookups: number; hits: number; skipped: number }>;
  /** Checkpoints of recovered machines taken in this job, rollbacks to them, and captures set aside (worthCheckpointing). */
  readonly rollback: { captures: number; rollbacks: number; skipped: number };
}

const PART_KINDS = ['consistency', 'walk', 'verify', 'nested'] as const;
export type PartKind = (typeof PART_KINDS)[number];

const caches = new WeakMap<JobContext, PhaseCaches>();

export function phaseCachesOf(ctx: JobContext): PhaseCaches {
  let c = caches.get(ctx);
  if (c === undefined) {
    const stats = Object.fromEntries(PART_KINDS.map((k) => [k, { lookups: 0, hits: 0, skipped: 0 }])) as PhaseCaches['stats'];
    caches.set(ctx, (c = { classes: new LineCache(CLASS_ENTRIES), nested: new LineCache(NESTED_ENTRIES), stats, rollback: { captures: 0, rollbacks: 0, skipped: 0 } }));
  }
  return c;
}

/** Lookups of a kind of part after which one hit in TRIAL_HIT_RATIO lookups is needed to go on sharing it. */
export const TRIAL_LOOKUPS = 32;
export const TRIAL_HIT_RATIO = 8;

/**
 * Whether this job still records and looks up parts of `kind` (not probes, always
 * shared): recording a part's read set costs its reads the fast path and a copy of its
 * lines, which does not pay when its images rarely repeat (Makalu's heap walks,
 * nvm_malloc's nested checks). After TRIAL_LOOKUPS lookups, a kind hit by fewer than
 * one in TRIAL_HIT_RATIO is mostly run directly (as when sharing is off: the check's
 * read set gets its reads; nothing else changes). Deterministic.
 */
export function worthSharing(c: PhaseCaches, kind: PartKind): boolean {
  const s = c.stats[kind];
  // Every RETRY_EVERY-th part of a kind set aside is still shared, so a kind whose hits
  // come later in the job (nvm_malloc's probe) is taken up again.
  return stillPays(s.lookups, s.hits, s, TRIAL_LOOKUPS, TRIAL_HIT_RATIO, RETRY_EVERY);
}

/**
 * The rule of the job's host-speed switches (worthSharing, worthCheckpointing, check.ts's
 * nested machines): on while fewer than `trial` tries were made or at least one in
 * `ratio` won; else on for every `retryEvery`-th call only (counted in `s.skipped`), so
 * wins that come later in the job are found. Deterministic in the counts.
 */
export function stillPays(tries: number, wins: number, s: { skipped: number }, trial: number, ratio: number, retryEvery: number): boolean {
  if (tries < trial || wins * ratio >= tries) return true;
  return ++s.skipped % retryEvery === 0;
}

/** While a kind is set aside, one part in this many is still looked up and recorded. */
export const RETRY_EVERY = 4;

/** Checkpoints taken in a job after which each must have paid for at least one rollback (CHECKPOINT_RATIO: checkpoints per rollback needed). */
export const CHECKPOINT_TRIAL = 4;
export const CHECKPOINT_RATIO = 1;
/** While checkpoints are set aside, one probe in this many still checkpoints. */
export const CHECKPOINT_RETRY_EVERY = 32;

/**
 * Whether this job still checkpoints a recovered machine before a probe runs on it
 * (check.ts): a checkpoint costs about what a rollback saves over recovering again, so it
 * pays only where later images of the class follow (PMDK's one class: its first
 * checkpoint serves ~100 rollbacks; not Makalu's, whose images rarely recover alike and
 * whose checkpoints cost ~2 recoveries, nor nvm_malloc's, about one rollback per two
 * checkpoints: measured here a rollback cost more than its recovery). After
 * CHECKPOINT_TRIAL checkpoints, one rollback per CHECKPOINT_RATIO checkpoints is
 * needed, else one probe in CHECKPOINT_RETRY_EVERY still checkpoints. Host speed only: a probe without a checkpoint is followed by recovery.
 * Deterministic.
 */
export function worthCheckpointing(c: PhaseCaches): boolean {
  const r = c.rollback;
  return stillPays(r.captures, r.rollbacks, r, CHECKPOINT_TRIAL, CHECKPOINT_RATIO, CHECKPOINT_RETRY_EVERY);
}

/** Count a lookup of a part of `kind` (hit or not). */
export function countLookup(c: PhaseCaches, kind: PartKind, hit: boolean): void {
  const s = c.stats[kind];
  s.lookups++;
  if (hit) s.hits++;
}

export function sameSizes(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
