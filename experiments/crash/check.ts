/**
 * Checking one crash state (persistency.md, "What a crash state must show").
 *
 * Model: a fresh machine over the state's image (createMachine({image})), a fresh
 * allocator `open` (recovery cycles recorded), then the oracles in order:
 *   (1) allocator.checkConsistency ok                          -> 'inconsistent-heap'
 *   (2) workload.verify has no integrity errors                -> 'structure'
 *       every reachable object inside an allocated extent, no free extent overlapping
 *       one                                                    -> 'double-allocation'
 *   (3) leaked bytes = allocated extents overlapping no reachable object; a failure
 *       only if factory.promisesNoLeak(idiom)                  -> 'leak'
 *   (4) durability: for each crash point where this image occurs, the keys required by
 *       workload.expectedKeys (completed / in-flight ops)      -> 'durability'
 *   (5) nested crashes inside recovery: recovery's own trace is replayed, at
 *       `nestedPoints` of its crash points (evenly spread) the upper image (and, with two
 *       or more points, the lower one too) is recovered again and checked with (1)-(2);
 *       within a job, a nested image whose content hash equals one already checked
 *       takes that check's outcome (deterministic in the image; memo.ts)
 *                                                              -> 'nested-recovery'
 *   (2') a bounded allocate-until-full probe (the sizes of the reachable objects) never
 *       returns a block overlapping a reachable object or another returned block
 *                                                              -> 'double-allocation'
 * Verdict rules: a MisuseError (simulated access out of bounds, unformatted, bad value,
 * misaligned atomic, lock misuse) or an AllocatorMisuseError raised while recovering or
 * checking the crash image is `invalid` ('recovery-misuse'): the machine refuses the
 * access, so it is deterministic evidence that this image drives the allocator or the
 * structure walk off the heap. Any other exception (a bug in nvlab or in a checker, or
 * an error class of the plug-in's own, named in the detail) is `unknown`
 * ('checker-error'), never valid; callers count unknown as a failure, not a pass.
 *
 * checkShared runs the same oracles in the same order with the state-independent part
 * split from durability, recording the NVRAM lines read (share.ts shares it among the
 * states that agree on those lines); its parts are shared across images that agree on
 * the lines each part read (phase-cache.ts: recovery classes and the recovered machine
 * kept for reuse, rolled back to a checkpoint after a probe ran on it (checkpoint.ts),
 * checkConsistency, verify, the heap walk, probe runs, nested checks; a nested image
 * that recovers like the previous one, reading the same bytes on the lines its recovery
 * read, is checked on that nested machine as its recovery left it). The
 * probe of a shared check runs its mallocs to the end and then applies the same checks
 * in the same order (probeVerdict). A test compares it with checkImage state by state.
 *
 * Invariants: the image is never written (copy-on-write machine); a state is checked
 * the same way in planning, checking, minimization and replay.
 */
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import type { NvramImage, PersistTrace } from '../../sim/api.ts';
import { CycleBudgetError, MisuseError } from '../../sim/errors.ts';
import { AllocatorMisuseError, type Extent } from '../../allocators/contract.ts';
import type { VerifyReport } from '../../workloads/contract.ts';
import { PersistReplayer, type Deviation } from '../../sim/persistency/replay.ts';
import { scanCrashPoints } from '../../sim/crash/points.ts';
import { hashKey, type ImageHash } from '../../sim/persistency/hash.ts';
import { prefixHash, prefixImage, prefixUnchanged, type PrefixImage } from '../../sim/persistency/prefix.ts';
import { checkMemo, nestedMemoOf, recoveredOutcome, type KeyLookup, type Leak, type RecoveredOutcome, type Structure, type Thrown } from './memo.ts';
import type { Anomaly, Verdict } from './api.ts';
import type { JobContext } from './job.ts';
import { ExtentIndex } from './intervals.ts';
import { lowerBound } from '../../sim/search.ts';
import { ReadTracker } from '../../sim/read-set.ts';
import { countLookup, stillPays, worthCheckpointing, newRecoveryClass, phaseCachesOf, phaseSharing, sameSizes, worthSharing, type PartKind, type PhaseRun, type ProbeRun, type RecoveryClass, type Verified, type Walked } from './phase-cache.ts';
import { LineCache } from './line-cache.ts';
import { checkpointGraph, type Checkpoint } from './checkpoint.ts';

export interface Expectation {
  /** Crash point (trace position) this expectation belongs to. */
  readonly pos: number;
  readonly completedCount: number;
  readonly mustContain: readonly number[];
  readonly mustNotContain: readonly number[];
}

export interface CheckOptions {
  readonly expectations: readonly Expectation[];
  readonly nestedPoints: number;
  readonly probeBlocks: number;
  /** Record which NVRAM pages recovery reads (read-driven mode). */
  readonly trackReads?: boolean;
  /** Only recover and record reads (no oracles). */
  readonly recoverOnly?: boolean;
  /**
   * Content hash of the image (sim/persistency/hash.ts), when the caller knows it: nested
   * images are then hashed in O(lines recovery changed) and their checks memoized.
   */
  readonly imageHash?: ImageHash;
}

export interface CheckOutcome {
  readonly verdict: Verdict;
  readonly anomaly: Anomaly;
  readonly detail: string;
  readonly leakedBytes: number;
  readonly recoveryCycles: number;
  readonly nestedStates: number;
  /** The failing nested crash (pos, devs) when anomaly is 'nested-recovery'. */
  readonly nested?: { pos: number; devs: Deviation[] };
  /** NVRAM page indices recovery touched (trackReads). */
  readonly readPages?: ReadonlySet<number>;
  /** Addresses involved in the failure (for minimization reports). */
  readonly addrs: readonly number[];
}

class Fail extends Error {
  constructor(
    readonly anomaly: Anomaly,
    readonly detail: string,
    readonly addrs: readonly number[] = [],
    readonly nested?: { pos: number; devs: Deviation[] },
  ) {
    super(detail);
  }
}

const hex = (a: number): string => `0x${a.toString(16)}`;

/** An image that records which pages the machine pulls from it (page-level read set). */
class TrackingImage implements NvramImage {
  readonly touched = new Set<number>();
  constructor(private readonly inner: NvramImage) {}
  get nvramSizeBytes(): number {
    return this.inner.nvramSizeBytes;
  }
  page(i: number): Uint8Array | undefined {
    this.touched.add(i);
    return this.inner.page(i);
  }
  pageIndices(): readonly number[] {
    return this.inner.pageIndices();
  }
}

