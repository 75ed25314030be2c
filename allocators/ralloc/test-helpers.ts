/**
 * Test helpers for the Ralloc-style allocator: machines, counter deltas, crash images
 * and the reachability oracle.
 *
 * Model: `lowerImage` replays the machine's persistency trace (line mode) and returns
 * the image where only guaranteed units are durable (persistency.md, `lower`);
 * `snapshotNvram` is the `upper` image. `reachable` walks conservatively from the
 * roots the way a workload's verify would walk its own structure: here every object
 * a test builds stores pointers only in words it wrote.
 *
 * Invariants: test-only; uncharged peeks.
 */
import type { Addr, MemoryReader, NvramImage } from '../../sim/api.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import { materializeImage } from '../../sim/persistency/image.ts';
import { PersistReplayer } from '../../sim/persistency/replay.ts';
import type { Allocator, Extent } from '../contract.ts';

export const NVRAM_BYTES = 4 * 1024 * 1024;
export const DRAM_BYTES = 4 * 1024 * 1024;

export function newMachine(cores = 1, image?: NvramImage, nvramSizeBytes = NVRAM_BYTES): SimMachine {
  const nvram = image?.nvramSizeBytes ?? nvramSizeBytes;
  return createMachine({ cores, cost: makeCostModel('optane-adr'), dramSizeBytes: DRAM_BYTES, nvramSizeBytes: nvram, image });
}

export interface PersistCost {
  lines: number;
  fences: number;
}
export function persistCost(m: SimMachine, coreId = 0): PersistCost {
  const c = m.counters(coreId);
  return { lines: c.clwbs + c.clflushopts + c.clflushes + c.ntstores, fences: c.sfences + c.mfences };
}
export function costOf(m: SimMachine, fn: () => void, coreId = 0): PersistCost {
  const a = persistCost(m, coreId);
  fn();
  const b = persistCost(m, coreId);
  return { lines: b.lines - a.lines, fences: b.fences - a.fences };
}

export function lowerImage(m: SimMachine): NvramImage {
  const trace = m.trace;
  if (trace === undefined) throw new Error('machine has no trace');
  const r = new PersistReplayer(trace, 'line');
  r.advanceTo(trace.length);
  return materializeImage(r.mem);
}

/** Objects reachable from the roots; `sizeOf` says how many words of an object hold pointers. */
export function reachable(reader: MemoryReader, a: Allocator, rootCount: number, wordsOf: (addr: Addr) => number): Set<Addr> {
  const seen = new Set<Addr>();
  const stack: Addr[] = [];
  for (let i = 0; i < rootCount; i++) {
    const v = reader.peek64(a.rootAddress(i));
    if (v !== 0 && !seen.has(v)) {
      seen.add(v);
      stack.push(v);
    }
  }
  while (stack.length > 0) {
    const o = stack.pop()!;
    for (let w = 0; w < wordsOf(o); w++) {
      const v = reader.peek64(o + 8 * w);
      if (v !== 0 && !seen.has(v)) {
        seen.add(v);
        stack.push(v);
      }
    }
  }
  return seen;
}

export function startsOf(extents: readonly Extent[]): Set<Addr> {
  return new Set(extents.map((e) => e.addr));
}

/** Whether addr lies inside some extent. */
export function covered(extents: readonly Extent[], addr: Addr): boolean {
  return extents.some((e) => addr >= e.addr && addr < e.addr + e.sizeBytes);
}
