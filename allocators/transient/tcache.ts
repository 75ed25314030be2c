/**
 * Transient allocator: the per-thread cache (jemalloc 5.3.0 tcache and cache_bin).
 *
 * Model: each core (one thread per core) has, per size class, a cache bin in DRAM: a
 * count, its capacity (jemalloc's ncached_max, see layout.ts) and a stack of pointers;
 * malloc pops the top, free pushes. Every path is a separate function so that a per-path
 * instruction charge can be added at its entry:
 *   - tcacheMallocHit: the malloc fast path (cache_bin_alloc_easy);
 *   - tcacheFreeHit: the free fast path (cache_bin_dalloc_easy);
 *   - tcacheFill: on an empty bin, fill ncached_max >> lg_fill_div (= half the capacity)
 *     from the thread's own arena bin (tcache_alloc_small_hard);
 *   - tcacheFlush: on a full bin, flush the oldest entries down to ncached_max >> 1
 *     (tcache_bin_flush_small with remain = max >> opt_lg_tcache_flush_small_div). The
 *     flush looks every entry up in the page map (jemalloc's emap/rtree lookup), then
 *     works in passes as tcache_bin_flush_impl does: lock the bin of the arena owning the
 *     first remaining entry, return every entry of that arena, unlock, give back emptied
 *     slabs, repeat. A remote free (an object of another arena's slab) thus reaches its
 *     owner's bin here, under the owner's bin lock.
 * The GC of idle cache bins (tcache_event_hard, which also adapts lg_fill_div) is not
 * modelled: lg_fill_div stays 1.
 *
 * Invariants: a cache bin is touched only by its own core (never a coherence transfer);
 * 0 <= count <= capacity; entries are free regions of slabs of the bin's class.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { arenaBinFill, arenaSlabDalloc, binDallocLocked } from './slabs.ts';
import {
  BIN_LOCK, CB_CAPACITY, CB_COUNT, CB_ITEMS, CLASS_SIZE, CLASS_SLOTS, LG_FILL_DIV, LG_FLUSH_DIV, pageState, binAddr,
  classRecord, pageOf, stateArena, stateValue, type TransientLayout,
} from './layout.ts';

/** Malloc fast path: pop the top of the cache bin at `cb`; 0 when it is empty. */
export function tcacheMallocHit(core: Core, cb: Addr): Addr {
  const count = core.load64(cb + CB_COUNT);
  if (count === 0) return 0;
  const addr = core.load64(cb + CB_ITEMS + 8 * (count - 1));
  core.store64(cb + CB_COUNT, count - 1);
  return addr;
}

/** Free fast path: push `addr` on the cache bin at `cb`; false when the bin is full. */
export function tcacheFreeHit(core: Core, cb: Addr, addr: Addr): boolean {
  const count = core.load64(cb + CB_COUNT);
  if (count >= core.load64(cb + CB_CAPACITY)) return false;
  core.store64(cb + CB_ITEMS + 8 * count, addr);
  core.store64(cb + CB_COUNT, count + 1);
  return true;
}

/**
 * Fill the empty cache bin at `cb` with capacity >> LG_FILL_DIV regions from `arena`'s
 * bin (the lowest address on top, popped first); returns the new count (0 when the
 * heap is exhausted for this class).
 */
export function tcacheFill(core: Core, l: TransientLayout, arena: number, sizeClass: number, cb: Addr): number {
  const want = core.load64(cb + CB_CAPACITY) >>> LG_FILL_DIV;
  const sizeBytes = core.load(classRecord(l, sizeClass) + CLASS_SIZE, 4);
  const got: Addr[] = [];
  arenaBinFill(core, l, arena, sizeClass, sizeBytes, want, got);
  for (let i = 0; i < got.length; i++) core.store64(cb + CB_ITEMS + 8 * (got.length - 1 - i), got[i]);
  core.store64(cb + CB_COUNT, got.length);
  return got.length;
}

interface FlushItem {
  readonly addr: Addr;
  readonly arena: number;
  readonly head: number;
}

/**
 * Flush the full cache bin at `cb` down to capacity >> LG_FLUSH_DIV: its oldest entries
 * (the bottom of the stack) go back to the bins of the arenas owning their slabs; the
 * rest slide down. Returns the new count.
 */
export function tcacheFlush(core: Core, l: TransientLayout, sizeClass: number, cb: Addr): number {
  const count = core.load64(cb + CB_COUNT);
  const remain = core.load64(cb + CB_CAPACITY) >>> LG_FLUSH_DIV;
  const nflush = count - remain;
  const items = lookUpFlushItems(core, l, cb, nflush);
  const crec = classRecord(l, sizeClass);
  const sizeBytes = core.load(crec + CLASS_SIZE, 4);
  const slots = core.load(crec + CLASS_SLOTS, 4);
  let pending = items;
  while (pending.length > 0) pending = flushToOwner(core, l, sizeClass, pending, sizeBytes, slots);
  for (let i = 0; i < remain; i++) core.store64(cb + CB_ITEMS + 8 * i, core.load64(cb + CB_ITEMS + 8 * (nflush + i)));
  core.store64(cb + CB_COUNT, remain);
  return remain;
}

/** The emap (rtree) lookups of tcache_bin_flush_impl: owner arena and slab head of each entry. */
function lookUpFlushItems(core: Core, l: TransientLayout, cb: Addr, nflush: number): FlushItem[] {
  const items: FlushItem[] = [];
  for (let i = 0; i < nflush; i++) {
    const addr = core.load64(cb + CB_ITEMS + 8 * i);
    const page = pageOf(l, addr);
    const state = core.load64(pageState(l, page));
    items.push({ addr, arena: stateArena(state), head: page - stateValue(state) });
  }
  return items;
}

/**
 * One pass of the flush: under the bin lock of the arena owning items[0], return every
 * item of that arena; then give back the slabs that became empty. Returns the items of
 * other arenas, for the next pass.
 */
function flushToOwner(core: Core, l: TransientLayout, sizeClass: number, items: readonly FlushItem[], sizeBytes: number, slots: number): FlushItem[] {
  const owner = items[0].arena;
  const lock = binAddr(l, owner, sizeClass) + BIN_LOCK;
  const rest: FlushItem[] = [];
  const emptied: number[] = [];
  core.lock(lock);
  for (const it of items) {
    if (it.arena !== owner) rest.push(it);
    else if (binDallocLocked(core, l, owner, sizeClass, it.head, it.addr, sizeBytes, slots)) emptied.push(it.head);
  }
  core.unlock(lock);
  for (const head of emptied) arenaSlabDalloc(core, l, owner, sizeClass, head);
  return rest;
}