/**
 * Machines are reused: slot 0 for a state, slot 1 for a nested recovery while slot 0 is
 * still in use. resetOverImage returns a machine to the state of a fresh one over the
 * image (a test compares both), so reuse never changes a verdict or a cycle count. The
 * pool is per machine configuration (cores, sizes, cost model values), shared by the
 * jobs of one thread that use it (the last POOL_CONFIGS configurations are kept): a job
 * then builds no machine of its own (a fresh one zero-fills megabytes of cache tags).
 */
const pools = new Map<string, SimMachine[]>();
const POOL_CONFIGS = 2;
/** Set to true to build a fresh machine for every state (tests compare both paths). */
export const machineReuse = { enabled: true };

/** The machine pool of the job's configuration (most recently used last). */
function poolOf(ctx: JobContext): SimMachine[] {
  let key = poolKeys.get(ctx);
  if (key === undefined) {
    const j = ctx.job;
    poolKeys.set(ctx, (key = `${j.threads}|${j.dramSizeBytes}|${j.nvramSizeBytes}|${JSON.stringify(ctx.cost)}`));
  }
  let pool = pools.get(key);
  if (pool === undefined) {
    pools.set(key, (pool = []));
    if (pools.size > POOL_CONFIGS) pools.delete(pools.keys().next().value!);
  } else if (key !== lastKey) {
    // Most recently used last (the first key is the one dropped).
    pools.delete(key);
    pools.set(key, pool);
  }
  lastKey = key;
  return pool;
}
const poolKeys = new WeakMap<JobContext, string>();
let lastKey = '';

function machineFor(ctx: JobContext, slot: number, image: NvramImage, trace: boolean): SimMachine {
  const pool = poolOf(ctx);
  let m = pool[slot];
  if (m !== undefined && machineReuse.enabled) {
    m.resetOverImage(image, trace);
  } else {
    m = createMachine({ cores: ctx.job.threads, cost: ctx.cost, dramSizeBytes: ctx.job.dramSizeBytes, nvramSizeBytes: ctx.job.nvramSizeBytes, image, trace });
    pool[slot] = m;
  }
  // Every use of a machine ends the reuse of its recovered state (reuseRecovered).
  machineUses.set(m, (machineUses.get(m) ?? 0) + 1);
  trackMachine(m, readSet);
  setCycleBudget(m, ctx);
  return m;
}

/**
 * The NVRAM lines read (from the image) by the check in progress, when it records
 * them (checkShared): every machine opened meanwhile (the state's and the nested
 * recoveries') reports into it.
 */
let readSet: Set<number> | undefined;
const trackers = new WeakMap<SimMachine, ReadTracker>();

/**
 * Attach (lines given) or detach the machine's NVRAM read tracker. Every hint of the
 * cores' fast paths is dropped (setFastPath); on a tracked machine the fast path then
 * serves only DRAM lines and NVRAM lines the tracker has counted (Core.rememberLine).
 */
function trackMachine(m: SimMachine, lines: Set<number> | undefined): void {
  for (const core of m.cores) core.setFastPath(true);
  if (lines === undefined) {
    m.nvram.track = undefined;
    return;
  }
  let t = trackers.get(m);
  if (t === undefined) trackers.set(m, (t = new ReadTracker(m.nvram.sizeBytes, lines)));
  t.reset(lines);
  m.nvram.track = t;
}

/**
 * The simulated cycles one checking machine may spend (recovery, oracles' probe): far
 * above what any terminating recovery of this run's heap needs (16x the run that built
 * the heap, plus 4 cycles per NVRAM byte for whole-heap scans, plus 10M), so exceeding
 * it means recovery loops over a corrupted image. Reported as invalid 'recovery-hang'
 * instead of hanging the checker. Deterministic: it depends on the job only.
 */
export function checkCycleBudget(ctx: JobContext): number {
  return 16 * ctx.runCycles.get() + budgetFloor(ctx);
}

/** The budget without the run's part: a lower bound of it that needs no run cycles. */
function budgetFloor(ctx: JobContext): number {
  return 4 * ctx.job.nvramSizeBytes + 10_000_000;
}

/**
 * Bound the machine's cores by the job's cycle budget. Until the run's cycles are known
 * (a functional run, job.ts), the bound is the floor, raised to the budget the first
 * time a core passes it (SimCore.overBudget): the same outcome as the budget from the
 * start, and most jobs' recoveries never come near the floor, so they never execute
 * the timed run.
 */
function setCycleBudget(m: SimMachine, ctx: JobContext): void {
  if (ctx.runCycles.known) {
    const limit = checkCycleBudget(ctx);
    for (const core of m.cores) core.setCycleLimit(limit);
    return;
  }
  const raise = () => checkCycleBudget(ctx);
  for (const core of m.cores) core.setCycleLimit(budgetFloor(ctx), raise);
}

function openOver(ctx: JobContext, image: NvramImage, trace: boolean, slot = 0) {
  const machine = machineFor(ctx, slot, image, trace);
  const allocator = ctx.factory.create(machine);
  const stats = allocator.open(machine.core(0));
  return { machine, allocator, stats };
}

type Opened = ReturnType<typeof openOver>;

/**
 * A read-only phase of a shared check on the recovered machine (phase-cache.ts): the run
 * of an earlier image of the same recovery class that read the same bytes outside
 * recovery's lines, else `run` with its own read set; its lines join the check's read
 * set and what it threw is thrown again.
 */
function sharedPhase<T>(p: PhaseContext, kind: PartKind, cache: LineCache<PhaseRun<T>>, run: () => T): T {
  const caches = phaseCachesOf(p.ctx);
  if (!worthSharing(caches, kind)) return run();
  let r = cache.find(p.image);
  countLookup(caches, kind, r !== undefined);
  if (r !== undefined) phaseSharing.phaseHits++;
  else {
    phaseSharing.phaseRuns++;
    const tracker = trackers.get(p.o.machine)!;
    const own = new Set<number>();
    // Recovery's lines are in every read set of the class: not counted again.
    restartTracker(p.o.machine, tracker, own, p.cls.openLines);
    let value: T | undefined;
    let threw = false;
    let thrown: unknown;
    try {
      value = run();
    } catch (e) {
      threw = true;
      thrown = e;
    } finally {
      restartTracker(p.o.machine, tracker, p.lines, p.cls.openLines);
    }
    r = { value, threw, thrown, lines: [...own] };
    cache.add(p.image, r.lines, r.lines.length, r);
  }
  for (const l of r.lines) p.lines.add(l);
  if (r.threw) throw r.thrown;
  return r.value as T;
}

/** A new read set on the machine's tracker (write masks kept), dropping the fast-path hints that relied on the old one. */
function restartTracker(m: SimMachine, tracker: ReadTracker, lines: Set<number>, counted?: readonly number[]): void {
  tracker.restart(lines, counted);
  for (const core of m.cores) core.setFastPath(true);
}

