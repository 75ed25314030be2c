/**
 * What plug-in code a worker thread is running right now, for the watchdog (pool.ts).
 *
 * Model: a worker thread installs a small SharedArrayBuffer (installActivity); the
 * allocator and workload objects a task uses are wrapped (watchFactory, watchWorkload)
 * so that each call into them writes its phase (malloc, recovery, verify, ...), the
 * simulated thread and the count of ops started into that buffer before it runs, and
 * restores the previous phase after it returns. When the task overruns its budget the
 * main thread reads the buffer (readActivity) to say where the code was stuck, then
 * terminates the worker.
 *
 * The budget of a task starts when it calls budgetStarts (modules loaded).
 *
 * Invariants: wrapping changes no result (each call is delegated unchanged, with the
 * original object as `this`); without an installed buffer nothing is wrapped, so
 * in-process callers (replay, tests) pay nothing.
 */
import { parentPort } from 'node:worker_threads';
import type { Allocator, AllocatorFactory } from '../allocators/contract.ts';
import type { Workload } from '../workloads/contract.ts';

/** Phase names; the index is what the shared buffer holds. */
export const PHASES = [
  'idle', 'loading modules', 'contract suite', 'nvlab code between plug-in calls', 'generate', 'format', 'setup', 'op', 'malloc', 'free', 'mallocTo', 'freeFrom',
  'setRoot', 'getRoot', 'rootAddress', 'recovery (open)', 'close', 'walkHeap', 'checkConsistency', 'stats', 'verify', 'expectedKeys', 'validate',
] as const;
export type Phase = (typeof PHASES)[number];

const SLOT_PHASE = 0;
const SLOT_THREAD = 1;
const SLOT_OPS = 2;
const SLOT_OPENS = 3;
/** 1 + the phase code where the task's first exception left plug-in code (0: none yet). */
const SLOT_FAULT = 4;
export const ACTIVITY_SLOTS = 5;

let slots: Int32Array | undefined;
let taskId = 0;

/** The pool's id of the task this worker runs (echoed in its messages). */
export function setTaskId(id: number): void {
  taskId = id;
}

export function installActivity(sab: SharedArrayBuffer): void {
  slots = new Int32Array(sab);
}

export function watching(): boolean {
  return slots !== undefined;
}

/** Enter `phase`; returns the previous phase code for `leave`. */
export function enter(phase: Phase): number {
  if (slots === undefined) return 0;
  const prev = slots[SLOT_PHASE];
  slots[SLOT_PHASE] = PHASES.indexOf(phase);
  return prev;
}

export function leave(prev: number): void {
  if (slots !== undefined) slots[SLOT_PHASE] = prev;
}

/**
 * The task has loaded its modules and now runs plug-in code: the budget starts here
 * (pool.ts), so module loading, slow on a busy machine, never counts against it.
 */
export function budgetStarts(phase: Phase): void {
  resetActivity(phase);
  if (slots !== undefined) parentPort?.postMessage({ id: taskId, started: true });
}

/** Reset at the start of a task. */
export function resetActivity(phase: Phase): void {
  if (slots === undefined) return;
  slots.fill(0);
  slots[SLOT_PHASE] = PHASES.indexOf(phase);
}

export interface Activity {
  readonly phase: Phase;
  /** Simulated thread of the last op started (ops phase and below). */
  readonly thread: number;
  /** Ops started so far in this task. */
  readonly opsStarted: number;
  /** Recoveries (allocator.open) started so far in this task (crash states, nested ones included). */
  readonly opensStarted: number;
  /** Where the task's first exception came out of plug-in code, if one did (the phase at that moment). */
  readonly faultPhase?: Phase;
}

export function readActivity(view: Int32Array): Activity {
  const fault = view[SLOT_FAULT];
  return { phase: PHASES[view[SLOT_PHASE]] ?? 'idle', thread: view[SLOT_THREAD], opsStarted: view[SLOT_OPS], opensStarted: view[SLOT_OPENS], ...(fault > 0 ? { faultPhase: PHASES[fault - 1] } : {}) };
}

