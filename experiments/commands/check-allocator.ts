/**
 * `nvlab check-allocator <module>`: load a user's allocator (default export: an
 * AllocatorFactory), run the shared contract suite (allocators/contract-suite.ts
 * runContractSuite), then a small crash enumeration (lower and upper images, line
 * mode) of a structure workload in each idiom the allocator supports. Exit 1 on any
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

function crashCheck(factory: AllocatorFactory, workloadName: string, out: (s: string) => void): boolean {
  const workload = findWorkload(workloadName);
  if (!workload) throw new UserError(`--workload: expected one of ${workloadNames().join(', ')}, found "${workloadName}"`);
  let ok = true;
  for (const idiom of factory.idioms) {
    for (const mode of ['lower', 'upper'] as const) {
      const job: CrashJob = {
        allocator: factory.name, workload: workload.name, params: { opsPerThread: 40 }, idiom, threads: 1, seed: 42,
        nvramSizeBytes: 4 * 1024 * 1024, dramSizeBytes: 16 * 1024 * 1024, persistency: 'line', mode, maxStates: 200,
      };
      const r = checkCrashStates(job, { index: 0, count: 1 }, { allocator: factory, workload });
      const invalid = r.rows.filter((x) => x.verdict === 'invalid');
      const unknown = r.rows.filter((x) => x.verdict === 'unknown');
      out(`crash ${workload.name} ${idiom} ${mode}: ${r.rows.length} states, ${invalid.length} invalid, ${unknown.length} unknown\n`);
      for (const cx of r.counterexamples.slice(0, 2)) out(`  ${cx.anomaly}: ${cx.detail}\n    ${cx.explanation.join('\n    ')}\n    replay: npx nvlab replay '${cx.minimizedId}'\n`);
      if (invalid.length > 0) ok = false;
    }
  }
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