/** What a shared check's phases need: the recovered machine, its class, the image and the check's read set. */
interface PhaseContext {
  readonly ctx: JobContext;
  readonly o: Opened;
  readonly cls: RecoveryClass;
  readonly image: NvramImage;
  readonly lines: Set<number>;
}

function oracleStructure(ctx: JobContext, o: Opened, shared?: PhaseContext): { report: VerifyReport | undefined; reach: ExtentIndex; allocated: readonly Extent[] } {
  const cons = shared !== undefined ? sharedPhase(shared, 'consistency', shared.cls.consistency, () => o.allocator.checkConsistency(o.machine)) : o.allocator.checkConsistency(o.machine);
  if (!cons.ok) throw new Fail('inconsistent-heap', `checkConsistency: ${cons.errors.slice(0, 3).join('; ')}`);
  const verified = shared !== undefined ? sharedPhase(shared, 'verify', shared.cls.verifies, () => verifiedHeap(ctx, o)) : undefined;
  const report = verified !== undefined ? verified.report : ctx.workload.verify?.(o.machine, o.allocator, ctx.params as never);
  if (report !== undefined && report.errors.length > 0) {
    const e = report.errors[0];
    throw new Fail('structure', `verify: ${e.message} at ${hex(e.addr)}${report.errors.length > 1 ? ` (+${report.errors.length - 1} more)` : ''}`, report.errors.map((x) => x.addr));
  }
  const reachable = report?.reachable ?? [];
  const walked = shared !== undefined ? sharedPhase(shared, 'walk', shared.cls.walks, () => walkedHeap(o)) : undefined;
  const walk = walked?.walk ?? o.allocator.walkHeap(o.machine);
  const allocated = walked?.allocated ?? new ExtentIndex(walk.allocated);
  for (const r of reachable) {
    if (!allocated.contains(r.addr, r.sizeBytes)) throw new Fail('double-allocation', `reachable object ${hex(r.addr)} (${r.sizeBytes} B) lies in no allocated extent`, [r.addr]);
  }
  const free = walked?.free ?? new ExtentIndex(walk.free);
  for (const r of reachable) {
    const f = free.overlapping(r.addr, r.sizeBytes);
    if (f !== undefined) throw new Fail('double-allocation', `free extent ${hex(f.addr)}+${f.sizeBytes} overlaps reachable object ${hex(r.addr)}`, [r.addr, f.addr]);
  }
  return { report, reach: verified?.reach ?? new ExtentIndex(reachable), allocated: walk.allocated };
}

/** The workload's verify with the index of its reachable objects (built from the report alone: part of the phase). */
function verifiedHeap(ctx: JobContext, o: Opened): Verified {
  const report = ctx.workload.verify?.(o.machine, o.allocator, ctx.params as never);
  return { report, reach: new ExtentIndex(report?.reachable ?? []) };
}

/** The heap walk with its extent indexes (built from the walk alone: part of the phase). */
function walkedHeap(o: Opened): Walked {
  const walk = o.allocator.walkHeap(o.machine);
  return { walk, allocated: new ExtentIndex(walk.allocated), free: new ExtentIndex(walk.free) };
}

/** Allocated bytes overlapping no reachable object, and the first such extent's address. */
function leakOf(allocated: readonly Extent[], reach: ExtentIndex): Leak {
  let bytes = 0;
  let first = 0;
  for (const a of allocated) {
    if (reach.overlapping(a.addr, a.sizeBytes) === undefined) {
      if (bytes === 0) first = a.addr;
      bytes += a.sizeBytes;
    }
  }
  return { bytes, first };
}

/** Oracle (3): a leak fails only if the allocator promises none for the idiom. Returns the leaked bytes. */
function oracleLeak(ctx: JobContext, leak: Leak): number {
  if (leak.bytes > 0 && ctx.factory.promisesNoLeak(ctx.job.idiom)) throw new Fail('leak', `${leak.bytes} B allocated but unreachable (first at ${hex(leak.first)})`, [leak.first]);
  return leak.bytes;
}

function opOfKey(ctx: JobContext, key: number): string {
  const s = ctx.run.streams;
  for (let t = 0; t < s.length; t++) for (let i = s[t].length - 1; i >= 0; i--) if (s[t][i].key === key) return ` (op t${t}#${i} ${s[t][i].kind})`;
  return '';
}

function oracleDurability(ctx: JobContext, keys: KeyLookup | undefined, exps: readonly Expectation[]): void {
  if (keys === undefined || exps.length === 0) return;
  for (const e of exps) {
    for (const k of e.mustContain) {
      if (!keys.has(k)) throw new Fail('durability', `key ${k}${opOfKey(ctx, k)} completed before crash point ${e.pos} (${e.completedCount} ops done) but is missing`);
    }
    for (const k of e.mustNotContain) {
      if (keys.has(k)) throw new Fail('durability', `key ${k}${opOfKey(ctx, k)} is present though no op producing it had begun before crash point ${e.pos}`);
    }
  }
}

/**
 * Allocate up to `blocks` blocks, cycling through the sizes of the reachable objects
 * (the size classes whose free lists could wrongly hold them; 16 and 64 B when nothing is
 * reachable), until the heap says it is full.
 */
function probe(o: Opened, reach: ExtentIndex, blocks: number): null {
  const sizes = probeSizes(reach);
  const got: Extent[] = [];
  const core = o.machine.core(0);
  for (let i = 0; i < blocks; i++) {
    const size = sizes[i % sizes.length];
    const a = o.allocator.malloc(core, size);
    if (a === 0) break;
    acceptProbeBlock(a, size, reach, got);
  }
  return null;
}

/** A probe malloc's block [a, a + size): it must overlap no reachable object and no block the probe got before; then it joins `got`. */
function acceptProbeBlock(a: number, size: number, reach: ExtentIndex, got: Extent[]): void {
  const r = reach.overlapping(a, size);
  if (r !== undefined) throw new Fail('double-allocation', `probe malloc(${size}) returned ${hex(a)}, overlapping reachable object ${hex(r.addr)}`, [a, r.addr]);
  const dup = got.find((g) => g.addr < a + size && a < g.addr + g.sizeBytes);
  if (dup !== undefined) throw new Fail('double-allocation', `probe malloc(${size}) returned ${hex(a)}, overlapping block ${hex(dup.addr)} returned earlier`, [a, dup.addr]);
  got.push({ addr: a, sizeBytes: size });
}

/** The probe's sizes: those of the reachable objects (at most 4, ascending), else 16 and 64 B. */
function probeSizes(reach: ExtentIndex): number[] {
  const sizes = [...new Set(reach.extents.map((e) => e.sizeBytes))].sort((a, b) => a - b).slice(0, 4);
  if (sizes.length === 0) sizes.push(16, 64);
  return sizes;
}

