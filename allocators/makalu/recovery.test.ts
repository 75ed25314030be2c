/**
 * Faithfulness and correctness of Makalu's recovery.
 *
 * - fill-heap (64 B nodes, each kept with probability 1/2 and linked under a root,
 *   crash = abandon the machine and open a new allocator over its NVRAM snapshot):
 *   mark cycles grow linearly with live objects; a clean restart runs no mark phase.
 * - crash at random points of a list workload (lower and upper crash images from the
 *   persistency replayer): every reachable node is allocated after recovery and every
 *   allocated extent is reachable (the GC frees leaks), the heap is consistent, and at
 *   op boundaries the roots of completed operations are durable.
 * - the broken canaries fail those same checks.
 */
import { describe, expect, it } from 'vitest';
import { SeededChoice } from '../../sim/choice.ts';
import { PersistReplayer } from '../../sim/persistency/replay.ts';
import { materializeImage } from '../../sim/persistency/image.ts';
import type { NvramImage } from '../../sim/api.ts';
import type { AllocatorFactory } from '../contract.ts';
import { factories } from './index.ts';
import { SB_LOG_VERSION } from './layout.ts';
import { MiB, NODE_BYTES, ROOT_LISTS, newMachine, reachableNodes, recoverAndCheck, runLists } from './test-helpers.ts';

const factory = (name: string): AllocatorFactory => factories.find((f) => f.name === name)!;

/** fill-heap: allocate n nodes, keep each with probability 1/2 (linked under root i % 512). */
function fillHeap(n: number, seed: string) {
  const m = newMachine(32 * MiB);
  const a = factory('makalu').create(m);
  const core = m.core(0);
  a.format(core);
  const choice = new SeededChoice(seed);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const p = a.malloc(core, NODE_BYTES);
    const keep = choice.chance(1, 2);
    const r = i % a.rootCount;
    const head = keep ? a.getRoot(core, r) : 0;
    core.store64(p, head);
    for (let w = 1; w < NODE_BYTES / 8; w++) core.store64(p + 8 * w, w === 1 ? i : 0);
    core.clwb(p);
    core.sfence();
    if (keep) {
      a.setRoot(core, r, p);
      kept++;
    }
  }
  return { m, a, kept };
}

describe('makalu recovery after a crash in fill-heap', () => {
  // Both sizes sit in the same cache regime (live objects beyond the 1 MB L2): across the
  // L2 boundary the per-object mark cost rises (measured ~530 -> ~780 cycles per object).
  const small = fillHeap(32_000, 'fill-a');
  const big = fillHeap(64_000, 'fill-b');
  const small2 = recoverAndCheck(factory('makalu'), small.m.snapshotNvram());
  const big2 = recoverAndCheck(factory('makalu'), big.m.snapshotNvram());

  it('recovers every kept node and frees every dropped one', () => {
    expect(small2.errors).toEqual([]);
    expect(big2.errors).toEqual([]);
    expect(small2.stats.kind).toBe('recovered');
    expect(small2.stats.objectsMarked).toBe(small.kept);
    expect(big2.stats.objectsMarked).toBe(big.kept);
    expect(small2.stats.blocksFreed).toBeGreaterThanOrEqual(0);
  });

  it('mark cycles grow linearly with live objects (2x live -> 1.8x-2.2x mark cycles)', () => {
    const liveRatio = big.kept / small.kept;
    const markRatio = big2.stats.extra!.markCycles / small2.stats.extra!.markCycles;
    expect(liveRatio).toBeGreaterThan(1.9);
    expect(liveRatio).toBeLessThan(2.1);
    expect(markRatio).toBeGreaterThanOrEqual(1.8);
    expect(markRatio).toBeLessThanOrEqual(2.2);
    const s = big2.stats.extra!;
    expect(s.logReplayCycles + s.headerScanCycles + s.markCycles + s.sweepCycles).toBeLessThanOrEqual(big2.stats.cycles);
  });

  it('a clean close then open rebuilds the lists without a mark phase', () => {
    const { m, a, kept } = fillHeap(3_000, 'fill-c');
    a.close(m.core(0));
    const m2 = newMachine(32 * MiB, false, m.snapshotNvram());
    const a2 = factory('makalu').create(m2);
    const stats = a2.open(m2.core(0));
    expect(stats.kind).toBe('clean');
    expect(stats.objectsMarked).toBe(0);
    expect(stats.extra?.markCycles ?? 0).toBe(0);
    const reach = reachableNodes(a2, m2);
    expect(reach.length).toBe(kept);
    const allocated = new Set(a2.walkHeap(m2).allocated.map((e) => e.addr));
    for (const p of reach) expect(allocated.has(p)).toBe(true);
    expect(a2.checkConsistency(m2).errors).toEqual([]);
    // The clean restart is cheaper than a GC recovery of the same heap.
    const crashed = recoverAndCheck(factory('makalu'), m.snapshotNvram());
    expect(crashed.stats.kind).toBe('clean');
  });
});

