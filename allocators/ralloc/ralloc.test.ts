/**
 * Tests of the Ralloc-style allocator: per-operation persistence costs from the machine
 * counters, functional behaviour against a naive model (fast-check), misuse
 * detection, clean restart, crash recovery (upper and lower images), the broken twin,
 * and multi-core runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Addr, Core } from '../../sim/api.ts';
import { runSchedule } from '../../sim/scheduler.ts';
import { AllocatorMisuseError, type Allocator, type AllocatorFactory } from '../contract.ts';
import { factories, rallocBrokenDescFactory, rallocFactory, rallocShippedFactory } from './index.ts';
import { SB_SIZE_BYTES } from './layout.ts';
import { costOf, covered, lowerImage, newMachine, reachable, startsOf } from './test-helpers.ts';

const ralloc = rallocFactory();

function fresh(cores = 1, factory: AllocatorFactory = ralloc, nvramSizeBytes?: number) {
  const m = newMachine(cores, undefined, nvramSizeBytes);
  const a = factory.create(m);
  a.format(m.core(0));
  return { m, a, core: m.core(0) };
}

/** A 64 B node: word 0 = next, word 1 = key; made durable before it is linked. */
function newNode(a: Allocator, core: Core, key: number, next: Addr): Addr {
  const n = a.malloc(core, 64);
  core.store64(n, next);
  core.store64(n + 8, key);
  core.clwb(n);
  core.sfence();
  return n;
}

describe('ralloc: registry entries', () => {
  it('exports the faithful model and a broken twin', () => {
    expect(factories.map((f) => f.name)).toEqual(['ralloc', 'ralloc-broken-desc', 'ralloc-shipped']);
    expect(factories[2].broken).toBe(true);
    expect(factories[1].broken).toBe(true);
    expect(factories[1].description).toMatch(/descriptor/);
    expect(ralloc.idioms).toEqual(['malloc-then-link', 'alloc-into']);
    expect(ralloc.promisesNoLeak('malloc-then-link')).toBe(true);
  });
});

describe('ralloc: persistence costs on one core, 64 B, optane-adr', () => {
  it('new superblock 1 line 1 fence; malloc and free fast paths 0 and 0; root 1 and 1', () => {
    const { m, a, core } = fresh();
    let x = 0;
    expect(costOf(m, () => { x = a.malloc(core, 64); })).toEqual({ lines: 1, fences: 1 });
    let y = 0;
    expect(costOf(m, () => { y = a.malloc(core, 64); })).toEqual({ lines: 0, fences: 0 });
    expect(costOf(m, () => a.free(core, y))).toEqual({ lines: 0, fences: 0 });
    expect(costOf(m, () => a.setRoot(core, 3, x))).toEqual({ lines: 1, fences: 1 });
    // steady state: 200 malloc/free pairs cost nothing
    expect(costOf(m, () => { for (let i = 0; i < 200; i++) a.free(core, a.malloc(core, 64)); })).toEqual({ lines: 0, fences: 0 });
    expect(a.checkConsistency(m).ok).toBe(true);
  });

  it('an emptied superblock is retired with 1 line 1 fence', () => {
    const { m, a, core } = fresh();
    const perSb = SB_SIZE_BYTES / 64;
    const first: Addr[] = [];
    for (let i = 0; i < perSb; i++) first.push(a.malloc(core, 64));
    const other = a.malloc(core, 64); // second superblock; the bin holds its other blocks
    expect(Math.floor(other / SB_SIZE_BYTES)).not.toBe(Math.floor(first[0] / SB_SIZE_BYTES));
    expect(costOf(m, () => a.free(core, other))).toEqual({ lines: 0, fences: 0 });
    // the bin is now full: the next free returns it, emptying the second superblock
    expect(costOf(m, () => a.free(core, first[0]))).toEqual({ lines: 1, fences: 1 });
    expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
    const walk = a.walkHeap(m);
    expect(covered(walk.free, other)).toBe(true);
  });

  it('mallocTo and freeFrom publish with 1 line (plus 1 fence ordering init)', () => {
    const { m, a, core } = fresh();
    a.free(core, a.malloc(core, 64)); // take the new-superblock cost out
    const dest = a.rootAddress(0);
    expect(costOf(m, () => a.mallocTo(core, 64, dest))).toEqual({ lines: 1, fences: 1 });
    expect(costOf(m, () => a.freeFrom(core, dest))).toEqual({ lines: 1, fences: 1 });
    const init = (c: Core, p: Addr) => { c.store64(p, 42); c.clwb(p); };
    expect(costOf(m, () => a.mallocTo(core, 64, dest, init))).toEqual({ lines: 2, fences: 2 });
    expect(m.peek64(m.peek64(dest))).toBe(42);
    const dram = m.reserveDram(64);
    expect(costOf(m, () => a.mallocTo(core, 64, dram))).toEqual({ lines: 0, fences: 0 });
  });

  it('a large block takes whole superblocks with 1 line 1 fence each way', () => {
    const { m, a, core } = fresh();
    let p = 0;
    expect(costOf(m, () => { p = a.malloc(core, 100_000); })).toEqual({ lines: 1, fences: 1 });
    expect(p % SB_SIZE_BYTES).toBe(0);
    expect(a.walkHeap(m).allocated).toContainEqual({ addr: p, sizeBytes: 2 * SB_SIZE_BYTES });
    expect(costOf(m, () => a.free(core, p))).toEqual({ lines: 1, fences: 1 });
    expect(a.checkConsistency(m).ok).toBe(true);
  });
});

