/**
 * `nvlab check-allocator <module>`: load a user's allocator (default export: an
 * AllocatorFactory), run the shared contract suite (allocators/contract-suite.ts
 * runContractSuite), then a small crash enumeration (lower and upper images, line
 * mode) of a structure workload in each idiom the allocator supports.
 *
 * Failure semantics: FAIL (exit 1) on any contract failure, any invalid crash state,
 * and any `unknown` one (recovery or a checker threw something that is not evidence
 * either way, e.g. an error class of the plug-in's own: not a pass; the first is shown
 * with its replay command). The suite and each enumeration run in a worker thread under
 * a host wall-clock budget (--task-budget); plug-in code that overruns it is stopped
 * and reported with its phase (malloc, recovery, ...), and the other checks still run.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AllocatorFactory } from '../../allocators/contract.ts';
import { findWorkload, workloadNames } from '../../workloads/registry.ts';
import { describeActivity, describeFault } from '../activity.ts';
import type { CrashJob, CrashResult } from '../crash/api.ts';
import { UserError } from '../errors.ts';
import { TaskFailed, TaskTimeout, WorkerDied, createWorkerPool, formatBudget } from '../pool.ts';
import { importDefault, isAllocatorFactory } from '../spec/resolve.ts';
import { shellWord } from './run.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_BUDGET_MS = 600_000;

export interface CheckOptions {
  /** Host wall-clock budget of the suite and of each crash enumeration (ms). */
  readonly budgetMs?: number;
}

export interface SuiteOutcome {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

/** The contract suite on `factory` (called in a worker thread by task.ts checkTask). */
export async function runSuite(factory: AllocatorFactory, loaded: () => void = () => {}): Promise<SuiteOutcome> {
  const file = join(HERE, '..', '..', 'allocators', 'contract-suite.ts');
  if (!existsSync(file)) return { ok: false, lines: ['contract suite: not available in this build (allocators/contract-suite.ts missing)'] };
  const mod = (await import(pathToFileURL(file).href)) as { runContractSuite?: (f: AllocatorFactory) => unknown };
  if (typeof mod.runContractSuite !== 'function') throw new Error('allocators/contract-suite.ts exports no runContractSuite');
  loaded();
  try {
    const result = (await mod.runContractSuite(factory)) as { ok?: boolean; passed?: boolean; failures?: readonly unknown[]; text?: string } | undefined;
    const failures = result?.failures ?? [];
    const ok = result?.ok ?? result?.passed ?? failures.length === 0;
    const lines = [`contract suite: ${ok ? 'passed' : 'FAILED'}`];
    if (result?.text) lines.push(result.text.trimEnd());
    for (const f of failures) lines.push(`  - ${typeof f === 'string' ? f : JSON.stringify(f)}`);
    return { ok, lines };
  } catch (e) {
    return { ok: false, lines: [`contract suite: FAILED`, `  - ${(e as Error).message}`] };
  }
}

/** Why a worker task did not return, as one line (watchdog, plug-in error, dead thread). */
function stopped(e: unknown): string {
  if (e instanceof TaskTimeout) return `STOPPED by the watchdog in ${describeActivity(e.activity)}: still running after ${formatBudget(e.budgetMs)} (--task-budget)`;
  if (e instanceof TaskFailed) return `FAILED: ${e.remote.name}: ${e.remote.message.split('\n')[0]}${e.activity.faultPhase ? ` (thrown in ${describeFault(e.activity)})` : ''}`;
  if (e instanceof WorkerDied) return `FAILED: ${e.message} in ${describeActivity(e.activity)}`;
  throw e;
}

function replayLine(id: string, modulePath: string): string {
  return `replay: npx nvlab replay ${shellWord(id)} --allocator ${shellWord(modulePath)}`;
}

function crashJobs(factory: AllocatorFactory, workload: string): CrashJob[] {
  return factory.idioms.flatMap((idiom) =>
    (['lower', 'upper'] as const).map((mode): CrashJob => ({
      allocator: factory.name, workload, params: { opsPerThread: 40 }, idiom, threads: 1, seed: 42,
      nvramSizeBytes: 4 * 1024 * 1024, dramSizeBytes: 16 * 1024 * 1024, persistency: 'line', mode, maxStates: 200,
    })),
  );
}

export async function checkAllocatorCommand(modulePath: string, workloadName: string, out: (s: string) => void, o: CheckOptions = {}): Promise<void> {
  const workload = findWorkload(workloadName);
  if (!workload) throw new UserError(`--workload: expected one of ${workloadNames().join(', ')}, found "${workloadName}"`);
  const abs = resolve(modulePath);
  const factory = await importDefault(modulePath, process.cwd());
  if (!isAllocatorFactory(factory)) throw new UserError(`${abs}: expected a default export that is an AllocatorFactory (name, idioms, promisesNoLeak, create)`);
  out(`checking allocator "${factory.name}" from ${abs}\n`);
  const budgetMs = o.budgetMs ?? DEFAULT_BUDGET_MS;
  const pool = createWorkerPool(1, 1);
  let ok = true;
  let firstUnknown: string | undefined;
  try {
    try {
      const suite = (await pool.run({ kind: 'check-suite', modulePath: abs }, budgetMs)) as SuiteOutcome;
      for (const line of suite.lines) out(`${line}\n`);
      ok &&= suite.ok;
    } catch (e) {
      out(`contract suite: ${stopped(e)}\n`);
      ok = false;
    }
    for (const job of crashJobs(factory, workload.name)) {
      const label = `crash ${workload.name} ${job.idiom} ${job.mode}`;
      let r: CrashResult;
      try {
        r = (await pool.run({ kind: 'check-crash', modulePath: abs, job }, budgetMs)) as CrashResult;
      } catch (e) {
        out(`${label}: ${stopped(e)}\n`);
        ok = false;
        continue;
      }
      const invalid = r.rows.filter((x) => x.verdict === 'invalid');
      const unknown = r.rows.filter((x) => x.verdict === 'unknown');
      out(`${label}: ${r.rows.length} states, ${invalid.length} invalid, ${unknown.length} unknown\n`);
      for (const cx of r.counterexamples.slice(0, 2)) out(`  ${cx.anomaly}: ${cx.detail}\n    ${cx.explanation.join('\n    ')}\n    ${replayLine(cx.minimizedId, abs)}\n`);
      if (unknown.length > 0 && firstUnknown === undefined) firstUnknown = `  first unknown state (${label}): ${unknown[0].detail}\n    ${replayLine(unknown[0].stateId, abs)}\n`;
      if (invalid.length > 0 || unknown.length > 0) ok = false;
    }
  } finally {
    await pool.close();
  }
  if (firstUnknown !== undefined) out(`unknown states are not a pass: recovery or a checker threw an error that is neither a simulator misuse nor an oracle failure\n${firstUnknown}`);
  out(`${ok ? 'PASS' : 'FAIL'}\n`);
  if (!ok) process.exitCode = 1;
}
