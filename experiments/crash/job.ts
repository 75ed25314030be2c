/**
 * Crash jobs: validation, name resolution and the traced re-execution of the run.
 *
 * Model: a CrashJob is plain JSON; `loadJob` validates every field (typed errors that
 * name the field, what was expected and what was found), resolves the allocator and
 * workload (registry names, or resolved factories passed by the caller for user
 * modules), validates the workload params, and executes the run once with the
 * persistency trace on (experiments/execute.ts).
 *
 * Invariants: the same job gives the same trace (deterministic run); the cost model
 * is the job's preset with its overrides.
 */
import type { AllocatorFactory } from '../../allocators/contract.ts';
import { findAllocator } from '../../allocators/registry.ts';
import { findWorkload } from '../../workloads/registry.ts';
import type { Workload } from '../../workloads/contract.ts';
import { makeCostModel, isPresetName, type CostModel } from '../../sim/cost-model.ts';
import { executeRun, type RunInput, type RunOutput } from '../execute.ts';
import { CRASH_STATE_MODES, PERSISTENCY_MODES, type CrashJob, type CrashResolvers } from './api.ts';

export class CrashJobError extends Error {
  override name = 'CrashJobError';
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly found: unknown,
  ) {
    super(`crash job field "${field}": expected ${expected}, found ${JSON.stringify(found)}`);
  }
}

function posInt(job: CrashJob, field: keyof CrashJob, optional: boolean, min = 1): void {
  const v = job[field];
  if (v === undefined && optional) return;
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new CrashJobError(field, `an integer >= ${min}`, v);
}

export function validateCrashJob(job: CrashJob): CrashJob {
  if (job === null || typeof job !== 'object') throw new CrashJobError('(job)', 'an object', job);
  if (typeof job.allocator !== 'string' || job.allocator === '') throw new CrashJobError('allocator', 'an allocator name', job.allocator);
  if (typeof job.workload !== 'string' || job.workload === '') throw new CrashJobError('workload', 'a workload name', job.workload);
  if (job.params === null || typeof job.params !== 'object') throw new CrashJobError('params', 'an object of workload parameters', job.params);
  if (job.idiom !== 'malloc-then-link' && job.idiom !== 'alloc-into') throw new CrashJobError('idiom', '"malloc-then-link" or "alloc-into"', job.idiom);
  posInt(job, 'threads', false);
  if (typeof job.seed !== 'string' && !Number.isSafeInteger(job.seed)) throw new CrashJobError('seed', 'an integer or a string', job.seed);
  if (job.preset !== undefined && !isPresetName(job.preset)) throw new CrashJobError('preset', 'a cost preset name', job.preset);
  posInt(job, 'nvramSizeBytes', false, 4096);
  posInt(job, 'dramSizeBytes', false, 4096);
  if (!PERSISTENCY_MODES.includes(job.persistency)) throw new CrashJobError('persistency', PERSISTENCY_MODES.join(' | '), job.persistency);
  if (!CRASH_STATE_MODES.includes(job.mode)) throw new CrashJobError('mode', CRASH_STATE_MODES.join(' | '), job.mode);
  posInt(job, 'k', true);
  posInt(job, 'exhaustiveLimit', true);
  posInt(job, 'maxStatesPerPoint', true, 2);
  posInt(job, 'maxStates', true);
  posInt(job, 'nestedPoints', true, 0);
  posInt(job, 'probeBlocks', true, 0);
  posInt(job, 'maxCounterexamples', true, 0);
  return job;
}

export interface JobContext {
  readonly job: CrashJob;
  readonly factory: AllocatorFactory;
  readonly workload: Workload<any>;
  readonly params: object;
  readonly cost: CostModel;
  /** The run, executed with the trace on (functionally when it has one thread: its `cycles` are not cycles). */
  readonly run: RunOutput;
  /** The run's makespan in cycles: a functional run's timed twin is executed on the first call (checkCycleBudget). */
  readonly runCycles: LazyCycles;
}

/** A run's makespan, computed when first asked for. */
export interface LazyCycles {
  readonly known: boolean;
  get(): number;
}

export function resolveJob(job: CrashJob, resolvers: CrashResolvers = {}): { factory: AllocatorFactory; workload: Workload<any> } {
  const factory = resolvers.allocator?.name === job.allocator ? resolvers.allocator : findAllocator(job.allocator);
  if (factory === undefined) throw new CrashJobError('allocator', 'a registered allocator name (or a resolved factory)', job.allocator);
  const workload = resolvers.workload?.name === job.workload ? resolvers.workload : findWorkload(job.workload);
  if (workload === undefined) throw new CrashJobError('workload', 'a registered workload name (or a resolved workload)', job.workload);
  if (!factory.idioms.includes(job.idiom)) throw new CrashJobError('idiom', `one of ${factory.idioms.join(', ')} (supported by ${factory.name})`, job.idiom);
  return { factory, workload };
}

/**
 * Validate, resolve and execute the job's run with the trace on. A one-thread run is
 * executed functionally (nothing in its trace depends on time; about half of a timed
 * run's host time is the cache model): its makespan, which only the checkers' cycle
 * budget needs, comes from a timed execution run when first asked for.
 */
export function loadJob(job: CrashJob, resolvers: CrashResolvers = {}): JobContext {
  validateCrashJob(job);
  const { factory, workload } = resolveJob(job, resolvers);
  const params = workload.validate(job.params as never, job.threads, job.nvramSizeBytes);
  const cost = makeCostModel(job.preset ?? 'optane-adr', job.costOverrides ?? {});
  const input: RunInput = {
    allocator: factory,
    workload,
    params,
    idiom: job.idiom,
    threads: job.threads,
    seed: job.seed,
    cost,
    nvramSizeBytes: job.nvramSizeBytes,
    dramSizeBytes: job.dramSizeBytes,
    trace: true,
  };
  const functional = functionalRuns.enabled && job.threads === 1;
  const run = executeRun({ ...input, functional });
  // Crash checking reads the run's trace only: its caches go to the next run's machine.
  run.machine.releaseCaches();
  return { job, factory, workload, params, cost, run, runCycles: functional ? timedCyclesOf(input) : { known: true, get: () => run.cycles } };
}

/** Set enabled to false to execute one-thread crash runs timed (tests compare both). */
export const functionalRuns = { enabled: true };

/** The makespan of the timed execution of `input`, executed on the first get(). */
function timedCyclesOf(input: RunInput): LazyCycles {
  let cycles: number | undefined;
  return {
    get known() {
      return cycles !== undefined;
    },
    get() {
      if (cycles === undefined) {
        const timed = executeRun({ ...input, trace: false });
        timed.machine.releaseCaches();
        cycles = timed.cycles;
      }
      return cycles;
    },
  };
}
