/**
 * The transient reference allocator: jemalloc / LRMalloc-like, volatile, the speed bound.
 *
 * Model: size classes (16 B steps to 128 B, then four per doubling to 14,336 B) served
 * from per-core thread caches that refill from and flush to per-class arena bins of
 * slabs under a bin lock; larger sizes are page runs from a first-fit, coalescing page
 * allocator under the arena lock (see layout.ts, slabs.ts, pages.ts). All metadata is
 * in DRAM; the object memory is the NVRAM region used as plain memory. The allocator
 * never issues a flush or a fence (its locks are cas-based, which the machine counts
 * as cas, not as fences). mallocTo is malloc, init, store; freeFrom is load, store 0, free.
 *
 * Crash and restart: nothing survives. `open` on any image (clean or crashed) cannot
 * find its DRAM metadata, so it reformats the heap and reports kind 'recovered' with
 * everything lost (roots are zero again). `close` does nothing durable.
 *
 * Misuse: every free is checked against the page states and the handed-out bitmap
 * (one bit per 16 B granule, set while a small object is in the user's hands) before
 * anything changes. 'double-free' when the address is a block boundary (a slab slot or
 * a page start) with no block allocated there now; 'foreign-free' otherwise.
 *
 * Invariants: see slabs.ts and pages.ts; checkConsistency (inspect.ts) verifies them.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError, type Allocator, type ConsistencyReport, type HeapWalk, type InitFn, type RecoveryStats, checkDestination, checkRootIndex, checkSize } from '../contract.ts';
import { checkTransient, walkTransient } from './inspect.ts';
import {
  ARENA_BYTES, ARENA_LOCK, BIN_BYTES, CLASS_COUNT, CLASS_SIZE, CLASS_SLAB_PAGES, CLASS_SLOTS, CLASS_TCACHE_LIMIT, GRANULE_BYTES,
  KIND_LARGE_HEAD, KIND_LARGE_TAIL, KIND_SLAB, PAGE_BYTES, PAGE_RECORD_BYTES, PR_STATE, ROOT_COUNT, SIZE_CLASSES, SMALL_MAX_BYTES,
  TCACHE_STRIDE_BYTES, classOfSize, classRecord, encodeState, handedOutBit, handedOutWord, pageAddr, pageRecord, reserveLayout,
  stateClass, stateKind, stateValue, tcacheAddr, type TransientLayout,
} from './layout.ts';
import { allocRun, freeRun, insertFreeRun } from './pages.ts';
import { flush, refill } from './slabs.ts';

const S_MALLOC = siteId('transient:malloc');
const S_FREE = siteId('transient:free');
const S_MALLOC_TO = siteId('transient:mallocTo');
const S_FREE_FROM = siteId('transient:freeFrom');
const S_ROOT = siteId('transient:setRoot');
const S_FORMAT = siteId('transient:format');

/** A block that free() may release, found by classify(). */
type Owned =
  | { readonly kind: 'small'; readonly addr: Addr; readonly sizeClass: number; readonly word: number }
  | { readonly kind: 'large'; readonly page: number; readonly pages: number };

export class TransientAllocator implements Allocator {
  readonly name: string = 'transient';
  readonly rootCount = ROOT_COUNT;
  private readonly l: TransientLayout;
  /** True once format wrote the DRAM areas (a second format must zero them first). */
  private dramUsed = false;

  constructor(private readonly machine: Machine) {
    this.l = reserveLayout(machine);
  }

