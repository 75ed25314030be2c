/**
 * Test helpers for the Makalu tests: machines, counters, and a crash-recovery
 * workload (linked lists under the roots) with its reachability oracle.
 *
 * Model: the workload pushes nodes (64 B, or sizes drawn from a list; the first 64 B
 * hold the node) onto one of the first root lists with mallocTo
 * (init writes every word and clwb's the line), pops nodes (setRoot to the next, then
 * free), and leaks some nodes (malloc without linking), all choices from a SeededChoice.
 * The oracle walks the root lists in a (recovered) image and compares them with the
 * heap walk: every reachable node allocated, every allocated extent reachable.
 */
import type { Addr, MemoryReader, NvramImage } from '../../sim/api.ts';
import { SeededChoice } from '../../sim/choice.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import type { Allocator, AllocatorFactory, RecoveryStats } from '../contract.ts';

export const MiB = 1024 * 1024;

export function newMachine(nvramSizeBytes: number, trace = false, image?: NvramImage): SimMachine {
  return createMachine({ cores: 1, cost: makeCostModel('optane-adr'), dramSizeBytes: 64 * MiB, nvramSizeBytes, trace, image });
}

export interface Counts {
  flushes: number;
  fences: number;
  locks: number;
}

export function counts(m: SimMachine): Counts {
  const c = m.counters(0);
  return { flushes: c.clflushes + c.clflushopts + c.clwbs + c.ntstores, fences: c.sfences + c.mfences, locks: c.lockAcquires };
}

export const diff = (a: Counts, b: Counts): Counts => ({ flushes: b.flushes - a.flushes, fences: b.fences - a.fences, locks: b.locks - a.locks });

export const NODE_BYTES = 64;

/** Run `ops` list operations; returns the machine and allocator (not closed). */
export interface OpBoundary {
  /** Trace length when the op returned. */
  readonly pos: number;
  /** Root values (first ROOT_LISTS roots) at that moment. */
  readonly roots: number[];
}

export const ROOT_LISTS = 8;

export function runLists(factory: AllocatorFactory, seed: string, ops: number, nvramSizeBytes: number, trace: boolean, sizes: readonly number[] = [NODE_BYTES]): { machine: SimMachine; alloc: Allocator; setupTraceLength: number; boundaries: OpBoundary[] } {
  const machine = newMachine(nvramSizeBytes, trace);
  const alloc = factory.create(machine);
  const core = machine.core(0);
  alloc.format(core);
  const setupTraceLength = machine.trace?.length ?? 0;
  const choice = new SeededChoice(seed);
  const roots = ROOT_LISTS;
  const boundaries: OpBoundary[] = [];
  for (let i = 0; i < ops; i++) {
    if (i > 0) boundaries.push({ pos: machine.trace?.length ?? 0, roots: Array.from({ length: roots }, (_, k) => machine.peek64(alloc.rootAddress(k))) });
    const r = choice.index(roots);
    const op = choice.index(10);
    const head = alloc.getRoot(core, r);
    const size = sizes[choice.index(sizes.length)];
    if (op < 5) {
      alloc.mallocTo(core, size, alloc.rootAddress(r), (c, p) => {
        c.store64(p, head);
        for (let w = 1; w < NODE_BYTES / 8; w++) c.store64(p + 8 * w, w === 1 ? i : 0);
        c.clwb(p);
      });
    } else if (op < 8 && head !== 0) {
      alloc.setRoot(core, r, core.load64(head));
      alloc.free(core, head);
    } else {
      const p = alloc.malloc(core, size);
      for (let w = 0; w < NODE_BYTES / 8; w++) core.store64(p + 8 * w, 0);
    }
  }
  return { machine, alloc, setupTraceLength, boundaries };
}

/** Nodes reachable from the roots (uncharged). */
export function reachableNodes(alloc: Allocator, r: MemoryReader): Addr[] {
  const out: Addr[] = [];
  for (let i = 0; i < alloc.rootCount; i++) {
    for (let p = r.peek64(alloc.rootAddress(i)); p !== 0 && out.length < 1e6; p = r.peek64(p)) out.push(p);
  }
  return out;
}

export interface RecoveryVerdict {
  readonly stats: RecoveryStats;
  readonly errors: string[];
}

/** Open `image` with a fresh allocator of `factory` and check reachability against the heap walk. */
export function recoverAndCheck(factory: AllocatorFactory, image: NvramImage): RecoveryVerdict {
  const machine = newMachine(image.nvramSizeBytes, false, image);
  const alloc = factory.create(machine);
  const errors: string[] = [];
  let stats: RecoveryStats;
  try {
    stats = alloc.open(machine.core(0));
  } catch (e) {
    return { stats: { kind: 'recovered', cycles: 0, logEntriesReplayed: 0, objectsMarked: 0, blocksScanned: 0, blocksFreed: 0 }, errors: [`open threw: ${String(e)}`] };
  }
  const report = alloc.checkConsistency(machine);
  errors.push(...report.errors);
  const walk = alloc.walkHeap(machine);
  const allocated = new Map(walk.allocated.map((e) => [e.addr, e.sizeBytes]));
  const reach = new Set(reachableNodes(alloc, machine));
  for (const p of reach) if (!allocated.has(p)) errors.push(`reachable node 0x${p.toString(16)} is not allocated after recovery`);
  for (const [a] of allocated) if (!reach.has(a)) errors.push(`allocated extent 0x${a.toString(16)} is unreachable (leak) after recovery`);
  return { stats, errors };
}
