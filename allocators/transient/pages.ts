/**
 * Transient allocator: one arena's extents (jemalloc's per-arena extent layer, simplified).
 *
 * Model: the used heap pages (below the global frontier) are tiled by runs: free runs,
 * slabs and large blocks, each owned by one arena (the arena field of its page states).
 * An arena's free runs sit in doubly linked bins in its DRAM record (exact bins for
 * 1..64 pages, then one bin per power of two), with a bitmap of non-empty bins so a
 * search costs a few loads. A request takes the first run of a large enough bin (first
 * fit inside a bucket bin) and splits off the rest. A freed run coalesces at once with
 * free neighbours of the same arena, found through the boundary states of the pages
 * before and after it. Like jemalloc with opt_retain (the Linux default), an arena keeps
 * its extents: freed runs are never given back to the frontier.
 *
 * Invariants: the caller holds the arena's extents lock (EXT_LOCK). Two free runs of the
 * same arena are never adjacent. A free run's head and tail pages carry FREE states with
 * its owner and length; its inner pages carry stale FREE or zero states, never SLAB or
 * LARGE states (callers reset the pages of a run before giving it back). Links are page
 * index + 1 (0 = none).
 */
import type { Core } from '../../sim/api.ts';
import {
  EXACT_RUN_BINS, EXT_BITMAP, EXT_GROW_PAGES, EXT_HEADS, EXT_LOCK, GLOBAL_FRONTIER, GLOBAL_LOCK, GROW_FIRST_PAGES, nextGrowPages, KIND_FREE, KIND_LARGE_HEAD, KIND_LARGE_TAIL, PR_NEXT, PR_PREV, pageState, RUN_BINS, RUN_BIN_WORDS,
  arenaAddr, encodeState, pageRecord, runBinOf, stateArena, stateKind, stateValue, type TransientLayout,
} from './layout.ts';

const NO_RUN = -1;

function headAddr(l: TransientLayout, arena: number, bin: number): number {
  return arenaAddr(l, arena) + EXT_HEADS + 8 * bin;
}

function setBinBit(core: Core, l: TransientLayout, arena: number, bin: number, on: boolean): void {
  const word = arenaAddr(l, arena) + EXT_BITMAP + 4 * (bin >>> 5);
  const mask = (1 << (bin & 31)) >>> 0;
  const old = core.load(word, 4);
  core.store(word, 4, on ? (old | mask) >>> 0 : (old & ~mask) >>> 0);
}

/** Write the boundary states of a free run [page, page + pages). */
export function markFreeRun(core: Core, l: TransientLayout, arena: number, page: number, pages: number): void {
  const s = encodeState(KIND_FREE, 0, arena, pages);
  core.store64(pageState(l, page), s);
  if (pages > 1) core.store64(pageState(l, page + pages - 1), s);
}

function linkRun(core: Core, l: TransientLayout, arena: number, page: number, pages: number): void {
  const bin = runBinOf(pages);
  const head = core.load64(headAddr(l, arena, bin));
  const rec = pageRecord(l, page);
  core.store64(rec + PR_NEXT, head);
  core.store64(rec + PR_PREV, 0);
  if (head !== 0) core.store64(pageRecord(l, head - 1) + PR_PREV, page + 1);
  else setBinBit(core, l, arena, bin, true);
  core.store64(headAddr(l, arena, bin), page + 1);
}

function unlinkRun(core: Core, l: TransientLayout, arena: number, page: number, pages: number): void {
  const bin = runBinOf(pages);
  const rec = pageRecord(l, page);
  const next = core.load64(rec + PR_NEXT);
  const prev = core.load64(rec + PR_PREV);
  if (next !== 0) core.store64(pageRecord(l, next - 1) + PR_PREV, prev);
  if (prev !== 0) core.store64(pageRecord(l, prev - 1) + PR_NEXT, next);
  else {
    core.store64(headAddr(l, arena, bin), next);
    if (next === 0) setBinBit(core, l, arena, bin, false);
  }
}

