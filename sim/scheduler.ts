/**
 * The multi-core scheduler.
 *
 * Model: N threads, thread i on core i, each with a stream of operations. The core
 * with the smallest clock goes next (ties by core id), and an operation runs to
 * completion before another starts. This is a discrete-event approximation: two
 * operations never interleave at instruction level, so contention appears only as
 * (a) coherence transfers when a core touches a line another core holds (the cache model
 * of sim/coherence.ts) and (b) lock waits: Core.lock (sim/core.ts) makes the acquirer wait
 * until the last release of that lock word by another core (lockWaitCycles), then takes
 * the word with a real cas through the caches, which pays the line transfer from the
 * releasing core (coherenceTransfers, coherenceTransferCycles): in total the holder's
 * release time plus one line transfer, even though the holder's operation already ran
 * to completion. The release time is recorded at the holder's unlock (a store of 0). An operation may report 'blocked' (e.g. a consumer
 * finding its queue empty): its core then waits in simulated time until just past the
 * next-smallest clock among the other unfinished cores, and retries.
 *
 * Invariants: deterministic (no host time); every op is bracketed by beginOp/endOp in
 * the trace; a round in which every unfinished core is blocked raises 'deadlock'.
 */
import type { Core, Machine } from './api.ts';
import { MisuseError } from './errors.ts';

export type StepResult = 'done' | 'blocked';

export interface ScheduleHooks {
  /** Called after each completed op (global order), e.g. for progress or history. */
  afterOp?(thread: number, opIndex: number, core: Core): void;
}

/**
 * Run `opCounts[t]` operations on thread t (core t) with `step(core, thread, opIndex)`.
 * Returns the global completion order as [thread, opIndex] pairs flattened.
 */
export function runSchedule(
  machine: Machine,
  opCounts: readonly number[],
  step: (core: Core, thread: number, opIndex: number) => StepResult,
  hooks: ScheduleHooks = {},
): void {
  const threads = opCounts.length;
  if (threads > machine.cores.length) throw new RangeError(`${threads} threads need ${threads} cores; the machine has ${machine.cores.length}`);
  const next = new Array<number>(threads).fill(0);
  const blocked = new Array<boolean>(threads).fill(false);
  let remaining = 0;
  for (const n of opCounts) remaining += n;
  while (remaining > 0) {
    const t = pickThread(machine, opCounts, next);
    const core = machine.core(t);
    const i = next[t];
    machine.beginOp(t, t, i);
    const r = step(core, t, i);
    if (r === 'done') {
      machine.endOp(t, t, i);
      next[t]++;
      remaining--;
      blocked.fill(false);
      hooks.afterOp?.(t, i, core);
      continue;
    }
    blocked[t] = true;
    if (allBlocked(opCounts, next, blocked)) throw new MisuseError('deadlock', 0, t, 'every unfinished thread is blocked');
    core.waitUntil(nextOtherClock(machine, opCounts, next, t) + 1);
  }
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
