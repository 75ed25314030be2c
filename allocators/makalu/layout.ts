/**
 * Makalu NVRAM layout and geometry constants.
 *
 * Model (Bhandari, Chakrabarti, Boehm, OOPSLA 2016; HewlettPackard/Atlas `makalu`):
 * 16 B granules, 4 KB heap blocks, 128 B block headers kept OUTSIDE the blocks in a
 * header space, a flat header index (one word per heap block), 512 root slots, one
 * global undo log of 64 entries of 64 B, and a superblock holding the heap bookkeeping.
 *
 *   page 0  superblock: line 0 magic/state/maxBlocks/lastHeapSize, line 1 header bump
 *           pointer, line 2 heap size + large free bytes, line 3 log version
 *   page 1  roots (512 x 8 B)          page 2  undo log (64 x 64 B)
 *   header space (headerCapacity x 128 B), header index (maxBlocks x 8 B), heap blocks.
 *
 * Header (128 B): line 0 = size, flags (FREE, LARGE), block address, object granules;
 * line 1 = mark/allocation bits (one per object slot, up to 256), their count and the
 * header free-list link. (Makalu also links block free lists through line 1, never
 * flushing those links; nvlab keeps block-list links in DRAM side tables, free-lists.ts.)
 *
 * Invariants: every region is 4 KB aligned; the heap grows from heapStart up to
 * maxBlocks blocks; a header address is always >= nvramBase, so an index word below
 * nvramBase is a forwarding count (interior block of a large object) or nil.
 */
import type { Addr } from '../../sim/api.ts';

export const GRANULE_BYTES = 16;
export const BLOCK_BYTES = 4096;
export const LOG_BLOCK_BYTES = 12;
export const LINE_BYTES = 64;
export const HEADER_BYTES = 128;
export const ROOT_COUNT = 512;
export const LOG_ENTRIES = 64;
export const LOG_ENTRY_BYTES = 64;
export const MAX_SMALL_BYTES = 2048;
/** Thread-local lists serve 1..24 granules (<= 384 B); per-granule global locks too. */
export const TINY_GRANULES = 24;
export const MAX_SMALL_GRANULES = MAX_SMALL_BYTES / GRANULE_BYTES;
export const GRANULES_PER_BLOCK = BLOCK_BYTES / GRANULE_BYTES;
export const UNIQUE_THRESHOLD = 32;
export const HUGE_THRESHOLD = 256;
export const FL_COMPRESSION = 8;
export const N_HBLK_FLS = (HUGE_THRESHOLD - UNIQUE_THRESHOLD) / FL_COMPRESSION + UNIQUE_THRESHOLD;
/** Minimum and maximum heap increments in blocks (makalu_config.h MINHINCR/MAXHINCR). */
export const MINHINCR = 16;
export const MAXHINCR = 2048;
export const MAX_JUMP = BLOCK_BYTES - 1;
export const MAGIC = 0x4d414b414c55; // 'MAKALU'

/** Superblock field offsets. */
export const SB_MAGIC = 0;
export const SB_STATE = 8;
export const SB_MAX_BLOCKS = 16;
export const SB_LAST_HEAP_SIZE = 24;
export const SB_HDR_BUMP = 64;
export const SB_HEAP_SIZE = 128;
export const SB_LARGE_FREE = 136;
export const SB_LOG_VERSION = 192;
/** Persistent state values (Makalu's PERSISTENT_STATE_NONE / INCONSISTENT). */
export const STATE_CLEAN = 0;
export const STATE_DIRTY = 1;

/** Header field offsets. */
export const H_SIZE = 0;
export const H_FLAGS = 8;
export const H_BLOCK = 16;
export const H_GRANULES = 24;
export const H_MARKS = 64;
/** Mark bits: one per object slot, 48 per word (word values stay below 2^53), 6 words. */
export const MARK_BITS_PER_WORD = 48;
export const MARK_WORDS = 6;
export const H_NMARKS = 112;
/** Link of the header free list (Makalu's hb_next in line 1; written lazily). */
export const H_NEXT = 120;
export const FLAG_LARGE = 1;
export const FLAG_FREE = 4;

/** Log entry field offsets. */
export const LE_ADDR = 0;
export const LE_OLD = 8;
export const LE_VERSION = 16;
export const LE_CHECK = 24;

export interface NvLayout {
  readonly base: Addr;
  readonly sizeBytes: number;
  readonly superblock: Addr;
  readonly roots: Addr;
  readonly log: Addr;
  readonly headers: Addr;
  readonly headerCapacity: number;
  readonly index: Addr;
  readonly heapStart: Addr;
  readonly maxBlocks: number;
}

const PAGE = 4096;
const roundUpPage = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** Carve the NVRAM region into the Makalu layout; throws if it is too small for one block. */
export function computeLayout(base: Addr, sizeBytes: number): NvLayout {
  const fixed = 3 * PAGE;
  let maxBlocks = Math.floor((sizeBytes - fixed - 2 * PAGE - HEADER_BYTES) / (BLOCK_BYTES + HEADER_BYTES + 8));
  const need = (m: number): number => fixed + roundUpPage((m + 1) * HEADER_BYTES) + roundUpPage(m * 8) + m * BLOCK_BYTES;
  while (maxBlocks > 0 && need(maxBlocks) > sizeBytes) maxBlocks--;
  if (maxBlocks < 1) throw new RangeError(`makalu: nvramSizeBytes must hold at least one heap block plus metadata (~${need(1)} B), got ${sizeBytes}`);
  const headers = base + fixed;
  const headerCapacity = maxBlocks + 1;
  const index = headers + roundUpPage(headerCapacity * HEADER_BYTES);
  const heapStart = index + roundUpPage(maxBlocks * 8);
  return { base, sizeBytes, superblock: base, roots: base + PAGE, log: base + 2 * PAGE, headers, headerCapacity, index, heapStart, maxBlocks };
}

export const blockAddr = (nv: NvLayout, b: number): Addr => nv.heapStart + b * BLOCK_BYTES;
export const indexAddr = (nv: NvLayout, b: number): Addr => nv.index + b * 8;
export const isHeaderWord = (nv: NvLayout, v: number): boolean => v >= nv.headers && v < nv.headers + nv.headerCapacity * HEADER_BYTES && (v - nv.headers) % HEADER_BYTES === 0;
