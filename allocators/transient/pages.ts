/**
 * Transient allocator: the page-run allocator (jemalloc's extent layer, simplified).
 *
 * Model: the heap's pages are tiled by runs: free runs, slabs and large blocks. Free
 * runs sit in doubly linked bins in DRAM (exact bins for 1..64 pages, then one bin per
 * power of two), with a bitmap of non-empty bins so a search costs a few loads. A
 * request takes the first run of a large enough bin (first fit inside a bucket bin)
 * and splits off the rest. A freed run coalesces at once with free neighbours, found
 * through the boundary states of the pages before and after it.
 *
 * Invariants: the caller holds the arena lock (ARENA_LOCK). Two free runs are never
 * adjacent. A free run's head and tail pages carry FREE states with its length; its
 * inner pages carry stale FREE or zero states, never SLAB or LARGE states (callers
 * reset the pages of a run before giving it back). Links are page index + 1 (0 = none).
 */
import type { Core } from '../../sim/api.ts';
import {
  ARENA_BITMAP, ARENA_HEADS, EXACT_RUN_BINS, KIND_FREE, PR_NEXT, PR_PREV, PR_STATE, RUN_BINS, RUN_BIN_WORDS,
  encodeState, pageRecord, runBinOf, stateKind, stateValue, type TransientLayout,
} from './layout.ts';

const NO_RUN = -1;

function headAddr(l: TransientLayout, bin: number): number {
  return l.arena + ARENA_HEADS + 8 * bin;
}

function setBinBit(core: Core, l: TransientLayout, bin: number, on: boolean): void {
  const word = l.arena + ARENA_BITMAP + 4 * (bin >>> 5);
  const mask = (1 << (bin & 31)) >>> 0;
  const old = core.load(word, 4);
  core.store(word, 4, on ? (old | mask) >>> 0 : (old & ~mask) >>> 0);
}

/** Write the boundary states of a free run [page, page + pages). */
export function markFreeRun(core: Core, l: TransientLayout, page: number, pages: number): void {
  const s = encodeState(KIND_FREE, 0, pages);
  core.store64(pageRecord(l, page) + PR_STATE, s);
  if (pages > 1) core.store64(pageRecord(l, page + pages - 1) + PR_STATE, s);
}

function linkRun(core: Core, l: TransientLayout, page: number, pages: number): void {
  const bin = runBinOf(pages);
  const head = core.load64(headAddr(l, bin));
  const rec = pageRecord(l, page);
  core.store64(rec + PR_NEXT, head);
  core.store64(rec + PR_PREV, 0);
  if (head !== 0) core.store64(pageRecord(l, head - 1) + PR_PREV, page + 1);
  else setBinBit(core, l, bin, true);
  core.store64(headAddr(l, bin), page + 1);
}

function unlinkRun(core: Core, l: TransientLayout, page: number, pages: number): void {
  const bin = runBinOf(pages);
  const rec = pageRecord(l, page);
  const next = core.load64(rec + PR_NEXT);
  const prev = core.load64(rec + PR_PREV);
  if (next !== 0) core.store64(pageRecord(l, next - 1) + PR_PREV, prev);
  if (prev !== 0) core.store64(pageRecord(l, prev - 1) + PR_NEXT, next);
  else {
    core.store64(headAddr(l, bin), next);
    if (next === 0) setBinBit(core, l, bin, false);
  }
}

/** Add a run to the free structures (at format, or after coalescing). */
export function insertFreeRun(core: Core, l: TransientLayout, page: number, pages: number): void {
  markFreeRun(core, l, page, pages);
  linkRun(core, l, page, pages);
}

/** The first non-empty bin >= from, or -1 (reads the bitmap word by word). */
function nextNonEmptyBin(core: Core, l: TransientLayout, from: number): number {
  for (let w = from >>> 5; w < RUN_BIN_WORDS; w++) {
    let bits = core.load(l.arena + ARENA_BITMAP + 4 * w, 4);
    if (w === from >>> 5) bits = (bits & ~((1 << (from & 31)) - 1)) >>> 0;
    if (bits !== 0) return 32 * w + (31 - Math.clz32(bits & -bits));
  }
  return NO_RUN;
}

/** First run of at least `pages` in `bin`, or -1 (exact bins: the head fits). */
function fitInBin(core: Core, l: TransientLayout, bin: number, pages: number): number {
  let link = core.load64(headAddr(l, bin));
  while (link !== 0) {
    const len = stateValue(core.load64(pageRecord(l, link - 1) + PR_STATE));
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
export function allocRun(core: Core, l: TransientLayout, pages: number): number {
  let bin = runBinOf(pages);
  while (bin < RUN_BINS) {
    bin = nextNonEmptyBin(core, l, bin);
    if (bin === NO_RUN) return NO_RUN;
    const page = fitInBin(core, l, bin, pages);
    if (page !== NO_RUN) {
      const len = stateValue(core.load64(pageRecord(l, page) + PR_STATE));
      unlinkRun(core, l, page, len);
      if (len > pages) insertFreeRun(core, l, page + pages, len - pages);
      return page;
    }
    bin++;
  }
  return NO_RUN;
}

/**
 * Give the run [page, page + pages) back, coalescing with free neighbours. The caller
 * has reset any SLAB states inside the run; the head and tail are reset here.
 */
export function freeRun(core: Core, l: TransientLayout, page: number, pages: number): void {
  let start = page;
  let len = pages;
  if (start > 0) {
    const left = core.load64(pageRecord(l, start - 1) + PR_STATE);
    if (stateKind(left) === KIND_FREE) {
      const leftLen = stateValue(left);
      unlinkRun(core, l, start - leftLen, leftLen);
      start -= leftLen;
      len += leftLen;
    }
  }
  const after = page + pages;
  if (after < l.heapPages) {
    const right = core.load64(pageRecord(l, after) + PR_STATE);
    if (stateKind(right) === KIND_FREE) {
      const rightLen = stateValue(right);
      unlinkRun(core, l, after, rightLen);
      len += rightLen;
    }
  }
  // The old head and tail become inner pages: make sure they hold FREE states only.
  const cleared = encodeState(KIND_FREE, 0, 0);
  core.store64(pageRecord(l, page) + PR_STATE, cleared);
  if (pages > 1) core.store64(pageRecord(l, page + pages - 1) + PR_STATE, cleared);
  insertFreeRun(core, l, start, len);
}