/** The probe's mallocs alone, to the end (0, `blocks` calls or a throw), with the lines they read from the image. */
function runProbe(o: Opened, sizes: readonly number[], blocks: number, counted: readonly number[]): ProbeRun {
  // The probe's own read set: a new set on the machine's tracker (write masks kept,
  // hints that relied on the old count dropped), merged into the check's by the caller.
  const tracker = trackers.get(o.machine)!;
  const own = new Set<number>();
  restartTracker(o.machine, tracker, own, counted);
  const addrs: number[] = [];
  let threw = false;
  let thrown: unknown;
  const core = o.machine.core(0);
  try {
    for (let i = 0; i < blocks; i++) {
      const a = o.allocator.malloc(core, sizes[i % sizes.length]);
      addrs.push(a);
      if (a === 0) break;
    }
  } catch (e) {
    threw = true;
    thrown = e;
  }
  return { sizes, blocks, addrs, threw, thrown, lines: [...own] };
}

/** The probe's verdict for a run of its mallocs (probe's checks, in its order): throws what probe throws. */
function probeVerdict(run: ProbeRun, reach: ExtentIndex): void {
  const got: Extent[] = [];
  const { sizes, addrs } = run;
  for (let i = 0; i < addrs.length; i++) {
    const size = sizes[i % sizes.length];
    const a = addrs[i];
    if (a === 0) return;
    acceptProbeBlock(a, size, reach, got);
  }
  if (run.threw) throw run.thrown;
}

/**
 * The probe of a shared check (phase-cache.ts): the run of an earlier check of the same
 * recovery class whose probe read the same bytes, else the mallocs run here; the run's
 * lines join the check's read set either way. Returns the run (for probeVerdict) and
 * whether the mallocs ran on the machine (which is then no longer as recovery left it).
 */
function probeShared(o: Opened, cls: RecoveryClass, image: NvramImage, lines: Set<number>, reach: ExtentIndex, blocks: number, beforeRun: () => void): { run: ProbeRun; ran: boolean } {
  // Always looked up and recorded: a probe run costs far more than its recording, and
  // its hits come in runs of consecutive points (nvm_malloc's), which a trial would miss.
  const sizes = probeSizes(reach);
  let run = cls.probes.find(image, (p) => p.blocks === blocks && sameSizes(p.sizes, sizes));
  const ran = run === undefined;
  if (run !== undefined) phaseSharing.probeHits++;
  else {
    phaseSharing.probeRuns++;
    beforeRun();
    run = runProbe(o, sizes, blocks, cls.openLines);
    cls.probes.add(image, run.lines, run.lines.length, run);
  }
  for (const l of run.lines) lines.add(l);
  return { run, ran };
}

/** A new recovery class for an image just recovered (`openLines`: the first lines of `lines`, those recovery read), kept for the job. */
function addRecoveryClass(ctx: JobContext, image: NvramImage, lines: Set<number>, openLines: number): RecoveryClass {
  const ls: number[] = [];
  for (const l of lines) {
    if (ls.length === openLines) break;
    ls.push(l);
  }
  const cls = newRecoveryClass(ls);
  phaseCachesOf(ctx).classes.add(image, ls, ls.length, cls);
  return cls;
}

/**
 * The checking machine as recovery left it, kept while nothing but reads happened on it
 * since (the structure oracles' peeks, nested recoveries on their own machine, a probe
 * answered from the cache): a later image of the same recovery class is checked on it
 * without recovering again (phase-cache.ts). `use` is the machine's use count then
 * (any other use of the machine ends the reuse); `mark` its clocks, trace length and
 * owned pages, which any charged access or write would change.
 */
interface Recovered {
  readonly ctx: JobContext;
  readonly o: Opened;
  readonly cls: RecoveryClass;
  readonly use: number;
  readonly mark: string;
  /** The image the machine's NVRAM shows (and its trace starts from). */
  image: NvramImage;
  /** The machine as recovery left it (over `rollback.image`), when checkpointed (before a probe ran on it). */
  readonly rollback?: Rollback;
  /** Whether the machine changed since recovery (a probe ran): rolled back before reuse. */
  dirty: boolean;
}

/** A recovered machine's checkpoint and the image its NVRAM showed then. */
interface Rollback {
  readonly cp: Checkpoint;
  readonly image: NvramImage;
}

/**
 * Recoveries of a class before its machine is checkpointed: a class recovered this often
 * is being re-recovered after probes (PMDK's one class), while most classes of
 * nvm_malloc and Makalu are recovered once or twice. Checkpoints were measured to slow
 * the checks that follow them in the same process (nvm_malloc ~25 % with ~7 a job; cause
 * not found), so they are kept to the classes that pay.
 */
export const CHECKPOINT_AFTER_RECOVERIES = 3;

/** Set enabled to false to recover again after a probe ran on a kept machine (tests compare both). */
export const recoveredRollback = { enabled: true, captures: 0, rollbacks: 0, unsupported: 0 };

/** A checkpoint of the recovered machine and allocator (checkpoint.ts), or undefined (rollback off or unsupported). */
function captureRecovered(ctx: JobContext, o: Opened, image: NvramImage): Rollback | undefined {
  if (!recoveredRollback.enabled) return undefined;
  const caches = phaseCachesOf(ctx);
  if (!worthCheckpointing(caches)) return undefined;
  caches.rollback.captures++;
  const cp = checkpointGraph([o.machine, o.allocator]);
  if (cp === undefined) {
    recoveredRollback.unsupported++;
    return undefined;
  }
  recoveredRollback.captures++;
  return { cp, image };
}
let recovered: Recovered | undefined;

/**
 * Forget the kept recovered machine, handing its checkpoint's buffers to later ones
 * (run.ts, when a job's checks are done: its trace and caches can be freed).
 */
export function forgetRecovered(): void {
  dropRecovered();
  nestedKept = undefined;
}

/** Forget the kept recovered machine of the state's check (the nested one stays kept). */
function dropRecovered(): void {
  recovered?.rollback?.cp.release();
  recovered = undefined;
}
const machineUses = new WeakMap<SimMachine, number>();

function machineMark(m: SimMachine): string {
  let clocks = 0;
  for (const c of m.cores) clocks += c.clockCycles;
  return `${clocks}|${m.trace?.length ?? -1}|${m.nvram.ownedPageCount()}|${m.dram.ownedPageCount()}`;
}

/**
 * The recovered machine moved onto `image` (its NVRAM shows `image` except where recovery
 * wrote; its trace's base is `image`; a new read set `lines` starting with recovery's
 * lines), when `image` belongs to the kept machine's recovery class; else undefined.
 */
