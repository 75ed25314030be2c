/**
 * `nvlab check-allocator <module>`: load a user's allocator (default export: an
 * AllocatorFactory), run the shared contract suite (allocators/contract-suite.ts
 * runContractSuite), then a crash exploration (DEFAULT_EXPLORATION: lower, upper and
 * k-subsets k = 2 in line mode, k-subsets in word mode) of a structure workload in each
 * idiom the allocator supports, ending with the modes and states covered.
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
import { checkCrashStates, type CrashJob, type CrashResult } from '../crash/api.ts';
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

/** One crash exploration of the default set: persistency rule set, state mode, and the state cap. */
interface Exploration {
  readonly persistency: 'line' | 'word';
  readonly mode: 'lower' | 'upper' | 'k-subsets';
  readonly maxStates: number;
}

/**
 * The default exploration: the lower and upper images and k-subsets (k = 2) in line
 * mode (a missing fence lets a pair of lines persist out of order, which neither
 * image shows), and k-subsets in word mode (a multi-word entry that relies on line
 * atomicity can tear). With shared checking (experiments/crash/share.ts) this stays
 * within about a minute for a 40-op run of a small allocator.
 */
export const DEFAULT_EXPLORATION: readonly Exploration[] = [
  { persistency: 'line', mode: 'lower', maxStates: 2000 },
  { persistency: 'line', mode: 'upper', maxStates: 2000 },
  { persistency: 'line', mode: 'k-subsets', maxStates: 5000 },
  { persistency: 'word', mode: 'k-subsets', maxStates: 5000 },
];

function crashJobs(factory: AllocatorFactory, workload: string): CrashJob[] {
  return factory.idioms.flatMap((idiom) =>
    DEFAULT_EXPLORATION.map((x): CrashJob => ({
      allocator: factory.name, workload, params: { opsPerThread: 40 }, idiom, threads: 1, seed: 42,
      nvramSizeBytes: 4 * 1024 * 1024, dramSizeBytes: 16 * 1024 * 1024, persistency: x.persistency, mode: x.mode, k: 2, maxStates: x.maxStates,
    })),
  );
}

const modeName = (j: { readonly mode: string }) => (j.mode === 'k-subsets' ? 'k-subsets (k=2)' : j.mode);

/** Tallies of the crash part, for the closing coverage line. */
interface Coverage {
  states: number;
  sampledJobs: number;
  firstUnknown?: string;
}

/** Print one job's outcome (states, verdicts, counterexamples); false when it found an invalid or unknown state. */
function reportCrash(job: CrashJob, r: CrashResult, replay: (id: string) => string, cov: Coverage, out: (s: string) => void): boolean {
  const label = `crash ${job.workload} ${job.idiom} ${job.persistency} ${modeName(job)}`;
  const invalid = r.rows.filter((x) => x.verdict === 'invalid');
  const unknown = r.rows.filter((x) => x.verdict === 'unknown');
  cov.states += r.rows.length;
  if (r.plan.sampled) cov.sampledJobs++;
  out(`${label}: ${r.rows.length} states${r.plan.sampled ? ` (sampled: ${r.plan.notes.join('; ')})` : ''}, ${invalid.length} invalid, ${unknown.length} unknown\n`);
  for (const cx of r.counterexamples.slice(0, 2)) out(`  ${cx.anomaly}: ${cx.detail}\n    ${cx.explanation.join('\n    ')}\n    ${replay(cx.minimizedId)}\n`);
  if (unknown.length > 0 && cov.firstUnknown === undefined) cov.firstUnknown = `  first unknown state (${label}): ${unknown[0].detail}\n    ${replay(unknown[0].stateId)}\n`;
  return invalid.length === 0 && unknown.length === 0;
}

function coverageLine(factory: AllocatorFactory, cov: Coverage): string {
  const modes = DEFAULT_EXPLORATION.map((x) => `${x.persistency} ${modeName(x)}`).join(', ');
  return `crash coverage: ${modes}; ${factory.idioms.length} idiom(s); ${cov.states} distinct states checked${cov.sampledJobs > 0 ? `, ${cov.sampledJobs} job(s) sampled at their cap` : ', none sampled'}\n`;
}

/** The crash part in this thread (tests; the command runs each job in a watched worker). */
export function crashCheck(factory: AllocatorFactory, workloadName: string, out: (s: string) => void): boolean {
  const workload = findWorkload(workloadName);
  if (!workload) throw new UserError(`--workload: expected one of ${workloadNames().join(', ')}, found "${workloadName}"`);
  const cov: Coverage = { states: 0, sampledJobs: 0 };
  let ok = true;
  for (const job of crashJobs(factory, workload.name)) {
    const r = checkCrashStates(job, { index: 0, count: 1 }, { allocator: factory, workload });
    ok = reportCrash(job, r, (id) => `replay: npx nvlab replay ${shellWord(id)}`, cov, out) && ok;
  }
  out(coverageLine(factory, cov));
  return ok;
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
  const cov: Coverage = { states: 0, sampledJobs: 0 };
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
      let r: CrashResult;
      try {
        r = (await pool.run({ kind: 'check-crash', modulePath: abs, job }, budgetMs)) as CrashResult;
      } catch (e) {
        out(`crash ${job.workload} ${job.idiom} ${job.persistency} ${modeName(job)}: ${stopped(e)}\n`);
        ok = false;
        continue;
      }
      ok = reportCrash(job, r, (id) => replayLine(id, abs), cov, out) && ok;
    }
    out(coverageLine(factory, cov));
  } finally {
    await pool.close();
  }
  const firstUnknown = cov.firstUnknown;
  if (firstUnknown !== undefined) out(`unknown states are not a pass: recovery or a checker threw an error that is neither a simulator misuse nor an oracle failure\n${firstUnknown}`);
  out(`${ok ? 'PASS' : 'FAIL'}\n`);
  if (!ok) process.exitCode = 1;
}
