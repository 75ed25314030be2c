/**
 * `nvlab check-allocator <module>`: load a user's allocator (default export: an
 * AllocatorFactory), run the shared contract suite (allocators/contract-suite.ts
 * runContractSuite), then a crash exploration (DEFAULT_EXPLORATION: lower, upper and
 * k-subsets k = 2 in line mode, k-subsets in word mode) of a structure workload in each
 * idiom the allocator supports, ending with the modes and states covered. Exit 1 on any
 * contract failure or invalid crash state.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AllocatorFactory } from '../../allocators/contract.ts';
import { findWorkload, workloadNames } from '../../workloads/registry.ts';
import { checkCrashStates, type CrashJob } from '../crash/api.ts';
import { UserError } from '../errors.ts';
import { importDefault, isAllocatorFactory } from '../spec/resolve.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

async function contractSuite(factory: AllocatorFactory, out: (s: string) => void): Promise<boolean> {
  const file = join(HERE, '..', '..', 'allocators', 'contract-suite.ts');
  if (!existsSync(file)) {
    out('contract suite: not available in this build (allocators/contract-suite.ts missing)\n');
    return false;
  }
  const mod = (await import(pathToFileURL(file).href)) as { runContractSuite?: (f: AllocatorFactory) => unknown };
  if (typeof mod.runContractSuite !== 'function') throw new Error('allocators/contract-suite.ts exports no runContractSuite');
  try {
    const result = (await mod.runContractSuite(factory)) as { ok?: boolean; passed?: boolean; failures?: readonly unknown[]; text?: string } | undefined;
    const failures = result?.failures ?? [];
    const ok = result?.ok ?? result?.passed ?? failures.length === 0;
    out(`contract suite: ${ok ? 'passed' : 'FAILED'}\n`);
    if (result?.text) out(`${result.text.trimEnd()}\n`);
    for (const f of failures) out(`  - ${typeof f === 'string' ? f : JSON.stringify(f)}\n`);
    return ok;
  } catch (e) {
    out(`contract suite: FAILED\n  - ${(e as Error).message}\n`);
    return false;
  }
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

export function crashCheck(factory: AllocatorFactory, workloadName: string, out: (s: string) => void): boolean {
  const workload = findWorkload(workloadName);
  if (!workload) throw new UserError(`--workload: expected one of ${workloadNames().join(', ')}, found "${workloadName}"`);
  let ok = true;
  let states = 0;
  let sampledJobs = 0;
  for (const idiom of factory.idioms) {
    for (const x of DEFAULT_EXPLORATION) {
      const job: CrashJob = {
        allocator: factory.name, workload: workload.name, params: { opsPerThread: 40 }, idiom, threads: 1, seed: 42,
        nvramSizeBytes: 4 * 1024 * 1024, dramSizeBytes: 16 * 1024 * 1024, persistency: x.persistency, mode: x.mode, k: 2, maxStates: x.maxStates,
      };
      const r = checkCrashStates(job, { index: 0, count: 1 }, { allocator: factory, workload });
      const invalid = r.rows.filter((y) => y.verdict === 'invalid');
      const unknown = r.rows.filter((y) => y.verdict === 'unknown');
      states += r.rows.length;
      if (r.plan.sampled) sampledJobs++;
      const mode = x.mode === 'k-subsets' ? 'k-subsets (k=2)' : x.mode;
      out(`crash ${workload.name} ${idiom} ${x.persistency} ${mode}: ${r.rows.length} states${r.plan.sampled ? ` (sampled: ${r.plan.notes.join('; ')})` : ''}, ${invalid.length} invalid, ${unknown.length} unknown\n`);
      for (const cx of r.counterexamples.slice(0, 2)) out(`  ${cx.anomaly}: ${cx.detail}\n    ${cx.explanation.join('\n    ')}\n    replay: npx nvlab replay '${cx.minimizedId}'\n`);
      if (invalid.length > 0) ok = false;
    }
  }
  const modes = DEFAULT_EXPLORATION.map((x) => `${x.persistency} ${x.mode === 'k-subsets' ? 'k-subsets (k=2)' : x.mode}`).join(', ');
  out(`crash coverage: ${modes}; ${factory.idioms.length} idiom(s); ${states} distinct states checked${sampledJobs > 0 ? `, ${sampledJobs} job(s) sampled at their cap` : ', none sampled'}\n`);
  return ok;
}

export async function checkAllocatorCommand(modulePath: string, workload: string, out: (s: string) => void): Promise<void> {
  const factory = await importDefault(modulePath, process.cwd());
  if (!isAllocatorFactory(factory)) throw new UserError(`${resolve(modulePath)}: expected a default export that is an AllocatorFactory (name, idioms, promisesNoLeak, create)`);
  out(`checking allocator "${factory.name}" from ${resolve(modulePath)}\n`);
  const suiteOk = await contractSuite(factory, out);
  const crashOk = crashCheck(factory, workload, out);
  out(`${suiteOk && crashOk ? 'PASS' : 'FAIL'}\n`);
  if (!(suiteOk && crashOk)) process.exitCode = 1;
}
