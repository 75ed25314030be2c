/**
 * Transient allocator: arena bins and slabs (jemalloc's bins, LRMalloc's superblocks).
 *
 * Model: each size class has one arena bin (a lock and a doubly linked list of its
 * non-full slabs). A slab is a run of pages carved from the page allocator; its head
 * page record holds the count of free slots and a bitmap of them (1 = free in the
 * slab). Thread caches refill from the bin (half their limit at a time, taking slots
 * from the first non-full slab, creating slabs as needed) and flush the older half of
 * their entries back when they overflow. A slab that becomes entirely free goes back
 * to the page allocator unless it is the bin's only non-full slab (kept to avoid
 * thrashing at a slab boundary).
 *
 * Invariants: bin lock before arena lock, always in that order. A slot is in exactly
 * one of: the slab bitmap, a thread cache, the user's hands (handed-out bitmap).
 */
import type { Addr, Core } from '../../sim/api.ts';
import { allocRun, freeRun } from './pages.ts';
import {
  ARENA_LOCK, BIN_HEAD, BIN_LOCK, CLASS_SIZE, CLASS_SLAB_PAGES, CLASS_SLOTS, CLASS_TCACHE_LIMIT, KIND_FREE, KIND_SLAB,
  MAX_SLOTS, PAGE_BYTES, PR_BITMAP, PR_NEXT, PR_NFREE, PR_PREV, PR_STATE, binAddr, classRecord, encodeState, pageAddr,
  pageRecord, stateValue, type TransientLayout,
} from './layout.ts';

function pushSlab(core: Core, l: TransientLayout, sizeClass: number, head: number): void {
  const bin = binAddr(l, sizeClass);
  const first = core.load64(bin + BIN_HEAD);
  const rec = pageRecord(l, head);
  core.store64(rec + PR_NEXT, first);
  core.store64(rec + PR_PREV, 0);
  if (first !== 0) core.store64(pageRecord(l, first - 1) + PR_PREV, head + 1);
  core.store64(bin + BIN_HEAD, head + 1);
}

function unlinkSlab(core: Core, l: TransientLayout, sizeClass: number, head: number): void {
  const rec = pageRecord(l, head);
  const next = core.load64(rec + PR_NEXT);
  const prev = core.load64(rec + PR_PREV);
  if (next !== 0) core.store64(pageRecord(l, next - 1) + PR_PREV, prev);
  if (prev !== 0) core.store64(pageRecord(l, prev - 1) + PR_NEXT, next);
  else core.store64(binAddr(l, sizeClass) + BIN_HEAD, next);
}

/** Carve a new slab for a class (arena lock inside); returns its head page or -1. */
function newSlab(core: Core, l: TransientLayout, sizeClass: number): number {
  const crec = classRecord(l, sizeClass);
  const pages = core.load(crec + CLASS_SLAB_PAGES, 4);
  const slots = core.load(crec + CLASS_SLOTS, 4);
  core.lock(l.arena + ARENA_LOCK);
  const head = allocRun(core, l, pages);
  for (let i = 0; head >= 0 && i < pages; i++) core.store64(pageRecord(l, head + i) + PR_STATE, encodeState(KIND_SLAB, sizeClass, i));
  core.unlock(l.arena + ARENA_LOCK);
  if (head < 0) return -1;
  const rec = pageRecord(l, head);
  core.store64(rec + PR_NFREE, slots);
  for (let w = 0; w < MAX_SLOTS / 32; w++) {
    const bits = slots >= 32 * (w + 1) ? 0xffff_ffff : slots > 32 * w ? 2 ** (slots - 32 * w) - 1 : 0;
    core.store(rec + PR_BITMAP + 4 * w, 4, bits);
  }
  pushSlab(core, l, sizeClass, head);
  return head;
}

/** Take up to `want` free slots of a slab (lowest first) into `out`; unlinks a slab left full. */
function takeSlots(core: Core, l: TransientLayout, sizeClass: number, head: number, want: number, sizeBytes: number, out: Addr[]): void {
  const rec = pageRecord(l, head);
  const base = pageAddr(l, head);
  let nfree = core.load64(rec + PR_NFREE);
  for (let w = 0; w < MAX_SLOTS / 32 && out.length < want && nfree > 0; w++) {
    let bits = core.load(rec + PR_BITMAP + 4 * w, 4);
    if (bits === 0) continue;
    while (bits !== 0 && out.length < want) {
      const bit = 31 - Math.clz32(bits & -bits);
      bits = (bits & ~(1 << bit)) >>> 0;
      out.push(base + (32 * w + bit) * sizeBytes);
      nfree--;
    }
    core.store(rec + PR_BITMAP + 4 * w, 4, bits);
  }
  core.store64(rec + PR_NFREE, nfree);
  if (nfree === 0) unlinkSlab(core, l, sizeClass, head);
}

