import { describe, it, expect } from 'vitest';
import type { Workload } from './contract.ts';
import { findWorkload } from './registry.ts';
import { executeRun } from '../experiments/execute.ts';
import { ALLOCATORS } from '../allocators/registry.ts';
import { createHarness, counting, newTally } from './testing/harness.ts';

const { run, allocatorsUnderTest } = createHarness({ executeRun, allocators: ALLOCATORS });

/** Tiny per-thread work, so that 64 cores stay fast. */
const TINY: Record<string, object> = {
  threadtest: { iterations: 2, objects: 64 * 4 },
  shbench: { callCount: 64, ringSlots: 40, windowSlots: 8, minSize: 64, maxSize: 100 },
  larson: { slotsPerThread: 4, rounds: 2, pairsPerOp: 4 },
  'prod-con': { objects: 32 * 6, blocksPerOp: 3, queueNodes: 4 },
  'fill-heap': { megabytes: 1, scale: 128, roots: 64 },
  list: { opsPerThread: 4, keyRange: 4 },
  hashmap: { opsPerThread: 4, keyRange: 4, buckets: 16 },
  'cow-btree': { opsPerThread: 4, keyRange: 4, maxKeys: 4 },
};

// One allocator per thread set holds an arena (a 4 MB chunk in nvm-malloc) per core: a large, sparse heap.
const NVRAM_BYTES = 320 * 1024 * 1024;

describe('64 simulated cores', () => {
  const names = Object.keys(TINY);
  // Budget: each workload runs on the fixture and on one real allocator, rotating, so that
  // every workload and every correct allocator get a 64-core run.
  const real = allocatorsUnderTest().slice(1);
  names.forEach((name, i) => {
    const factories = [allocatorsUnderTest()[0], ...(real.length > 0 ? [real[i % real.length]] : [])];
    it(`${name} runs on 64 cores (${factories.map((f) => f.name).join(', ')}), all ops complete${name === 'larson' || name === 'prod-con' ? ', frees cross cores' : ''}`, () => {
      const w: Workload<any> = findWorkload(name)!;
      for (const factory of factories) {
        const tally = newTally();
        const out = run({ factory: counting(factory, tally), workload: w, params: TINY[name], threads: 64, nvramSizeBytes: NVRAM_BYTES });
        const what = `${name} on ${factory.name}`;
        expect(out.streams, what).toHaveLength(64);
        expect(out.opsTotal, what).toBe(out.streams.reduce((n, s) => n + s.length, 0));
        expect(new Set(out.history.map((r) => r.thread)).size, what).toBe(64);
        if (w.verify) expect(w.verify(out.machine, out.allocator, out.context.params as never).errors, what).toEqual([]);
        if (name === 'larson' || name === 'prod-con') expect(tally.crossThreadFrees, what).toBeGreaterThan(0);
      }
    });
  });
});