interface CrashFinding {
  readonly pos: number;
  readonly which: 'lower' | 'upper' | 'durability';
  readonly errors: string[];
}

/** Crash the list workload at sampled trace positions; return the failing states. */
function crashStudy(name: string, seed: string, ops: number, points: number, stopAtFirst: boolean, mode: 'line' | 'word' = 'line', sizes?: readonly number[]): { findings: CrashFinding[]; checked: number } {
  const f = factory(name);
  const run = runLists(f, seed, ops, 8 * MiB, true, sizes);
  const trace = run.machine.trace!;
  const choice = new SeededChoice(`${seed}:points`);
  const positions = new Set<number>();
  for (let i = 0; i < points; i++) positions.add(choice.intInclusive(run.setupTraceLength, trace.length));
  const boundaryAt = new Map(run.boundaries.map((b) => [b.pos, b.roots]));
  const boundaryPositions = run.boundaries.filter((_, i) => i % Math.max(1, Math.floor(run.boundaries.length / points)) === 0).map((b) => b.pos);
  for (const p of boundaryPositions) positions.add(p);
  const replayer = new PersistReplayer(trace, mode);
  const findings: CrashFinding[] = [];
  let checked = 0;
  for (const pos of [...positions].sort((x, y) => x - y)) {
    replayer.advanceTo(pos);
    const lower = materializeImage(replayer.stateImage([]));
    const upper = materializeImage(replayer.stateImage(replayer.upperDeviations()));
    for (const [which, image] of [['lower', lower], ['upper', upper]] as [CrashFinding['which'], NvramImage][]) {
      checked++;
      const v = recoverAndCheck(f, image);
      if (v.errors.length > 0) findings.push({ pos, which, errors: v.errors.slice(0, 3) });
    }
    const roots = boundaryAt.get(pos);
    if (roots !== undefined) {
      const m = newMachine(lower.nvramSizeBytes, false, lower);
      const a = f.create(m);
      a.open(m.core(0));
      const got = Array.from({ length: ROOT_LISTS }, (_, k) => m.peek64(a.rootAddress(k)));
      if (got.join() !== roots.join()) findings.push({ pos, which: 'durability', errors: [`roots after recovery ${got.join()} != completed ${roots.join()}`] });
    }
    if (stopAtFirst && findings.length > 0) break;
  }
  return { findings, checked };
}

describe('makalu recovery is correct at random crash points', () => {
  it('makalu: every reachable node allocated, every allocated extent reachable, heap consistent, completed roots durable', () => {
    const { findings, checked } = crashStudy('makalu', 'crash-1', 300, 30, false);
    expect(checked).toBeGreaterThanOrEqual(60);
    expect(findings).toEqual([]);
  }, 30_000);

  it('makalu: the same checks hold with mixed small and large objects (split, coalesce, heap growth)', () => {
    const { findings } = crashStudy('makalu', 'crash-mixed', 160, 20, false, 'line', [64, 200, 700, 2048, 3000, 9000, 40_000]);
    expect(findings).toEqual([]);
  }, 30_000);

  it('makalu: the same checks hold under per-word persistency (P2w)', () => {
    const { findings } = crashStudy('makalu', 'crash-word', 200, 16, false, 'word');
    expect(findings).toEqual([]);
  }, 30_000);

  it('makalu-shipped passes the same crash checks', () => {
    const { findings } = crashStudy('makalu-shipped', 'crash-2', 200, 12, false);
    expect(findings).toEqual([]);
  }, 30_000);

  for (const name of ['makalu-broken-nolog', 'makalu-broken-skiplog', 'makalu-broken-noflush-root', 'makalu-broken-noflush-section']) {
    it(`${name} is caught by the crash checks`, () => {
      expect(factory(name).broken).toBe(true);
      const { findings } = crashStudy(name, 'crash-canary', 200, 150, true);
      expect(findings.length).toBeGreaterThan(0);
    }, 30_000);
  }
});

