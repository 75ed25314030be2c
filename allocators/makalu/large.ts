/**
 * Heap blocks: runs of whole 4 KB blocks (MAK_allochblk / MAK_freehblk / heap growth).
 *
 * Model: free runs sit in 61 DRAM block free-list buckets (exact 1..32 blocks, then
 * buckets). allochblk tries the exact bucket without splitting, then every larger
 * bucket with splitting (skipping a run when the next one in the bucket fits better).
 * Taking a run is one section: log the header bump pointer, remove the run from its
 * list (logging its size and flags), split off the rest under a new header, set up the
 * header (unlogged: the old values are logged), update the large free bytes (logged).
 * Freeing a run is one section: size and free flag (logged), coalesce with a free
 * predecessor and successor (their size/flags logged, the absorbed header removed with
 * its block field logged), large free bytes (logged). The heap grows on demand by at
 * least MINHINCR blocks (heap/3 + needed, capped by MAXHINCR), as one section.
 *
 * Each bucket probe and each block free checks the persistent state word and marks
 * the heap dirty if it was clean (MAK_STORE_NVM_SYNC under an `if`). The released code
 * lacks the macro's braces, so in `makalu-shipped` the mfence-clflush-mfence runs on
 * every probe and every block free.
 *
 * Invariants: runs tile [0, heapBlocks); no two free runs are adjacent after a section;
 * the sum of free run bytes equals the large free bytes word. Caller holds the global lock.
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { BS_FREE_LIST, type Mk } from './context.ts';
import { installCounts, installHeader, clearMarks, headerAt, removeCounts, removeHeader } from './block-headers.ts';
import { freeRunEndingAt, unlinkFreeRun, linkFreeRun, blockState, bucketHead, blockListNext } from './free-lists.ts';
import { storeSync, syncFlush } from './flush-table.ts';
import {
  BLOCK_BYTES, FLAG_FREE, FLAG_LARGE, H_FLAGS, H_GRANULES, H_SIZE, MAXHINCR, MINHINCR, N_HBLK_FLS, SB_HDR_BUMP, SB_HEAP_SIZE,
  SB_LARGE_FREE, SB_LAST_HEAP_SIZE, SB_STATE, STATE_CLEAN, STATE_DIRTY, UNIQUE_THRESHOLD,
} from './layout.ts';
import { bucketOf } from './size-classes.ts';
import { beginSection, endSection, logWord, storeLogged, storeNoLog } from './undo-log.ts';

const S_TAKE_RUN = siteId('makalu:take-run');
const S_FREE_RUN = siteId('makalu:free-run');
const S_GROW = siteId('makalu:grow-heap');
const S_DIRTY = siteId('makalu:mark-dirty');

const sb = (mk: Mk, off: number): number => mk.nv.superblock + off;
export const blocksOfBytes = (bytes: number): number => Math.ceil(bytes / BLOCK_BYTES);
export const heapBlocks = (mk: Mk, core: Core): number => core.load64(sb(mk, SB_HEAP_SIZE)) / BLOCK_BYTES;

/** `if (state == NONE) MAK_STORE_NVM_SYNC(state, INCONSISTENT)`, braced or (shipped) not. */
export function ensureDirty(mk: Mk, core: Core): void {
  const clean = core.load64(sb(mk, SB_STATE)) === STATE_CLEAN;
  if (!clean && !mk.variant.shippedMacro) return;
  const prev = core.setSite(S_DIRTY);
  if (clean) core.store64(sb(mk, SB_STATE), STATE_DIRTY);
  syncFlush(core, sb(mk, SB_STATE));
  core.setSite(prev);
}

/** Run size in blocks from a header (free runs and large objects store bytes). */
export const runBlocksOf = (core: Core, h: number): number => blocksOfBytes(core.load64(h + H_SIZE));

/** MAK_add_to_fl: link into the bucket (DRAM) and set the free flag (unlogged). */
function addToFl(mk: Mk, core: Core, b: number, h: number, blocks: number): void {
  linkFreeRun(mk, core, b, blocks, bucketOf(blocks));
  storeNoLog(mk, core, h + H_FLAGS, core.load64(h + H_FLAGS) | FLAG_FREE);
}

