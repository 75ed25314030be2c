import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SeedTree } from '../sim/choice.ts';
import type { Idiom } from '../allocators/contract.ts';
import type { Op, ThreadStreams, VerifyReport, Workload } from './contract.ts';
import { list } from './list.ts';
import { hashmap } from './hashmap.ts';
import { cowBtree } from './cow-btree.ts';
import { executeRun } from '../experiments/execute.ts';
import { ALLOCATORS } from '../allocators/registry.ts';
import { createHarness, counting, newTally, TEST_NVRAM_BYTES } from './testing/harness.ts';
import { bumpFactory } from './testing/bump-allocator.ts';
import { expectedKeysIndexOf, expectedKeysOf, expectedValuesOf } from './common/keyed.ts';
import type { StructureCommon } from './common/structure.ts';

const { run, allocatorsUnderTest } = createHarness({ executeRun, allocators: ALLOCATORS });

const seedOf = (s: number) => SeedTree.root(s).child('workload');

const SMALL: [Workload<any>, object][] = [
  [list, { opsPerThread: 60, keyRange: 24 }],
  [hashmap, { opsPerThread: 60, keyRange: 40, buckets: 8 }],
  [cowBtree, { opsPerThread: 60, keyRange: 40, maxKeys: 3 }],
];

/** Every reachable object lies inside an extent the allocator reports allocated. */
function expectReachableAllocated(report: VerifyReport, allocated: readonly { addr: number; sizeBytes: number }[], what: string): void {
  const sorted = [...allocated].sort((a, b) => a.addr - b.addr);
  for (const r of report.reachable) {
    let lo = 0;
    let hi = sorted.length - 1;
    let hit = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid].addr <= r.addr) {
        hit = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const e = sorted[hit];
    expect(e !== undefined && r.addr + r.sizeBytes <= e.addr + e.sizeBytes, `${what}: reachable 0x${r.addr.toString(16)} not allocated`).toBe(true);
  }
}