function reuseRecovered(ctx: JobContext, image: NvramImage, cls: RecoveryClass | undefined, lines: Set<number>, trace: boolean): Recovered | undefined {
  const w = recovered;
  if (w === undefined || cls === undefined || w.cls !== cls || w.ctx !== ctx || machineUses.get(w.o.machine) !== w.use || (w.o.machine.trace !== undefined) !== trace) return undefined;
  const m = w.o.machine;
  if (w.dirty) {
    // A probe ran on it since recovery: back to the checkpoint (nothing else used the machine: same use count).
    w.rollback!.cp.restore();
    w.image = w.rollback!.image;
    w.dirty = false;
    recoveredRollback.rollbacks++;
    phaseCachesOf(ctx).rollback.rollbacks++;
  }
  if (m.trace !== undefined && m.trace.base !== w.image) return undefined;
  const tracker = rebaseKept(m, w.image, image, cls.openSet);
  if (tracker === undefined) return undefined;
  w.image = image;
  if (m.trace !== undefined) m.trace.base = image;
  // The check's read set is recovery's lines (the class's) and the lines read from now on.
  restartTracker(m, tracker, lines, cls.openLines);
  phaseSharing.recoveryReuses++;
  return w;
}

/**
 * Move a kept recovered machine's NVRAM from image `from` onto `to`, keeping the bytes
 * its recovery wrote (PagedMemory.rebaseKeepingWrites; `openSet`: the lines recovery
 * read, on which both images agree): the machine's read tracker, or undefined when the
 * machine is not tracked or cannot be moved (then it is recovered anew).
 */
function rebaseKept(m: SimMachine, from: NvramImage, to: NvramImage, openSet: ReadonlySet<number>): ReadTracker | undefined {
  const tracker = trackers.get(m);
  if (tracker === undefined || m.nvram.track !== tracker) return undefined;
  return m.nvram.rebaseKeepingWrites(from, to, tracker, (l) => openSet.has(l)) ? tracker : undefined;
}

/**
 * Keep the machine as recovered (nothing but reads since `mark`), or, when a probe ran
 * on it (or anything else changed it), with the checkpoint to roll it back to before
 * its next use (`rollback`, taken before the probe); else forget it.
 */
function keepRecovered(ctx: JobContext, image: NvramImage, o: Opened, cls: RecoveryClass | undefined, mark: string, kept: Recovered | undefined, probed: boolean, rollback: Rollback | undefined): void {
  const dirty = probed || machineMark(o.machine) !== mark;
  if (cls === undefined || (dirty && rollback === undefined)) {
    rollback?.cp.release();
    recovered = undefined;
    return;
  }
  if (kept !== undefined) {
    recovered = kept.rollback === rollback ? kept : { ...kept, rollback };
    recovered.dirty = dirty;
    return;
  }
  recovered = { ctx, o, cls, use: machineUses.get(o.machine) ?? 0, mark, image, rollback, dirty };
}

/**
 * A nested image's check (1)-(2) within a shared check: an earlier nested check that
 * read the same bytes (phase-cache.ts), else checked here with its own read set; its
 * lines join the check's read set either way.
 */
function nestedShared(ctx: JobContext, image: NvramImage, outer: Set<number>): unknown {
  const caches = phaseCachesOf(ctx);
  if (!worthSharing(caches, 'nested')) return checkNestedImage(ctx, image);
  const cache = caches.nested;
  let run = cache.find(image);
  countLookup(caches, 'nested', run !== undefined);
  if (run !== undefined) phaseSharing.nestedHits++;
  else {
    phaseSharing.nestedRuns++;
    const own = new Set<number>();
    readSet = own;
    let err: unknown;
    try {
      err = checkNestedImage(ctx, image);
    } finally {
      readSet = outer;
    }
    run = { err, lines: [...own] };
    cache.add(image, run.lines, run.lines.length, run);
  }
  for (const l of run.lines) outer.add(l);
  return run.err;
}

/** Recover a nested image and check (1)-(2): null when it passes, else what was thrown. */
function checkNestedImage(ctx: JobContext, image: NvramImage): unknown {
  const lines = readSet;
  if (lines !== undefined && phaseSharing.enabled && nestedReuse.enabled && worthKeepingNested(ctx)) return checkNestedClassed(ctx, image, lines);
  try {
    oracleStructure(ctx, openOver(ctx, image, false, 1));
    return null;
  } catch (e) {
    return e;
  }
}

/** Set enabled to false to recover every nested image anew (tests compare both); reuses counts the recoveries saved. */
export const nestedReuse = { enabled: true, reuses: 0 };

/**
 * The nested machine (slot 1) as its recovery left it, with that recovery's class (the
 * lines it read), kept while only the structure oracles' peeks happened on it since. Consecutive
 * checks' nested images mostly recover alike (recovery's stores so far rewrote the
 * lines their states differ in): the next one of the class is checked on it, as the
 * state's own check reuses its recovered machine (reuseRecovered).
 */
interface NestedKept {
  readonly ctx: JobContext;
  readonly o: Opened;
  /** The lines its recovery read (first-read order), and as a set. */
  readonly openLines: readonly number[];
  readonly openSet: ReadonlySet<number>;
  readonly use: number;
  /** The image the machine's NVRAM shows. */
  image: NvramImage;
}
let nestedKept: NestedKept | undefined;
/** The kept nested machine's class key: the bytes of the image it recovered on the lines its recovery read. */
const nestedKey = new LineCache<true>(1);

/**
 * A nested image's recovery and oracles (1)-(2) within a shared check (read set
 * `lines`): on the kept nested machine when the image agrees with the one it recovered
 * on every line its recovery read (then recovery's lines join `lines` as if read
 * again), else on a fresh recovery, kept for the next. The structure oracles run in
 * full (sharing them by their read lines, as the state's check does, was measured to
 * cost more than it saves on nvm_malloc's nested images). Null when it passes, else
 * what was thrown.
 */
function checkNestedClassed(ctx: JobContext, image: NvramImage, lines: Set<number>): unknown {
  let o: Opened;
  let openLines: readonly number[];
  let openSet: ReadonlySet<number>;
  const kept = reuseNested(ctx, image, lines);
  nestedKept = undefined;
  const st = nestedStats.get(ctx);
  if (kept !== undefined) {
    ({ o, openLines, openSet } = kept);
    if (st !== undefined) st.reuses++;
  } else {
    if (st !== undefined) st.kept++;
    // Recovery's own read set first (the class's lines), then the check's again.
    const own = new Set<number>();
    readSet = own;
    try {
      o = openOver(ctx, image, false, 1);
    } catch (e) {
      return e;
    } finally {
      readSet = lines;
      for (const l of own) lines.add(l);
    }
    openLines = [...own];
    openSet = own;
    restartTracker(o.machine, trackers.get(o.machine)!, lines, openLines);
  }
  const mark = machineMark(o.machine);
  try {
    oracleStructure(ctx, o);
    return null;
  } catch (e) {
    return e;
  } finally {
    if (machineMark(o.machine) === mark) {
      // A fresh recovery's key replaces the previous one in place (its buffers reused).
      if (kept === undefined) nestedKey.add(image, openLines, openLines.length, true);
      nestedKept = { ctx, o, openLines, openSet, use: machineUses.get(o.machine) ?? 0, image };
    }
  }
}

