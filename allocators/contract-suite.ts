/**
 * The allocator contract suite: the checks every allocator passes, framework-free so
 * that vitest (`for (const c of contractChecks(factory)) it(c.name, c.run)`) and the
 * CLI (`npx nvlab check-allocator <module>`, through runContractSuite) both run it, on
 * nvlab's allocators and on a user's own module alike (only the public contract of
 * contract.ts and the machine API are used).
 *
 * Checks (issue 3): 16-byte alignment; sizes from 1 B to 1 MB; invalid sizes are
 * misuse; free(0) is a no-op; double and foreign frees raise AllocatorMisuseError with
 * the address and leave the heap working; out of memory returns 0 and the heap stays
 * usable; all root slots; mallocTo / freeFrom into NVRAM, root and DRAM destinations;
 * fast-check model-based random sequences against a reference map on each core count;
 * a clean close then open on a new machine keeps every block, content and root (for a
 * volatile allocator instead: reopening gives an empty usable heap). Every check also
 * compares the heap walk with the reference map and requires checkConsistency ok.
 *
 * Invariants: deterministic (fixed fast-check seed, fresh machines, no host time); a
 * failing check throws an Error whose message names the operation and the address.
 */
import type { AllocatorFactory } from './contract.ts';
import { checkAlignment, checkBadSizes, checkFreeNull, checkMallocTo, checkMisuse, checkOutOfMemory, checkRoots, checkSizes } from './contract-suite-basic.ts';
import type { SuiteConfig } from './contract-suite-harness.ts';
import { checkModel } from './contract-suite-model.ts';
import { checkCloseOpen, checkVolatileRestart } from './contract-suite-persist.ts';

export interface ContractCheck {
  readonly name: string;
  /** Throws an Error with a clear message on failure. */
  run(): void;
}

export interface ContractSuiteOptions {
  /** Core counts to run the multi-core checks on (default [1, 4]). */
  readonly cores?: readonly number[];
  /** fast-check runs per core count of the model-based check (default 30). */
  readonly numRuns?: number;
  /** NVRAM (heap) size in bytes, a multiple of 4096, at least 16 MiB (the sizes check keeps ~6.4 MB live; default 32 MiB). */
  readonly heapSizeBytes?: number;
  /** DRAM size in bytes for the allocator's volatile state (default 64 MiB; sparse). */
  readonly dramSizeBytes?: number;
  /** fast-check seed (default 42). */
  readonly seed?: number;
  /** Longest generated operation sequence (default 60). */
  readonly maxOps?: number;
}

export interface ContractResult {
  readonly name: string;
  readonly ok: boolean;
  readonly message?: string;
}

/** The per-check results, plus a summary for the CLI (ok, one line per check, failure messages). */
export interface ContractSuiteReport extends Array<ContractResult> {
  readonly ok: boolean;
  /** "check name: message" for every failed check. */
  readonly failures: readonly string[];
  /** One line per check: "ok   name" or "FAIL name". */
  readonly text: string;
}

export class ContractSuiteOptionError extends Error {
  override name = 'ContractSuiteOptionError';
}

const MiB = 1024 * 1024;

function positiveInt(field: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new ContractSuiteOptionError(`contract suite option ${field}: expected an integer >= ${min}, found ${value}`);
  return value;
}

export function suiteConfig(options: ContractSuiteOptions = {}): SuiteConfig {
  const cores = options.cores ?? [1, 4];
  if (cores.length === 0 || cores.some((c) => !Number.isInteger(c) || c < 1 || c > 64)) {
    throw new ContractSuiteOptionError(`contract suite option cores: expected a non-empty list of integers 1..64, found [${cores.join(', ')}]`);
  }
  const heapSizeBytes = positiveInt('heapSizeBytes', options.heapSizeBytes, 32 * MiB, 16 * MiB);
  if (heapSizeBytes % 4096 !== 0) throw new ContractSuiteOptionError(`contract suite option heapSizeBytes: expected a multiple of 4096, found ${heapSizeBytes}`);
  return {
    cores,
    numRuns: positiveInt('numRuns', options.numRuns, 30, 1),
    heapSizeBytes,
    dramSizeBytes: positiveInt('dramSizeBytes', options.dramSizeBytes, 64 * MiB, 4096),
    seed: positiveInt('seed', options.seed, 42, 0),
    maxOps: positiveInt('maxOps', options.maxOps, 60, 1),
  };
}

/** The checks for one allocator factory, in a stable order. */
export function contractChecks(factory: AllocatorFactory, options: ContractSuiteOptions = {}): ContractCheck[] {
  const cfg = suiteConfig(options);
  const maxCores = Math.max(...cfg.cores);
  const checks: ContractCheck[] = [];
  const add = (name: string, run: () => void): void => {
    checks.push({ name: `${factory.name}: ${name}`, run });
  };
  add(`16-byte alignment, sizes 1..512 B and powers of two to 1 MB (${maxCores} cores)`, () => checkAlignment(factory, cfg, maxCores));
  add(`sizes from 1 B to 1 MB, twice (${maxCores} cores)`, () => checkSizes(factory, cfg, maxCores));
  add('invalid sizes (0, -1, 1.5, NaN) raise bad-size misuse', () => checkBadSizes(factory, cfg));
  add(`free(0) is a no-op (${maxCores} cores)`, () => checkFreeNull(factory, cfg, maxCores));
  add(`double free and foreign free raise AllocatorMisuseError with the address; the heap still works (${maxCores} cores)`, () => checkMisuse(factory, cfg, maxCores));
  add(`out of memory returns 0 and the heap stays usable (${maxCores} cores)`, () => checkOutOfMemory(factory, cfg, maxCores));
  add('every root slot (>= 512): setRoot / getRoot / rootAddress, bad index is misuse', () => checkRoots(factory, cfg));
  add(`mallocTo calls init then publishes; freeFrom clears and frees (NVRAM, root, DRAM destinations; ${maxCores} cores)`, () => checkMallocTo(factory, cfg, maxCores));
  for (const cores of cfg.cores) {
    add(`model-based random malloc/free/mallocTo/freeFrom vs a reference map, walk and consistency (${cores} core${cores > 1 ? 's' : ''}, ${cfg.numRuns} runs, seed ${cfg.seed})`, () => checkModel(factory, cfg, cores));
  }
  for (const cores of cfg.cores) {
    if (factory.volatile === true) {
      add(`volatile: close then open on a new machine gives an empty usable heap (persistence check skipped: a volatile allocator keeps nothing across a restart) (${cores} cores)`, () => checkVolatileRestart(factory, cfg, cores));
    } else {
      add(`clean close then open on a new machine keeps every live block, its contents and every root, twice (${cores} core${cores > 1 ? 's' : ''})`, () => checkCloseOpen(factory, cfg, cores));
    }
  }
  return checks;
}

/** Run every check, catching failures; for the CLI and for users without vitest. */
export function runContractSuite(factory: AllocatorFactory, options: ContractSuiteOptions = {}): ContractSuiteReport {
  const results: ContractResult[] = contractChecks(factory, options).map((c) => {
    try {
      c.run();
      return { name: c.name, ok: true };
    } catch (e) {
      return { name: c.name, ok: false, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
  });
  const failed = results.filter((r) => !r.ok);
  return Object.assign(results, {
    ok: failed.length === 0,
    failures: failed.map((r) => `${r.name}: ${r.message ?? ''}`),
    text: results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}`).join('\n'),
  });
}
