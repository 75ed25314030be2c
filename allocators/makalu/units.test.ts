/**
 * Unit and property tests of Makalu's parts against naive reference models: size
 * classes, block free-list buckets, the section cost law (2k+4 fences, k+d+1 flushes)
 * and undo semantics of the global log, and misuse detection.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AllocatorMisuseError } from '../contract.ts';
import { factories } from './index.ts';
import type { MakaluAllocator } from './makalu.ts';
import { SFLUSH_SLOTS } from './context.ts';
import { tableClear } from './flush-table.ts';
import { HEADER_BYTES, LINE_BYTES, N_HBLK_FLS } from './layout.ts';
import { bucketOf, classGranules, objectsPerBlock, SMALL_CLASSES } from './size-classes.ts';
import { beginSection, endSection, replayLog, storeLogged, storeNoLog } from './undo-log.ts';
import { MiB, counts, diff, newMachine } from './test-helpers.ts';

const makalu = factories.find((f) => f.name === 'makalu')!;

describe('size classes and buckets', () => {
  it('exact granule classes up to 384 B, then at most 12.5% rounding up to 2 KB', () => {
    for (let g = 1; g <= 128; g++) {
      const c = classGranules(g);
      expect(c).toBeGreaterThanOrEqual(g);
      if (g <= 24) expect(c).toBe(g);
      expect((c - g) * 8).toBeLessThanOrEqual(g);
      expect(SMALL_CLASSES).toContain(c);
      expect(objectsPerBlock(c)).toBeGreaterThanOrEqual(2);
    }
  });

  it('block free lists are exact for 1..32 blocks, then buckets, then one huge bucket', () => {
    for (let b = 1; b <= 32; b++) expect(bucketOf(b)).toBe(b);
    let prev = 32;
    for (let b = 33; b < 256; b++) {
      expect(bucketOf(b)).toBeGreaterThanOrEqual(prev);
      prev = bucketOf(b);
    }
    expect(bucketOf(256)).toBe(N_HBLK_FLS);
    expect(bucketOf(100_000)).toBe(N_HBLK_FLS);
  });
});

describe('the global undo log', () => {
  it('a section with k entries and d dirty lines costs 2k+4 fences and k+d+1 flushes, and a crash inside it undoes it', () => {
    const m = newMachine(4 * MiB);
    const a = makalu.create(m) as MakaluAllocator;
    const core = m.core(0);
    a.format(core);
    const mk = a.mk;
    // 8 header lines with distinct flush-table slots (8 slots, direct-mapped).
    const lines = Array.from({ length: 8 }, (_, i) => mk.nv.headers + 4 * HEADER_BYTES + i * LINE_BYTES);
    const store = fc.record({ line: fc.integer({ min: 0, max: 7 }), word: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 2 ** 40 }), logged: fc.boolean() });
    fc.assert(
      fc.property(fc.array(store, { minLength: 1, maxLength: 40 }), fc.boolean(), (stores, crash) => {
        const before = new Map<number, number>();
        for (const s of stores) {
          const addr = lines[s.line] + 8 * s.word;
          if (!before.has(addr)) before.set(addr, m.peek64(addr));
        }
        const c0 = counts(m);
        beginSection(mk, core);
        for (const s of stores) (s.logged ? storeLogged : storeNoLog)(mk, core, lines[s.line] + 8 * s.word, s.value);
        const k = stores.filter((s) => s.logged).length;
        const d = new Set(stores.map((s) => s.line)).size;
        if (crash) {
          // Only addresses whose first store in the section was logged are restored.
          replayLog(mk, core);
          tableClear(core, { base: mk.dram.sflush, slots: SFLUSH_SLOTS }); // DRAM is lost at a crash
          const firstLogged = new Map<number, boolean>();
          for (const s of stores) {
            const addr = lines[s.line] + 8 * s.word;
            if (!firstLogged.has(addr)) firstLogged.set(addr, s.logged);
          }
          for (const [addr, logged] of firstLogged) if (logged) expect(m.peek64(addr)).toBe(before.get(addr));
          return;
        }
        endSection(mk, core);
        const cost = diff(c0, counts(m));
        expect(cost.fences).toBe(2 * k + 4);
        expect(cost.flushes).toBe(k + d + 1);
        const last = new Map<number, number>();
        for (const s of stores) last.set(lines[s.line] + 8 * s.word, s.value);
        for (const [addr, v] of last) expect(m.peek64(addr)).toBe(v);
      }),
      { numRuns: 60, seed: 7 },
    );
  });
});

describe('misuse is detected before any change', () => {
  const setup = () => {
    const m = newMachine(8 * MiB);
    const a = makalu.create(m);
    a.format(m.core(0));
    return { m, a, core: m.core(0) };
  };
  const misuse = (fn: () => void, kind: string, addr: number): void => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(AllocatorMisuseError);
      expect((e as AllocatorMisuseError).kind).toBe(kind);
      expect((e as AllocatorMisuseError).addr).toBe(addr);
      return;
    }
    throw new Error(`expected ${kind} at 0x${addr.toString(16)}`);
  };

  it('double free of an object sitting in the thread list, of a large object, and of a reclaimed slot', () => {
    const { m, a, core } = setup();
    const p = a.malloc(core, 64);
    a.free(core, p);
    misuse(() => a.free(core, p), 'double-free', p);
    const big = a.malloc(core, 3 * 4096);
    a.free(core, big);
    misuse(() => a.free(core, big), 'double-free', big);
    // Fill a thread list past two blocks so slots go back to their blocks' bits.
    const ps = Array.from({ length: 300 }, () => a.malloc(core, 64));
    for (const q of ps) a.free(core, q);
    misuse(() => a.free(core, ps[0]), 'double-free', ps[0]);
    expect(a.checkConsistency(m).errors).toEqual([]);
  });

  it('foreign frees: outside the heap, inside an object, interior of a large object', () => {
    const { m, a, core } = setup();
    const p = a.malloc(core, 64);
    misuse(() => a.free(core, p + 16), 'foreign-free', p + 16);
    misuse(() => a.free(core, p + 8), 'foreign-free', p + 8);
    misuse(() => a.free(core, m.layout.dramBase + 64), 'foreign-free', m.layout.dramBase + 64);
    const big = a.malloc(core, 3 * 4096);
    misuse(() => a.free(core, big + 4096), 'foreign-free', big + 4096);
    a.free(core, p);
    a.free(core, big);
    expect(a.checkConsistency(m).errors).toEqual([]);
  });
});

describe('re-opening the same instance', () => {
  it('close then open on the same allocator object starts from empty DRAM lists', () => {
    const m = newMachine(8 * MiB);
    const a = makalu.create(m);
    const core = m.core(0);
    a.format(core);
    const keep = Array.from({ length: 200 }, (_, i) => a.malloc(core, 16 + (i % 5) * 100));
    const drop = Array.from({ length: 200 }, () => a.malloc(core, 64));
    for (const p of drop) a.free(core, p);
    a.free(core, a.malloc(core, 20_000));
    a.close(core);
    const stats = a.open(core);
    expect(stats.kind).toBe('clean');
    expect(a.checkConsistency(m).errors).toEqual([]);
    const live = new Set(a.walkHeap(m).allocated.map((e) => e.addr));
    for (const p of keep) expect(live.has(p)).toBe(true);
    expect(live.size).toBe(keep.length);
    const fresh = Array.from({ length: 300 }, () => a.malloc(core, 64));
    for (const p of fresh) expect(keep).not.toContain(p);
    expect(a.checkConsistency(m).errors).toEqual([]);
  });
});

describe('recovery GC edge cases', () => {
  it('a root holding a 64 KB array of 8,192 pointers overflows the mark stack and still marks every object', () => {
    const m = newMachine(16 * MiB);
    const a = makalu.create(m);
    const core = m.core(0);
    a.format(core);
    const arr = a.malloc(core, 64 * 1024);
    const n = 8192;
    for (let i = 0; i < n; i++) core.store64(arr + 8 * i, a.malloc(core, 32));
    for (let i = 0; i < 50; i++) a.malloc(core, 32); // garbage
    a.setRoot(core, 0, arr);
    // A word that cannot be loaded as a number (>= 2^53) is not a pointer.
    core.store(arr + 8 * n - 8, 4, 0xffff_ffff);
    core.store(arr + 8 * n - 4, 4, 0xffff_ffff);
    for (let off = 0; off < 64 * 1024; off += 64) core.clwb(arr + off);
    core.sfence();
    const m2 = newMachine(16 * MiB, false, m.snapshotNvram());
    const a2 = makalu.create(m2);
    const stats = a2.open(m2.core(0));
    expect(stats.kind).toBe('recovered');
    expect(stats.objectsMarked).toBe(1 + n - 1);
    const allocated = new Set(a2.walkHeap(m2).allocated.map((e) => e.addr));
    expect(allocated.size).toBe(n);
    for (let i = 0; i < n - 1; i++) expect(allocated.has(m2.peek64(arr + 8 * i))).toBe(true);
    expect(a2.checkConsistency(m2).errors).toEqual([]);
  });
});
