/**
 * The crash-checking API for the runner and the CLI (experiments/crash/).
 *
 * Model: a CrashJob is plain JSON naming one run (allocator, workload, params, idiom,
 * threads, seed, cost preset and overrides, heap sizes) plus how to crash it
 * (persistency rule set, state mode, bounds). `planCrashJob` re-executes the run with
 * the persistency trace on and enumerates crash points and distinct crash states
 * (counts only). `checkCrashStates(job, shard)` re-executes the same run, enumerates
 * the same distinct states in the same order, and checks the states whose ordinal is
 * congruent to shard.index modulo shard.count, so concatenating and re-sorting the
 * rows of every shard (`mergeCrashResults`) is byte-identical to one worker.
 * Counterexamples (minimized, explained) are computed from the complete rows: by
 * `checkCrashStates` when it runs unsharded, else by `mergeCrashResults`.
 * `replayState(id)` rebuilds one state from its self-contained id.
 *
 * Invariants: every function is deterministic in its JSON input (no host time, no
 * Math.random); rows are sorted by `compareCrashRows`; a checker exception is never
 * `valid` (see check.ts for the verdict rules).
 */
import type { AllocatorFactory, Idiom } from '../../allocators/contract.ts';
import type { Workload } from '../../workloads/contract.ts';
import type { CostOverrides, PresetName } from '../../sim/cost-model.ts';
import type { JobTallies } from './tally.ts';

export type PersistencyMode = 'line' | 'word' | 'eadr';
export type CrashStateMode = 'lower' | 'upper' | 'k-subsets' | 'prefixes' | 'exhaustive' | 'read-driven';
export const CRASH_STATE_MODES: readonly CrashStateMode[] = ['lower', 'upper', 'k-subsets', 'prefixes', 'exhaustive', 'read-driven'];
export const PERSISTENCY_MODES: readonly PersistencyMode[] = ['line', 'word', 'eadr'];

/** One crash study of one run: plain JSON (serialisable to a worker as is). */
export interface CrashJob {
  readonly allocator: string;
  readonly workload: string;
  /** Workload parameters (validated by the workload; defaults filled in). */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  readonly idiom: Idiom;
  readonly threads: number;
  readonly seed: number | string;
  readonly preset?: PresetName;
  readonly costOverrides?: CostOverrides;
  readonly nvramSizeBytes: number;
  readonly dramSizeBytes: number;
  readonly persistency: PersistencyMode;
  readonly mode: CrashStateMode;
  /** k-subsets / prefixes / read-driven: at most k deviating lines (words). Default 2. */
  readonly k?: number;
  /** exhaustive: a crash point's whole box is enumerated when at most this big, else sampled. Default 256. */
  readonly exhaustiveLimit?: number;
  /** Cap on states enumerated per crash point; beyond it a seeded sample is drawn (reported). Default 4096. */
  readonly maxStatesPerPoint?: number;
  /** Cap on distinct states checked in the job; beyond it a seeded sample is drawn (reported). Default unlimited. */
  readonly maxStates?: number;
  /** Nested crash points checked inside each state's recovery (oracle 5). Default 1; 0 disables. */
  readonly nestedPoints?: number;
  /** Blocks requested by the allocate-until-full probe (oracle 2). Default 32. */
  readonly probeBlocks?: number;
  /** Minimize counterexamples of invalid states (delta debugging). Default true. */
  readonly minimize?: boolean;
  /** Invalid states minimized and explained per anomaly kind (the first ones in row order). Default 3. */
  readonly maxCounterexamples?: number;
}

export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

export interface CrashPlan {
  /** Candidate crash points after setup (every raising event, op boundary, end). */
  readonly rawPoints: number;
  /** After skipping points with no store and no lower-bound raise since the previous one. */
  readonly points: number;
  /** Points with a distinct (lower image, upper image) pair. */
  readonly distinctPoints: number;
  /** Sum over points of the full box size prod_L (|W_L| - lo_L + 1): exact decimal, or "2^x" when huge. */
  readonly boxSize: string;
  readonly boxSizeLog2: number;
  /** States enumerated over all points (before dedup). */
  readonly rawStates: number;
  /** Distinct states (by image content hash) found, before the job cap (maxStates). */
  readonly distinctStates: number;
  /** Distinct states that will be checked (distinctStates, or the job cap's sample of them). */
  readonly states: number;
  /** True when a seeded sample replaced full enumeration somewhere (exhaustive over the limit, per-point or job caps). */
  readonly sampled: boolean;
  /** Human-readable notes on sampling and fallbacks (never silent). */
  readonly notes: readonly string[];
  /** Trace events in the run and after setup. */
  readonly traceEvents: number;
  readonly setupTraceEvents: number;
  readonly opsCompleted: number;
}

