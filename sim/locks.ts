/**
 * Locks in simulated time: each lock word is a resource with a timeline of hold intervals.
 *
 * Model. The scheduler (sim/scheduler.ts) runs one step at a time (one allocator call with
 * the workload code around it), always on the core with the smallest clock, so steps
 * start in simulated-time order and a step runs to its end before another starts. A lock
 * taken inside a step is therefore resolved against a timeline, not against the word's
 * last release: the lock is granted at the requesting core's own time when no recorded
 * hold covers that time, and otherwise when the covering holds end (so a core is never
 * made to wait for holds that lie in its future). Contention costs follow glibc's default
 * pthread mutex (Makalu's and PMDK's locks): one CAS, then futex_wait,
 * which returns at once when the holder released the word before the waiter got into
 * the kernel, so a short hold is waited out without sleeping (measured: a 250 ns window,
 * `nvlab calibrate`). jemalloc's malloc_mutex spins longer before it blocks; transient
 * declares its locks 'spin' for that reason (allocators/transient):
 * - a waiter whose wait would be at most `mutexSpinCycles` spins: it takes the lock when
 *   the holder releases it, plus `mutexHandoffPerWaiterCycles` for every other core
 *   spinning at that moment (each waiter re-reads the lock line after the release's
 *   invalidation, and the winner's CAS must take it back: transfers grow with waiters);
 * - a longer waiter sleeps in the kernel (futex) and runs again `mutexWakeCycles` after
 *   the release; the lock stays free meanwhile, so other cores may barge in (glibc
 *   mutexes are not fair), in which case the sleeper waits for that hold too;
 * - a spin lock (`kind` 'spin') never sleeps.
 * The CAS that takes the word (Core.lock) still goes through the caches and pays the line
 * transfer from the previous holder's cache.
 *
 * Causality. Holds are recorded in the order steps run. A step that starts later but
 * requests the lock earlier than an already recorded hold gets the gap before it when its
 * hold fits; when its hold turns out (at release) to overlap a later recorded hold, the
 * hold is moved after that one and the core waits the difference (lockWaitCycles): both
 * orders are valid serialisations, and the one chosen is the recorded one. The error this
 * leaves is bounded by the part of one step before its lock request, which is why steps
 * are single allocator calls (workloads yield between calls).
 *
 * Invariants: holds of one lock never overlap; a lock must be initialised before use
 * (core.initLock, or a zero word in DRAM reserved with reserveDram, which is a static
 * mutex as PTHREAD_MUTEX_INITIALIZER is; NVRAM lock words must be initialised after
 * every restart); only its holder releases it; a step ends holding no lock (the scheduler
 * checks); holds wholly before the scheduler's horizon (the smallest clock of the cores
 * that can still run) are dropped, since no request can come earlier.
 */
import type { CostModel } from './cost-model.ts';
import { MisuseError } from './errors.ts';

export type LockKind = 'mutex' | 'spin';

interface Hold {
  core: number;
  requestCycles: number;
  acquireCycles: number;
  /** Release time; Infinity while the hold is open. */
  releaseCycles: number;
}

interface LockState {
  readonly kind: LockKind;
  /** Holds sorted by acquireCycles, pairwise disjoint. */
  holds: Hold[];
  /** The open hold, while a step holds the lock. */
  open: Hold | undefined;
}

/** What an acquisition cost: where the core's clock goes and how much of it was waiting. */
export interface Grant {
  readonly acquireCycles: number;
  readonly waitCycles: number;
}

export class LockTable {
  private readonly locks = new Map<number, LockState>();
  /** Open holds per core id (the scheduler's end-of-step check is O(1) when 0). */
  private readonly openCount: number[] = [];
  private horizonCycles = 0;
  /** Holds pruned from every timeline, reused by later acquisitions (host memory only). */
  private readonly spareHolds: Hold[] = [];

  /**
   * `zeroInitialised(addr)`: true where a never-initialised lock word is a valid mutex,
   * as a zero-filled static pthread mutex is (memory reserved with reserveDram).
   */
  constructor(
    private readonly cost: CostModel,
    private readonly zeroInitialised: (addr: number) => boolean,
  ) {}

  /** Register (or re-initialise) the lock word at addr; the word must be released. */
  init(addr: number, kind: LockKind, coreId: number): void {
    const held = this.locks.get(addr)?.open;
    if (held !== undefined) throw new MisuseError('lock-misuse', addr, coreId, `initLock of a lock held by core ${held.core}`);
    this.locks.set(addr, { kind, holds: [], open: undefined });
  }

  isInitialised(addr: number): boolean {
    return this.locks.has(addr);
  }

  /** No request can come before this time (the smallest clock among runnable cores). */
  setHorizon(cycles: number): void {
    this.horizonCycles = cycles;
  }

  /** The core `coreId` asks for the lock at `nowCycles`; returns when it gets it. */
  acquire(addr: number, coreId: number, nowCycles: number): Grant {
    const at = this.acquireAt(addr, coreId, nowCycles);
    return { acquireCycles: at, waitCycles: at - nowCycles };
  }

  /** acquire() without the Grant object: the time the core gets the lock (Core.lock's path). */
  acquireAt(addr: number, coreId: number, nowCycles: number): number {
    const s = this.state(addr, coreId);
    if (s.open !== undefined) {
      const who = s.open.core === coreId ? 'this core already holds it (locks are not recursive)' : `held by core ${s.open.core}`;
      throw new MisuseError('lock-misuse', addr, coreId, `lock requested while ${who}`);
    }
    this.prune(s);
    const at = this.grantTime(s, coreId, nowCycles);
    s.open = this.newHold(coreId, nowCycles, at);
    this.openCount[coreId] = (this.openCount[coreId] ?? 0) + 1;
    return at;
  }

