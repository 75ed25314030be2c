import { describe, expect, it } from 'vitest';
import type { Counters } from '../../sim/api.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine } from '../../sim/machine.ts';
import { AllocatorMisuseError } from '../contract.ts';
import { contractChecks } from '../contract-suite.ts';
import { transientFactory } from './index.ts';
import { TransientAllocator } from './transient.ts';
import { CLASS_COUNT, GROW_FIRST_PAGES, SIZE_CLASSES, classOfSize, nextGrowPages, runBinOf } from './layout.ts';

function setup(cores = 1, nvramSizeBytes = 32 << 20) {
  const machine = createMachine({ cores, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 << 20, nvramSizeBytes, trace: false });
  const alloc = transientFactory.create(machine);
  alloc.format(machine.core(0));
  return { machine, alloc };
}

function delta(after: Counters, before: Counters): Record<string, number> {
  const d: Record<string, number> = {};
  for (const k of Object.keys(after) as (keyof Counters)[]) d[k] = after[k] - before[k];
  return d;
}

const PERSIST_OPS = ['clflushes', 'clflushopts', 'clwbs', 'ntstores', 'sfences', 'mfences'] as const;

describe('transient: contract suite', () => {
  for (const c of contractChecks(transientFactory)) it(c.name, c.run);
});

describe('transient: geometry', () => {
  it('has size classes 16 B apart to 128 B, then at most 25% apart, slabs of the least common multiple of page and size (jemalloc sc.c)', () => {
    expect(SIZE_CLASSES.slice(0, 8).map((c) => c.sizeBytes)).toEqual([16, 32, 48, 64, 80, 96, 112, 128]);
    expect(SIZE_CLASSES[CLASS_COUNT - 1].sizeBytes).toBe(14336);
    for (let i = 1; i < CLASS_COUNT; i++) {
      const [a, b] = [SIZE_CLASSES[i - 1].sizeBytes, SIZE_CLASSES[i].sizeBytes];
      expect(b % 16).toBe(0);
      if (b > 128) expect(4 * (b - a)).toBeLessThanOrEqual(b);
    }
    for (const c of SIZE_CLASSES) {
      // No waste, and no smaller whole number of pages holds a whole number of regions.
      expect(c.slots * c.sizeBytes).toBe(c.slabPages * 4096);
      for (let p = 1; p < c.slabPages; p++) expect((p * 4096) % c.sizeBytes).not.toBe(0);
      expect(c.slots).toBeGreaterThanOrEqual(1); // 4096 B and 8192 B: one region per slab, as in jemalloc
      expect(c.slots).toBeLessThanOrEqual(256);
      expect(c.slabPages).toBeLessThanOrEqual(7);
    }
    expect(classOfSize(129)).toBe(8);
    expect(runBinOf(64)).toBe(63);
    expect(runBinOf(65)).toBe(64);
    expect(runBinOf(128)).toBe(65);
  });

  it('sizes each cache bin as jemalloc 5.3.0: clamp(2 x regions per slab, 20, 200), even', () => {
    const cap = (size: number) => SIZE_CLASSES[classOfSize(size)].tcacheCapacity;
    expect(cap(16)).toBe(200); // 256 regions
    expect(cap(64)).toBe(128); // 64 regions
    expect(cap(512)).toBe(20); // 8 regions -> 16, below the minimum
    expect(cap(14336)).toBe(20); // 2 regions
    expect(cap(160)).toBe(200); // 5 pages, 128 regions
    for (const c of SIZE_CLASSES) expect(c.tcacheCapacity % 2).toBe(0);
  });
});

