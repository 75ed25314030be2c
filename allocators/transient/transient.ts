/**
 * The transient reference allocator: jemalloc 5.3.0-like, volatile, the speed bound.
 *
 * Model: size classes (16 B steps to 128 B, then four per doubling to 14,336 B) served
 * from per-core thread caches (tcache.ts) that fill from and flush to per-arena, per-class
 * bins of slabs under a bin lock (slabs.ts); larger sizes are page runs from the arena's
 * extents under its extents lock (pages.ts). narenas defaults to jemalloc's 4 x cores and
 * core i uses arena i mod narenas (layout.ts gives every parameter with its source). A
 * free goes to the freeing core's tcache whatever arena owns the object; the tcache
 * flush returns it to its owner's bin. All metadata is in DRAM; the object memory is the
 * NVRAM region used as plain memory. The allocator never issues a flush or a fence (its
 * locks are cas-based, which the machine counts as cas, not as fences). Every lock (the
 * global frontier lock, each arena's extents lock and bin locks) is initialised at format
 * as a spin lock: jemalloc's malloc_mutex_lock_slow spins opt_mutex_max_spin = 600
 * pause-loop iterations before it blocks in pthread_mutex_lock (5.3.0 src/mutex.c:16 and
 * 52-90), far longer than any critical section here, so a waiter never sleeps. mallocTo is
 * malloc, init, store; freeFrom is load, store 0, free.
 *
 * Paths (each a function where a per-path instruction charge can be added): malloc fast
 * path tcacheMallocHit, free fast path tcacheFreeHit, fill tcacheFill, flush tcacheFlush
 * (tcache.ts); slab allocation arenaSlabAlloc, slab release arenaSlabDalloc (slabs.ts);
 * large allocation arenaLargeAlloc, large free arenaLargeDalloc (pages.ts).
 *
 * Deviations from jemalloc 5.3.0 (each small): no 8 B tiny class; large sizes are whole
 * pages, not jemalloc's large size classes, and are not cached in the tcache (jemalloc
 * caches up to tcache_maxclass, 32 KiB); no tcache GC (lg_fill_div stays 1); one bin
 * shard per class (jemalloc's default); a bin's non-full slabs are a LIFO list, not
 * slabcur plus an address-ordered heap; the heap is bounded, so an arena that cannot
 * grow takes a run from another arena's extents before reporting out of memory.
 *
 * Crash and restart: nothing survives. `open` on any image (clean or crashed) cannot
 * find its DRAM metadata, so it reformats the heap and reports kind 'recovered' with
 * everything lost (roots are zero again). `close` does nothing durable.
 *
 * Misuse: every free is checked before anything changes, against the page state (the
 * rtree lookup jemalloc's free does anyway, charged) and an uncharged host-side shadow:
 * the set of small objects in the user's hands. The shadow is checker-only bookkeeping
 * (also used by walkHeap and checkConsistency), never simulated memory traffic.
 * 'double-free' when the address is a block boundary (a slab region or a page start)
 * with no block allocated there now; 'foreign-free' otherwise.
 *
 * Invariants: see tcache.ts, slabs.ts and pages.ts; checkConsistency (inspect.ts) verifies them.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError, type Allocator, type ConsistencyReport, type HeapWalk, type InitFn, type RecoveryStats, checkDestination, checkRootIndex, checkSize } from '../contract.ts';
import { binSummary, cacheBinCount, checkTransient, walkTransient } from './inspect.ts';
import {
  ARENA_STRIDE_BYTES, BIN_LOCK, CB_CAPACITY, EXT_LOCK, GLOBAL_LOCK, arenaAddr, binAddr, CLASS_SIZE, CLASS_SLAB_PAGES, CLASS_SLOTS, CLASS_TCACHE_CAPACITY, GLOBAL_BYTES,
  GRANULE_BYTES, KIND_LARGE_HEAD, KIND_LARGE_TAIL, KIND_SLAB, PAGE_BYTES, PAGE_RECORD_BYTES, PAGE_STATE_BYTES, pageState, ROOT_COUNT, SIZE_CLASSES,
  SMALL_MAX_BYTES, TCACHE_STRIDE_BYTES, arenaOfCore, cacheBinAddr, classOfSize, classRecord, pageAddr, reserveLayout,
  stateArena, stateClass, stateKind, stateValue, type TransientLayout,
} from './layout.ts';
import { arenaLargeAlloc, arenaLargeDalloc } from './pages.ts';
import { tcacheFill, tcacheFlush, tcacheFreeHit, tcacheMallocHit } from './tcache.ts';
import { JEMALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_MALLOC = siteId('transient:malloc');
const S_FREE = siteId('transient:free');
const S_MALLOC_TO = siteId('transient:mallocTo');
const S_FREE_FROM = siteId('transient:freeFrom');
const S_ROOT = siteId('transient:setRoot');
const S_FORMAT = siteId('transient:format');

/** A block that free() may release, found by classify(). */
type Owned =
  | { readonly kind: 'small'; readonly addr: Addr; readonly sizeClass: number }
  | { readonly kind: 'large'; readonly page: number; readonly pages: number; readonly arena: number };

