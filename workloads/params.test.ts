import { describe, it, expect } from 'vitest';
import { WorkloadParamError, type Workload } from './contract.ts';
import { WORKLOADS, findWorkload, workloadNames } from './registry.ts';
import { executeRun } from '../experiments/execute.ts';
import { ALLOCATORS } from '../allocators/registry.ts';
import { createHarness } from './testing/harness.ts';
import { bumpFactory, bumpFactoryWithRoots } from './testing/bump-allocator.ts';

const { run } = createHarness({ executeRun, allocators: ALLOCATORS });
const HEAP = 64 * 1024 * 1024;

function paramError(fn: () => unknown): WorkloadParamError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WorkloadParamError);
    return e as WorkloadParamError;
  }
  throw new Error('expected a WorkloadParamError');
}

function expectParamError(fn: () => unknown, param: string, expected?: RegExp): void {
  const e = paramError(fn);
  expect(e.param).toBe(param);
  expect(e.message).toContain(`"${param}"`);
  expect(e.expected).toMatch(expected ?? /\[.*\]/);
}

const w = (name: string): Workload<any> => findWorkload(name)!;

describe('registry', () => {
  it('holds the eight workloads by name', () => {
    expect(workloadNames()).toEqual(['threadtest', 'shbench', 'larson', 'prod-con', 'fill-heap', 'list', 'hashmap', 'cow-btree']);
    expect(WORKLOADS.filter((x) => x.verify).map((x) => x.name)).toEqual(['fill-heap', 'list', 'hashmap', 'cow-btree']);
  });

  it('published defaults validate unchanged; every workload rejects 0 and 256 threads and unknown names', () => {
    for (const x of WORKLOADS) {
      expect(x.validate({}, 2, 1 << 30), x.name).toEqual(x.defaults);
      expectParamError(() => x.validate({}, 0, HEAP), 'threads');
      expectParamError(() => x.validate({}, 256, HEAP), 'threads');
      expectParamError(() => x.validate({ bogus: 1 }, 2, HEAP), 'bogus', /one of the parameters/);
      expectParamError(() => x.validate({ scale: 0 }, 2, HEAP), 'scale');
    }
  });
});

describe('out-of-range params name the parameter and the accepted range', () => {
  it('threadtest', () => {
    expectParamError(() => w('threadtest').validate({ fooCount: 0 }, 1, HEAP), 'fooCount');
    expectParamError(() => w('threadtest').validate({ iterations: 0 }, 1, HEAP), 'iterations');
    expectParamError(() => w('threadtest').validate({ objects: 3 }, 4, HEAP), 'objects', /threads = 4/);
    expectParamError(() => w('threadtest').validate({ objects: 2_000_000 }, 1, HEAP), 'objects', /heap/);
  });

  it('shbench: sizes below 1 or above the heap, a ring not larger than its window', () => {
    expectParamError(() => w('shbench').validate({ minSize: 0 }, 1, HEAP), 'minSize');
    expectParamError(() => w('shbench').validate({ maxSize: HEAP + 1 }, 1, HEAP), 'maxSize');
    expectParamError(() => w('shbench').validate({ maxSize: 64 }, 1, HEAP), 'maxSize');
    expectParamError(() => w('shbench').validate({ ringSlots: 100, windowSlots: 100 }, 1, HEAP), 'windowSlots', /window smaller than the ring/);
    expectParamError(() => w('shbench').validate({ callCount: 3 }, 4, HEAP), 'callCount');
  });

  it('larson', () => {
    expectParamError(() => w('larson').validate({ minSize: 0 }, 1, HEAP), 'minSize');
    expectParamError(() => w('larson').validate({ minSize: 100, maxSize: 99 }, 1, HEAP), 'maxSize');
    expectParamError(() => w('larson').validate({ slotsPerThread: 1000 }, 64, 1 << 20), 'slotsPerThread', /heap/);
  });

  it('prod-con: pairs need an even thread count; the queue must hold a batch', () => {
    expectParamError(() => w('prod-con').validate({}, 3, HEAP), 'threads', /even/);
    expectParamError(() => w('prod-con').validate({}, 1, HEAP), 'threads');
    expectParamError(() => w('prod-con').validate({ blocksPerOp: 64, queueNodes: 64 }, 2, HEAP), 'queueNodes', /batch/);
    expectParamError(() => w('prod-con').validate({ objectSizeBytes: HEAP + 1 }, 2, HEAP), 'objectSizeBytes');
  });

  it('fill-heap: a volume above the heap, a crash fraction above 100 %, more roots than the allocator has', () => {
    expectParamError(() => w('fill-heap').validate({ megabytes: 65 }, 1, HEAP), 'megabytes', /heap/);
    expectParamError(() => w('fill-heap').validate({ crashPercent: 101 }, 1, HEAP), 'crashPercent');
    expectParamError(() => run({ factory: bumpFactory, workload: w('fill-heap'), params: { megabytes: 1, scale: 64, roots: 300 }, threads: 1 }), 'roots', /at most 256/);
  });

  it('structures: key ranges above the heap, percentages, node fan-out, root slots for alloc-into', () => {
    expectParamError(() => w('list').validate({ keyRange: 1 << 20 }, 4, HEAP), 'keyRange', /heap/);
    expectParamError(() => w('list').validate({ insertPercent: 101 }, 1, HEAP), 'insertPercent');
    expectParamError(() => w('hashmap').validate({ insertPercent: 80, removePercent: 30 }, 1, HEAP), 'removePercent', /100 - insertPercent/);
    expectParamError(() => w('hashmap').validate({ buckets: 0 }, 1, HEAP), 'buckets');
    expectParamError(() => w('cow-btree').validate({ maxKeys: 1 }, 1, HEAP), 'maxKeys');
    expectParamError(() => w('cow-btree').validate({ maxKeys: 65 }, 1, HEAP), 'maxKeys');
    // alloc-into needs a retire root slot per thread: 8 threads + root 0 exceed 8 roots.
    expectParamError(
      () => run({ factory: bumpFactoryWithRoots(8), workload: w('list'), params: { opsPerThread: 1, keyRange: 1 }, threads: 8, idiom: 'alloc-into' }),
      'threads',
      /root slots/,
    );
  });
});