describe('transient: costs', () => {
  it('issues no flush and no fence, ever, on a mixed 4-core run (locks are cas only)', () => {
    const { machine, alloc } = setup(4);
    const live: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const core = machine.core(i % 4);
      if (i % 3 === 2 && live.length > 0) alloc.free(core, live.splice((i * 7) % live.length, 1)[0]);
      else live.push(alloc.malloc(core, 1 + ((i * 97) % (i % 50 === 0 ? 200_000 : 2000))));
    }
    for (const [i, b] of live.entries()) alloc.free(machine.core(i % 4), b);
    const c = machine.counters();
    for (const k of PERSIST_OPS) expect(c[k], k).toBe(0);
    expect(c.lockAcquires).toBeGreaterThan(0);
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });

  it('a thread-cache hit costs a handful of loads and stores: no lock, no cas, no flush, no fence', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const warm = alloc.malloc(core, 64);
    alloc.free(core, warm);
    const b0 = machine.counters();
    const a = alloc.malloc(core, 64);
    const b1 = machine.counters();
    alloc.free(core, a);
    const b2 = machine.counters();
    const m = delta(b1, b0);
    const f = delta(b2, b1);
    // malloc: size->class byte, cache bin count, top entry, count store (the shadow is uncharged).
    expect([m.loads, m.stores]).toEqual([3, 1]);
    // free: page state (the rtree lookup), cache bin count and capacity, entry and count stores.
    expect([f.loads, f.stores]).toEqual([3, 2]);
    for (const d of [m, f]) {
      expect(d.cases).toBe(0);
      expect(d.lockAcquires).toBe(0);
      for (const k of PERSIST_OPS) expect(d[k]).toBe(0);
    }
  });

  it('steady malloc(64)/free pairs stay on the fast path: amortised < 8 accesses each, locks only for the first fill', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const n = 20_000;
    const b0 = machine.counters();
    for (let i = 0; i < n; i++) alloc.free(core, alloc.malloc(core, 64));
    const d = delta(machine.counters(), b0);
    expect((d.loads + d.stores) / (2 * n)).toBeLessThan(8);
    // One fill: the bin lock, dropped for the fresh slab (extents lock, frontier lock for the first growth), taken again.
    expect(d.lockAcquires).toBe(4);
  });
});

