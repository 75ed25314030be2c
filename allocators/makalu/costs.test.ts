/**
 * Faithfulness: per-operation flush and fence counts of the Makalu model against the
 * figures read from the released source (allocators.md, Makalu section).
 *
 * Pattern (threadtest, 1 thread, 1 round, `optane-adr`): 100,000 x malloc(64) into an
 * array, then 100,000 x free in allocation order. This is the pattern the published
 * figures imply: with malloc/free pairs every call after the first refill would hit the
 * thread-local list (0 flushes), while allocating many objects first makes every 64th
 * malloc refill from a new block (12 fences / 64 = 0.19) and every 64th free empty a
 * block (16 fences / 64 = 0.25). malloc(8 KB) is measured in steady state
 * (malloc/free pairs: the split's new header comes from the header free list).
 */
import { describe, expect, it } from 'vitest';
import type { Addr } from '../../sim/api.ts';
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { runSchedule } from '../../sim/scheduler.ts';
import { factories } from './index.ts';
import { LE_VERSION, LOG_ENTRIES, LOG_ENTRY_BYTES, SB_LOG_VERSION } from './layout.ts';
import type { MakaluAllocator } from './makalu.ts';
import { MiB, counts, diff, newMachine, type Counts } from './test-helpers.ts';

const factory = (name: string) => factories.find((f) => f.name === name)!;

/** Entries written by the most recently closed section (version = current - 1). */
function lastSectionEntries(m: SimMachine, a: MakaluAllocator): number {
  const v = m.peek64(a.mk.nv.superblock + SB_LOG_VERSION) - 1;
  let n = 0;
  while (n < LOG_ENTRIES && m.peek64(a.mk.nv.log + n * LOG_ENTRY_BYTES + LE_VERSION) === v) n++;
  return n;
}

interface Phase {
  total: Counts;
  slow: { op: number; cost: Counts; entries: number }[];
  fastNonZero: number;
}

function threadtest(name: string, n: number): { malloc: Phase; free: Phase; m: SimMachine } {
  const m = newMachine(32 * MiB);
  const a = factory(name).create(m) as MakaluAllocator;
  const core = m.core(0);
  a.format(core);
  const ptrs: Addr[] = [];
  const run = (op: (i: number) => void): Phase => {
    const phase: Phase = { total: counts(m), slow: [], fastNonZero: 0 };
    for (let i = 0; i < n; i++) {
      const before = counts(m);
      op(i);
      const cost = diff(before, counts(m));
      if (cost.fences > 0) phase.slow.push({ op: i, cost, entries: lastSectionEntries(m, a) });
      else if (cost.flushes > 0 || cost.locks > 0) phase.fastNonZero++;
    }
    phase.total = diff(phase.total, counts(m));
    return phase;
  };
  const malloc = run(() => ptrs.push(a.malloc(core, 64)));
  const free = run((i) => a.free(core, ptrs[i]));
  expect(a.checkConsistency(m).errors).toEqual([]);
  return { malloc, free, m };
}

const within25 = (measured: number, target: number): void => {
  expect(measured).toBeGreaterThanOrEqual(target * 0.75);
  expect(measured).toBeLessThanOrEqual(target * 1.25);
};