export class TransientAllocator implements Allocator {
  readonly name: string = 'transient';
  readonly rootCount = ROOT_COUNT;
  private readonly l: TransientLayout;
  /** Uncharged checker-only shadow: the small objects now in the user's hands. */
  private readonly handedOut = new Set<Addr>();
  /** True once format wrote the DRAM areas (a second format must zero them first). */
  private dramUsed = false;

  /** `narenas` defaults to jemalloc's 4 x cores (1 on one core); see layout.ts. */
  constructor(
    private readonly machine: Machine,
    narenas?: number,
  ) {
    this.l = reserveLayout(machine, narenas);
  }

  /** Configured and reserved arena counts (for tests and reports). */
  get arenas(): { readonly narenas: number; readonly reserved: number } {
    return { narenas: this.l.narenas, reserved: this.l.arenaCount };
  }

  /** The arena that owns the block at `addr` (host-side peek, uncharged), or -1. */
  ownerArena(reader: MemoryReader, addr: Addr): number {
    const page = Math.floor((addr - this.l.heapBase) / PAGE_BYTES);
    if (page < 0 || page >= this.l.heapPages) return -1;
    const state = reader.peek64(pageState(this.l, page));
    return stateKind(state) === KIND_SLAB || stateKind(state) === KIND_LARGE_HEAD || stateKind(state) === KIND_LARGE_TAIL ? stateArena(state) : -1;
  }

  /** Uncharged view of arena `arena`'s bin of `sizeClass` (tests, reports). */
  binState(reader: MemoryReader, arena: number, sizeClass: number): { readonly slabs: number; readonly freeRegions: number } {
    return binSummary(reader, this.l, arena, sizeClass);
  }

  /** Uncharged: entries in core `coreId`'s cache bin of `sizeClass`. */
  cachedCount(reader: MemoryReader, coreId: number, sizeClass: number): number {
    return cacheBinCount(reader, this.l, coreId, sizeClass);
  }

  format(core: Core): void {
    const prev = core.setSite(S_FORMAT);
    this.machine.formatNvram();
    if (this.dramUsed) this.zeroMetadata(core);
    this.handedOut.clear();
    this.writeTables(core);
    this.initLocks(core);
    this.dramUsed = true;
    core.setSite(prev);
  }

  /** Nothing survives: reformat and report everything lost. */
  open(core: Core): RecoveryStats {
    const start = core.clockCycles;
    this.format(core);
    return { kind: 'recovered', cycles: core.clockCycles - start, logEntriesReplayed: 0, objectsMarked: 0, blocksScanned: 0, blocksFreed: 0, extra: { reformatted: 1 } };
  }

  /** Nothing to make durable: a volatile heap ends with the process. */
  close(core: Core): void {
    void core;
  }

