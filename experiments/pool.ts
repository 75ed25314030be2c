/**
 * Executors: where tasks run. One worker = in this thread; N > 1 = a piscina pool of N
 * worker threads (worker.mjs registers tsx so they run the TypeScript sources).
 *
 * Invariants: a task's result depends only on its payload, so any executor gives the
 * same results; the caller orders results by task index, not by completion.
 */
import { Piscina } from 'piscina';
import { runTask, type TaskOutput, type TaskPayload } from './task.ts';

export interface Executor {
  run(payload: TaskPayload): Promise<TaskOutput>;
  close(): Promise<void>;
}

export function createExecutor(workers: number): Executor {
  if (workers <= 1) {
    // Yield to the event loop between tasks so the progress bar can redraw.
    return { run: async (p) => (await new Promise((r) => setImmediate(r)), runTask(p)), close: async () => {} };
  }
  const pool = new Piscina({
    filename: new URL('./worker.mjs', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 1000,
    // Tasks are async (the first one in a thread awaits module loading through tsx's
    // loader); with Atomics.wait a worker handed its next task while that is pending
    // blocks its own event loop and deadlocks. Message-port dispatch only.
    atomics: 'disabled',
  });
  const sab = new SharedArrayBuffer(4);
  const warm = Promise.all(Array.from({ length: workers }, () => pool.run({ kind: 'barrier', sab, parties: workers })));
  return {
    run: async (p) => (await warm, pool.run(p) as Promise<TaskOutput>),
    close: () => pool.destroy(),
  };
}
