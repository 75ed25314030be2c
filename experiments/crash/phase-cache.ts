/**
 * Sharing the phases of a shared check (check.ts checkShared) across images that a
 * phase cannot tell apart, when the whole check cannot be shared (share.ts CheckCache).
 *
 * Model: a check runs recovery (open), the structure oracles, nested recoveries and the
 * allocate-until-full probe. Consecutive crash points of PMDK, nvm_malloc and Makalu
 * differ in a line the structure walk reads (a bitmap word, a root, a list node), so
 * whole checks rarely repeat; but the probe and the nested recoveries often read none
 * of the lines that differ. Each phase's own read set is recorded (ReadTracker.restart
 * on the checking machine; a separate set for a nested machine), and its result kept in
 * a LineCache keyed by the bytes of the image on the lines that determine it:
 *   recovery class  the lines recovery read (R_open, the first lines of the check's
 *                   read set): images agreeing there recover identically (same reads,
 *                   values, stores, cycles), so they reach the same machine and
 *                   allocator state after open;
 *   probe run       within a recovery class, the lines the probe's mallocs read
 *                   (R_probe; lines recovery wrote in full are not counted: recovery
 *                   fixed them), the probe's sizes and block count: the addresses the
 *                   mallocs return, or what a malloc threw. The probe's overlap checks
 *                   are then evaluated against this state's reachable objects, in the
 *                   probe's order (probeVerdict), exactly as the probe evaluates them;
 *   nested check    the lines the nested recovery and its oracles read from the nested
 *                   image (recovery's stores so far over the state's image): its
 *                   outcome (null, or what it threw).
 * Soundness: each phase is a deterministic computation over what it reads: the probe
 * runs on the machine open left (the structure oracles and the nested recovery only
 * read memory through MemoryReader peeks, as the Allocator and Workload contracts state,
 * and the nested recovery runs on its own machine), so its run is fixed by R_open and
 * R_probe. A cached probe run records every malloc up to the end (it does not stop at an
 * overlap, which depends on the state's reachable objects), so it answers any state of
 * its class; the reads of mallocs past a failing one only enlarge the read set (sound).
 * On a hit, the phase's recorded lines are added to the check's read set, so share.ts
 * still shares the check only among states that agree on everything it depended on.
 * The property test in share.test.ts compares every state's row with the
 * one-state-at-a-time check.
 *
 * Invariants: per job (keyed by its JobContext), a few entries each (least recent
 * evicted); nothing here changes what is simulated or charged for any state.
 */
import { LineCache } from './line-cache.ts';
import type { JobContext } from './job.ts';
import type { SharedCheck } from './check.ts';
import type { ConsistencyReport, HeapWalk } from '../../allocators/contract.ts';
import type { ExtentIndex } from './intervals.ts';

/** Recovery classes kept per job, probe runs per class, nested checks per job. */
export const CLASS_ENTRIES = 4;
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
  /** Whole checks of the class's images, keyed by the lines they read after recovery (share.ts). */
  readonly checks: LineCache<SharedCheck>;
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

/** A new recovery class for images on which recovery reads `openLines` (no phase kept yet). */
export function newRecoveryClass(openLines: readonly number[]): RecoveryClass {
  return {
    openLines,
    openSet: new Set(openLines),
    probes: new LineCache(PROBE_ENTRIES),
    consistency: new LineCache(PROBE_ENTRIES),
    walks: new LineCache(PROBE_ENTRIES),
    checks: new LineCache(CLASS_CHECK_ENTRIES),
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
}

const caches = new WeakMap<JobContext, PhaseCaches>();

export function phaseCachesOf(ctx: JobContext): PhaseCaches {
  let c = caches.get(ctx);
  if (c === undefined) caches.set(ctx, (c = { classes: new LineCache(CLASS_ENTRIES), nested: new LineCache(NESTED_ENTRIES) }));
  return c;
}

export function sameSizes(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