/** MAK_remove_from_fl: unlink (if listed) and log size and flags. */
function removeFromFl(mk: Mk, core: Core, b: number, h: number, blocks: number, log = true): void {
  if (blockState(mk, core, b) === BS_FREE_LIST) unlinkFreeRun(mk, core, b, blocks, bucketOf(blocks));
  if (!log) return;
  logWord(mk, core, h + H_SIZE);
  logWord(mk, core, h + H_FLAGS);
}

/** Allocate a run for sizeBytes (granules > 0: a small block of that class). Block index or -1. */
export function allocBlocks(mk: Mk, core: Core, sizeBytes: number, granules: number): number {
  const blocks = blocksOfBytes(sizeBytes);
  let start = bucketOf(blocks);
  const exact = allocNth(mk, core, sizeBytes, granules, start, false);
  if (exact >= 0) return exact;
  if (start < UNIQUE_THRESHOLD) start++;
  for (let n = start; n <= N_HBLK_FLS; n++) {
    const b = allocNth(mk, core, sizeBytes, granules, n, true);
    if (b >= 0) return b;
  }
  return -1;
}

function allocNth(mk: Mk, core: Core, sizeBytes: number, granules: number, n: number, maySplit: boolean): number {
  const needed = blocksOfBytes(sizeBytes);
  ensureDirty(mk, core);
  for (let b = core.load64(bucketHead(mk, n)) - 1; b >= 0; b = blockListNext(mk, core, b)) {
    const h = headerAt(mk, core, b);
    const avail = runBlocksOf(core, h);
    if (avail < needed) continue;
    if (avail !== needed) {
      if (!maySplit) continue;
      const nb = blockListNext(mk, core, b);
      if (nb >= 0) {
        const nextSize = runBlocksOf(core, headerAt(mk, core, nb));
        if (nextSize < avail && nextSize >= needed) continue;
      }
    }
    takeRun(mk, core, b, h, avail, needed, sizeBytes, granules);
    return b;
  }
  return -1;
}

function takeRun(mk: Mk, core: Core, b: number, h: number, avail: number, needed: number, sizeBytes: number, granules: number): void {
  const prev = core.setSite(S_TAKE_RUN);
  beginSection(mk, core);
  logWord(mk, core, sb(mk, SB_HDR_BUMP));
  removeFromFl(mk, core, b, h, avail, !mk.variant.omitSplitLog);
  if (avail > needed) {
    const rest = b + needed;
    const rh = installHeader(mk, core, rest);
    storeNoLog(mk, core, rh + H_SIZE, (avail - needed) * BLOCK_BYTES);
    core.store64(rh + H_GRANULES, 0);
    core.store64(rh + H_FLAGS, 0);
    addToFl(mk, core, rest, rh, avail - needed);
  }
  storeNoLog(mk, core, h + H_SIZE, granules > 0 ? granules * 16 : sizeBytes);
  storeNoLog(mk, core, h + H_GRANULES, granules);
  storeNoLog(mk, core, h + H_FLAGS, granules > 0 ? 0 : FLAG_LARGE);
  clearMarks(core, h);
  const lfb = sb(mk, SB_LARGE_FREE);
  storeLogged(mk, core, lfb, core.load64(lfb) - needed * BLOCK_BYTES);
  endSection(mk, core);
  if (granules === 0) installCounts(mk, core, b, needed);
  core.setSite(prev);
}

/**
 * MAK_freehblk inside a section the caller opened. Returns [first block, blocks] of the
 * resulting (possibly coalesced) free run. The caller unlinked b from any reclaim list.
 */