describe('makalu per-operation costs (threadtest 1 thread: 100,000 x malloc(64), then free all)', () => {
  const N = 100_000;
  const { malloc, free } = threadtest('makalu', N);

  it('fast paths: all but the refilling mallocs and trimming frees do 0 flushes, 0 fences, no lock', () => {
    expect(malloc.fastNonZero).toBe(0);
    expect(malloc.slow.length).toBe(Math.ceil(N / 64));
    // Frees: one trim per 64 frees (the first trim empties no block: locks and a lazy flush, no fence).
    expect(free.fastNonZero).toBeLessThanOrEqual(2);
    expect(free.slow.length + free.fastNonZero).toBeLessThanOrEqual(Math.ceil(N / 64) + 1);
  });

  it('a thread-list refill from a new block is one section of 4 log entries: 12 fences, 9 flushes', () => {
    // Refills 2..4 take a block from the free run (refill 1 also grows the heap) while the
    // thread's flush table still has room for the allocation-bit lines: exactly the section's cost.
    for (const r of malloc.slow.slice(1, 4)) {
      expect(r.entries).toBe(4);
      expect(r.cost.fences).toBe(12);
      expect(r.cost.flushes).toBe(9);
    }
    // Later refills add lazy (tier-2) write-backs of evicted allocation-bit / index lines
    // (no fence); a refill taking the last block of a run (no split, d = 2) costs 7 + those.
    const sections = malloc.slow.filter((r) => r.entries === 4 && r.cost.fences === 12);
    expect(sections.length / malloc.slow.length).toBeGreaterThan(0.9);
    const nine = sections.filter((r) => r.cost.flushes === 9 || r.cost.flushes === 10).length;
    expect(nine / sections.length).toBeGreaterThan(0.85); // measured: 1,372 of 1,548 (the rest: 11 = two lazy evictions, 8 = exact fit)
    for (const r of sections) expect(r.cost.flushes).toBeGreaterThanOrEqual(7), expect(r.cost.flushes).toBeLessThanOrEqual(11);
  });

  it('a trimming free that empties a block runs one section of 6 entries: 2k+4 = 16 fences', () => {
    const steady = free.slow.slice(2, -2);
    for (const r of steady) {
      expect(r.entries).toBe(6);
      expect(r.cost.fences).toBe(16);
    }
  });

  it('amortised malloc(64) ~0.16 flushes, ~0.19 fences; free(64) ~0.20 flushes, ~0.25 fences (within 25%)', () => {
    within25(malloc.total.flushes / N, 0.16);
    within25(malloc.total.fences / N, 0.19);
    within25(free.total.flushes / N, 0.2);
    within25(free.total.fences / N, 0.25);
  });

  it('makalu-shipped: the unbraced macro costs a fence-flush-fence per bucket probed (~42 fences per refill)', () => {
    const shipped = threadtest('makalu-shipped', 2_000).malloc;
    // Refill 2 follows the first 16-block heap growth: 15 buckets probed, 12 + 2 x 15 = 42.
    expect(shipped.slow[1].cost.fences).toBe(42);
    expect(shipped.slow[1].entries).toBe(4);
    for (const r of shipped.slow.slice(1)) expect(r.cost.fences).toBeGreaterThan(12);
  });
});

describe('makalu large objects', () => {
  it('malloc(8 KB) in steady state: ~9 flushes, ~14 fences (one section of 5 entries)', () => {
    const m = newMachine(16 * MiB);
    const a = factory('makalu').create(m) as MakaluAllocator;
    const core = m.core(0);
    a.format(core);
    a.free(core, a.malloc(core, 8192));
    for (let i = 0; i < 5; i++) {
      const before = counts(m);
      const p = a.malloc(core, 8192);
      const cost = diff(before, counts(m));
      expect(p % 4096).toBe(0);
      expect(cost.flushes).toBe(9);
      expect(cost.fences).toBe(14);
      expect(lastSectionEntries(m, a)).toBe(5);
      a.free(core, p);
    }
    expect(a.checkConsistency(m).errors).toEqual([]);
  });
});

describe('makalu on 4 cores (threadtest, 4 threads)', () => {
  it('each thread keeps lock-free fast paths; refills serialise on the global lock with the same section cost', () => {
    const m = createMachine({ cores: 4, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 * MiB, nvramSizeBytes: 32 * MiB, trace: false });
    const a = factory('makalu').create(m);
    a.format(m.core(0));
    const perThread = 4_000;
    const ptrs: Addr[][] = [[], [], [], []];
    // A block freed by one thread may be handed to another later: never to two at once.
    const live = new Set<Addr>();
    let doubleHanded = 0;
    runSchedule(m, [2 * perThread, 2 * perThread, 2 * perThread, 2 * perThread], (core, t, i) => {
      if (i < perThread) {
        const p = a.malloc(core, 64);
        if (live.has(p)) doubleHanded++;
        live.add(p);
        ptrs[t].push(p);
      } else {
        live.delete(ptrs[t][i - perThread]);
        a.free(core, ptrs[t][i - perThread]);
      }
      return 'done';
    });
    expect(doubleHanded).toBe(0);
    for (let t = 0; t < 4; t++) {
      const c = m.counters(t);
      const fences = (c.sfences + c.mfences) / (2 * perThread);
      // ~ (12 + 16) / 128 = 0.22 per op as on one core; interleaved blocks coalesce less on free
      // (a block free without a free neighbour logs 3 entries: 10 fences), heap growth adds some.
      expect(fences).toBeGreaterThan(0.15);
      expect(fences).toBeLessThan(0.3);
    }
    expect(ptrs.flat().every((p) => p !== 0)).toBe(true);
    expect(a.checkConsistency(m).errors).toEqual([]);
    expect(m.counters().lockWaitCycles).toBeGreaterThan(0);
  });
});