/**
 * Refill the thread cache at `tcache` (empty) with up to half its limit; returns the
 * new count (0 when the heap is out of memory for this class).
 */
export function refill(core: Core, l: TransientLayout, sizeClass: number, tcache: Addr): number {
  const crec = classRecord(l, sizeClass);
  const want = core.load(crec + CLASS_TCACHE_LIMIT, 4) >>> 1;
  const sizeBytes = core.load(crec + CLASS_SIZE, 4);
  const bin = binAddr(l, sizeClass);
  const got: Addr[] = [];
  core.lock(bin + BIN_LOCK);
  while (got.length < want) {
    const first = core.load64(bin + BIN_HEAD);
    const head = first !== 0 ? first - 1 : newSlab(core, l, sizeClass);
    if (head < 0) break;
    takeSlots(core, l, sizeClass, head, want, sizeBytes, got);
  }
  core.unlock(bin + BIN_LOCK);
  // Stored top-down so that the lowest address is popped first.
  for (let i = 0; i < got.length; i++) core.store64(tcache + 8 * (got.length - i), got[i]);
  core.store64(tcache, got.length);
  return got.length;
}

/** Return one slot to its slab (bin lock held); may give an emptied slab back. */
function returnSlot(core: Core, l: TransientLayout, sizeClass: number, addr: Addr, sizeBytes: number, slots: number): void {
  const page = Math.floor((addr - l.heapBase) / PAGE_BYTES);
  const head = page - stateValue(core.load64(pageRecord(l, page) + PR_STATE));
  const rec = pageRecord(l, head);
  const slot = (addr - pageAddr(l, head)) / sizeBytes;
  const word = rec + PR_BITMAP + 4 * (slot >>> 5);
  core.store(word, 4, (core.load(word, 4) | (1 << (slot & 31))) >>> 0);
  const nfree = core.load64(rec + PR_NFREE) + 1;
  core.store64(rec + PR_NFREE, nfree);
  if (nfree === 1) pushSlab(core, l, sizeClass, head);
  else if (nfree === slots) releaseIfSpare(core, l, sizeClass, head);
}

function releaseIfSpare(core: Core, l: TransientLayout, sizeClass: number, head: number): void {
  const rec = pageRecord(l, head);
  const onlyOne = core.load64(binAddr(l, sizeClass) + BIN_HEAD) === head + 1 && core.load64(rec + PR_NEXT) === 0;
  if (onlyOne) return;
  unlinkSlab(core, l, sizeClass, head);
  const pages = core.load(classRecord(l, sizeClass) + CLASS_SLAB_PAGES, 4);
  core.lock(l.arena + ARENA_LOCK);
  for (let i = 0; i < pages; i++) core.store64(pageRecord(l, head + i) + PR_STATE, encodeState(KIND_FREE, 0, 0));
  freeRun(core, l, head, pages);
  core.unlock(l.arena + ARENA_LOCK);
}

/**
 * The thread cache at `tcache` holds `count` entries (= its limit): give the older
 * half back to the slabs under the bin lock and slide the rest down. Returns the new count.
 */
export function flush(core: Core, l: TransientLayout, sizeClass: number, tcache: Addr, count: number): number {
  const crec = classRecord(l, sizeClass);
  const sizeBytes = core.load(crec + CLASS_SIZE, 4);
  const slots = core.load(crec + CLASS_SLOTS, 4);
  const half = count >>> 1;
  const bin = binAddr(l, sizeClass);
  core.lock(bin + BIN_LOCK);
  for (let i = 1; i <= half; i++) returnSlot(core, l, sizeClass, core.load64(tcache + 8 * i), sizeBytes, slots);
  core.unlock(bin + BIN_LOCK);
  for (let i = half + 1; i <= count; i++) core.store64(tcache + 8 * (i - half), core.load64(tcache + 8 * i));
  core.store64(tcache, count - half);
  return count - half;
}
