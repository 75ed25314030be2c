/**
 * Executors: where tasks run. One worker = in this thread; N > 1 = a piscina pool of N
 * worker threads (worker.mjs registers bin/ts-hooks.mjs so they run the TypeScript sources).
 *
 * Invariants: a task's result depends only on its payload, so any executor gives the
 * same results; the caller orders results by task index, not by completion.
 */
import { Piscina } from 'piscina';
import { runTask, type TaskOutput, type TaskPayload } from './task.ts';

export interface Executor {
  /** Run a task; `onStart` is called when it leaves the queue (progress: a job's rate counts from then). */
  run(payload: TaskPayload, onStart?: () => void): Promise<TaskOutput>;
  close(): Promise<void>;
}

export function createExecutor(workers: number): Executor {
  if (workers <= 1) {
    // Yield to the event loop between tasks so the progress bar can redraw.
    return { run: async (p, onStart) => (await new Promise((r) => setImmediate(r)), onStart?.(), runTask(p)), close: async () => {} };
  }
  const pool = new Piscina({
    filename: new URL('./worker.mjs', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 1000,
    // Tasks are async (the first one in a thread awaits module loading through the TypeScript
    // loader); with Atomics.wait a worker handed its next task while that is pending
    // blocks its own event loop and deadlocks. Message-port dispatch only.
    atomics: 'disabled',
  });
  const sab = new SharedArrayBuffer(4);
  const warm = Promise.all(Array.from({ length: workers }, () => pool.run({ kind: 'barrier', sab, parties: workers })));
  const limit = fifoLimiter(workers);
  return {
    run: (p, onStart) => limit(async () => (await warm, onStart?.(), pool.run(p) as Promise<TaskOutput>)),
    close: () => pool.destroy(),
  };
}

/**
 * At most `n` tasks in flight, started in submission order: the pool's own queue need
 * not be FIFO, and a crash job is only stored when all its shards are done, so FIFO
 * order keeps records (and --resume progress) coming steadily.
 */
function fifoLimiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  const waiting: (() => void)[] = [];
  let active = 0;
  const next = () => {
    if (active >= n) return;
    const start = waiting.shift();
    if (start) {
      active++;
      start();
    }
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolveTask, rejectTask) => {
      waiting.push(() => {
        task().then(resolveTask, rejectTask).finally(() => {
          active--;
          next();
        });
      });
      next();
    });
}