/** Nested recoveries kept and nested machines reused per job (worthKeepingNested). */
const nestedStats = new WeakMap<JobContext, { kept: number; reuses: number; skipped: number }>();
/** Fresh nested recoveries after which one reuse in NESTED_TRIAL_RATIO is needed to go on keeping them; one in NESTED_RETRY_EVERY is still kept otherwise. */
const NESTED_TRIAL = 32;
const NESTED_TRIAL_RATIO = 8;
const NESTED_RETRY_EVERY = 16;

/**
 * Whether this job still keeps its nested machines for reuse: recording a nested
 * recovery's lines and bytes does not pay when its images never recover alike
 * (Makalu's, whose recovery reads its whole heap). Deterministic; either path gives
 * the same outcome.
 */
function worthKeepingNested(ctx: JobContext): boolean {
  let st = nestedStats.get(ctx);
  if (st === undefined) nestedStats.set(ctx, (st = { kept: 0, reuses: 0, skipped: 0 }));
  return stillPays(st.kept, st.reuses, st, NESTED_TRIAL, NESTED_TRIAL_RATIO, NESTED_RETRY_EVERY);
}

/** The kept nested machine moved onto `image` (recovery's writes kept, read set `lines` holding its recovery's lines), when `image` recovers alike; else undefined. */
function reuseNested(ctx: JobContext, image: NvramImage, lines: Set<number>): NestedKept | undefined {
  const w = nestedKept;
  if (w === undefined || w.ctx !== ctx || machineUses.get(w.o.machine) !== w.use) return undefined;
  const m = w.o.machine;
  if (nestedKey.find(image) === undefined) return undefined;
  const tracker = rebaseKept(m, w.image, image, w.openSet);
  if (tracker === undefined) return undefined;
  w.image = image;
  for (const l of w.openLines) lines.add(l);
  restartTracker(m, tracker, lines, w.openLines);
  nestedReuse.reuses++;
  return w;
}

/** Nested checks skipped because the nested image was the state's own image (tests and reports). */
export const nestedSame = { hits: 0 };

/** Crash recovery at a few of its own crash points, recover again, check (1)-(2). */
function nestedRecovery(ctx: JobContext, o: Opened, points: number, imageHash: ImageHash | undefined): number {
  const trace = o.machine.trace;
  if (points <= 0 || trace === undefined || trace.length === 0) return 0;
  const positions: number[] = [];
  scanCrashPoints(new PersistReplayer(trace, ctx.job.persistency, true), 0, (p) => positions.push(p.pos));
  const inner = positions.filter((p) => p < trace.length);
  if (inner.length === 0) return 0;
  const chosen = new Set<number>();
  for (let j = 0; j < points; j++) chosen.add(inner[Math.floor(((j + 1) * inner.length) / (points + 1))]);
  const memo = imageHash !== undefined ? nestedMemoOf(ctx) : undefined;
  if (points === 1) {
    // One point: the upper image at the middle of recovery's crash points.
    const mid = inner[Math.floor(inner.length / 2)];
    const pre = prefixImage(trace, mid);
    // Recovery's stores so far rewrote what the image held: the nested image is the
    // state's image itself, which recovered and passed (1)-(2) already (the callers run
    // them first), reading the same lines; recovering it again gives the same outcome.
    if (prefixUnchanged(trace, pre)) {
      nestedSame.hits++;
      return 1;
    }
    if (memo !== undefined) return nestedUpperMemoized(ctx, trace, mid, imageHash!, memo, pre);
    // The prefix image is the replayer's upper image at `mid` (prefix.ts), built without
    // a replay; the replayer gives the deviations only for a failure's report.
    const image = pre.image();
    const err = readSet !== undefined && phaseSharing.enabled ? nestedShared(ctx, image, readSet) : checkNestedImage(ctx, image);
    if (err !== null) throw nestedFail(err, mid, upperDeviationsAt(ctx, trace, mid));
    return 1;
  }
  let states = 0;
  const r = new PersistReplayer(trace, ctx.job.persistency);
  if (memo !== undefined) r.assumeBaseHash(imageHash!);
  for (const pos of [...chosen].sort((a, b) => a - b)) {
    r.advanceTo(pos);
    // The upper image (recovery's stores so far all durable), then with two or more
    // points also the lower one (only what recovery had fenced).
    const up = r.upperDeviations();
    const variants: Deviation[][] = points >= 2 && up.length > 0 ? [up, []] : [up];
    for (const devs of variants) {
      states++;
      let err: unknown;
      if (memo === undefined) err = readSet !== undefined && phaseSharing.enabled ? nestedShared(ctx, r.stateImage(devs), readSet) : checkNestedImage(ctx, r.stateImage(devs));
      else {
        const key = hashKey(r.stateHash(devs));
        err = memo.get(key);
        if (err === undefined) memo.set(key, (err = checkNestedImage(ctx, r.stateImage(devs))));
        else checkMemo.nestedHits++;
      }
      if (err !== null) throw nestedFail(err, pos, devs);
    }
  }
  return states;
}

/**
 * One nested point (the default): the upper image at `pos` is the recovery's store
 * prefix over the state's image (sim/persistency/prefix.ts), hashed in O(lines stored)
 * for the memo; the same image and outcome as the replayer path, without a replay.
 */
function nestedUpperMemoized(ctx: JobContext, trace: PersistTrace, pos: number, imageHash: ImageHash, memo: Map<number, unknown>, pre: PrefixImage): number {
  const key = hashKey(prefixHash(trace, pre, imageHash));
  let err = memo.get(key);
  if (err === undefined) memo.set(key, (err = checkNestedImage(ctx, pre.image())));
  else checkMemo.nestedHits++;
  // The failing state's id names its deviations: the replayer gives them.
  if (err !== null) throw nestedFail(err, pos, upperDeviationsAt(ctx, trace, pos));
  return 1;
}

/** The deviations of the upper image at `pos` of a recovery trace (a failing nested state's id). */
function upperDeviationsAt(ctx: JobContext, trace: PersistTrace, pos: number): Deviation[] {
  const r = new PersistReplayer(trace, ctx.job.persistency);
  r.advanceTo(pos);
  return r.upperDeviations();
}

