import { describe, expect, it } from 'vitest';
import type { Counters } from '../../sim/api.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine } from '../../sim/machine.ts';
import { AllocatorMisuseError } from '../contract.ts';
import { contractChecks } from '../contract-suite.ts';
import { transientFactory } from './index.ts';
import { CLASS_COUNT, SIZE_CLASSES, classOfSize, runBinOf } from './layout.ts';

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
  it('has size classes 16 B apart to 128 B, then at most 25% apart, slabs of >= 8 slots of <= 256', () => {
    expect(SIZE_CLASSES.slice(0, 8).map((c) => c.sizeBytes)).toEqual([16, 32, 48, 64, 80, 96, 112, 128]);
    for (let i = 1; i < CLASS_COUNT; i++) {
      const [a, b] = [SIZE_CLASSES[i - 1].sizeBytes, SIZE_CLASSES[i].sizeBytes];
      expect(b % 16).toBe(0);
      if (b > 128) expect(4 * (b - a)).toBeLessThanOrEqual(b);
    }
    for (const c of SIZE_CLASSES) {
      expect(c.slots).toBeGreaterThanOrEqual(8);
      expect(c.slots).toBeLessThanOrEqual(256);
      expect(c.slabPages * 4096 - c.slots * c.sizeBytes).toBeLessThan(c.sizeBytes);
    }
    expect(classOfSize(129)).toBe(8);
    expect(runBinOf(64)).toBe(63);
    expect(runBinOf(65)).toBe(64);
    expect(runBinOf(128)).toBe(65);
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
    // malloc: size->class byte, tcache count, entry, count store, handed-out word load + store.
    expect(m.loads + m.stores).toBeLessThanOrEqual(6);
    // free: page state, class size, slot count, handed-out word (the misuse checks), clear the bit,
    // tcache count and limit, entry and count stores.
    expect(f.loads + f.stores).toBeLessThanOrEqual(9);
    for (const d of [m, f]) {
      expect(d.cases).toBe(0);
      expect(d.lockAcquires).toBe(0);
      for (const k of PERSIST_OPS) expect(d[k]).toBe(0);
    }
  });

  it('steady malloc(64)/free pairs stay on the fast path: amortised < 8 accesses each, rare locks', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const n = 20_000;
    const b0 = machine.counters();
    for (let i = 0; i < n; i++) alloc.free(core, alloc.malloc(core, 64));
    const d = delta(machine.counters(), b0);
    expect((d.loads + d.stores) / (2 * n)).toBeLessThan(8);
    expect(d.lockAcquires).toBeLessThanOrEqual(2);
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

  it('large frees coalesce back into one free run covering the heap', () => {
    const { machine, alloc } = setup(2);
    const blocks = [100_000, 20_000, 300_000, 15_000, 1 << 20].map((s, i) => alloc.malloc(machine.core(i % 2), s));
    for (const i of [1, 3, 0, 4, 2]) alloc.free(machine.core(i % 2), blocks[i]);
    const walk = alloc.walkHeap(machine);
    expect(walk.allocated).toEqual([]);
    expect(walk.free).toEqual([{ addr: machine.layout.nvramBase + 4096, sizeBytes: machine.layout.nvramSizeBytes - 4096 }]);
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });

  it('returns emptied slabs to the page allocator (keeping one spare per class)', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const blocks = Array.from({ length: 2000 }, () => alloc.malloc(core, 48));
    const pagesWithSlabs = alloc.walkHeap(machine).free.filter((e) => e.sizeBytes >= 4096).length;
    for (const b of blocks) alloc.free(core, b);
    const free = alloc.walkHeap(machine).free;
    const bigRuns = free.filter((e) => e.sizeBytes >= 4096);
    expect(bigRuns.length).toBeLessThanOrEqual(2);
    expect(free.reduce((s, e) => s + e.sizeBytes, 0)).toBeGreaterThan(machine.layout.nvramSizeBytes - 4096 - 4 * 4096);
    expect(pagesWithSlabs).toBeGreaterThanOrEqual(1);
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