describe('makalu recovery is crash-safe (a crash during recovery, then recovery again)', () => {
  it('every lower and upper image taken inside a recovery recovers to a correct heap', () => {
    const f = factory('makalu');
    const run = runLists(f, 'nested', 300, 8 * MiB, true);
    const replayer = new PersistReplayer(run.machine.trace!, 'line');
    const choice = new SeededChoice('nested:points');
    let nestedStates = 0;
    const failures: string[] = [];
    const outer = [...new Set(Array.from({ length: 4 }, () => choice.intInclusive(run.setupTraceLength, run.machine.trace!.length)))].sort((a, b) => a - b);
    for (const pos of outer) {
      replayer.advanceTo(pos);
      const first = materializeImage(replayer.stateImage(replayer.upperDeviations()));
      const m = newMachine(first.nvramSizeBytes, true, first);
      f.create(m).open(m.core(0));
      const inner = new PersistReplayer(m.trace!, 'line');
      const points = [...new Set(Array.from({ length: 6 }, () => choice.intInclusive(0, m.trace!.length)))].sort((a, b) => a - b);
      for (const p of points) {
        inner.advanceTo(p);
        for (const devs of [[], inner.upperDeviations()]) {
          nestedStates++;
          const v = recoverAndCheck(f, materializeImage(inner.stateImage(devs)));
          failures.push(...v.errors.map((e) => `outer ${pos} inner ${p}: ${e}`));
        }
      }
    }
    expect(nestedStates).toBeGreaterThanOrEqual(24);
    expect(failures).toEqual([]);
  }, 30_000);
});

/**
 * Thread-list overflow and reclaim refills under crashes: 192 nodes (three blocks), each
 * under its own root; the first block's nodes freed, then the other two interleaved (the
 * first trim empties the first block: a section under the global lock; the second
 * returns half of each of the others through a two-block truncate table, and they join
 * the reclaim list); 120 re-allocated (the thread list, then refills sweeping reclaimed
 * blocks outside the size lock); then every live node freed in address order.
 */
function trimReclaimRun(name: string): { machine: ReturnType<typeof newMachine>; setupTraceLength: number; firstBlocks: Set<number>; reclaimed: number; freeSections: number } {
  const machine = newMachine(8 * MiB, true);
  const a = factory(name).create(machine);
  const core = machine.core(0);
  a.format(core);
  const setupTraceLength = machine.trace!.length;
  const node = (i: number) => a.mallocTo(core, NODE_BYTES, a.rootAddress(i), (c, p) => {
    for (let w = 0; w < NODE_BYTES / 8; w++) c.store64(p + 8 * w, w === 1 ? i : 0);
    c.clwb(p);
  });
  const drop = (i: number) => {
    const p = a.getRoot(core, i);
    a.setRoot(core, i, 0);
    a.free(core, p);
  };
  const block = (p: number) => Math.floor(p / 4096);
  const first = Array.from({ length: 192 }, (_, i) => ({ i, p: node(i) }));
  const firstBlocks = new Set(first.map((n) => block(n.p)));
  const byBlock = [...firstBlocks].map((b) => first.filter((n) => block(n.p) === b));
  const version = () => machine.peek64(machine.layout.nvramBase + SB_LOG_VERSION);
  const before = version();
  for (const n of byBlock[0]) drop(n.i);
  for (let k = 0; k < 64; k++) for (const nodes of byBlock.slice(1)) if (k < nodes.length) drop(nodes[k].i);
  const freeSections = version() - before;
  const again = Array.from({ length: 120 }, (_, i) => node(i));
  const reclaimed = again.filter((p) => firstBlocks.has(block(p))).length;
  const live = Array.from({ length: 120 }, (_, i) => i).sort((x, y) => a.getRoot(core, x) - a.getRoot(core, y));
  for (const i of live) drop(i);
  return { machine, setupTraceLength, firstBlocks, reclaimed, freeSections };
}

describe('makalu recovery is correct at crash points in thread-list overflows and reclaim refills', () => {
  it('every lower and upper image recovers to a correct heap', () => {
    const f = factory('makalu');
    const run = trimReclaimRun('makalu');
    expect(run.firstBlocks.size).toBe(3);
    expect(run.reclaimed).toBeGreaterThan(0);
    expect(run.freeSections).toBe(1); // the emptied first block
    const trace = run.machine.trace!;
    const replayer = new PersistReplayer(trace, 'line');
    const choice = new SeededChoice('trim-reclaim:points');
    const positions = [...new Set(Array.from({ length: 40 }, () => choice.intInclusive(run.setupTraceLength, trace.length)))].sort((x, y) => x - y);
    const failures: string[] = [];
    let checked = 0;
    for (const pos of positions) {
      replayer.advanceTo(pos);
      for (const devs of [[], replayer.upperDeviations()]) {
        checked++;
        failures.push(...recoverAndCheck(f, materializeImage(replayer.stateImage(devs))).errors.map((e) => `${pos}: ${e}`));
      }
    }
    expect(checked).toBeGreaterThanOrEqual(70);
    expect(failures.slice(0, 5)).toEqual([]);
  }, 60_000);
});
