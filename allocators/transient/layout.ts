/**
 * Transient allocator: geometry, size classes and the DRAM layout of its metadata.
 *
 * Model (jemalloc / LRMalloc-like, volatile): the NVRAM region is used as plain memory.
 * Its first 4 KiB page holds the 512 root slots; the rest is the heap, cut into 4 KiB
 * pages. Small sizes (<= 14,336 B) are served from slabs (runs of pages holding objects
 * of one size class, no per-object header); larger sizes take whole page runs. Every
 * piece of metadata lives in DRAM areas reserved once per machine:
 *   - arena: the page lock, a bitmap of non-empty free-run bins, and the free-run bin
 *     heads (exact bins for 1..64 pages, then power-of-two buckets);
 *   - the class table (size, slab pages, slots, thread-cache limit; 16 B per class)
 *     and the size -> class lookup table (one byte per 16 B granule), like .rodata;
 *   - one 64 B bin per class: its lock and the head of its list of non-full slabs;
 *   - per core, per class, a thread cache: a count and up to TCACHE_CAPACITY pointers;
 *   - one 64 B page record per heap page (state word, list links, slab free count and
 *     the slab's free-slot bitmap), the "rtree" of this allocator;
 *   - the handed-out bitmap: one bit per 16 B granule, set while a small object is in
 *     the user's hands (this is what makes double-free detection real).
 *
 * Page state word: kind + 8 * sizeClass + 1024 * value (kept below 2^53, decoded with
 * integer arithmetic). Kinds: FREE (value = run length at the run's head and tail;
 * inner pages carry stale FREE or zero states), SLAB (value = page offset from the
 * slab's head, on every page of the slab), LARGE_HEAD / LARGE_TAIL (value = run length).
 *
 * Invariants: the JS fields of a layout are addresses only (like pointers held in
 * registers); every value the allocator reads at run time is loaded through a Core.
 */
import type { Addr, Machine } from '../../sim/api.ts';

export const GRANULE_BYTES = 16;
export const PAGE_BYTES = 4096;
export const ROOT_COUNT = 512;
export const ROOT_AREA_BYTES = 4096;
export const SMALL_MAX_BYTES = 14336;
/** Thread-cache slots per class per core (the per-class limit is at most this). */
export const TCACHE_CAPACITY = 32;
/** Exact free-run bins for 1..64 pages, then one bin per power of two. */
export const EXACT_RUN_BINS = 64;
export const RUN_BINS = 96;
export const RUN_BIN_WORDS = RUN_BINS / 32;

export const KIND_FREE = 1;
export const KIND_SLAB = 2;
export const KIND_LARGE_HEAD = 3;
export const KIND_LARGE_TAIL = 4;

export interface SizeClass {
  readonly sizeBytes: number;
  readonly slabPages: number;
  readonly slots: number;
  /** Most objects a thread cache keeps for this class before flushing half. */
  readonly tcacheLimit: number;
}

/** 16 B steps up to 128 B, then four classes per doubling up to 14,336 B. */
function buildClasses(): SizeClass[] {
  const sizes: number[] = [];
  for (let s = 16; s <= 128; s += 16) sizes.push(s);
  for (let base = 128; base < SMALL_MAX_BYTES; base *= 2) {
    for (let i = 1; i <= 4; i++) {
      const s = base + (base / 4) * i;
      if (s <= SMALL_MAX_BYTES) sizes.push(s);
    }
  }
  return sizes.map((sizeBytes) => {
    const slabPages = Math.max(1, Math.ceil((8 * sizeBytes) / PAGE_BYTES));
    const slots = Math.floor((slabPages * PAGE_BYTES) / sizeBytes);
    const tcacheLimit = Math.max(4, Math.min(TCACHE_CAPACITY, 2 * slots));
    return { sizeBytes, slabPages, slots, tcacheLimit };
  });
}

export const SIZE_CLASSES: readonly SizeClass[] = Object.freeze(buildClasses());
export const CLASS_COUNT = SIZE_CLASSES.length;
/** Slab slots never exceed 256 (16 B objects in one page), so a 32 B bitmap holds them. */
export const MAX_SLOTS = 256;

/** Class of a small size (host-side; the allocator itself loads the DRAM lookup table). */
export function classOfSize(sizeBytes: number): number {
  return SIZE_CLASSES.findIndex((c) => c.sizeBytes >= sizeBytes);
}

export function runBinOf(pages: number): number {
  if (pages <= EXACT_RUN_BINS) return pages - 1;
  return EXACT_RUN_BINS - 6 + (31 - Math.clz32(pages));
}

export function encodeState(kind: number, sizeClass: number, value: number): number {
  return kind + 8 * sizeClass + 1024 * value;
}
export function stateKind(state: number): number {
  return state % 8;
}
export function stateClass(state: number): number {
  return Math.floor(state / 8) % 128;
}
export function stateValue(state: number): number {
  return Math.floor(state / 1024);
}