describe('ralloc: behaviour against a naive model', () => {
  it('blocks are aligned, disjoint, and the heap walk equals the live set (fast-check)', () => {
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('malloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 14_336 }), fc.integer({ min: 14_337, max: 200_000 })) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const { m, a, core } = fresh();
        const live = new Map<Addr, number>();
        for (const o of ops) {
          if (o.kind === 'malloc') {
            const p = a.malloc(core, o.size);
            if (p === 0) continue;
            expect(p % 16).toBe(0);
            for (const [q, s] of live) expect(p + o.size <= q || q + s <= p).toBe(true);
            live.set(p, o.size);
          } else if (live.size > 0) {
            const p = [...live.keys()][o.pick % live.size];
            a.free(core, p);
            live.delete(p);
          }
        }
        const walk = a.walkHeap(m);
        expect(startsOf(walk.allocated)).toEqual(new Set(live.keys()));
        for (const e of walk.allocated) expect(e.sizeBytes).toBeGreaterThanOrEqual(live.get(e.addr)!);
        expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
      }),
      { numRuns: 25, seed: 42 },
    );
  });

  it('fills the heap, returns 0 when full, and reuses everything after frees (large runs too)', () => {
    const { m, a, core } = fresh();
    const got: Addr[] = [];
    for (let p = a.malloc(core, 8000); p !== 0; p = a.malloc(core, 8000)) got.push(p);
    expect(got.length).toBeGreaterThan(400);
    expect(a.malloc(core, 200_000)).toBe(0);
    for (const p of got) a.free(core, p);
    a.close(core); // returns the bins to their superblocks
    a.open(core);
    const big = a.malloc(core, 3 * SB_SIZE_BYTES); // needs the slow path: the frontier is exhausted
    expect(big).not.toBe(0);
    expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
  });
});

