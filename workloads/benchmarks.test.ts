import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SeedTree } from '../sim/choice.ts';
import type { Op, ThreadStreams } from './contract.ts';
import { threadtest } from './threadtest.ts';
import { shbench, shbenchSchedule } from './shbench.ts';
import { larson, larsonPairPlan, larsonMeasuredAllocations, type LarsonParams } from './larson.ts';
import { prodCon } from './prod-con.ts';
import { executeRun } from '../experiments/execute.ts';
import { ALLOCATORS } from '../allocators/registry.ts';
import { createHarness, counting, newTally, TEST_NVRAM_BYTES } from './testing/harness.ts';
import { bumpFactory } from './testing/bump-allocator.ts';

const { run, allocatorsUnderTest } = createHarness({ executeRun, allocators: ALLOCATORS });

const seedOf = (s: number) => SeedTree.root(s).child('workload');
const opsIn = (streams: ThreadStreams) => streams.reduce((n, s) => n + s.length, 0);

/** Naive sh6bench ring model (plain JS arrays), independent of the simulated one. */
function shbenchModel(ring: number, windowSlots: number, repeats: number, sched: { sizeBytes: number; count: number }[]) {
  let mp = 0;
  let saveStart = ring;
  let saveEnd = ring;
  let mallocs = 0;
  let frees = 0;
  const live = new Array<boolean>(ring).fill(false);
  const free = (i: number) => {
    expect(live[i]).toBe(true);
    live[i] = false;
    frees++;
  };
  for (let r = 0; r < repeats; r++) {
    for (const { count } of sched) {
      for (let k = 0; k < count; k++) {
        expect(live[mp]).toBe(false);
        live[mp] = true;
        mallocs++;
        mp++;
        if (mp === saveStart) mp = saveEnd;
        if (mp >= ring) {
          saveStart = saveEnd >= ring ? 0 : saveEnd;
          saveEnd = Math.min(saveStart + windowSlots, ring);
          for (let i = 0; i < saveStart; i++) free(i);
          for (let i = ring - 1; i >= saveEnd; i--) free(i);
          mp = saveStart === 0 ? saveEnd : 0;
        }
      }
    }
  }
  for (let i = 0; i < mp; i++) free(i);
  return { mallocs, frees };
}