describe('keyed streams', () => {
  it('per-thread disjoint keys; inserts hit absent keys, removes/updates present ones; deterministic by seed', () => {
    const p = hashmap.validate({ opsPerThread: 300, keyRange: 20 }, 3, TEST_NVRAM_BYTES);
    const s = hashmap.generate(seedOf(7), p, 3);
    s.forEach((ops, t) => {
      const present = new Set<number>();
      for (const op of ops) {
        const key = op.key as number;
        expect((key - 1) % 3).toBe(t);
        if (op.kind === 'insert') expect(present.has(key)).toBe(false);
        else expect(present.has(key)).toBe(true);
        if (op.kind === 'remove') present.delete(key);
        else present.add(key);
      }
    });
    const kinds = s.flat().map((o) => o.kind);
    for (const k of ['insert', 'remove', 'update']) expect(kinds.filter((x) => x === k).length).toBeGreaterThan(100);
    expect(hashmap.generate(seedOf(7), p, 3)).toEqual(s);
    expect(hashmap.generate(seedOf(8), p, 3)).not.toEqual(s);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('list and cow-btree mix inserts and removes only, at insertPercent', () => {
    for (const w of [list, cowBtree] as Workload<StructureCommon>[]) {
      const s = w.generate(seedOf(1), w.validate({ opsPerThread: 2000, keyRange: 5000, insertPercent: 70 }, 1, TEST_NVRAM_BYTES), 1);
      const inserts = s[0].filter((o: Op) => o.kind === 'insert').length;
      expect(s[0].every((o: Op) => o.kind !== 'update')).toBe(true);
      expect(Math.abs(inserts - 1400)).toBeLessThan(100);
    }
  });

  it('expectedKeys: completed ops decide; keys of in-flight ops are in neither set; unstarted inserts must be absent', () => {
    const streams: ThreadStreams = [
      [{ kind: 'insert', key: 1, value: 5 }, { kind: 'insert', key: 3, value: 6 }, { kind: 'remove', key: 1 }],
      [{ kind: 'insert', key: 2, value: 7 }, { kind: 'update', key: 2, value: 8 }, { kind: 'insert', key: 4, value: 9 }],
    ];
    const completed = [{ thread: 0, opIndex: 0 }, { thread: 1, opIndex: 0 }, { thread: 1, opIndex: 1 }];
    const inFlight = [{ thread: 0, opIndex: 1 }];
    expect(expectedKeysOf(streams, completed, inFlight)).toEqual({ mustContain: [1, 2], mustNotContain: [4] });
    expect(expectedKeysOf(streams, [...completed, { thread: 0, opIndex: 1 }, { thread: 0, opIndex: 2 }], [])).toEqual({ mustContain: [2, 3], mustNotContain: [1, 4] });
    expect(expectedValuesOf(streams, completed)).toEqual(new Map([[1, 5], [2, 8]]));
    // An update in flight keeps its (present) key in mustContain.
    const upd = expectedKeysOf(streams, [{ thread: 1, opIndex: 0 }], [{ thread: 1, opIndex: 1 }]);
    expect(upd.mustContain).toEqual([2]);
  });
});

describe('expectedKeysIndex', () => {
  it('equals expectedKeysOf at every prefix (long two-thread run, in-flight ops)', () => {
    const p = list.validate({ opsPerThread: 700, keyRange: 40 }, 2, TEST_NVRAM_BYTES);
    const streams = list.generate(seedOf(3), p, 2);
    const completed: { thread: number; opIndex: number }[] = [];
    for (let i = 0; i < 700; i++) for (let t = 0; t < 2; t++) completed.push({ thread: t, opIndex: i });
    const at = expectedKeysIndexOf(streams, completed);
    for (let n = 0; n <= completed.length; n += 37) {
      // Several queries at one count: one op in flight, the same again, none, two, then the first again.
      const fly = n < completed.length ? [completed[n]] : [];
      const two = n + 1 < completed.length ? [completed[n], completed[n + 1]] : fly;
      for (const f of [fly, fly.map((r) => ({ ...r })), [], two, fly]) expect(at(n, f)).toEqual(expectedKeysOf(streams, completed.slice(0, n), f));
    }
    expect(at(completed.length, [])).toEqual(expectedKeysOf(streams, completed, []));
  });

  it('equals expectedKeysOf with several ops in flight, and for keys that are not numbers (map path)', () => {
    const p = list.validate({ opsPerThread: 300, keyRange: 25 }, 3, TEST_NVRAM_BYTES);
    const streams = list.generate(seedOf(5), p, 3);
    const completed: { thread: number; opIndex: number }[] = [];
    for (let i = 0; i < 300; i++) for (let t = 0; t < 3; t++) completed.push({ thread: t, opIndex: i });
    const named = streams.map((s) => s.map((op) => ({ ...op, key: `k${op.key}` })));
    const at = expectedKeysIndexOf(streams, completed);
    const atNamed = expectedKeysIndexOf(named, completed);
    for (let n = 0; n + 3 <= completed.length; n += 29) {
      const fly = completed.slice(n, n + 3);
      expect(at(n, fly)).toEqual(expectedKeysOf(streams, completed.slice(0, n), fly));
      expect(atNamed(n, fly)).toEqual(expectedKeysOf(named, completed.slice(0, n), fly));
    }
  });

  it('answers queries in any order', () => {
    const p = list.validate({ opsPerThread: 600, keyRange: 30 }, 1, TEST_NVRAM_BYTES);
    const streams = list.generate(seedOf(5), p, 1);
    const completed = streams[0].map((_, opIndex) => ({ thread: 0, opIndex }));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: completed.length }), { minLength: 1, maxLength: 12 }), (ns) => {
        const at = expectedKeysIndexOf(streams, completed);
        for (const n of ns) {
          const fly = n < completed.length ? [completed[n]] : [];
          expect(at(n, fly)).toEqual(expectedKeysOf(streams, completed.slice(0, n), fly));
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('structures run on every allocator and verify', () => {
  for (const [w, params] of SMALL) {
    it(`${w.name}: both idioms on every allocator, verify clean, keys = expected, reachable objects allocated`, () => {
      for (const factory of allocatorsUnderTest()) {
        const idioms: Idiom[] = ['malloc-then-link', 'alloc-into'];
        for (const idiom of idioms) {
          const what = `${w.name} on ${factory.name} (${idiom})`;
          const out = run({ factory, workload: w, params, threads: 2, idiom });
          expect(out.opsTotal, what).toBe(120);
          const report = w.verify!(out.machine, out.allocator, out.context.params as never);
          expect(report.errors, what).toEqual([]);
          const exp = w.expectedKeys!(out.streams, out.history, []);
          expect(report.keys, what).toEqual(exp.mustContain);
          expect(exp.mustContain.length, what).toBeGreaterThan(5);
          expectReachableAllocated(report, out.allocator.walkHeap(out.machine).allocated, what);
        }
      }
    });
  }

  it('alloc-into leaves the retire and pending slots empty after each op; malloc-then-link never uses them', () => {
    for (const idiom of ['alloc-into', 'malloc-then-link'] as const) {
      for (const [w, params] of SMALL) {
        const out = run({ factory: bumpFactory, workload: w, params, threads: 2, idiom });
        for (let i = 1; i < 8; i++) expect(out.machine.peek64(out.allocator.rootAddress(i)), `${w.name} ${idiom} root ${i}`).toBe(0);
      }
    }
  });

  it('list: frees balance; cow-btree: every update allocates a path and frees the old one', () => {
    const tally = newTally();
    const out = run({ factory: counting(bumpFactory, tally), workload: list, params: { opsPerThread: 80, keyRange: 30 }, threads: 1 });
    const inserts = out.streams[0].filter((o) => o.kind === 'insert').length;
    expect(tally.mallocs).toBe(inserts);
    expect(tally.frees).toBe(80 - inserts);
    const t2 = newTally();
    const out2 = run({ factory: counting(bumpFactory, t2), workload: cowBtree, params: { opsPerThread: 80, keyRange: 30, maxKeys: 2 }, threads: 1 });
    const report = cowBtree.verify!(out2.machine, out2.allocator, out2.context.params as never);
    // Live nodes = allocations - frees = the nodes reachable from the root.
    expect(t2.mallocs - t2.frees).toBe(report.reachable.length);
    expect(t2.mallocs).toBeGreaterThan(2 * 80);
  });

  it('cow-btree matches a set model for random op sequences (splits at maxKeys 2..4)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 30, max: 90 }), (maxKeys, seed, insertPercent) => {
        const out = run({ factory: bumpFactory, workload: cowBtree, params: { opsPerThread: 50, keyRange: 25, maxKeys, insertPercent }, threads: 1, seed });
        const report = cowBtree.verify!(out.machine, out.allocator, out.context.params as never);
        expect(report.errors).toEqual([]);
        expect(report.keys).toEqual(expectedKeysOf(out.streams, out.history, []).mustContain);
      }),
      { numRuns: 15 },
    );
  });
});
