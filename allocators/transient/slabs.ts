/**
 * Transient allocator: arena bins and slabs (jemalloc 5.3.0's arena_bin_t and slab_data).
 *
 * Model: each arena has one bin per size class (a bin lock and a doubly linked list of
 * its non-full slabs; jemalloc keeps slabcur plus a heap of non-full slabs, here one
 * LIFO list). A slab is a run of pages from its arena's extents; its head page record
 * holds its free-region count and region bitmap (jemalloc's slab_data bitmap; here
 * 1 = free). A thread cache fills from its own arena's bin (arena_cache_bin_fill_small:
 * regions from the non-full slabs under the bin lock; when none is left, a fresh slab is
 * made with the bin lock dropped, as jemalloc does, then linked under it). Flushed
 * regions go back to the bin of the arena that owns their slab (binDallocLocked, under
 * that bin's lock, taken by the tcache flush); a slab that becomes entirely free is
 * unlinked under the bin lock and given back to its arena's extents after the bin lock
 * is released (jemalloc's arena_dalloc_bin_locked_handle_newly_empty + arena_slab_dalloc).
 *
 * Invariants: a bin lock and an extents lock are never held together. A region is in
 * exactly one of: its slab's bitmap, a thread cache, the user's hands (the uncharged
 * shadow set of transient.ts). A slab is in its bin's list iff it has a free region.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { arenaExtentAlloc, arenaExtentFree } from './pages.ts';
import {
  BIN_HEAD, BIN_LOCK, CLASS_SLAB_PAGES, CLASS_SLOTS, KIND_FREE, KIND_SLAB, MAX_SLOTS, PR_BITMAP, PR_NEXT, PR_NFREE,
  PR_PREV, pageState, binAddr, classRecord, encodeState, pageAddr, pageRecord, type TransientLayout,
} from './layout.ts';

function pushSlab(core: Core, l: TransientLayout, arena: number, sizeClass: number, head: number): void {
  const bin = binAddr(l, arena, sizeClass);
  const first = core.load64(bin + BIN_HEAD);
  const rec = pageRecord(l, head);
  core.store64(rec + PR_NEXT, first);
  core.store64(rec + PR_PREV, 0);
  if (first !== 0) core.store64(pageRecord(l, first - 1) + PR_PREV, head + 1);
  core.store64(bin + BIN_HEAD, head + 1);
}

function unlinkSlab(core: Core, l: TransientLayout, arena: number, sizeClass: number, head: number): void {
  const rec = pageRecord(l, head);
  const next = core.load64(rec + PR_NEXT);
  const prev = core.load64(rec + PR_PREV);
  if (next !== 0) core.store64(pageRecord(l, next - 1) + PR_PREV, prev);
  if (prev !== 0) core.store64(pageRecord(l, prev - 1) + PR_NEXT, next);
  else core.store64(binAddr(l, arena, sizeClass) + BIN_HEAD, next);
}

/**
 * Path "slab allocation" (jemalloc arena_slab_alloc): a fresh slab for `arena`'s bin of
 * `sizeClass`, its pages stamped SLAB and its slab_data (free count, bitmap) written;
 * not yet linked into the bin. Returns its head page, or -1 when the heap is exhausted.
 * Called with no lock held.
 */
export function arenaSlabAlloc(core: Core, l: TransientLayout, arena: number, sizeClass: number): number {
  const crec = classRecord(l, sizeClass);
  const pages = core.load(crec + CLASS_SLAB_PAGES, 4);
  const slots = core.load(crec + CLASS_SLOTS, 4);
  const head = arenaExtentAlloc(core, l, arena, pages, (first) => {
    for (let i = 0; i < pages; i++) core.store64(pageState(l, first + i), encodeState(KIND_SLAB, sizeClass, arena, i));
  });
  if (head < 0) return -1;
  const rec = pageRecord(l, head);
  core.store64(rec + PR_NFREE, slots);
  for (let w = 0; w < MAX_SLOTS / 32; w++) {
    const bits = slots >= 32 * (w + 1) ? 0xffff_ffff : slots > 32 * w ? 2 ** (slots - 32 * w) - 1 : 0;
    core.store(rec + PR_BITMAP + 4 * w, 4, bits);
  }
  return head;
}

/** Give an emptied slab (already unlinked from its bin) back to its arena's extents. */
export function arenaSlabDalloc(core: Core, l: TransientLayout, arena: number, sizeClass: number, head: number): void {
  const pages = core.load(classRecord(l, sizeClass) + CLASS_SLAB_PAGES, 4);
  // Inner pages must not keep SLAB states (the slab is unlinked: nobody else reaches
  // them); freeRun resets the head and tail itself under the extents lock.
  const cleared = encodeState(KIND_FREE, 0, 0, 0);
  for (let i = 1; i < pages - 1; i++) core.store64(pageState(l, head + i), cleared);
  arenaExtentFree(core, l, arena, head, pages);
}

/** Take up to `want` free regions of a slab (lowest first) into `out`; unlinks a slab left full. Bin lock held. */
function takeSlots(core: Core, l: TransientLayout, arena: number, sizeClass: number, head: number, want: number, sizeBytes: number, out: Addr[]): void {
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
  if (nfree === 0) unlinkSlab(core, l, arena, sizeClass, head);
}

/**
 * jemalloc arena_cache_bin_fill_small: up to `want` regions of `sizeClass` from `arena`'s
 * bin into `out` (lowest addresses first); fewer only when the heap is exhausted.
 */
export function arenaBinFill(core: Core, l: TransientLayout, arena: number, sizeClass: number, sizeBytes: number, want: number, out: Addr[]): void {
  const bin = binAddr(l, arena, sizeClass);
  core.lock(bin + BIN_LOCK);
  while (out.length < want) {
    const first = core.load64(bin + BIN_HEAD);
    if (first !== 0) {
      takeSlots(core, l, arena, sizeClass, first - 1, want, sizeBytes, out);
      continue;
    }
    core.unlock(bin + BIN_LOCK);
    const fresh = arenaSlabAlloc(core, l, arena, sizeClass);
    core.lock(bin + BIN_LOCK);
    if (fresh < 0) break;
    pushSlab(core, l, arena, sizeClass, fresh);
  }
  core.unlock(bin + BIN_LOCK);
}

/**
 * jemalloc arena_dalloc_bin_locked_step: return one region to its slab (the bin lock of
 * the slab's arena held). Links a slab that was full; unlinks a slab that became empty
 * and returns true (the caller gives it back after dropping the bin lock).
 */
export function binDallocLocked(core: Core, l: TransientLayout, arena: number, sizeClass: number, head: number, addr: Addr, sizeBytes: number, slots: number): boolean {
  const rec = pageRecord(l, head);
  const slot = (addr - pageAddr(l, head)) / sizeBytes;
  const word = rec + PR_BITMAP + 4 * (slot >>> 5);
  core.store(word, 4, (core.load(word, 4) | (1 << (slot & 31))) >>> 0);
  const nfree = core.load64(rec + PR_NFREE) + 1;
  core.store64(rec + PR_NFREE, nfree);
  if (nfree === 1) pushSlab(core, l, arena, sizeClass, head);
  if (nfree < slots) return false;
  unlinkSlab(core, l, arena, sizeClass, head);
  return true;
}