  malloc(core: Core, sizeBytes: number): Addr {
    checkSize(sizeBytes);
    const prev = core.setSite(S_MALLOC);
    core.instructions(I.mallocFast);
    const addr = sizeBytes <= SMALL_MAX_BYTES ? this.mallocSmall(core, sizeBytes) : this.mallocLarge(core, sizeBytes);
    core.setSite(prev);
    return addr;
  }

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    const prev = core.setSite(S_FREE);
    core.instructions(I.freeFast);
    try {
      this.release(core, this.classify(core, addr));
    } finally {
      core.setSite(prev);
    }
  }

  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    checkDestination(this.machine, destAddr);
    const addr = this.malloc(core, sizeBytes);
    if (addr === 0) return 0;
    init?.(core, addr);
    const prev = core.setSite(S_MALLOC_TO);
    core.storeAtomic64(destAddr, addr);
    core.setSite(prev);
    return addr;
  }

  freeFrom(core: Core, destAddr: Addr): void {
    checkDestination(this.machine, destAddr);
    const prev = core.setSite(S_FREE_FROM);
    try {
      const addr = core.load64(destAddr);
      if (addr === 0) return;
      const owned = this.classify(core, addr);
      core.storeAtomic64(destAddr, 0);
      this.release(core, owned);
    } finally {
      core.setSite(prev);
    }
  }

  rootAddress(index: number): Addr {
    checkRootIndex(index, ROOT_COUNT);
    return this.l.rootBase + 8 * index;
  }
  setRoot(core: Core, index: number, value: Addr): void {
    const prev = core.setSite(S_ROOT);
    core.storeAtomic64(this.rootAddress(index), value);
    core.setSite(prev);
  }
  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  walkHeap(reader: MemoryReader): HeapWalk {
    return walkTransient(reader, this.l, this.handedOut);
  }
  checkConsistency(reader: MemoryReader): ConsistencyReport {
    return checkTransient(reader, this.l, this.handedOut);
  }

  // ---- small and large paths ----

  private mallocSmall(core: Core, sizeBytes: number): Addr {
    const sizeClass = core.load(this.l.sizeTable + Math.ceil(sizeBytes / GRANULE_BYTES), 1);
    const cb = cacheBinAddr(this.l, core.id, sizeClass);
    let addr = tcacheMallocHit(core, cb);
    if (addr === 0 && tcacheFill(core, this.l, arenaOfCore(this.l, core.id), sizeClass, cb) > 0) addr = tcacheMallocHit(core, cb);
    if (addr !== 0) this.handedOut.add(addr);
    return addr;
  }

  private mallocLarge(core: Core, sizeBytes: number): Addr {
    const pages = Math.ceil(sizeBytes / PAGE_BYTES);
    if (pages > this.l.heapPages) return 0;
    const page = arenaLargeAlloc(core, this.l, arenaOfCore(this.l, core.id), pages);
    return page < 0 ? 0 : pageAddr(this.l, page);
  }

  private release(core: Core, owned: Owned): void {
    if (owned.kind === 'large') {
      arenaLargeDalloc(core, this.l, owned.arena, owned.page, owned.pages);
      return;
    }
    const { addr, sizeClass } = owned;
    this.handedOut.delete(addr);
    const cb = cacheBinAddr(this.l, core.id, sizeClass);
    if (tcacheFreeHit(core, cb, addr)) return;
    tcacheFlush(core, this.l, sizeClass, cb);
    tcacheFreeHit(core, cb, addr);
  }

  /** Find what `addr` is, or raise AllocatorMisuseError; changes nothing. */
  private classify(core: Core, addr: Addr): Owned {
    const l = this.l;
    if (!Number.isSafeInteger(addr) || addr < l.heapBase || addr >= l.heapBase + l.heapPages * PAGE_BYTES || addr % GRANULE_BYTES !== 0) {
      throw new AllocatorMisuseError('foreign-free', addr, `not a 16-byte aligned address inside the heap [0x${l.heapBase.toString(16)}, 0x${(l.heapBase + l.heapPages * PAGE_BYTES).toString(16)})`);
    }
    const page = Math.floor((addr - l.heapBase) / PAGE_BYTES);
    const state = core.load64(pageState(l, page));
    const kind = stateKind(state);
    if (kind === KIND_SLAB) return this.classifySmall(addr, page - stateValue(state), stateClass(state));
    const pageStart = addr === pageAddr(l, page);
    if (kind === KIND_LARGE_HEAD && pageStart) return { kind: 'large', page, pages: stateValue(state), arena: stateArena(state) };
    if (kind === KIND_LARGE_HEAD || kind === KIND_LARGE_TAIL) throw new AllocatorMisuseError('foreign-free', addr, 'points inside a large block, not at its start');
    if (pageStart) throw new AllocatorMisuseError('double-free', addr, 'no block is allocated at this page start (already freed or never allocated)');
    throw new AllocatorMisuseError('foreign-free', addr, 'points into free pages of the heap');
  }

  /** Host-side checks only (class geometry constants and the uncharged shadow). */
  private classifySmall(addr: Addr, head: number, sizeClass: number): Owned {
    const { sizeBytes, slots } = SIZE_CLASSES[sizeClass];
    const offset = addr - pageAddr(this.l, head);
    if (offset % sizeBytes !== 0 || offset / sizeBytes >= slots) {
      throw new AllocatorMisuseError('foreign-free', addr, `not the start of a ${sizeBytes} B object of the slab at 0x${pageAddr(this.l, head).toString(16)}`);
    }
    if (!this.handedOut.has(addr)) {
      throw new AllocatorMisuseError('double-free', addr, `the ${sizeBytes} B object is not allocated (already freed or never handed out)`);
    }
    return { kind: 'small', addr, sizeClass };
  }

  // ---- format helpers ----

  /** The class table and the size -> class table (one byte per granule, packed 4 per store). */
  private writeTables(core: Core): void {
    SIZE_CLASSES.forEach((c, i) => {
      const rec = classRecord(this.l, i);
      core.store(rec + CLASS_SIZE, 4, c.sizeBytes);
      core.store(rec + CLASS_SLAB_PAGES, 4, c.slabPages);
      core.store(rec + CLASS_SLOTS, 4, c.slots);
      core.store(rec + CLASS_TCACHE_CAPACITY, 4, c.tcacheCapacity);
      for (let id = 0; id < this.l.cores; id++) core.store64(cacheBinAddr(this.l, id, i) + CB_CAPACITY, c.tcacheCapacity);
    });
    const granules = SMALL_MAX_BYTES / GRANULE_BYTES + 1;
    for (let g = 0; g < granules; g += 4) {
      let packed = 0;
      for (let k = 3; k >= 0; k--) packed = packed * 256 + (g + k < granules ? classOfSize(Math.max(1, (g + k) * GRANULE_BYTES)) : 0);
      core.store(this.l.sizeTable + g, 4, packed);
    }
  }

  /** Every lock word as a spin lock (jemalloc's malloc_mutex spins before blocking; see the header). */
  private initLocks(core: Core): void {
    core.initLock(this.l.global + GLOBAL_LOCK, 'spin');
    for (let a = 0; a < this.l.arenaCount; a++) {
      core.initLock(arenaAddr(this.l, a) + EXT_LOCK, 'spin');
      for (let c = 0; c < SIZE_CLASSES.length; c++) core.initLock(binAddr(this.l, a, c) + BIN_LOCK, 'spin');
    }
  }

  /** A second format on the same DRAM: zero every metadata area (charged, like a memset). */
  private zeroMetadata(core: Core): void {
    const l = this.l;
    const zero = (base: Addr, bytes: number): void => {
      for (let off = 0; off < bytes; off += 4) core.store(base + off, 4, 0);
    };
    zero(l.global, GLOBAL_BYTES);
    zero(l.arenas, l.arenaCount * ARENA_STRIDE_BYTES);
    zero(l.tcaches, l.cores * TCACHE_STRIDE_BYTES);
    zero(l.pageStates, l.heapPages * PAGE_STATE_BYTES);
    zero(l.pageRecords, l.heapPages * PAGE_RECORD_BYTES);
  }
}