  format(core: Core): void {
    const prev = core.setSite(S_FORMAT);
    this.machine.formatNvram();
    if (this.dramUsed) this.zeroMetadata(core);
    this.writeTables(core);
    insertFreeRun(core, this.l, 0, this.l.heapPages);
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
    const addr = sizeBytes <= SMALL_MAX_BYTES ? this.mallocSmall(core, sizeBytes) : this.mallocLarge(core, sizeBytes);
    core.setSite(prev);
    return addr;
  }

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    const prev = core.setSite(S_FREE);
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
    return walkTransient(reader, this.l);
  }
  checkConsistency(reader: MemoryReader): ConsistencyReport {
    return checkTransient(reader, this.l);
  }

  // ---- small and large paths ----

  private mallocSmall(core: Core, sizeBytes: number): Addr {
    const sizeClass = core.load(this.l.sizeTable + Math.ceil(sizeBytes / GRANULE_BYTES), 1);
    const tcache = tcacheAddr(this.l, core.id, sizeClass);
    let count = core.load64(tcache);
    if (count === 0) count = refill(core, this.l, sizeClass, tcache);
    if (count === 0) return 0;
    const addr = core.load64(tcache + 8 * count);
    core.store64(tcache, count - 1);
    const word = handedOutWord(this.l, addr);
    core.store(word, 4, (core.load(word, 4) | (1 << handedOutBit(this.l, addr))) >>> 0);
    return addr;
  }

  private mallocLarge(core: Core, sizeBytes: number): Addr {
    const pages = Math.ceil(sizeBytes / PAGE_BYTES);
    if (pages > this.l.heapPages) return 0;
    core.lock(this.l.arena + ARENA_LOCK);
    const page = allocRun(core, this.l, pages);
    if (page >= 0) {
      core.store64(pageRecord(this.l, page) + PR_STATE, encodeState(KIND_LARGE_HEAD, 0, pages));
      if (pages > 1) core.store64(pageRecord(this.l, page + pages - 1) + PR_STATE, encodeState(KIND_LARGE_TAIL, 0, pages));
    }
    core.unlock(this.l.arena + ARENA_LOCK);
    return page < 0 ? 0 : pageAddr(this.l, page);
  }

  private release(core: Core, owned: Owned): void {
    if (owned.kind === 'large') {
      core.lock(this.l.arena + ARENA_LOCK);
      freeRun(core, this.l, owned.page, owned.pages);
      core.unlock(this.l.arena + ARENA_LOCK);
      return;
    }
    const { addr, sizeClass, word } = owned;
    core.store(handedOutWord(this.l, addr), 4, (word & ~(1 << handedOutBit(this.l, addr))) >>> 0);
    const tcache = tcacheAddr(this.l, core.id, sizeClass);
    let count = core.load64(tcache);
    if (count >= core.load(classRecord(this.l, sizeClass) + CLASS_TCACHE_LIMIT, 4)) count = flush(core, this.l, sizeClass, tcache, count);
    core.store64(tcache + 8 * (count + 1), addr);
    core.store64(tcache, count + 1);
  }

  /** Find what `addr` is, or raise AllocatorMisuseError; changes nothing. */
  private classify(core: Core, addr: Addr): Owned {
    const l = this.l;
    if (!Number.isSafeInteger(addr) || addr < l.heapBase || addr >= l.heapBase + l.heapPages * PAGE_BYTES || addr % GRANULE_BYTES !== 0) {
      throw new AllocatorMisuseError('foreign-free', addr, `not a 16-byte aligned address inside the heap [0x${l.heapBase.toString(16)}, 0x${(l.heapBase + l.heapPages * PAGE_BYTES).toString(16)})`);
    }
    const page = Math.floor((addr - l.heapBase) / PAGE_BYTES);
    const state = core.load64(pageRecord(l, page) + PR_STATE);
    const kind = stateKind(state);
    if (kind === KIND_SLAB) return this.classifySmall(core, addr, page - stateValue(state), stateClass(state));
    const pageStart = addr === pageAddr(l, page);
    if (kind === KIND_LARGE_HEAD && pageStart) return { kind: 'large', page, pages: stateValue(state) };
    if (kind === KIND_LARGE_HEAD || kind === KIND_LARGE_TAIL) throw new AllocatorMisuseError('foreign-free', addr, 'points inside a large block, not at its start');
    if (pageStart) throw new AllocatorMisuseError('double-free', addr, 'no block is allocated at this page start (already freed or never allocated)');
    throw new AllocatorMisuseError('foreign-free', addr, 'points into free pages of the heap');
  }

  private classifySmall(core: Core, addr: Addr, head: number, sizeClass: number): Owned {
    const crec = classRecord(this.l, sizeClass);
    const sizeBytes = core.load(crec + CLASS_SIZE, 4);
    const offset = addr - pageAddr(this.l, head);
    if (offset % sizeBytes !== 0 || offset / sizeBytes >= core.load(crec + CLASS_SLOTS, 4)) {
      throw new AllocatorMisuseError('foreign-free', addr, `not the start of a ${sizeBytes} B object of the slab at 0x${pageAddr(this.l, head).toString(16)}`);
    }
    const word = core.load(handedOutWord(this.l, addr), 4);
    if (((word >>> handedOutBit(this.l, addr)) & 1) === 0) {
      throw new AllocatorMisuseError('double-free', addr, `the ${sizeBytes} B object is not allocated (already freed or never handed out)`);
    }
    return { kind: 'small', addr, sizeClass, word };
  }

  // ---- format helpers ----

  /** The class table and the size -> class table (one byte per granule, packed 4 per store). */
  private writeTables(core: Core): void {
    SIZE_CLASSES.forEach((c, i) => {
      const rec = classRecord(this.l, i);
      core.store(rec + CLASS_SIZE, 4, c.sizeBytes);
      core.store(rec + CLASS_SLAB_PAGES, 4, c.slabPages);
      core.store(rec + CLASS_SLOTS, 4, c.slots);
      core.store(rec + CLASS_TCACHE_LIMIT, 4, c.tcacheLimit);
    });
    const granules = SMALL_MAX_BYTES / GRANULE_BYTES + 1;
    for (let g = 0; g < granules; g += 4) {
      let packed = 0;
      for (let k = 3; k >= 0; k--) packed = packed * 256 + (g + k < granules ? classOfSize(Math.max(1, (g + k) * GRANULE_BYTES)) : 0);
      core.store(this.l.sizeTable + g, 4, packed);
    }
  }

  /** A second format on the same DRAM: zero every metadata area (charged, like a memset). */
  private zeroMetadata(core: Core): void {
    const l = this.l;
    const zero = (base: Addr, bytes: number): void => {
      for (let off = 0; off < bytes; off += 4) core.store(base + off, 4, 0);
    };
    zero(l.arena, ARENA_BYTES);
    zero(l.bins, CLASS_COUNT * BIN_BYTES);
    zero(l.tcaches, l.cores * CLASS_COUNT * TCACHE_STRIDE_BYTES);
    zero(l.pageRecords, l.heapPages * PAGE_RECORD_BYTES);
    zero(l.handedOut, l.handedOutBytes);
  }
}