// Byte offsets inside records.
export const PR_STATE = 0;
export const PR_NEXT = 8;
export const PR_PREV = 16;
export const PR_NFREE = 24;
export const PR_BITMAP = 32;
export const PAGE_RECORD_BYTES = 64;
export const BIN_LOCK = 0;
export const BIN_HEAD = 8;
export const BIN_BYTES = 64;
export const CLASS_SIZE = 0;
export const CLASS_SLAB_PAGES = 4;
export const CLASS_SLOTS = 8;
export const CLASS_TCACHE_LIMIT = 12;
export const CLASS_RECORD_BYTES = 16;
export const TCACHE_STRIDE_BYTES = 8 + 8 * TCACHE_CAPACITY;
export const ARENA_LOCK = 0;
export const ARENA_BITMAP = 64;
export const ARENA_HEADS = 128;
export const ARENA_BYTES = ARENA_HEADS + 8 * RUN_BINS;

/** Addresses of every metadata area of one transient heap on one machine. */
export interface TransientLayout {
  readonly rootBase: Addr;
  readonly heapBase: Addr;
  readonly heapPages: number;
  readonly arena: Addr;
  readonly classTable: Addr;
  readonly sizeTable: Addr;
  readonly bins: Addr;
  readonly tcaches: Addr;
  readonly cores: number;
  readonly pageRecords: Addr;
  readonly handedOut: Addr;
  readonly handedOutBytes: number;
}

/** Reserve the DRAM areas for a heap covering the machine's whole NVRAM region. */
export function reserveLayout(machine: Machine): TransientLayout {
  const { nvramBase, nvramSizeBytes } = machine.layout;
  const heapPages = (nvramSizeBytes - ROOT_AREA_BYTES) / PAGE_BYTES;
  if (heapPages < 1) throw new RangeError(`transient: nvramSizeBytes must be at least ${ROOT_AREA_BYTES + PAGE_BYTES}, got ${nvramSizeBytes}`);
  const cores = machine.cores.length;
  const handedOutBytes = Math.ceil((heapPages * PAGE_BYTES) / GRANULE_BYTES / 32) * 4;
  const reserve = (bytes: number): Addr => {
    try {
      return machine.reserveDram(bytes);
    } catch (e) {
      const needBytes = ARENA_BYTES + CLASS_COUNT * (CLASS_RECORD_BYTES + BIN_BYTES + cores * TCACHE_STRIDE_BYTES) + heapPages * PAGE_RECORD_BYTES + handedOutBytes + 4096;
      throw new RangeError(`transient: its DRAM metadata for a ${nvramSizeBytes} B heap on ${cores} cores needs about ${needBytes} B of dramSizeBytes (${machine.layout.dramSizeBytes} B configured): ${(e as Error).message}`);
    }
  };
  return {
    rootBase: nvramBase,
    heapBase: nvramBase + ROOT_AREA_BYTES,
    heapPages,
    arena: reserve(ARENA_BYTES),
    classTable: reserve(CLASS_COUNT * CLASS_RECORD_BYTES),
    sizeTable: reserve(SMALL_MAX_BYTES / GRANULE_BYTES + 8),
    bins: reserve(CLASS_COUNT * BIN_BYTES),
    tcaches: reserve(cores * CLASS_COUNT * TCACHE_STRIDE_BYTES),
    cores,
    pageRecords: reserve(heapPages * PAGE_RECORD_BYTES),
    handedOut: reserve(handedOutBytes),
    handedOutBytes,
  };
}

export function pageRecord(l: TransientLayout, page: number): Addr {
  return l.pageRecords + page * PAGE_RECORD_BYTES;
}
export function pageAddr(l: TransientLayout, page: number): Addr {
  return l.heapBase + page * PAGE_BYTES;
}
export function binAddr(l: TransientLayout, sizeClass: number): Addr {
  return l.bins + sizeClass * BIN_BYTES;
}
export function classRecord(l: TransientLayout, sizeClass: number): Addr {
  return l.classTable + sizeClass * CLASS_RECORD_BYTES;
}
export function tcacheAddr(l: TransientLayout, coreId: number, sizeClass: number): Addr {
  return l.tcaches + (coreId * CLASS_COUNT + sizeClass) * TCACHE_STRIDE_BYTES;
}
/** Address of the 32-bit handed-out bitmap word for a heap address, and the bit in it. */
export function handedOutWord(l: TransientLayout, addr: Addr): Addr {
  const granule = (addr - l.heapBase) / GRANULE_BYTES;
  return l.handedOut + Math.floor(granule / 32) * 4;
}
export function handedOutBit(l: TransientLayout, addr: Addr): number {
  return (((addr - l.heapBase) / GRANULE_BYTES) % 32) >>> 0;
}
