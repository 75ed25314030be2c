/**
 * Parameters and stream generation shared by the three persistent data structures
 * (list, hashmap, cow-btree): a keyed insert/remove(/update) mix per thread, with
 * per-thread disjoint keys (common/keyed.ts).
 *
 * `scale` divides opsPerThread (floored, at least 1). Heap bound checked in validate:
 * every key of every thread present at once must fit (threads x keyRange x node size).
 */
import type { SeedTree } from '../../sim/choice.ts';
import type { Allocator } from '../../allocators/contract.ts';
import { WorkloadParamError, type ThreadStreams } from '../contract.ts';
import { checkThreads, scaled } from './params.ts';
import { generateKeyed, type KeyedMix } from './keyed.ts';

export interface StructureCommon extends Record<string, number> {
  opsPerThread: number;
  keyRange: number;
  insertPercent: number;
  scale: number;
}

export const COMMON_RANGES = {
  opsPerThread: { min: 1, max: 100_000_000 },
  keyRange: { min: 1, max: 10_000_000 },
  insertPercent: { min: 0, max: 100 },
  scale: { min: 1, max: 1_000_000_000 },
} as const;

export function checkFits(threads: number, keyRange: number, nodeBytes: number, heapSizeBytes: number): void {
  checkThreads(threads);
  if (threads * keyRange * nodeBytes > heapSizeBytes) {
    throw new WorkloadParamError('keyRange', `threads x keyRange x ${nodeBytes} B <= heap (${heapSizeBytes} B): at most ${Math.floor(heapSizeBytes / (threads * nodeBytes))}`, keyRange);
  }
}

export function generateStructure(seed: SeedTree, p: StructureCommon, removePercent: number, threads: number): ThreadStreams {
  const mix: KeyedMix = { opsPerThread: scaled(p.opsPerThread, p.scale), keyRange: p.keyRange, insertPercent: p.insertPercent, removePercent };
  return generateKeyed(seed, mix, threads);
}

/** alloc-into needs root slots 1..needed-1 besides root 0; name the limit if the allocator has fewer. */
export function checkRoots(allocator: Allocator, needed: number, what: string): void {
  if (allocator.rootCount < needed) {
    throw new WorkloadParamError('threads', `${what}: at most ${allocator.rootCount} root slots in ${allocator.name}, ${needed} needed`, needed);
  }
}