describe('threadtest', () => {
  it('streams: iterations x (malloc batch, free batch) per thread, seed-independent', () => {
    const p = threadtest.validate({ iterations: 7, objects: 90, objectsPerOp: 20 }, 3, TEST_NVRAM_BYTES);
    const s = threadtest.generate(seedOf(1), p, 3);
    expect(s).toHaveLength(3);
    // 30 objects per thread in ops of 20 + 10: 2 malloc + 2 free ops per iteration.
    expect(s[0]).toHaveLength(7 * 4);
    const perIter = s[0].slice(0, 4);
    expect(perIter.map((o) => [o.kind, o.first, o.count])).toEqual([['malloc', 0, 20], ['malloc', 20, 10], ['free', 0, 20], ['free', 20, 10]]);
    expect(threadtest.generate(seedOf(2), p, 3)).toEqual(s);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('runs on every allocator: objects x iterations mallocs of 64 B, all freed, no cross-thread frees', () => {
    for (const factory of allocatorsUnderTest()) {
      const tally = newTally();
      const out = run({ factory: counting(factory, tally), workload: threadtest, params: { iterations: 4, objects: 120 }, threads: 2 });
      expect(out.opsTotal, factory.name).toBe(opsIn(out.streams));
      expect(tally.mallocs, factory.name).toBe(4 * 120);
      expect(tally.frees).toBe(4 * 120);
      expect([...tally.sizes.keys()]).toEqual([64]);
      expect(tally.crossThreadFrees).toBe(0);
      expect(out.cycles).toBeGreaterThan(0);
    }
  });
});

describe('shbench', () => {
  it('size schedule: bases 64,97,146,220,331 halved to >= 64; x250 below 100 B, x50 below 1000 B', () => {
    const sched = shbenchSchedule(64, 400);
    expect(sched.map((e) => e.sizeBytes)).toEqual([64, 97, 146, 73, 220, 110, 331, 165, 82]);
    expect(sched.map((e) => e.count)).toEqual([250, 250, 50, 250, 50, 50, 50, 50, 250]);
    expect(sched.reduce((n, e) => n + e.count, 0)).toBe(1250);
    expect(shbenchSchedule(10, 12000).find((e) => e.sizeBytes >= 10000)?.count).toBe(1);
  });

  it('streams: calls/T repeats of the schedule, then finish; seed-independent', () => {
    const p = shbench.validate({ callCount: 40 }, 2, TEST_NVRAM_BYTES);
    const s = shbench.generate(seedOf(1), p, 2);
    expect(s[0]).toHaveLength(20 * 9 + 1);
    expect(s[0][s[0].length - 1]).toEqual({ kind: 'finish' });
    expect(shbench.generate(seedOf(9), p, 2)).toEqual(s);
  });

  it('runs on every allocator with the malloc/free counts of a naive ring model', () => {
    const sched = shbenchSchedule(64, 400);
    for (const factory of allocatorsUnderTest()) {
      const tally = newTally();
      // One repeat (1,250 allocations) per thread over a ring of 300: four wraps.
      const out = run({ factory: counting(factory, tally), workload: shbench, params: { callCount: 2, ringSlots: 300, windowSlots: 60 }, threads: 2 });
      const model = shbenchModel(300, 60, 1, sched);
      expect(model.frees).toBeGreaterThan(900);
      expect(out.opsTotal, factory.name).toBe(2 * (9 + 1));
      expect(tally.mallocs, factory.name).toBe(2 * model.mallocs);
      expect(tally.frees, factory.name).toBe(2 * model.frees);
      for (const e of sched) expect(tally.sizes.get(e.sizeBytes)).toBe(2 * e.count);
    }
  });
});

describe('shbench ring (property)', () => {
  it('the simulated ring frees exactly what the naive model frees, for any ring and window', () => {
    const sched = shbenchSchedule(64, 100); // sizes 64 and 97: 500 allocations a repeat
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 1, max: 2 }), (ring, w, repeats) => {
        const windowSlots = w % ring;
        const tally = newTally();
        const params = { callCount: repeats, minSize: 64, maxSize: 100, ringSlots: ring, windowSlots };
        run({ factory: counting(bumpFactory, tally), workload: shbench, params, threads: 1 });
        // windowSlots 0 means "ring/5", as the original.
        const model = shbenchModel(ring, windowSlots === 0 ? Math.floor(ring / 5) : windowSlots, repeats, sched);
        expect(tally.mallocs).toBe(model.mallocs);
        expect(tally.frees).toBe(model.frees);
      }),
      { numRuns: 12 },
    );
  });
});