/** Add a run to the free structures (at format, or after coalescing). */
export function insertFreeRun(core: Core, l: TransientLayout, arena: number, page: number, pages: number): void {
  markFreeRun(core, l, arena, page, pages);
  linkRun(core, l, arena, page, pages);
}

/** The first non-empty bin >= from, or -1 (reads the bitmap word by word). */
function nextNonEmptyBin(core: Core, l: TransientLayout, arena: number, from: number): number {
  for (let w = from >>> 5; w < RUN_BIN_WORDS; w++) {
    let bits = core.load(arenaAddr(l, arena) + EXT_BITMAP + 4 * w, 4);
    if (w === from >>> 5) bits = (bits & ~((1 << (from & 31)) - 1)) >>> 0;
    if (bits !== 0) return 32 * w + (31 - Math.clz32(bits & -bits));
  }
  return NO_RUN;
}

/** First run of at least `pages` in `bin`, or -1 (exact bins: the head fits). */
function fitInBin(core: Core, l: TransientLayout, arena: number, bin: number, pages: number): number {
  let link = core.load64(headAddr(l, arena, bin));
  while (link !== 0) {
    const len = stateValue(core.load64(pageState(l, link - 1)));
    if (len >= pages) return link - 1;
    if (bin < EXACT_RUN_BINS) return NO_RUN;
    link = core.load64(pageRecord(l, link - 1) + PR_NEXT);
  }
  return NO_RUN;
}

/**
 * Take a run of exactly `pages` pages out of the free structures; returns its first
 * page, or -1 when no free run is large enough. The caller marks the run's states.
 */
export function allocRun(core: Core, l: TransientLayout, arena: number, pages: number): number {
  let bin = runBinOf(pages);
  while (bin < RUN_BINS) {
    bin = nextNonEmptyBin(core, l, arena, bin);
    if (bin === NO_RUN) return NO_RUN;
    const page = fitInBin(core, l, arena, bin, pages);
    if (page !== NO_RUN) {
      const len = stateValue(core.load64(pageState(l, page)));
      unlinkRun(core, l, arena, page, len);
      if (len > pages) insertFreeRun(core, l, arena, page + pages, len - pages);
      return page;
    }
    bin++;
  }
  return NO_RUN;
}

/**
 * Give the run [page, page + pages) back to `arena`'s extents, coalescing with free
 * neighbours of the same arena. The caller has reset any SLAB states inside the run;
 * the head and tail are reset here.
 */
export function freeRun(core: Core, l: TransientLayout, arena: number, page: number, pages: number): void {
  let start = page;
  let len = pages;
  const mine = (s: number): boolean => stateKind(s) === KIND_FREE && stateArena(s) === arena;
  if (start > 0) {
    const left = core.load64(pageState(l, start - 1));
    if (mine(left)) {
      const leftLen = stateValue(left);
      unlinkRun(core, l, arena, start - leftLen, leftLen);
      start -= leftLen;
      len += leftLen;
    }
  }
  const after = page + pages;
  if (after < l.heapPages) {
    const right = core.load64(pageState(l, after));
    if (mine(right)) {
      const rightLen = stateValue(right);
      unlinkRun(core, l, arena, after, rightLen);
      len += rightLen;
    }
  }
  // The old head and tail become inner pages: make sure they hold FREE states only.
  const cleared = encodeState(KIND_FREE, 0, 0, 0);
  core.store64(pageState(l, page), cleared);
  if (pages > 1) core.store64(pageState(l, page + pages - 1), cleared);
  insertFreeRun(core, l, arena, start, len);
}