describe('ralloc: misuse', () => {
  it('double and foreign frees raise AllocatorMisuseError with the address and change nothing', () => {
    const { m, a, core } = fresh();
    const x = a.malloc(core, 64);
    const big = a.malloc(core, 70_000);
    a.free(core, x);
    const before = a.walkHeap(m);
    const expectMisuse = (addr: Addr, kind: string) => {
      let err: unknown;
      try { a.free(core, addr); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(AllocatorMisuseError);
      expect((err as AllocatorMisuseError).kind).toBe(kind);
      expect((err as AllocatorMisuseError).addr).toBe(addr);
    };
    expectMisuse(x, 'double-free');
    expectMisuse(x + 8, 'foreign-free');
    expectMisuse(m.layout.dramBase + 64, 'foreign-free');
    expectMisuse(big + SB_SIZE_BYTES, 'foreign-free');
    expectMisuse(big + 16, 'foreign-free');
    expectMisuse(m.layout.nvramBase + m.layout.nvramSizeBytes - SB_SIZE_BYTES, 'foreign-free');
    expect(a.walkHeap(m)).toEqual(before);
    a.free(core, big);
    expectMisuse(big, 'double-free');
    expect(() => a.malloc(core, 0)).toThrow(AllocatorMisuseError);
    expect(() => a.rootAddress(1024)).toThrow(/root index/);
    expect(() => a.mallocTo(core, 8, 12)).toThrow(AllocatorMisuseError);
    expect(a.checkConsistency(m).ok).toBe(true);
  });

  it('a double free is caught after the bin went back to the superblock', () => {
    const { a, core } = fresh();
    const xs: Addr[] = [];
    for (let i = 0; i < 3000; i++) xs.push(a.malloc(core, 32));
    for (const x of xs) a.free(core, x);
    expect(() => a.free(core, xs[0])).toThrow(/double-free/);
    expect(() => a.free(core, xs[2999])).toThrow(/double-free/);
  });
});

/** Build lists under roots 0..listCount-1, leak some blocks, free some nodes; returns all nodes ever linked. */
function buildLists(a: Allocator, core: Core, listCount: number, perList: number): void {
  for (let r = 0; r < listCount; r++) {
    let head = 0;
    for (let k = 0; k < perList; k++) {
      head = newNode(a, core, r * 1000 + k, head);
      a.setRoot(core, r, head);
      if (k % 3 === 0) a.malloc(core, 48 + 16 * k); // a leak: allocated, never linked
    }
    // unlink and free the second node
    const second = core.load64(head);
    core.store64(head, core.load64(second));
    core.clwb(head);
    core.sfence();
    a.free(core, second);
  }
  const big = a.malloc(core, 90_000);
  core.store64(big, a.getRoot(core, 0));
  core.store64(big + 8, 0);
  core.clwb(big);
  core.sfence();
  a.setRoot(core, listCount, big);
}

function expectRecoveredExactly(a: Allocator, reader: ReturnType<typeof newMachine>, live: Set<Addr>): void {
  const walk = a.walkHeap(reader);
  expect(a.checkConsistency(reader)).toEqual({ ok: true, errors: [] });
  expect(startsOf(walk.allocated)).toEqual(live);
}

describe('ralloc: restart', () => {
  it('clean close then open restores without marking', () => {
    const { m, a, core } = fresh();
    buildLists(a, core, 3, 40);
    const allocatedBefore = startsOf(a.walkHeap(m).allocated);
    a.close(core);
    const m2 = newMachine(1, m.snapshotNvram());
    const a2 = ralloc.create(m2);
    const stats = a2.open(m2.core(0));
    expect(stats.kind).toBe('clean');
    expect(stats.objectsMarked).toBe(0);
    expect(stats.cycles).toBeGreaterThan(0);
    expectRecoveredExactly(a2, m2, allocatedBefore); // leaks survive a clean restart
    const x = a2.malloc(m2.core(0), 64);
    expect(allocatedBefore.has(x)).toBe(false);
    expect(a2.checkConsistency(m2).ok).toBe(true);
    // the misuse shadow is rebuilt at open: a free and a double free in a restored superblock
    const victim = a2.getRoot(m2.core(0), 1);
    a2.free(m2.core(0), victim);
    expect(() => a2.free(m2.core(0), victim)).toThrow(/double-free/);
    expect(a2.checkConsistency(m2)).toEqual({ ok: true, errors: [] });
    expect(startsOf(a2.walkHeap(m2).allocated).has(victim)).toBe(false);
  });

  it('a crash image (upper) recovers: reachable objects allocated, everything else free', () => {
    const { m, a, core } = fresh();
    buildLists(a, core, 4, 60);
    const image = m.snapshotNvram();
    const m2 = newMachine(1, image);
    const a2 = ralloc.create(m2);
    const c2 = m2.core(0);
    const stats = a2.open(c2);
    expect(stats.kind).toBe('recovered');
    const live = reachable(m2, a2, 8, () => 1);
    expect(stats.objectsMarked).toBe(live.size);
    expect(stats.blocksScanned).toBe(Math.floor(m2.layout.nvramSizeBytes / SB_SIZE_BYTES) - 1);
    expect(stats.extra!.markCycles + stats.extra!.sweepCycles).toBe(stats.cycles);
    expect(stats.extra!.markCycles).toBeGreaterThan(0);
    expectRecoveredExactly(a2, m2, live);
    // allocating the whole heap never returns a reachable object
    for (let p = a2.malloc(c2, 64); p !== 0; p = a2.malloc(c2, 64)) expect(covered([...live].map((addr) => ({ addr, sizeBytes: 64 })), p)).toBe(false);
    expect(a2.checkConsistency(m2).ok).toBe(true);
  });

  it('recovery marks through a bounded mark stack (overflow rescans)', () => {
    const { m, a, core } = fresh();
    // a complete binary tree of 255 nodes (word 0 = left, word 1 = right)
    const build = (depth: number): Addr => {
      if (depth === 0) return 0;
      const l = build(depth - 1);
      const r = build(depth - 1);
      const n = a.malloc(core, 32);
      core.store64(n, l);
      core.store64(n + 8, r);
      return n;
    };
    a.setRoot(core, 0, build(8));
    const m2 = newMachine(1, m.snapshotNvram());
    const a2 = rallocFactory({ markStackEntries: 4 }).create(m2);
    const stats = a2.open(m2.core(0));
    expect(stats.objectsMarked).toBe(255);
    expectRecoveredExactly(a2, m2, reachable(m2, a2, 1, () => 2));
  });

  it('a crash during recovery, then recovery again, gives the same heap', () => {
    const { m, a, core } = fresh();
    buildLists(a, core, 2, 30);
    const m2 = newMachine(1, m.snapshotNvram());
    const a2 = ralloc.create(m2);
    a2.open(m2.core(0));
    const live = reachable(m2, a2, 8, () => 1);
    const m3 = newMachine(1, lowerImage(m2));
    const a3 = ralloc.create(m3);
    expect(a3.open(m3.core(0)).kind).toBe('recovered');
    expectRecoveredExactly(a3, m3, live);
  });
});

describe('ralloc: the broken twin is observable in the lower crash image', () => {
  function crashLower(factory: AllocatorFactory) {
    const { m, a, core } = fresh(1, factory);
    const n = newNode(a, core, 7, 0);
    a.setRoot(core, 0, n);
    const big = a.malloc(core, 70_000);
    core.store64(big, 0);
    core.clwb(big);
    core.sfence();
    a.setRoot(core, 1, big);
    const m2 = newMachine(1, lowerImage(m));
    const a2 = factory.create(m2);
    const stats = a2.open(m2.core(0));
    return { n, big, m2, a2, stats };
  }

  it('correct: the reachable objects survive', () => {
    const { n, big, m2, a2, stats } = crashLower(ralloc);
    expect(stats.objectsMarked).toBe(2);
    expect(startsOf(a2.walkHeap(m2).allocated)).toEqual(new Set([n, big]));
  });

  it('broken: reachable objects lie in superblocks recovery sweeps as free, and are handed out again', () => {
    const broken = rallocBrokenDescFactory();
    const { n, big, m2, a2, stats } = crashLower(broken);
    expect(stats.objectsMarked).toBe(0);
    const walk = a2.walkHeap(m2);
    expect(covered(walk.free, n)).toBe(true);
    expect(covered(walk.free, big)).toBe(true);
    expect(a2.getRoot(m2.core(0), 0)).toBe(n);
    expect(a2.malloc(m2.core(0), 64)).toBe(n); // double allocation
  });
});

describe('ralloc-shipped: the released large-allocation flush bug', () => {
  it('costs no line for a large block, and loses a reachable large object in the lower image', () => {
    const shipped = rallocShippedFactory();
    const { m, a, core } = fresh(1, shipped);
    expect(costOf(m, () => a.malloc(core, 64))).toEqual({ lines: 1, fences: 1 });
    let big = 0;
    expect(costOf(m, () => { big = a.malloc(core, 70_000); })).toEqual({ lines: 0, fences: 0 });
    const small = newNode(a, core, 1, 0);
    a.setRoot(core, 0, small);
    a.setRoot(core, 1, big);
    const m2 = newMachine(1, lowerImage(m));
    const a2 = shipped.create(m2);
    expect(a2.open(m2.core(0)).objectsMarked).toBe(1);
    const walk = a2.walkHeap(m2);
    expect(startsOf(walk.allocated)).toEqual(new Set([small]));
    expect(covered(walk.free, big)).toBe(true);
  });
});

describe('ralloc: four cores', () => {
  it('cross-core frees, consistent walk, and crash recovery', () => {
    const { m, a } = fresh(4, ralloc, 16 * 1024 * 1024);
    const mine: Addr[][] = [[], [], [], []];
    const opsPerThread = 400;
    runSchedule(m, [opsPerThread, opsPerThread, opsPerThread, opsPerThread], (core, t, i) => {
      if (i % 5 === 4 && mine[(t + 1) % 4].length > 0) {
        a.free(core, mine[(t + 1) % 4].shift()!); // free a block another core allocated
      } else {
        const p = a.malloc(core, 16 + ((i * 37 + t * 11) % 600));
        mine[t].push(p);
        if (i % 7 === 0) {
          core.store64(p, a.getRoot(core, t));
          core.clwb(p);
          core.sfence();
          a.setRoot(core, t, p);
          mine[t].pop(); // linked: never freed
        }
      }
      return 'done';
    });
    expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
    const m2 = newMachine(4, m.snapshotNvram());
    const a2 = ralloc.create(m2);
    expect(a2.open(m2.core(0)).kind).toBe('recovered');
    const live = reachable(m2, a2, 4, () => 1);
    expectRecoveredExactly(a2, m2, live);
  });
});