/** Where a task that threw was: its fault phase, or '' when no plug-in call threw. */
export function describeFault(a: Activity): string {
  return a.faultPhase === undefined ? '' : describeActivity({ ...a, phase: a.faultPhase });
}

/** "malloc in op #12 (thread 0)" / "recovery (open) of recovered image #3". */
export function describeActivity(a: Activity): string {
  if (a.phase === 'recovery (open)' || ((a.phase === 'verify' || a.phase === 'checkConsistency' || a.phase === 'walkHeap') && a.opensStarted > 0)) {
    return `${a.phase} of recovered image #${a.opensStarted}`;
  }
  if (a.phase === 'op') return `op #${a.opsStarted} (thread ${a.thread})`;
  if (a.opsStarted > 0 && a.phase !== 'generate' && a.phase !== 'format' && a.phase !== 'setup') return `${a.phase} in op #${a.opsStarted} (thread ${a.thread})`;
  return a.phase;
}

type Fn = (...args: never[]) => unknown;

function watched<T extends object>(target: T, phases: Partial<Record<keyof T, Phase>>, before?: (name: keyof T, args: unknown[]) => void): T {
  // Own fields copied too, so a caller spreading the object ({ ...w }) keeps them.
  const out = Object.assign(Object.create(target) as T, target);
  for (const [name, phase] of Object.entries(phases) as [keyof T, Phase][]) {
    const f = target[name] as unknown as Fn | undefined;
    if (typeof f !== 'function') continue;
    Object.defineProperty(out, name, {
      writable: true, enumerable: true, configurable: true,
      value: (...args: never[]) => {
        const prev = enter(phase);
        before?.(name, args);
        try {
          return f.apply(target, args);
        } catch (e) {
          if (slots !== undefined && slots[SLOT_FAULT] === 0) slots[SLOT_FAULT] = PHASES.indexOf(phase) + 1;
          throw e;
        } finally {
          leave(prev);
        }
      },
    });
  }
  return out;
}

const ALLOCATOR_PHASES: Partial<Record<keyof Allocator, Phase>> = {
  format: 'format', open: 'recovery (open)', close: 'close', malloc: 'malloc', free: 'free', mallocTo: 'mallocTo', freeFrom: 'freeFrom',
  setRoot: 'setRoot', getRoot: 'getRoot', rootAddress: 'rootAddress', walkHeap: 'walkHeap', checkConsistency: 'checkConsistency', stats: 'stats',
};

function countOpen(name: keyof Allocator): void {
  if (name === 'open' && slots !== undefined) slots[SLOT_OPENS]++;
}

/** The factory with every allocator it creates watched (the factory itself unchanged otherwise). */
export function watchFactory(factory: AllocatorFactory): AllocatorFactory {
  if (slots === undefined) return factory;
  const out = Object.assign(Object.create(factory) as AllocatorFactory, factory);
  Object.defineProperty(out, 'create', { writable: true, enumerable: true, configurable: true, value: (machine: Parameters<AllocatorFactory['create']>[0]) => watched(factory.create(machine), ALLOCATOR_PHASES, countOpen) });
  return out;
}

function countOp(name: string, args: unknown[]): void {
  if (name !== 'runOp' || slots === undefined) return;
  slots[SLOT_THREAD] = args[2] as number;
  slots[SLOT_OPS]++;
}

/** The workload with its hooks watched. */
export function watchWorkload<W extends Workload<any>>(workload: W): W {
  if (slots === undefined) return workload;
  const phases = { validate: 'validate', generate: 'generate', setup: 'setup', runOp: 'op', verify: 'verify', expectedKeys: 'expectedKeys' } as Partial<Record<keyof W, Phase>>;
  return watched(workload, phases, countOp as (name: keyof W, args: unknown[]) => void);
}