/**
 * Grow `arena` from the frontier (jemalloc's extent_grow_retained: the OS address space
 * is our bounded heap): with the arena's extents lock held, take the arena's next grow
 * size (at least `pages`, jemalloc's growth series; less when the heap's end is nearer,
 * as long as `pages` fit) under the global lock, keep the surplus as a free run of the
 * arena and return the first page of the `pages` asked for, or -1 when the heap is
 * exhausted.
 */
function growFromFrontier(core: Core, l: TransientLayout, arena: number, pages: number): number {
  const growAddr = arenaAddr(l, arena) + EXT_GROW_PAGES;
  let grow = core.load64(growAddr) || GROW_FIRST_PAGES;
  while (grow < pages) grow = nextGrowPages(grow);
  core.lock(l.global + GLOBAL_LOCK);
  const next = core.load64(l.global + GLOBAL_FRONTIER);
  const take = Math.min(grow, l.heapPages - next);
  const ok = take >= pages;
  if (ok) core.store64(l.global + GLOBAL_FRONTIER, next + take);
  core.unlock(l.global + GLOBAL_LOCK);
  if (!ok) return NO_RUN;
  core.store64(growAddr, nextGrowPages(grow));
  if (take > pages) insertFreeRun(core, l, arena, next + pages, take - pages);
  return next;
}

/**
 * A run of `pages` pages for `arena` (slab or large block); `stamp(page)` writes its page
 * states while the lock the run was taken under is still held (so no neighbour's free
 * can coalesce with it in between). Tries the arena's own extents, then the frontier, both under the arena's
 * extents lock (extents lock before the global lock, always in that order); last, with
 * the heap exhausted, each other arena's extents in turn under that arena's lock alone
 * (jemalloc would map more address space; our heap is bounded, and a run found there
 * becomes `arena`'s when its pages are stamped). Returns the first page or -1.
 */
export function arenaExtentAlloc(core: Core, l: TransientLayout, arena: number, pages: number, stamp: (page: number) => void): number {
  const lock = arenaAddr(l, arena) + EXT_LOCK;
  core.lock(lock);
  let page = allocRun(core, l, arena, pages);
  if (page === NO_RUN) page = growFromFrontier(core, l, arena, pages);
  if (page !== NO_RUN) stamp(page);
  core.unlock(lock);
  for (let k = 1; page === NO_RUN && k < l.arenaCount; k++) {
    const other = (arena + k) % l.arenaCount;
    core.lock(arenaAddr(l, other) + EXT_LOCK);
    page = allocRun(core, l, other, pages);
    if (page !== NO_RUN) stamp(page);
    core.unlock(arenaAddr(l, other) + EXT_LOCK);
  }
  return page;
}

/** Give a run back to `arena`'s extents under its extents lock (see freeRun). */
export function arenaExtentFree(core: Core, l: TransientLayout, arena: number, page: number, pages: number): void {
  const lock = arenaAddr(l, arena) + EXT_LOCK;
  core.lock(lock);
  freeRun(core, l, arena, page, pages);
  core.unlock(lock);
}

/**
 * Path "large allocation" (jemalloc large_malloc -> arena_extent_alloc_large): a run of
 * `pages` pages from `arena`'s extents, stamped LARGE_HEAD (and LARGE_TAIL) with its
 * owner. Returns the first page, or -1 when the heap is exhausted.
 */
export function arenaLargeAlloc(core: Core, l: TransientLayout, arena: number, pages: number): number {
  return arenaExtentAlloc(core, l, arena, pages, (page) => {
    core.store64(pageState(l, page), encodeState(KIND_LARGE_HEAD, 0, arena, pages));
    if (pages > 1) core.store64(pageState(l, page + pages - 1), encodeState(KIND_LARGE_TAIL, 0, arena, pages));
  });
}

/** Path "large free" (jemalloc large_dalloc): the run goes back to its owner arena's extents. */
export function arenaLargeDalloc(core: Core, l: TransientLayout, owner: number, page: number, pages: number): void {
  arenaExtentFree(core, l, owner, page, pages);
}