export function freeBlocks(mk: Mk, core: Core, b: number): [number, number] {
  const site = core.setSite(S_FREE_RUN);
  let h = headerAt(mk, core, b);
  const blocks = runBlocksOf(core, h);
  ensureDirty(mk, core);
  removeCounts(mk, core, b, blocks);
  storeLogged(mk, core, h + H_SIZE, blocks * BLOCK_BYTES);
  storeLogged(mk, core, h + H_FLAGS, core.load64(h + H_FLAGS) | FLAG_FREE);
  let first = b;
  let total = blocks;
  const prev = freeRunEndingAt(mk, core, b);
  if (prev >= 0) {
    const ph = headerAt(mk, core, prev);
    const pBlocks = runBlocksOf(core, ph);
    removeFromFl(mk, core, prev, ph, pBlocks);
    storeNoLog(mk, core, ph + H_SIZE, (pBlocks + total) * BLOCK_BYTES);
    removeHeader(mk, core, h, b);
    first = prev;
    h = ph;
    total += pBlocks;
  }
  total += absorbNext(mk, core, h, first, total);
  const lfb = sb(mk, SB_LARGE_FREE);
  storeLogged(mk, core, lfb, core.load64(lfb) + blocks * BLOCK_BYTES);
  addToFl(mk, core, first, h, total);
  core.setSite(site);
  return [first, total];
}

/** Coalesce with a free successor run; returns the blocks absorbed. */
function absorbNext(mk: Mk, core: Core, h: number, first: number, total: number): number {
  const next = first + total;
  if (next >= heapBlocks(mk, core)) return 0;
  const nh = headerAt(mk, core, next);
  if (nh === 0 || (core.load64(nh + H_FLAGS) & FLAG_FREE) === 0) return 0;
  const nBlocks = runBlocksOf(core, nh);
  removeFromFl(mk, core, next, nh, nBlocks);
  storeNoLog(mk, core, h + H_SIZE, (total + nBlocks) * BLOCK_BYTES);
  removeHeader(mk, core, nh, next);
  return nBlocks;
}

/** MAK_try_expand_hp: grow by heap/3 + needed (>= MINHINCR), else by exactly what is needed. */
export function tryExpand(mk: Mk, core: Core, needed: number): boolean {
  const cur = heapBlocks(mk, core);
  let want = Math.floor(cur / 3) + needed;
  if (want > MAXHINCR) {
    const slop = Math.min(2 * MINHINCR, needed);
    want = needed + slop > MAXHINCR ? needed + slop : MAXHINCR;
  }
  return expandBy(mk, core, want) || expandBy(mk, core, needed);
}

function expandBy(mk: Mk, core: Core, requested: number): boolean {
  const cur = heapBlocks(mk, core);
  const n = Math.min(Math.max(requested, MINHINCR), mk.nv.maxBlocks - cur);
  if (n < requested || n <= 0) return false;
  ensureDirty(mk, core);
  const prev = core.setSite(S_GROW);
  storeSync(core, sb(mk, SB_LAST_HEAP_SIZE), n * BLOCK_BYTES);
  beginSection(mk, core);
  newFreeRun(mk, core, cur, n);
  endSection(mk, core);
  core.setSite(prev);
  return true;
}

/** MAK_add_to_heap + MAK_newfreehblk: a fresh run at the heap end, merged with a free tail. */
function newFreeRun(mk: Mk, core: Core, b: number, n: number): void {
  let first = b;
  let h: number;
  let total = n;
  const prev = freeRunEndingAt(mk, core, b);
  logWord(mk, core, sb(mk, SB_HDR_BUMP));
  if (prev >= 0) {
    h = headerAt(mk, core, prev);
    const pBlocks = runBlocksOf(core, h);
    removeFromFl(mk, core, prev, h, pBlocks);
    storeNoLog(mk, core, h + H_SIZE, (pBlocks + n) * BLOCK_BYTES);
    first = prev;
    total += pBlocks;
  } else {
    h = installHeader(mk, core, b);
    storeNoLog(mk, core, h + H_SIZE, n * BLOCK_BYTES);
    storeNoLog(mk, core, h + H_FLAGS, 0);
    core.store64(h + H_GRANULES, 0);
  }
  const hs = sb(mk, SB_HEAP_SIZE);
  storeLogged(mk, core, hs, core.load64(hs) + n * BLOCK_BYTES);
  const lfb = sb(mk, SB_LARGE_FREE);
  storeLogged(mk, core, lfb, core.load64(lfb) + n * BLOCK_BYTES);
  addToFl(mk, core, first, h, total);
}
