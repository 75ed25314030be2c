import { describe, expect, it } from 'vitest';
import type { Counters } from '../../sim/api.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine } from '../../sim/machine.ts';
import { AllocatorMisuseError } from '../contract.ts';
import { SIZE_CLASSES, classOfSize, defaultArenaCount } from './layout.ts';
import { TransientAllocator } from './transient.ts';

function setup(cores: number, narenas?: number) {
  const machine = createMachine({ cores, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 << 20, nvramSizeBytes: 32 << 20, trace: false });
  const alloc = new TransientAllocator(machine, narenas);
  alloc.format(machine.core(0));
  return { machine, alloc };
}

function delta(after: Counters, before: Counters): Counters {
  const d = { ...after };
  for (const k of Object.keys(after) as (keyof Counters)[]) d[k] = after[k] - before[k];
  return d;
}

const C64 = classOfSize(64);
const CAP64 = SIZE_CLASSES[C64].tcacheCapacity;

describe('transient: arenas', () => {
  it('defaults to jemalloc narenas = 4 x cores (1 on one core) and binds core i to arena i mod narenas', () => {
    expect(defaultArenaCount(1)).toBe(1);
    expect(defaultArenaCount(8)).toBe(32);
    const { machine, alloc } = setup(4);
    expect(alloc.arenas).toEqual({ narenas: 16, reserved: 4 });
    for (let c = 0; c < 4; c++) {
      expect(alloc.ownerArena(machine, alloc.malloc(machine.core(c), 64))).toBe(c);
      expect(alloc.ownerArena(machine, alloc.malloc(machine.core(c), 40_000))).toBe(c);
    }
    const two = setup(4, 2);
    expect(two.alloc.arenas).toEqual({ narenas: 2, reserved: 2 });
    expect([0, 1, 2, 3].map((c) => two.alloc.ownerArena(two.machine, two.alloc.malloc(two.machine.core(c), 64)))).toEqual([0, 1, 0, 1]);
    expect(() => new TransientAllocator(machine, 0)).toThrow(/narenas must be an integer/);
  });

  it('a remote free goes to the freeing core\'s cache, and its flush returns the object to the owner arena\'s bin', () => {
    const { machine, alloc } = setup(2);
    const owner = machine.core(0);
    const remote = machine.core(1);
    const blocks = Array.from({ length: CAP64 + 1 }, () => alloc.malloc(owner, 64));
    const ownerFreeBefore = alloc.binState(machine, 0, C64).freeRegions;
    // The first CAP64 frees fill core 1's cache bin (no lock); the next one flushes half of it.
    // Interleaving two slabs' objects (64 regions each) keeps the flushed half from emptying a
    // slab, which would go back to the extents (as in jemalloc) and leave the bin.
    const order = Array.from({ length: CAP64 }, (_, i) => blocks[(i % 2) * (CAP64 / 2) + (i >> 1)]);
    const b0 = machine.counters();
    for (const b of order) alloc.free(remote, b);
    expect(delta(machine.counters(), b0).lockAcquires).toBe(0);
    expect(alloc.cachedCount(machine, 1, C64)).toBe(CAP64);
    alloc.free(remote, blocks[CAP64]);
    expect(alloc.cachedCount(machine, 1, C64)).toBe(CAP64 / 2 + 1);
    expect(alloc.binState(machine, 0, C64).freeRegions).toBe(ownerFreeBefore + CAP64 / 2);
    expect(alloc.binState(machine, 1, C64)).toEqual({ slabs: 0, freeRegions: 0 });
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
    // What core 1 still caches is core 1's to hand out again, though arena 0 owns it.
    const again = alloc.malloc(remote, 64);
    expect(alloc.ownerArena(machine, again)).toBe(0);
  });

  it('a flush of objects from several arenas returns each to its own owner in one pass per arena', () => {
    const { machine, alloc } = setup(3);
    const from0 = Array.from({ length: CAP64 / 2 + 1 }, () => alloc.malloc(machine.core(0), 64));
    const from1 = Array.from({ length: CAP64 / 2 }, () => alloc.malloc(machine.core(1), 64));
    const free0 = alloc.binState(machine, 0, C64).freeRegions;
    const free1 = alloc.binState(machine, 1, C64).freeRegions;
    // Interleaved, so the oldest half (flushed) holds CAP64 / 4 of each arena.
    for (let i = 0; i < CAP64 / 2; i++) {
      alloc.free(machine.core(2), from0[i]);
      alloc.free(machine.core(2), from1[i]);
    }
    const b0 = machine.counters();
    alloc.free(machine.core(2), from0[CAP64 / 2]); // full: flush
    expect(delta(machine.counters(), b0).lockAcquires).toBe(2); // arena 0's bin lock, then arena 1's
    expect(alloc.cachedCount(machine, 2, C64)).toBe(CAP64 / 2 + 1);
    expect(alloc.binState(machine, 0, C64).freeRegions).toBe(free0 + CAP64 / 4);
    expect(alloc.binState(machine, 1, C64).freeRegions).toBe(free1 + CAP64 / 4);
    expect(alloc.binState(machine, 2, C64)).toEqual({ slabs: 0, freeRegions: 0 });
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });

  it('fills half the capacity on an empty cache bin and flushes down to half on a full one (host model of the count)', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    let model = 0;
    const live: number[] = [];
    for (let i = 0; i < 3 * CAP64; i++) {
      live.push(alloc.malloc(core, 64));
      model = model === 0 ? CAP64 / 2 - 1 : model - 1;
      expect(alloc.cachedCount(machine, 0, C64)).toBe(model);
    }
    let locks = machine.counters().lockAcquires;
    for (const b of live) {
      alloc.free(core, b);
      const full = model === CAP64;
      model = full ? CAP64 / 2 + 1 : model + 1;
      expect(alloc.cachedCount(machine, 0, C64)).toBe(model);
      const now = machine.counters().lockAcquires;
      // A flush takes the bin lock once (and the extents lock once per slab it empties); a push none.
      if (!full) expect(now).toBe(locks);
      else expect(now).toBeGreaterThan(locks);
      locks = now;
    }
    expect(alloc.checkConsistency(machine).errors).toEqual([]);
  });

  it('thread-private malloc/free loops on 4 cores cause no coherence transfer (no false sharing)', () => {
    const { machine, alloc } = setup(4);
    const run = (rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        for (let c = 0; c < 4; c++) {
          const core = machine.core(c);
          const held = [16, 64, 100, 300, 2000].map((s) => alloc.malloc(core, s + c));
          for (const b of held) alloc.free(core, b);
        }
      }
    };
    run(50); // warm-up: fills, fresh slabs, frontier growth
    const b0 = machine.counters();
    run(2000);
    const d = delta(machine.counters(), b0);
    expect(d.loads + d.stores).toBeGreaterThan(2000 * 4 * 10 * 3);
    expect(d.coherenceTransfers).toBe(0);
    expect(d.lockAcquires).toBe(0);
  });

  it('the handed-out shadow costs nothing: a rejected double free loads only the page state and changes nothing', () => {
    const { machine, alloc } = setup(1);
    const core = machine.core(0);
    const a = alloc.malloc(core, 64);
    alloc.free(core, a);
    const before = machine.counters();
    expect(() => alloc.free(core, a)).toThrow(AllocatorMisuseError);
    expect(() => alloc.free(core, a + 16)).toThrow(/foreign-free/);
    const d = delta(machine.counters(), before);
    expect([d.loads, d.stores, d.cases, d.lockAcquires]).toEqual([2, 0, 0, 0]);
    const walk = alloc.walkHeap(machine);
    expect(walk.allocated).toEqual([]);
    const b = alloc.malloc(core, 64);
    expect(alloc.walkHeap(machine).allocated).toEqual([{ addr: b, sizeBytes: 64 }]);
  });
});

describe('transient: locks spin as jemalloc malloc_mutex (opt_mutex_max_spin = 600)', () => {
  it('a core that asks for a lock another core holds (bin, extents, frontier) waits for the release, never a sleep and wake', () => {
    // Without hardware prefetch, which shortens core 0's fill enough that core 1 would not meet the held lock.
    const cost = makeCostModel('optane-adr', { prefetchInFlightLines: 0 });
    const machine = createMachine({ cores: 2, cost, dramSizeBytes: 64 << 20, nvramSizeBytes: 32 << 20, trace: false });
    const alloc = new TransientAllocator(machine, 1); // one arena: both cores fill from the same bin
    const [c0, c1] = [machine.core(0), machine.core(1)];
    alloc.format(c0);
    const start = c0.clockCycles;
    alloc.malloc(c0, 64); // fill under the bin lock: a fresh slab, the bin lock dropped and retaken
    const end = c0.clockCycles;
    c1.waitUntil(start); // core 1 asks while core 0 holds the bin lock
    const before = machine.counters(1).lockWaitCycles;
    alloc.malloc(c1, 64);
    const waited = machine.counters(1).lockWaitCycles - before;
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThan(end - start);
    expect(waited).toBeLessThan(cost.mutexWakeCycles);
  });
});
