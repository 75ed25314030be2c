/**
 * Functional execution (MachineOptions.functional, SimCore's untimed cores) against the
 * timed one: on random small one-thread runs of every registered allocator and canary
 * on every one-thread workload, in each idiom the allocator supports, both give the same
 * persistency trace (every field of every event), the same completion history and
 * setup trace length, the same final NVRAM, or the same error. One-thread crash runs
 * execute functionally (experiments/crash/job.ts), so their crash states rest on this.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ALLOCATORS } from '../allocators/registry.ts';
import { WORKLOADS } from '../workloads/registry.ts';
import type { Workload } from '../workloads/contract.ts';
import { makeCostModel } from '../sim/cost-model.ts';
import type { PersistTrace } from '../sim/api.ts';
import { executeRun, type RunInput, type RunOutput } from './execute.ts';

const MB = 1 << 20;
const NVRAM_BYTES = 4 * MB;

/** Small parameters per workload (ops: the run's length knob). */
function paramsOf(w: Workload<any>, ops: number): object {
  switch (w.name) {
    case 'threadtest':
      return { iterations: 2, objects: ops, fooCount: 2 };
    case 'shbench':
      return { callCount: Math.max(1, ops >> 3), maxSize: 400 };
    case 'larson':
      return { slotsPerThread: 8, rounds: ops, pairsPerOp: 4 };
    case 'fill-heap':
      return { megabytes: 1, roots: 16 };
    case 'hashmap':
      return { opsPerThread: ops, keyRange: 24, buckets: 4 };
    case 'cow-btree':
      return { opsPerThread: ops, keyRange: 24, maxKeys: 3 };
    default:
      return { opsPerThread: ops, keyRange: 12 };
  }
}

type Outcome = { error: string } | { run: RunOutput };

function execute(input: RunInput): Outcome {
  try {
    return { run: executeRun(input) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** The first event at which two traces differ, described, or undefined when they are equal. */
function traceDiff(a: PersistTrace, b: PersistTrace): string | undefined {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (i >= a.length || i >= b.length) return `lengths ${a.length} and ${b.length}`;
    const ea = [a.kind(i), a.core(i), a.site(i), a.arg(i), a.valueLo(i), a.valueHi(i)];
    const eb = [b.kind(i), b.core(i), b.site(i), b.arg(i), b.valueLo(i), b.valueHi(i)];
    if (ea.some((x, k) => x !== eb[k])) return `event ${i}: ${ea.join(',')} vs ${eb.join(',')}`;
  }
  return undefined;
}

/** NVRAM page indices whose bytes differ between the two runs' machines. */
function nvramDiff(a: RunOutput, b: RunOutput): number[] {
  const ia = a.machine.snapshotNvram();
  const ib = b.machine.snapshotNvram();
  const pages = new Set([...ia.pageIndices(), ...ib.pageIndices()]);
  const out: number[] = [];
  for (const p of pages) {
    const x = ia.page(p);
    const y = ib.page(p);
    if (x === undefined || y === undefined || Buffer.compare(x, y) !== 0) out.push(p);
  }
  return out;
}

describe('functional execution gives the timed run\'s trace, history and NVRAM', () => {
  const cost = makeCostModel('optane-adr', {});
  // prod-con needs two threads (a producer and a consumer): it never runs functionally.
  for (const w of WORKLOADS.filter((x) => x.name !== 'prod-con')) {
    it(`${w.name}: every allocator and canary, random seeds and lengths`, () => {
      for (const f of ALLOCATORS) {
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 4, max: 40 }), fc.constantFrom(...f.idioms), (seed, ops, idiom) => {
            const params = w.validate(paramsOf(w, ops) as never, 1, NVRAM_BYTES);
            const input: RunInput = { allocator: f, workload: w, params, idiom, threads: 1, seed, cost, nvramSizeBytes: NVRAM_BYTES, dramSizeBytes: 16 * MB, trace: true };
            const timed = execute(input);
            const functional = execute({ ...input, functional: true });
            const what = `${f.name} ${w.name} ${idiom} seed ${seed} ops ${ops}`;
            if ('error' in timed || 'error' in functional) {
              expect('error' in functional ? functional.error : 'no error', what).toBe('error' in timed ? timed.error : 'no error');
              return;
            }
            expect(traceDiff(timed.run.machine.trace!, functional.run.machine.trace!), what).toBeUndefined();
            expect(functional.run.history, what).toEqual(timed.run.history);
            expect(functional.run.setupTraceLength, what).toBe(timed.run.setupTraceLength);
            expect(nvramDiff(timed.run, functional.run), what).toEqual([]);
          }),
          // fill-heap's smallest run fills 1 MB (16,384 nodes): one run per allocator.
          { numRuns: w.name === 'fill-heap' ? 1 : 2 },
        );
      }
    });
  }

  it('a functional machine has one core', () => {
    const input: RunInput = { allocator: ALLOCATORS[0], workload: WORKLOADS.find((w) => w.name === 'list')!, params: {}, idiom: ALLOCATORS[0].idioms[0], threads: 2, seed: 1, cost, nvramSizeBytes: NVRAM_BYTES, dramSizeBytes: 16 * MB, trace: true, functional: true };
    expect(() => executeRun({ ...input, params: input.workload.validate({ opsPerThread: 4 } as never, 2, NVRAM_BYTES) })).toThrow(/one core/);
  });
});