function nestedFail(err: unknown, pos: number, devs: Deviation[]): Fail {
  const f = asFail(err);
  return new Fail('nested-recovery', `crash inside recovery at its event ${pos} (${devs.length === 0 ? 'lower' : 'upper'}), recovered again: ${f.detail}`, f.addrs, { pos, devs });
}

function asFail(e: unknown): Fail {
  if (e instanceof Fail) return e;
  if (e instanceof MisuseError || e instanceof AllocatorMisuseError) {
    return new Fail('recovery-misuse', `${e.name}: ${e.message}`, [e.addr]);
  }
  if (e instanceof CycleBudgetError) return new Fail('recovery-hang', `${e.name}: ${e.message}`, []);
  throw e;
}

/**
 * Membership in a report's keys: the list itself, binary-searched, when it is ascending
 * as the workload contract says (no Set of every key built per checked state); a Set
 * when a workload's list is not.
 */
function keyLookupOf(keys: readonly number[]): KeyLookup {
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1] < keys[i])) return new Set(keys);
  return {
    has(k: number): boolean {
      const i = lowerBound(keys, k);
      return i < keys.length && keys[i] === k;
    },
  };
}

/** Oracles (1)-(2) on the recovered heap, with what the later oracles need: keys, reachable objects, leak. */
function structureOf(ctx: JobContext, o: Opened, shared?: PhaseContext): Structure {
  const { report, reach, allocated } = oracleStructure(ctx, o, shared);
  return { keys: report === undefined ? undefined : keyLookupOf(report.keys), reach, leak: leakOf(allocated, reach) };
}

/** Oracles (1)-(2) for the memory `o` holds after recovery: from the memo (memo.ts) or evaluated (and memoized). */
function memoStructure(ctx: JobContext, o: Opened, memo: RecoveredOutcome | undefined): Structure | Thrown {
  const st = memo?.structure ?? attempt(() => structureOf(ctx, o));
  if (memo !== undefined) memo.structure = st;
  return st;
}

/** f's result, or what it threw. */
function attempt<T>(f: () => T): T | Thrown {
  try {
    return f();
  } catch (e) {
    return { thrown: e };
  }
}

/** The memo entry of the state's recovered memory (memo.ts), when its hash and recovery trace are known. */
function recoveredMemo(ctx: JobContext, o: Opened, image: NvramImage, imageHash: ImageHash | undefined): RecoveredOutcome | undefined {
  const trace = o.machine.trace;
  if (imageHash === undefined || trace === undefined) return undefined;
  return recoveredOutcome(ctx, o.machine, image, imageHash, trace);
}

export function checkImage(ctx: JobContext, image: NvramImage, opts: CheckOptions): CheckOutcome {
  const tracked = opts.trackReads ? new TrackingImage(image) : undefined;
  let recoveryCycles = 0;
  let nestedStates = 0;
  let leaked = 0;
  try {
    try {
      const o = openOver(ctx, tracked ?? image, opts.nestedPoints > 0 && !opts.recoverOnly);
      recoveryCycles = o.stats.cycles;
      if (opts.recoverOnly) return outcome('valid', '', '', 0, recoveryCycles, 0, tracked);
      const memo = recoveredMemo(ctx, o, image, opts.imageHash);
      const st = memoStructure(ctx, o, memo);
      if ('thrown' in st) throw st.thrown;
      leaked = oracleLeak(ctx, st.leak);
      oracleDurability(ctx, st.keys, opts.expectations);
      nestedStates = nestedRecovery(ctx, o, opts.nestedPoints, opts.imageHash);
      const pr = memo?.probe !== undefined ? memo.probe : attempt(() => probe(o, st.reach, opts.probeBlocks));
      if (memo !== undefined) memo.probe = pr;
      if (pr !== null) throw pr.thrown;
    } catch (e) {
      throw asFail(e);
    }
  } catch (e) {
    if (e instanceof Fail) return { ...outcome('invalid', e.anomaly, e.detail, leaked, recoveryCycles, nestedStates, tracked), addrs: e.addrs, nested: e.nested };
    const msg = thrownLabel(e);
    return outcome('unknown', 'checker-error', msg.split('\n')[0], leaked, recoveryCycles, nestedStates, tracked);
  }
  return outcome('valid', '', '', leaked, recoveryCycles, nestedStates, tracked);
}

/** `Name: message` of what was thrown; a plug-in's own error class is named even when it leaves `name` as 'Error'. */
export function thrownLabel(e: unknown): string {
  if (!(e instanceof Error)) return `thrown value ${String(e)}`;
  const ctor = e.constructor?.name;
  return `${e.name === 'Error' && ctor && ctor !== 'Error' ? ctor : e.name}: ${e.message}`;
}

function outcome(verdict: Verdict, anomaly: Anomaly, detail: string, leakedBytes: number, recoveryCycles: number, nestedStates: number, tracked?: TrackingImage): CheckOutcome {
  return { verdict, anomaly, detail, leakedBytes, recoveryCycles, nestedStates, readPages: tracked?.touched, addrs: [] };
}

/** Replay of one nested state: recover `image` with the trace on, crash recovery at `pos` with `devs`, recover again, check (1)-(2). */
export function checkNestedState(ctx: JobContext, image: NvramImage, pos: number, devs: readonly Deviation[]): CheckOutcome {
  let recoveryCycles = 0;
  try {
    try {
      const o = openOver(ctx, image, true);
      recoveryCycles = o.stats.cycles;
      const trace = o.machine.trace!;
      if (pos > trace.length) return outcome('unknown', 'checker-error', `nested point ${pos} beyond the recovery trace (${trace.length} events)`, 0, recoveryCycles, 0);
      const r = new PersistReplayer(trace, ctx.job.persistency);
      r.advanceTo(pos);
      r.validateDeviations(devs);
      try {
        oracleStructure(ctx, openOver(ctx, r.stateImage(devs), false, 1));
      } catch (e) {
        const f = asFail(e);
        throw new Fail('nested-recovery', `crash inside recovery at its event ${pos}, recovered again: ${f.detail}`, f.addrs, { pos, devs: devs.slice() });
      }
    } catch (e) {
      throw asFail(e);
    }
  } catch (e) {
    if (e instanceof Fail) return { ...outcome('invalid', e.anomaly, e.detail, 0, recoveryCycles, 1), addrs: e.addrs, nested: e.nested };
    const msg = thrownLabel(e);
    return outcome('unknown', 'checker-error', msg.split('\n')[0], 0, recoveryCycles, 1);
  }
  return outcome('valid', '', '', 0, recoveryCycles, 1);
}