describe('larson', () => {
  const params: Partial<LarsonParams> = { slotsPerThread: 40, rounds: 3, lives: 2, pairsPerOp: 50 };

  it('streams: per life takeover, pairs (seeded), retire; successor takes the next set; deterministic by seed', () => {
    const p = larson.validate(params, 3, TEST_NVRAM_BYTES);
    const s = larson.generate(seedOf(5), p, 3);
    expect(s[1].filter((o) => o.kind === 'takeover').map((o) => o.set)).toEqual([1, 2]);
    const pairs = s[1].filter((o) => o.kind === 'pairs');
    expect(pairs.reduce((n, o) => n + (o.count as number), 0)).toBe(2 * 3 * 40);
    expect(larson.generate(seedOf(5), p, 3)).toEqual(s);
    expect(larson.generate(seedOf(6), p, 3)).not.toEqual(s);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('pair plans: victims in the slot set, sizes uniform in [64, 400)', () => {
    const plan = larsonPairPlan(seedOf(3).seed, 20000, 1000, 64, 400);
    const sizes = plan.map((e) => e.sizeBytes);
    expect(Math.min(...sizes)).toBe(64);
    expect(Math.max(...sizes)).toBe(399);
    expect(plan.every((e) => e.victim >= 0 && e.victim < 1000)).toBe(true);
    const low = sizes.filter((x) => x < 232).length; // 232 = midpoint of [64, 400)
    expect(Math.abs(low - 10000)).toBeLessThan(400);
    expect(larsonPairPlan(seedOf(3).seed, 5, 1000, 64, 400)).toEqual(plan.slice(0, 5));
  });

  it('runs on every allocator: warm-up N + 4N pairs, then the planned pairs; frees cross threads', () => {
    for (const factory of allocatorsUnderTest()) {
      const tally = newTally();
      const out = run({ factory: counting(factory, tally), workload: larson, params, threads: 2 });
      const p = out.context.params as LarsonParams;
      const n = 2 * 40;
      const measured = larsonMeasuredAllocations(p, 2);
      expect(out.opsTotal, factory.name).toBe(opsIn(out.streams));
      expect(tally.mallocs, factory.name).toBe(n + 4 * n + measured);
      expect(tally.frees).toBe(4 * n + measured);
      const planned = new Map<number, number>();
      for (const op of out.streams.flat().filter((o: Op) => o.kind === 'pairs')) {
        for (const e of larsonPairPlan(op.seed as string, op.count as number, 40, 64, 400)) planned.set(e.sizeBytes, (planned.get(e.sizeBytes) ?? 0) + 1);
      }
      for (const [size, count] of planned) expect(tally.sizes.get(size)).toBeGreaterThanOrEqual(count);
      expect([...tally.sizes.keys()].every((x) => x >= 64 && x < 400)).toBe(true);
      expect(tally.crossThreadFrees, factory.name).toBeGreaterThan(0);
    }
  });

  it('successor lives add cross-thread frees; one thread has none', () => {
    const xfree = (threads: number, lives: number) => {
      const tally = newTally();
      run({ factory: counting(bumpFactory, tally), workload: larson, params: { ...params, lives }, threads });
      return tally.crossThreadFrees;
    };
    expect(xfree(1, 2)).toBe(0);
    expect(xfree(2, 2)).toBeGreaterThan(xfree(2, 1));
  });
});

describe('prod-con', () => {
  it('streams: producers produce, consumers consume, objects*2/T blocks per pair', () => {
    const p = prodCon.validate({ objects: 1000, blocksPerOp: 30 }, 4, TEST_NVRAM_BYTES);
    const s = prodCon.generate(seedOf(1), p, 4);
    expect(s.map((t) => t[0].kind)).toEqual(['produce', 'consume', 'produce', 'consume']);
    expect(s[2].reduce((n, o) => n + (o.count as number), 0)).toBe(500);
    expect(s[3].every((o) => o.pair === 1)).toBe(true);
    expect(prodCon.generate(seedOf(2), p, 4)).toEqual(s);
  });

  it('runs on every allocator: every block is allocated by a producer and freed remotely by its consumer', () => {
    for (const factory of allocatorsUnderTest()) {
      const tally = newTally();
      // A queue of one batch: producers and consumers both have to wait in simulated time.
      const out = run({ factory: counting(factory, tally), workload: prodCon, params: { objects: 200, blocksPerOp: 16, queueNodes: 17 }, threads: 4 });
      expect(out.opsTotal, factory.name).toBe(opsIn(out.streams));
      expect(tally.mallocs, factory.name).toBe(200);
      expect(tally.frees).toBe(200);
      expect(tally.crossThreadFrees).toBe(200);
      expect([...tally.sizes.keys()]).toEqual([64]);
    }
  });
});
