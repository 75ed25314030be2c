/**
 * Executors: where tasks run. Every task runs in a worker thread (worker.mjs registers
 * bin/ts-hooks.mjs so the threads run the TypeScript sources), even with one worker,
 * so a watchdog can stop plug-in code that never returns.
 *
 * Model: a small pool of N threads, started lazily on the first task (a resumed folder
 * with nothing left to run starts none). A thread takes one task at a time; tasks start
 * in submission order. Each task has a host wall-clock budget, counted from the moment
 * it has loaded its modules (its `started` message; loading itself gets LOAD_BUDGET_MS
 * or the budget, whichever is larger): past it, the thread is
 * terminated, the task fails with a TaskTimeout naming the phase the plug-in code was in
 * (activity.ts), and a fresh thread replaces it, so the rest of the study goes on. A
 * thread that dies outside a task result (process.exit or an asynchronous throw in
 * plug-in code) fails its task with a WorkerDied; a task that throws fails with a
 * TaskFailed carrying the error's name, message and stack (never printed raw).
 *
 * Invariants: a task's result depends only on its payload, so any executor gives the
 * same results; the caller orders results by task index, not by completion; close()
 * settles every pending task (rejecting those not done with PoolClosed) and leaves no
 * promise rejected unobserved.
 */
import { Worker } from 'node:worker_threads';
import { ACTIVITY_SLOTS, readActivity, type Activity } from './activity.ts';
import type { TaskOutput, TaskPayload } from './task.ts';

/** An error thrown inside a task, as it crossed the thread boundary. */
export interface RemoteError {
  readonly name: string;
  readonly message: string;
  readonly stack: string;
  /** A UserError (or a known bad-input error such as WorkloadParamError) in the worker. */
  readonly user: boolean;
}

export class TaskTimeout extends Error {
  override name = 'TaskTimeout';
  constructor(readonly budgetMs: number, readonly activity: Activity) {
    super(`still running after its ${formatBudget(budgetMs)} budget`);
  }
}

export class TaskFailed extends Error {
  override name = 'TaskFailed';
  constructor(readonly remote: RemoteError, readonly activity: Activity) {
    super(`${remote.name}: ${remote.message.split('\n')[0]}`);
  }
}

export class WorkerDied extends Error {
  override name = 'WorkerDied';
  constructor(readonly detail: string, readonly activity: Activity) {
    super(`its worker thread stopped unexpectedly (${detail})`);
  }
}

export class PoolClosed extends Error {
  override name = 'PoolClosed';
  constructor() {
    super('the worker pool was closed before the task ran');
  }
}