export type Verdict = 'valid' | 'invalid' | 'unknown';
export type Anomaly =
  | ''
  | 'inconsistent-heap'
  | 'double-allocation'
  | 'leak'
  | 'durability'
  | 'structure'
  | 'recovery-misuse'
  | 'recovery-hang'
  | 'nested-recovery'
  | 'checker-error';

/** One checked distinct crash state (one CSV row). */
export interface CrashRow {
  readonly allocator: string;
  readonly workload: string;
  readonly idiom: Idiom;
  readonly seed: string;
  readonly persistency: PersistencyMode;
  readonly mode: CrashStateMode;
  /** Trace index the crash happens just before (first point where this image occurs). */
  readonly crashPoint: number;
  /** Ordinal of the state among the job's distinct states (enumeration order). */
  readonly stateOrdinal: number;
  readonly stateId: string;
  readonly verdict: Verdict;
  readonly anomaly: Anomaly;
  /** One-line evidence (addresses, op indices) or the reason for unknown; '' when valid. */
  readonly detail: string;
  readonly leakedBytes: number;
  readonly recoveryCycles: number;
  /** Lines (words) deviating from the lower image. */
  readonly deviations: number;
  /** Nested crash states checked inside this state's recovery. */
  readonly nestedStates: number;
}

/** A minimized failing state with the culprit stores and the missing flush or fence. */
export interface Counterexample {
  readonly stateId: string;
  /** The minimized state's id (replays the minimal failing image). */
  readonly minimizedId: string;
  readonly anomaly: Anomaly;
  readonly detail: string;
  /** Printable explanation, one finding a line. */
  readonly explanation: readonly string[];
  /** Stores involved, each with trace index, address, site and operation. */
  readonly stores: readonly CulpritStore[];
}

export interface CulpritStore {
  /** 'not-persisted': needed but absent in the failing image; 'persisted-early': present while an earlier store was not. */
  readonly role: 'not-persisted' | 'persisted-early';
  readonly traceIndex: number;
  readonly addr: number;
  readonly site: string;
  /** 'setup' or 't<thread>#<opIndex>'. */
  readonly op: string;
  /** What is missing: e.g. 'no clwb/clflush of line 0x... after the store before the fence at #123'. */
  readonly missing: string;
}

/** Which checked states a result lists as rows: every one, or only the invalid and unknown ones. */
export type CrashListing = 'all' | 'failures';

export interface CheckStatesOptions {
  /** Default 'all'. The tallies count every state either way. */
  readonly listing?: CrashListing;
  /** Called after each checked state (progress; never part of a result). */
  readonly onState?: () => void;
}

export interface CrashResult {
  readonly job: CrashJob;
  readonly shard: ShardSpec;
  readonly plan: CrashPlan;
  readonly listing: CrashListing;
  /** The listed states (see listing), sorted by compareCrashRows. */
  readonly rows: readonly CrashRow[];
  /** Every checked state, counted per crash point (tally.ts; columnar, every point owning distinct states declared). */
  readonly tallies: JobTallies;
  readonly counterexamples: readonly Counterexample[];
}

export interface ReplayReport {
  readonly row: CrashRow;
  readonly counterexample?: Counterexample;
  /** Printable report (verdict, evidence, image hash, recovery figures). */
  readonly text: string;
  /** Content hash of the rebuilt image (hex), for byte-for-byte comparisons. */
  readonly imageHash: string;
}

/** Optional resolved modules (user allocators / workloads loaded by path). */
export interface CrashResolvers {
  readonly allocator?: AllocatorFactory;
  readonly workload?: Workload<any>;
}

export { planCrashJob, planCrashJobFull, checkSampleOf, prepareSampleOf, type PlannedCrashJob, checkCrashStates, replayState, mergeCrashResults, compareCrashRows, validateCrashJob, CrashJobError } from './run.ts';
export { mergeTallies, jobTotals, cycleStats, summaryTallies, maxLeakedBytes, isJobTallies, type PointTally, type JobTallies, type JobTotals } from './tally.ts';
export { benchCrash, type CrashBench } from './bench.ts';
export { crashStudy, formatStudy, type StudyOptions, type StudyLine } from './study.ts';