/**
 * A state's check split at the durability oracle, the only one that depends on the
 * crash point(s) rather than on the image: `finish(expectations)` gives exactly what
 * checkImage(image, {expectations, ...}) gives (same oracle order and verdict rules),
 * and `readLines` holds every NVRAM line whose image content the check read (recovery,
 * oracles (1)-(3), nested recoveries, probe; sim/read-set.ts). The oracles after
 * durability (nested, probe) are always run here, so their reads count whatever the
 * expectations are (a superset of the read set: sound).
 */
export interface SharedCheck {
  readonly readLines: LineSet;
  /**
   * The image's recovery class when recovery completed (phase-cache.ts; `known`: the
   * class the caller found for the image, undefined when none matched), and how many of
   * the first readLines recovery read.
   */
  readonly cls?: RecoveryClass;
  readonly openLines?: number;
  finish(expectations: readonly Expectation[]): CheckOutcome;
}

export function checkShared(ctx: JobContext, image: NvramImage, nestedPoints: number, probeBlocks: number, known?: RecoveryClass): SharedCheck {
  const lines = new Set<number>();
  let cls: RecoveryClass | undefined;
  let openLines = 0;
  // The class whose recovered machine was reused (its recovery lines are not in `lines`).
  let reused: RecoveryClass | undefined;
  let recoveryCycles = 0;
  let nestedStates = 0;
  let leaked = 0;
  let keys: KeyLookup | undefined;
  let early: CheckOutcome | undefined;
  // What nested recovery or the probe threw (checked after durability), and nestedStates then.
  let late: { e: unknown; nestedStates: number } | undefined;
  readSet = lines;
  try {
    try {
      // Recovery: on the kept recovered machine when the image recovers alike, else run.
      const kept = phaseSharing.enabled ? reuseRecovered(ctx, image, known, lines, nestedPoints > 0) : undefined;
      reused = kept?.cls;
      // A machine not reused is about to be recovered again (or another one used): the
      // kept one and its checkpoint are done with. A reused one is kept again at the end.
      if (kept === undefined) dropRecovered();
      else recovered = undefined;
      const o = kept?.o ?? openOver(ctx, image, nestedPoints > 0);
      openLines = lines.size;
      const mark = machineMark(o.machine);
      // The checkpoint of the recovered machine (checkpoint.ts) this check can roll back to.
      let rollback = kept?.rollback;
      cls = phaseSharing.enabled ? (known ?? addRecoveryClass(ctx, image, lines, openLines)) : undefined;
      if (cls !== undefined && kept === undefined) cls.recoveries++;
      let probed = false;
      recoveryCycles = o.stats.cycles;
      try {
        const st = structureOf(ctx, o, cls !== undefined ? { ctx, o, cls, image, lines } : undefined);
        leaked = oracleLeak(ctx, st.leak);
        keys = st.keys;
        try {
          nestedStates = nestedRecovery(ctx, o, nestedPoints, undefined);
          if (cls !== undefined) {
            const p = probeShared(o, cls, image, lines, st.reach, probeBlocks, () => {
              // The machine is about to leave the state recovery left it in: checkpointed
              // first (unless an earlier check of the class did), to be rolled back to.
              if (rollback === undefined && cls!.recoveries >= CHECKPOINT_AFTER_RECOVERIES && machineMark(o.machine) === mark) rollback = captureRecovered(ctx, o, image);
            });
            probed = p.ran;
            probeVerdict(p.run, st.reach);
          } else probe(o, st.reach, probeBlocks);
        } catch (e) {
          late = { e, nestedStates };
        }
      } finally {
        keepRecovered(ctx, image, o, cls, mark, kept, probed, rollback);
      }
    } catch (e) {
      throw asFail(e);
    }
  } catch (e) {
    early = failOutcome(e, leaked, recoveryCycles, nestedStates);
  } finally {
    readSet = undefined;
  }
  return {
    readLines: reused !== undefined ? new ClassReadLines(reused.openLines, reused.openSet, lines) : lines,
    cls,
    openLines: reused !== undefined ? reused.openLines.length : openLines,
    finish(exps) {
      if (early !== undefined) return early;
      try {
        oracleDurability(ctx, keys, exps);
      } catch (e) {
        return failOutcome(e, leaked, recoveryCycles, 0);
      }
      if (late === undefined) return outcome('valid', '', '', leaked, recoveryCycles, nestedStates);
      let f: unknown;
      try {
        f = asFail(late.e);
      } catch (e) {
        f = e;
      }
      return failOutcome(f, leaked, recoveryCycles, late.nestedStates);
    },
  };
}

/**
 * A reused check's read set: recovery's lines (the class's, first, in first-read order)
 * and the lines read after them (`rest`, which may repeat some of recovery's).
 */
class ClassReadLines implements LineSet {
  private n = -1;
  constructor(
    private readonly open: readonly number[],
    private readonly openSet: ReadonlySet<number>,
    private readonly rest: ReadonlySet<number>,
  ) {}
  has(l: number): boolean {
    return this.openSet.has(l) || this.rest.has(l);
  }
  get size(): number {
    if (this.n < 0) {
      let extra = 0;
      for (const l of this.rest) if (!this.openSet.has(l)) extra++;
      this.n = this.open.length + extra;
    }
    return this.n;
  }
  *[Symbol.iterator](): Iterator<number> {
    yield* this.open;
    yield* this.afterRecovery();
  }
  /** The lines read after recovery that recovery did not read. */
  afterRecovery(): number[] {
    const out: number[] = [];
    for (const l of this.rest) if (!this.openSet.has(l)) out.push(l);
    return out;
  }
}

/** The lines of a shared check's read set after its first `openLines` (those recovery read). */
export function linesAfterRecovery(sh: SharedCheck): number[] {
  if (sh.readLines instanceof ClassReadLines) return sh.readLines.afterRecovery();
  const after: number[] = [];
  const skip = sh.openLines ?? 0;
  let i = 0;
  for (const l of sh.readLines) if (i++ >= skip) after.push(l);
  return after;
}

/** A check's read set: the NVRAM lines (region-relative indices) whose image content it read. */
export interface LineSet {
  has(line: number): boolean;
  readonly size: number;
  [Symbol.iterator](): Iterator<number>;
}

/** checkImage's outcome for what a check threw (a Fail, else a checker error). */
function failOutcome(e: unknown, leaked: number, recoveryCycles: number, nestedStates: number): CheckOutcome {
  if (e instanceof Fail) return { ...outcome('invalid', e.anomaly, e.detail, leaked, recoveryCycles, nestedStates), addrs: e.addrs, nested: e.nested };
  const msg = thrownLabel(e);
  return outcome('unknown', 'checker-error', msg.split('\n')[0], leaked, recoveryCycles, nestedStates);
}