  private newHold(core: number, requestCycles: number, acquireCycles: number): Hold {
    const h = this.spareHolds.pop();
    if (h === undefined) return { core, requestCycles, acquireCycles, releaseCycles: Infinity };
    h.core = core;
    h.requestCycles = requestCycles;
    h.acquireCycles = acquireCycles;
    h.releaseCycles = Infinity;
    return h;
  }

  /**
   * The holder releases at `nowCycles`. Returns the cycles the core must add because its
   * hold overlapped a recorded hold (it is moved after it; see Causality), usually 0.
   */
  release(addr: number, coreId: number, nowCycles: number): number {
    const s = this.state(addr, coreId);
    const h = s.open;
    if (h === undefined || h.core !== coreId) {
      const who = h === undefined ? 'nobody holds it' : `it is held by core ${h.core}`;
      throw new MisuseError('lock-misuse', addr, coreId, `unlock by core ${coreId}, but ${who}`);
    }
    s.open = undefined;
    this.openCount[coreId]--;
    const lengthCycles = nowCycles - h.acquireCycles;
    const start = this.firstFit(s.holds, h.acquireCycles, lengthCycles);
    const shift = start - h.acquireCycles;
    h.acquireCycles = start;
    h.releaseCycles = start + lengthCycles;
    insertSorted(s.holds, h);
    return shift;
  }

  /** True when coreId holds some lock (the scheduler's end-of-step check; O(1)). */
  holdsAny(coreId: number): boolean {
    return (this.openCount[coreId] ?? 0) !== 0;
  }

  /** Locks currently held by coreId (for the scheduler's end-of-step check). */
  heldBy(coreId: number): number[] {
    const out: number[] = [];
    if ((this.openCount[coreId] ?? 0) === 0) return out;
    for (const [addr, s] of this.locks) if (s.open?.core === coreId) out.push(addr);
    return out;
  }

  clear(): void {
    this.locks.clear();
    this.openCount.length = 0;
    this.horizonCycles = 0;
  }

  private state(addr: number, coreId: number): LockState {
    let s = this.locks.get(addr);
    if (s === undefined) {
      if (!this.zeroInitialised(addr)) {
        throw new MisuseError('lock-misuse', addr, coreId, 'lock used before init: the word is not in DRAM reserved with reserveDram (zero-filled, a valid static mutex) and was never initialised with core.initLock');
      }
      s = { kind: 'mutex', holds: [], open: undefined };
      this.locks.set(addr, s);
    }
    return s;
  }

  /**
   * When a request at `t` is granted, under the spin-then-sleep rules of the header. A
   * spinning waiter pays one handoff per other spinner at the release it wins, and one
   * per release it saw another core win (that waiter's presence slowed that handoff,
   * which delays every later one).
   */
  private grantTime(s: LockState, coreId: number, t: number): number {
    let at = t;
    let slept = false;
    let passed = 0;
    for (let i = coveringFrom(s.holds, at); i < s.holds.length; i++) {
      const h = s.holds[i];
      if (h.acquireCycles > at) break;
      if (h.releaseCycles <= at) continue;
      const release = h.releaseCycles;
      if (!slept && s.kind === 'mutex' && release - t > this.cost.mutexSpinCycles) slept = true;
      at = slept ? release + this.cost.mutexWakeCycles : release + this.cost.mutexHandoffPerWaiterCycles * (passed + spinnersAt(s.holds, release, coreId));
      passed++;
    }
    return at;
  }

  /** The first start >= from where [start, start + length) overlaps no hold. */
  private firstFit(holds: readonly Hold[], from: number, lengthCycles: number): number {
    let start = from;
    for (let i = coveringFrom(holds, start); i < holds.length; i++) {
      const h = holds[i];
      if (h.releaseCycles <= start) continue;
      if (h.acquireCycles >= start + lengthCycles) break;
      start = h.releaseCycles;
    }
    return start;
  }

  /** Drop the holds that end by the horizon (the oldest first), keeping their objects for reuse. */
  private prune(s: LockState): void {
    const holds = s.holds;
    const len = holds.length;
    let n = 0;
    while (n < len && holds[n].releaseCycles <= this.horizonCycles) n++;
    if (n === 0) return;
    const spare = this.spareHolds;
    for (let i = 0; i < n; i++) if (spare.length < SPARE_HOLDS_MAX) spare.push(holds[i]);
    for (let i = n; i < len; i++) holds[i - n] = holds[i];
    // pop, not `length = len - n`: setting a length of 0 drops the array's backing store,
    // and the next hold's push allocates a new one (two locks an op: most of a run's garbage).
    for (let i = 0; i < n; i++) holds.pop();
  }
}

/** Index of the first hold that may cover or follow time t (holds sorted and disjoint). */
function coveringFrom(holds: readonly Hold[], t: number): number {
  let lo = 0;
  let hi = holds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holds[mid].releaseCycles <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Other cores waiting (requested, not yet acquired) at time t, as recorded so far. */
function spinnersAt(holds: readonly Hold[], t: number, self: number): number {
  let n = 0;
  for (const h of holds) if (h.core !== self && h.requestCycles <= t && h.acquireCycles > t) n++;
  return n;
}

function insertSorted(holds: Hold[], h: Hold): void {
  let i = holds.length;
  while (i > 0 && holds[i - 1].acquireCycles > h.acquireCycles) i--;
  if (i === holds.length) holds.push(h);
  else holds.splice(i, 0, h);
}

/** Pruned holds kept for reuse per table (a bound on host memory only). */
const SPARE_HOLDS_MAX = 64;
