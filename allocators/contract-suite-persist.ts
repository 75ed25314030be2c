/**
 * Contract suite: clean close and reopen.
 *
 * Model: build a heap with live blocks of many sizes (from several cores), roots set
 * with setRoot, pointers published with mallocTo into root slots and into an NVRAM
 * block, and some blocks freed again. `close`, then take `machine.snapshotNvram()` and
 * create a NEW allocator object on a NEW machine over that image (nothing volatile
 * survives) and `open` it: it must report a clean restart, and every live block (with
 * its contents), root and published pointer must be there, the walk must agree and the
 * heap must keep working (free old blocks, allocate new ones). Done twice in a row.
 *
 * Volatile allocators (factory.volatile) promise nothing across a restart: for them
 * the check is that open over a closed image gives an empty, consistent, usable heap.
 */
import type { Addr } from '../sim/api.ts';
import type { AllocatorFactory } from './contract.ts';
import { Harness, fail, hex, type SuiteConfig } from './contract-suite-harness.ts';

const ROOTS_SET = 24;
const PUBLISHED = 6;

/** Carry the reference (live blocks, slots, roots) over to a reopened heap. */
function reopen(h: Harness, cfg: SuiteConfig, cores: number, roots: Map<number, Addr>, context: string): Harness {
  h.alloc.close(h.core(0));
  const next = Harness.onMachine(h.factory, cfg, cores, h.machine.snapshotNvram());
  const stats = next.alloc.open(next.core(0));
  if (stats.kind !== 'clean') fail(`${context}: open after a clean close reported kind '${stats.kind}', expected 'clean'`);
  const figures = { cycles: stats.cycles, logEntriesReplayed: stats.logEntriesReplayed, objectsMarked: stats.objectsMarked, blocksScanned: stats.blocksScanned, blocksFreed: stats.blocksFreed, ...stats.extra };
  for (const [k, v] of Object.entries(figures)) if (!Number.isSafeInteger(v) || v < 0) fail(`${context}: recovery statistic ${k} is ${v}, expected a non-negative integer`);
  for (const b of h.live.values()) next.live.set(b.addr, { ...b });
  for (const [s, v] of h.slots) next.slots.set(s, v);
  next.verifyContents(`${context}, after reopening`);
  for (let i = 0; i < next.alloc.rootCount; i++) {
    const expected = roots.get(i) ?? next.slots.get(next.alloc.rootAddress(i)) ?? 0;
    const got = next.alloc.getRoot(next.core(0), i);
    if (got !== expected) fail(`${context}: root ${i} is ${hex(got)} after reopening, expected ${hex(expected)}`);
  }
  next.verifyHeap(`${context}, after reopening`);
  return next;
}

export function checkCloseOpen(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  let h = Harness.fresh(factory, cfg, cores);
  const holder = h.mallocUntagged(0, 64);
  for (let i = 0; i < 8; i++) h.addSlot(holder + 8 * i);
  const roots = new Map<number, Addr>();
  const blocks: Addr[] = [];
  for (let i = 0; i < 60; i++) blocks.push(h.malloc(i, [8, 16, 40, 64, 100, 256, 1000, 5000, 20_000, 300_000][i % 10] + (i % 3)));
  for (let i = 0; i < ROOTS_SET; i++) {
    const r = 7 * i + 1;
    h.alloc.setRoot(h.core(i), r, blocks[2 * i]);
    roots.set(r, blocks[2 * i]);
  }
  for (let i = 0; i < PUBLISHED; i++) {
    h.mallocTo(i, 48 * (i + 1), h.alloc.rootAddress(300 + i));
    if (i < 5) h.mallocTo(i + 1, 3000 * (i + 1), holder + 8 * i);
  }
  for (let i = 1; i < blocks.length; i += 4) h.free(i + 1, blocks[i]);
  h.verifyHeap('before close');
  h = reopen(h, cfg, cores, roots, 'first restart');
  // Keep working: free some old blocks, unpublish some, allocate new ones.
  for (let i = 3; i < blocks.length; i += 4) h.free(i, blocks[i]);
  h.freeFrom(1, h.alloc.rootAddress(300));
  h.freeFrom(2, holder + 8);
  for (let i = 0; i < 30; i++) h.malloc(i, 32 + 700 * i);
  h.mallocTo(0, 96, holder + 8 * 6);
  h.verifyContents('after using the reopened heap');
  h.verifyHeap('after using the reopened heap');
  reopen(h, cfg, cores, roots, 'second restart');
}

export function checkVolatileRestart(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  for (let i = 0; i < 20; i++) h.malloc(i, 50 * (i + 1));
  h.alloc.setRoot(h.core(0), 0, [...h.live.keys()][0]);
  h.alloc.close(h.core(0));
  const next = Harness.onMachine(factory, cfg, cores, h.machine.snapshotNvram());
  next.alloc.open(next.core(0));
  const walk = next.alloc.walkHeap(next.machine);
  if (walk.allocated.length !== 0) fail(`a volatile allocator reopened with ${walk.allocated.length} allocated extents, expected an empty heap`);
  next.verifyHeap('volatile restart');
  for (let i = 0; i < 20; i++) next.malloc(i, 50 * (i + 1));
  next.verifyContents('volatile restart, after allocating again');
  next.verifyHeap('volatile restart, after allocating again');
}