describe('transient: behaviour', () => {
  it('hands out 16 B granule classes from slabs and reuses a freed block at once (LIFO thread cache)', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const a = alloc.malloc(core, 1);
    const b = alloc.malloc(core, 16);
    expect(b - a).toBe(16);
    alloc.free(core, a);
    expect(alloc.malloc(core, 10)).toBe(a);
  });

  it('large frees coalesce within their owner arena; one arena coalesces back to one run below the frontier', () => {
    const { machine, alloc } = setup(2);
    const sizes = [100_000, 20_000, 300_000, 15_000, 1 << 20];
    const blocks = sizes.map((s, i) => alloc.malloc(machine.core(i % 2), s));
    for (const i of [1, 3, 0, 4, 2]) alloc.free(machine.core((i + 1) % 2), blocks[i]);
    const walk = alloc.walkHeap(machine);
    expect(walk.allocated).toEqual([]);
    expect(walk.free.reduce((n, e) => n + e.sizeBytes, 0)).toBe(machine.layout.nvramSizeBytes - 4096);
    expect(alloc.checkConsistency(machine).errors).toEqual([]);

    const m1 = createMachine({ cores: 2, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 << 20, nvramSizeBytes: 32 << 20, trace: false });
    const one = new TransientAllocator(m1, 1);
    one.format(m1.core(0));
    const b1 = sizes.map((s, i) => one.malloc(m1.core(i % 2), s));
    for (const i of [1, 3, 0, 4, 2]) one.free(m1.core(i % 2), b1[i]);
    // All five fit the arena's first growth (2 MiB, jemalloc's HUGEPAGE); the rest of the heap was never used.
    expect(sizes.reduce((n, s) => n + Math.ceil(s / 4096) * 4096, 0)).toBeLessThan(2 << 20);
    expect(one.walkHeap(m1).free).toEqual([
      { addr: m1.layout.nvramBase + 4096, sizeBytes: 2 << 20 },
      { addr: m1.layout.nvramBase + 4096 + (2 << 20), sizeBytes: m1.layout.nvramSizeBytes - 4096 - (2 << 20) },
    ]);
    expect(one.checkConsistency(m1).errors).toEqual([]);
  });

  it('returns emptied slabs to the arena extents (jemalloc frees every emptied slab)', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const blocks = Array.from({ length: 2000 }, () => alloc.malloc(core, 48));
    for (const b of blocks) alloc.free(core, b);
    // What stays in slabs is what the cache bin holds: capacity / 2 = 100 regions after its last
    // flush, in at most 2 slabs of 256; the free page runs lie around them and past the frontier.
    const free = alloc.walkHeap(machine).free;
    const bigRuns = free.filter((e) => e.sizeBytes >= 4096);
    expect(bigRuns.length).toBeLessThanOrEqual(4);
    const slabBytes = 3 * 4096;
    expect(free.filter((e) => e.sizeBytes === 48).length).toBeLessThanOrEqual(2 * (slabBytes / 48));
    expect(free.reduce((s, e) => s + e.sizeBytes, 0)).toBe(machine.layout.nvramSizeBytes - 4096);
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });

  it('names misuse precisely: double free, interior and foreign addresses, bad destinations, bad roots', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const small = alloc.malloc(core, 40);
    const large = alloc.malloc(core, 50_000);
    alloc.free(core, small);
    alloc.free(core, large);
    const kindOf = (fn: () => void): string => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(AllocatorMisuseError);
        return (e as AllocatorMisuseError).kind;
      }
      return 'none';
    };
    expect(kindOf(() => alloc.free(core, small))).toBe('double-free');
    expect(kindOf(() => alloc.free(core, large))).toBe('double-free');
    const other = alloc.malloc(core, 40);
    expect(kindOf(() => alloc.free(core, other + 16))).toBe('foreign-free');
    expect(kindOf(() => alloc.free(core, other + 3))).toBe('foreign-free');
    expect(kindOf(() => alloc.free(core, machine.layout.dramBase))).toBe('foreign-free');
    expect(kindOf(() => alloc.mallocTo(core, 8, machine.layout.nvramBase + 4))).toBe('bad-destination');
    expect(kindOf(() => alloc.setRoot(core, 512, 0))).toBe('bad-root');
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });

  it('open reformats: nothing survives a restart, kind recovered, roots zero', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    alloc.setRoot(core, 5, alloc.malloc(core, 64));
    alloc.close(core);
    const m2 = createMachine({ cores: 1, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 << 20, nvramSizeBytes: 32 << 20, trace: false, image: machine.snapshotNvram() });
    const a2 = transientFactory.create(m2);
    const stats = a2.open(m2.core(0));
    expect(stats.kind).toBe('recovered');
    expect(stats.cycles).toBeGreaterThan(0);
    expect(a2.getRoot(m2.core(0), 5)).toBe(0);
    expect(a2.walkHeap(m2).allocated).toEqual([]);
  });

  it('a second format on the same allocator starts from an empty heap', () => {
    const { machine, alloc } = setup(2);
    for (let i = 0; i < 300; i++) alloc.malloc(machine.core(i % 2), 16 + i * 10);
    alloc.format(machine.core(0));
    expect(alloc.walkHeap(machine).allocated).toEqual([]);
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
    expect(alloc.malloc(machine.core(1), 16)).toBe(machine.layout.nvramBase + 4096);
  });
});

describe('transient: configuration errors', () => {
  it('names dramSizeBytes when DRAM is too small for its metadata', () => {
    const machine = createMachine({ cores: 1, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 * 1024, nvramSizeBytes: 64 << 20, trace: false });
    expect(() => transientFactory.create(machine)).toThrow(/needs about \d+ B of dramSizeBytes \(65536 B configured\)/);
  });
});

describe('transient: arena growth', () => {
  it('grows like jemalloc exp_grow: 2 MiB first, then the next page size class (4 per doubling)', () => {
    const series = [GROW_FIRST_PAGES];
    for (let i = 0; i < 8; i++) series.push(nextGrowPages(series[series.length - 1]));
    expect(series.map((p) => (p * 4096) / (1 << 20))).toEqual([2, 2.5, 3, 3.5, 4, 5, 6, 7, 8]);
  });

  it('takes the frontier lock only when an arena grows, not for every slab', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const before = machine.counters().lockAcquires;
    // 64 B slabs are one page: 200 slabs' worth stays inside the first 2 MiB growth.
    const blocks = Array.from({ length: 200 * 64 }, () => alloc.malloc(core, 64));
    const fills = blocks.length / (SIZE_CLASSES[classOfSize(64)].tcacheCapacity / 2);
    // Per fill: the bin lock, plus (bin lock again + extents lock) for its fresh slab; one frontier lock in all.
    expect(machine.counters().lockAcquires - before).toBe(3 * fills + 1);
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });
});
