/**
 * The multi-core scheduler.
 *
 * Model: N threads, thread i on core i, each with a stream of operations. An operation is
 * either one step (the step function returns 'done' or 'blocked') or a sequence of steps
 * (it returns an iterator that yields between steps, typically between allocator calls;
 * its return value is the op's result). The core with the smallest clock runs its next
 * step (ties by core id), so cores interleave at step boundaries in simulated-time order,
 * whatever the grouping of steps into ops: an op of N calls that yields between them gives
 * the same schedule, cycles and lock waits as N ops of one call (a property test checks).
 * Inside a step, locks are resolved against each lock's hold timeline (sim/locks.ts), so a
 * core waits only for holds that overlap its own time; contention appears as lock waits
 * (spin, sleep, wake) and as coherence transfers when a core touches a line another core
 * holds (sim/coherence.ts).
 *
 * An op may report 'blocked' from its first step (e.g. a consumer finding its queue
 * empty): its core then waits in simulated time until just past the next-smallest clock
 * among the other unfinished cores, and retries the op.
 *
 * Invariants: deterministic (no host time); every op is bracketed by beginOp/endOp in the
 * trace; a step ends holding no lock; a round in which every unfinished core is blocked
 * raises 'deadlock' naming every core, its op and what it waits on.
 */
import type { Core, Machine } from './api.ts';
import { MisuseError } from './errors.ts';
import type { LockTable } from './locks.ts';

export type StepResult = 'done' | 'blocked';
/** An op of several steps: yields between steps, returns the op's result. */
export type OpSteps = Iterator<unknown, StepResult, undefined>;

export interface ScheduleHooks {
  /** Called after each completed op (global order), e.g. for progress or history. */
  afterOp?(thread: number, opIndex: number, core: Core): void;
  /** Names what a blocked op waits on, for the deadlock report (e.g. "queue 3 empty"). */
  describeBlocked?(thread: number, opIndex: number): string;
}

interface Machineish extends Machine {
  readonly locks?: LockTable;
}

/**
 * Run `opCounts[t]` operations on thread t (core t) with `step(core, thread, opIndex)`.
 */
export function runSchedule(
  machine: Machine,
  opCounts: readonly number[],
  step: (core: Core, thread: number, opIndex: number) => StepResult | OpSteps,
  hooks: ScheduleHooks = {},
): void {
  const threads = opCounts.length;
  if (threads > machine.cores.length) throw new RangeError(`${threads} threads need ${threads} cores; the machine has ${machine.cores.length}`);
  const locks = (machine as Machineish).locks;
  const next = new Array<number>(threads).fill(0);
  const blocked = new Array<boolean>(threads).fill(false);
  /** Whether some entry of `blocked` is true (a completed op clears them all). */
  let anyBlocked = false;
  const active: (OpSteps | undefined)[] = new Array(threads).fill(undefined);
  let remaining = 0;
  for (const n of opCounts) remaining += n;
  while (remaining > 0) {
    const t = pickThread(machine, opCounts, next);
    const core = machine.core(t);
    locks?.setHorizon(core.clockCycles);
    const i = next[t];
    const r = runStep(machine, core, t, i, active, step);
    if (locks !== undefined) checkNoLockHeld(locks, core, t, i);
    if (r === undefined) continue;
    if (r === 'done') {
      machine.endOp(t, t, i);
      next[t]++;
      remaining--;
      if (anyBlocked) {
        blocked.fill(false);
        anyBlocked = false;
      }
      hooks.afterOp?.(t, i, core);
      continue;
    }
    blocked[t] = true;
    anyBlocked = true;
    if (allBlocked(opCounts, next, blocked)) throw deadlock(opCounts, next, t, hooks);
    core.waitUntil(nextOtherClock(machine, opCounts, next, t) + 1);
  }
}

/** One step of thread t's current op; undefined when the op yielded (more steps to come). */
function runStep(
  machine: Machine,
  core: Core,
  t: number,
  i: number,
  active: (OpSteps | undefined)[],
  step: (core: Core, thread: number, opIndex: number) => StepResult | OpSteps,
): StepResult | undefined {
  let it = active[t];
  const first = it === undefined;
  if (it === undefined) {
    machine.beginOp(t, t, i);
    const r = step(core, t, i);
    if (typeof r === 'string') return r;
    it = r;
  }
  const res = it.next();
  if (res.done !== true) {
    active[t] = it;
    return undefined;
  }
  active[t] = undefined;
  if (res.value === 'blocked' && !first) {
    throw new MisuseError('deadlock', 0, t, `op ${i} of thread ${t} reported 'blocked' after it had run steps (only an op's first step may block)`);
  }
  return res.value;
}

function checkNoLockHeld(locks: LockTable, core: Core, t: number, i: number): void {
  if (!locks.holdsAny(core.id)) return;
  const held = locks.heldBy(core.id);
  if (held.length === 0) return;
  const list = held.map((a) => `0x${a.toString(16)}`).join(', ');
  throw new MisuseError('lock-misuse', held[0], core.id, `op ${i} of thread ${t} ended a step holding lock(s) ${list} (release locks before the step ends)`);
}

function deadlock(opCounts: readonly number[], next: readonly number[], t: number, hooks: ScheduleHooks): MisuseError {
  const parts: string[] = [];
  for (let u = 0; u < opCounts.length; u++) {
    if (next[u] >= opCounts[u]) continue;
    const what = hooks.describeBlocked?.(u, next[u]);
    parts.push(`core ${u} op ${next[u]}${what ? ` (${what})` : ''}`);
  }
  return new MisuseError('deadlock', 0, t, `every unfinished core is blocked: ${parts.join('; ')}`);
}

function pickThread(machine: Machine, opCounts: readonly number[], next: number[]): number {
  let best = -1;
  let bestClock = Infinity;
  for (let t = 0; t < opCounts.length; t++) {
    if (next[t] >= opCounts[t]) continue;
    const c = machine.cores[t].clockCycles;
    if (c < bestClock) {
      best = t;
      bestClock = c;
    }
  }
  return best;
}

function allBlocked(opCounts: readonly number[], next: number[], blocked: boolean[]): boolean {
  for (let t = 0; t < opCounts.length; t++) if (next[t] < opCounts[t] && !blocked[t]) return false;
  return true;
}

function nextOtherClock(machine: Machine, opCounts: readonly number[], next: number[], self: number): number {
  let m = Infinity;
  for (let t = 0; t < opCounts.length; t++) {
    if (t === self || next[t] >= opCounts[t]) continue;
    m = Math.min(m, machine.cores[t].clockCycles);
  }
  return m === Infinity ? machine.cores[self].clockCycles : Math.max(m, machine.cores[self].clockCycles);
}
