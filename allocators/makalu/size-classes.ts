/**
 * Makalu size classes.
 *
 * Model: requests are rounded up to 16 B granules; exact granule classes up to 24
 * granules (384 B); larger small sizes (<= 2 KB) round up to a multiple of
 * 2^(floor(log2 g) - 3) granules, so the waste is at most 1/8 (12.5%). Objects above
 * 2 KB are large: runs of whole 4 KB blocks. Block free lists are exact for 1..32
 * blocks, then buckets of 8 blocks up to 256, then one huge bucket (N_HBLK_FLS).
 *
 * Invariants: classGranules(g) >= g and (classGranules(g) - g) * 8 <= g.
 */
import { BLOCK_BYTES, FL_COMPRESSION, GRANULE_BYTES, HUGE_THRESHOLD, MAX_SMALL_BYTES, N_HBLK_FLS, TINY_GRANULES, UNIQUE_THRESHOLD } from './layout.ts';

export const isSmall = (sizeBytes: number): boolean => sizeBytes <= MAX_SMALL_BYTES;

export function granulesOf(sizeBytes: number): number {
  return Math.max(1, Math.ceil(sizeBytes / GRANULE_BYTES));
}

/** Size class (in granules) of a small request of `granules` granules. */
export function classGranules(granules: number): number {
  if (granules <= TINY_GRANULES) return granules;
  const step = 1 << (31 - Math.clz32(granules) - 3);
  return Math.ceil(granules / step) * step;
}

export const objectsPerBlock = (granules: number): number => Math.floor(BLOCK_BYTES / (granules * GRANULE_BYTES));
/** A small block goes on the reclaim list when at most 7/8 of its objects are in use. */
export const nearlyFullThreshold = (granules: number): number => Math.floor((7 * objectsPerBlock(granules)) / 8);

/** Block free-list bucket of a run of `blocks` blocks (MAK_hblk_fl_from_blocks). */
export function bucketOf(blocks: number): number {
  if (blocks <= UNIQUE_THRESHOLD) return blocks;
  if (blocks >= HUGE_THRESHOLD) return N_HBLK_FLS;
  return Math.floor((blocks - UNIQUE_THRESHOLD) / FL_COMPRESSION) + UNIQUE_THRESHOLD;
}

/** All distinct small classes, ascending (1..128 granules). */
export const SMALL_CLASSES: readonly number[] = (() => {
  const out: number[] = [];
  for (let g = 1; g <= MAX_SMALL_BYTES / GRANULE_BYTES; g++) if (classGranules(g) === g) out.push(g);
  return out;
})();
