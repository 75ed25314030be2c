/**
 * Executors: where tasks run. One worker = in this thread; N > 1 = a piscina pool of N
 * worker threads (worker.mjs registers tsx so they run the TypeScript sources).
 *
 * Invariants: a task's result depends only on its payload, so any executor gives the
 * same results; the caller orders results by task index, not by completion.
 */
import { Piscina } from 'piscina';
import { runTask, type TaskPayload } from './task.ts';
import type { RunRecord } from './record.ts';
import type { CrashResult } from './crash/api.ts';

export type TaskResult = RunRecord | CrashResult;

export interface Executor {
  run(payload: TaskPayload): Promise<TaskResult>;
  close(): Promise<void>;
}

export function createExecutor(workers: number): Executor {
  if (workers <= 1) return { run: (p) => runTask(p), close: async () => {} };
  const pool = new Piscina({
    filename: new URL('./worker.mjs', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 1000,
  });
  return {
    run: (p) => pool.run(p) as Promise<TaskResult>,
    close: () => pool.destroy(),
  };
}