export function formatBudget(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export interface Executor {
  /**
   * Run a task in a worker thread; rejects with TaskTimeout, TaskFailed, WorkerDied or
   * PoolClosed. `onStart` is called when it leaves the queue (progress: a job's rate counts from then).
   */
  run(payload: TaskPayload, budgetMs: number, onStart?: () => void): Promise<TaskOutput>;
  /** Terminate every thread; pending tasks reject with PoolClosed. */
  close(): Promise<void>;
}

interface Pending {
  /** Echoed by the worker with every message about this task; other messages are ignored. */
  readonly id: number;
  readonly payload: unknown;
  readonly budgetMs: number;
  readonly onStart?: () => void;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  view: Int32Array;
  ready: boolean;
  task?: Pending;
  timer?: NodeJS.Timeout;
  gone: boolean;
}

const WORKER_URL = new URL('./worker.mjs', import.meta.url);
/** Time a task may take to load its modules (spec, plug-ins) before its budget starts. */
const LOAD_BUDGET_MS = 300_000;

/**
 * A pool running at most `n` tasks at once in worker threads, for any payload the worker
 * understands (task.ts runAnyTask). `spare` more threads are kept started and idle, so a
 * thread stopped by the watchdog is replaced at once (check-allocator, whose checks run
 * one after another, uses one).
 */
export function createWorkerPool(n: number, spare = 0): { run(payload: unknown, budgetMs: number, onStart?: () => void): Promise<unknown>; close(): Promise<void> } {
  const queue: Pending[] = [];
  const slots: Slot[] = [];
  let closed = false;
  let started = false;
  let nextId = 1;
  // The first tasks wait until every initial thread has loaded its modules: a thread busy
  // with CPU-bound tasks can starve another one's module loading through the TypeScript loader.
  let warm = false;

  const spawn = (): Slot => {
    const sab = new SharedArrayBuffer(ACTIVITY_SLOTS * 4);
    const worker = new Worker(WORKER_URL, { workerData: { activity: sab }, stdout: false, stderr: false });
    const slot: Slot = { worker, view: new Int32Array(sab), ready: false, gone: false };
    worker.on('message', (m: { id?: number; ready?: true; started?: true; ok?: boolean; out?: unknown; error?: RemoteError } | null) => {
      if (slot.gone || m === null || typeof m !== 'object') return;
      if (m.ready === true && m.id === -1) {
        slot.ready = true;
        dispatch();
        return;
      }
      const task = slot.task;
      // A message that is not about the task in flight (e.g. posted by plug-in code) is ignored.
      if (!task || m.id !== task.id) return;
      if (m.started) {
        arm(slot, task, task.budgetMs);
        return;
      }
      finish(slot);
      if (m.ok) task.resolve(m.out);
      else task.reject(new TaskFailed(m.error ?? { name: 'Error', message: 'unknown failure', stack: '', user: false }, readActivity(slot.view)));
      dispatch();
    });
    worker.on('error', (e: Error) => died(slot, `${e?.name ?? 'Error'}: ${String(e?.message ?? e).split('\n')[0]}`));
    worker.on('exit', (code) => died(slot, `exit code ${code}`));
    slots.push(slot);
    return slot;
  };

  const finish = (slot: Slot) => {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.task = undefined;
  };

  const replace = (slot: Slot) => {
    slot.gone = true;
    slots.splice(slots.indexOf(slot), 1);
    if (!closed) spawn();
  };

  const died = (slot: Slot, detail: string) => {
    if (slot.gone || closed) return;
    const task = slot.task;
    const activity = readActivity(slot.view);
    finish(slot);
    replace(slot);
    void slot.worker.terminate().catch(() => {});
    if (task) task.reject(new WorkerDied(detail, activity));
    else if (!slot.ready) failAll(new WorkerDied(`a worker thread failed to start: ${detail}`, activity));
    dispatch();
  };

  const failAll = (e: Error) => {
    for (const t of queue.splice(0)) t.reject(e);
  };

  /** (Re)start the watchdog of the task in `slot`. */
  const arm = (slot: Slot, task: Pending, ms: number) => {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      const activity = readActivity(slot.view);
      finish(slot);
      replace(slot);
      void slot.worker.terminate().catch(() => {});
      task.reject(new TaskTimeout(task.budgetMs, activity));
      dispatch();
    }, ms);
  };

  const dispatch = () => {
    if (closed) return;
    if (!warm) {
      if (slots.filter((s) => s.ready).length < Math.min(n, slots.length)) return;
      warm = true;
    }
    for (const slot of slots) {
      if (!slot.ready || slot.task || slot.gone) continue;
      if (slots.filter((s) => s.task).length >= n) return;
      const task = queue.shift();
      if (!task) return;
      slot.task = task;
      task.onStart?.();
      arm(slot, task, Math.max(task.budgetMs, LOAD_BUDGET_MS));
      slot.worker.postMessage({ id: task.id, payload: task.payload });
    }
  };

  return {
    run(payload, budgetMs, onStart) {
      if (closed) return Promise.reject(new PoolClosed());
      if (!started) {
        started = true;
        for (let i = 0; i < n + spare; i++) spawn();
      }
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, payload, budgetMs, ...(onStart ? { onStart } : {}), resolve, reject });
        dispatch();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      failAll(new PoolClosed());
      const all = slots.splice(0);
      for (const s of all) {
        s.gone = true;
        if (s.timer) clearTimeout(s.timer);
        s.task?.reject(new PoolClosed());
      }
      await Promise.all(all.map((s) => s.worker.terminate().catch(() => 0)));
    },
  };
}

export function createExecutor(workers: number): Executor {
  const pool = createWorkerPool(Math.max(1, workers));
  return {
    run: (p, budgetMs, onStart) => pool.run(p, budgetMs, onStart) as Promise<TaskOutput>,
    close: () => pool.close(),
  };
}
