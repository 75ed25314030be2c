/**
 * Transient allocator: geometry, size classes and the DRAM layout of its metadata.
 *
 * Model (jemalloc 5.3.0-like, volatile): the NVRAM region is used as plain memory. Its
 * first 4 KiB page holds the 512 root slots; the rest is the heap, cut into 4 KiB pages.
 * Small sizes (<= 14,336 B, jemalloc's SC_SMALL_MAXCLASS with 4 KiB pages) are served
 * from slabs (runs of pages holding objects of one size class, no per-object header);
 * larger sizes take whole page runs from the arena's extents. Metadata lives in DRAM
 * areas reserved once per machine:
 *   - global: the frontier lock and the frontier (next never-used heap page): the bounded
 *     stand-in for the OS address space jemalloc maps its extents from; an arena grows
 *     from it in jemalloc's geometric steps (2 MiB first, see GROW_FIRST_PAGES);
 *   - the class table (size, slab pages, regions per slab, tcache capacity) and the
 *     size -> class lookup table (one byte per 16 B granule), like .rodata;
 *   - per arena (ARENA_STRIDE_BYTES each): its extents (lock, bitmap of non-empty run bins,
 *     run bin heads) and one 64 B bin per size class (bin lock, head of its non-full slabs);
 *   - per core, a thread cache (tcache): per size class a cache bin of one 16 B header
 *     (count, capacity) and `capacity` pointer slots; each core's tcache starts on its own
 *     4 KiB page so no two cores' cache bins share a line;
 *   - the page map, jemalloc's rtree leaves: one 8 B state word per heap page, dense
 *     (rtree_leaf_elm_t is 8 B: eight pages per line), read by every free;
 *   - one 64 B page record per heap page, used at a run's head page (jemalloc's edata_t):
 *     list links, slab free count and the slab's region bitmap (jemalloc's slab_data
 *     bitmap; here 1 = free).
 *
 * Parameters with their jemalloc source (tag 5.3.0, commit cc611be82c57f8f2411347abb96af8c705c972eb):
 *   - size classes: 16 B steps to 128 B, then four per doubling (sc.c, lg_quantum 4); the
 *     8 B tiny class is left out (our granule is 16 B);
 *   - slab size: the least common multiple of the page and the region size (sc.c
 *     slab_size), so 1..7 pages and 2..256 regions per slab;
 *   - tcache capacity (ncached_max): clamp(nregs << opt_lg_tcache_nslots_mul, min, max),
 *     rounded up to even, with opt_tcache_nslots_small_min = 20, _max = 200,
 *     opt_lg_tcache_nslots_mul = 1 (tcache.c lines 19-31, tcache_ncached_max_compute);
 *   - fill count ncached_max >> lg_fill_div with lg_fill_div = 1 (tcache.c line 675, set at
 *     tcache init; the GC that adapts it is not modelled); flush on full down to
 *     ncached_max >> opt_lg_tcache_flush_small_div = 1 (tcache_inlines.h line 156);
 *   - narenas = opt_narenas_ratio (4) x ncpus (jemalloc.c lines 153 and 1975,
 *     malloc_narenas_default; ncpus = the simulated cores); threads take arenas by
 *     arena_choose_hard (jemalloc.c line 503): a new thread takes an unused arena while one
 *     is left, else the least loaded, so thread i gets arena i mod narenas. One simulated
 *     core per thread: core i uses arena i mod narenas. Only min(narenas, cores) arenas can
 *     ever be chosen, so only those are reserved.
 *
 * Page state word: kind + 8 * sizeClass + 1024 * arena + 2^20 * value (kept below 2^53,
 * decoded with integer arithmetic). Kinds: FREE (value = run length at the run's head and
 * tail; inner pages carry stale FREE or zero states), SLAB (value = page offset from the
 * slab's head, on every page of the slab), LARGE_HEAD / LARGE_TAIL (value = run length).
 * The arena is the owner: the arena whose extents hold a free run, whose bin holds a
 * slab, or to whose extents a large block returns. Pages at or past the frontier have
 * state 0 (never used).
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
/** jemalloc 5.3.0 tcache.c: opt_tcache_nslots_small_min, _max, opt_lg_tcache_nslots_mul. */
export const TCACHE_NSLOTS_SMALL_MIN = 20;
export const TCACHE_NSLOTS_SMALL_MAX = 200;
export const LG_TCACHE_NSLOTS_MUL = 1;
/** jemalloc 5.3.0 tcache.c: lg_fill_div starts at 1; opt_lg_tcache_flush_small_div = 1. */
export const LG_FILL_DIV = 1;
export const LG_FLUSH_DIV = 1;
/** jemalloc 5.3.0 jemalloc.c: opt_narenas_ratio = 4 arenas per CPU. */
export const NARENAS_PER_CPU = 4;
/** Arena indices fit 10 bits of the page state word. */
export const MAX_ARENAS = 1024;
/**
 * jemalloc 5.3.0 exp_grow.c exp_grow_init: an arena's first growth of its retained
 * address space is sz_psz2ind(HUGEPAGE) = 2 MiB (512 pages of 4 KiB); each growth then
 * takes the next page size class (exp_grow.h exp_grow_size_prepare/_commit), four
 * classes per doubling, skipping classes smaller than the request.
 */
export const GROW_FIRST_PAGES = 512;
export function nextGrowPages(pages: number): number {
  return pages < 4 ? pages + 1 : pages + 2 ** (31 - Math.clz32(pages) - 2);
}
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
  /** Regions per slab (jemalloc's nregs). */
  readonly slots: number;
  /** Pointer slots of this class's cache bin in each thread cache (jemalloc's ncached_max). */
  readonly tcacheCapacity: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** jemalloc 5.3.0 tcache.c tcache_ncached_max_compute for a small class (min, max already even). */
export function tcacheCapacityOf(nregs: number): number {
  let candidate = nregs << LG_TCACHE_NSLOTS_MUL;
  if (candidate % 2 !== 0) candidate++;
  return Math.min(TCACHE_NSLOTS_SMALL_MAX, Math.max(TCACHE_NSLOTS_SMALL_MIN, candidate));
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
    const slabPages = sizeBytes / gcd(PAGE_BYTES, sizeBytes);
    const slots = (slabPages * PAGE_BYTES) / sizeBytes;
    return { sizeBytes, slabPages, slots, tcacheCapacity: tcacheCapacityOf(slots) };
  });
}

export const SIZE_CLASSES: readonly SizeClass[] = Object.freeze(buildClasses());
export const CLASS_COUNT = SIZE_CLASSES.length;
/** Slab regions never exceed 256 (16 B objects in one page), so a 32 B bitmap holds them. */
export const MAX_SLOTS = 256;

/** Class of a small size (host-side; the allocator itself loads the DRAM lookup table). */
export function classOfSize(sizeBytes: number): number {
  return SIZE_CLASSES.findIndex((c) => c.sizeBytes >= sizeBytes);
}

export function runBinOf(pages: number): number {
  if (pages <= EXACT_RUN_BINS) return pages - 1;
  return EXACT_RUN_BINS - 6 + (31 - Math.clz32(pages));
}

const ARENA_FACTOR = 1024;
const VALUE_FACTOR = 1024 * MAX_ARENAS;
export function encodeState(kind: number, sizeClass: number, arena: number, value: number): number {
  return kind + 8 * sizeClass + ARENA_FACTOR * arena + VALUE_FACTOR * value;
}
export function stateKind(state: number): number {
  return state % 8;
}
export function stateClass(state: number): number {
  return Math.floor(state / 8) % 128;
}
export function stateArena(state: number): number {
  return Math.floor(state / ARENA_FACTOR) % MAX_ARENAS;
}
export function stateValue(state: number): number {
  return Math.floor(state / VALUE_FACTOR);
}

// Byte offsets inside records.
export const PAGE_STATE_BYTES = 8;
export const PR_NEXT = 8;
export const PR_PREV = 16;
export const PR_NFREE = 24;
export const PR_BITMAP = 32;
export const PAGE_RECORD_BYTES = 64;
export const GLOBAL_LOCK = 0;
export const GLOBAL_FRONTIER = 8;
export const GLOBAL_BYTES = 64;
export const CLASS_SIZE = 0;
export const CLASS_SLAB_PAGES = 4;
export const CLASS_SLOTS = 8;
export const CLASS_TCACHE_CAPACITY = 12;
export const CLASS_RECORD_BYTES = 16;
/** Arena record: extents (lock line with the next grow size, run-bin bitmap line, run-bin heads), then the bins. */
export const EXT_LOCK = 0;
/** Pages the arena's next growth from the frontier takes (0 = not grown yet: GROW_FIRST_PAGES). */
export const EXT_GROW_PAGES = 8;
export const EXT_BITMAP = 64;
export const EXT_HEADS = 128;
export const EXT_BYTES = EXT_HEADS + 8 * RUN_BINS;
export const BIN_LOCK = 0;
export const BIN_HEAD = 8;
export const BIN_BYTES = 64;
export const ARENA_BINS = EXT_BYTES;
export const ARENA_STRIDE_BYTES = Math.ceil((EXT_BYTES + CLASS_COUNT * BIN_BYTES) / 64) * 64;
/** Cache bin: count, capacity, then `capacity` pointers (item k at CB_ITEMS + 8k; the top is k = count - 1). */
export const CB_COUNT = 0;
export const CB_CAPACITY = 8;
export const CB_ITEMS = 16;
/** Byte offset of each class's cache bin inside one core's thread cache (compile-time constants). */
export const TCACHE_BIN_OFFSETS: readonly number[] = Object.freeze(
  SIZE_CLASSES.reduce<number[]>((acc, _c, i) => {
    acc.push(i === 0 ? 0 : acc[i - 1] + CB_ITEMS + 8 * SIZE_CLASSES[i - 1].tcacheCapacity);
    return acc;
  }, []),
);
const TCACHE_BYTES = TCACHE_BIN_OFFSETS[CLASS_COUNT - 1] + CB_ITEMS + 8 * SIZE_CLASSES[CLASS_COUNT - 1].tcacheCapacity;
/** One core's thread cache, rounded to whole 4 KiB pages (no line shared between cores). */
export const TCACHE_STRIDE_BYTES = Math.ceil(TCACHE_BYTES / PAGE_BYTES) * PAGE_BYTES;

/** Addresses of every metadata area of one transient heap on one machine. */
export interface TransientLayout {
  readonly rootBase: Addr;
  readonly heapBase: Addr;
  readonly heapPages: number;
  readonly global: Addr;
  readonly classTable: Addr;
  readonly sizeTable: Addr;
  /** Configured arena count (jemalloc's narenas). */
  readonly narenas: number;
  /** Arenas reserved: min(narenas, cores), the ones core i mod narenas can reach. */
  readonly arenaCount: number;
  readonly arenas: Addr;
  readonly tcaches: Addr;
  readonly cores: number;
  readonly pageStates: Addr;
  readonly pageRecords: Addr;
}

/** jemalloc's default arena count for `cpus` CPUs (malloc_narenas_default: 1 on one CPU). */
export function defaultArenaCount(cpus: number): number {
  return cpus > 1 ? Math.min(MAX_ARENAS, NARENAS_PER_CPU * cpus) : 1;
}

/** Reserve the DRAM areas for a heap covering the machine's whole NVRAM region. */
export function reserveLayout(machine: Machine, narenas?: number): TransientLayout {
  const { nvramBase, nvramSizeBytes } = machine.layout;
  const heapPages = (nvramSizeBytes - ROOT_AREA_BYTES) / PAGE_BYTES;
  if (heapPages < 1) throw new RangeError(`transient: nvramSizeBytes must be at least ${ROOT_AREA_BYTES + PAGE_BYTES}, got ${nvramSizeBytes}`);
  const cores = machine.cores.length;
  const arenas = narenas ?? defaultArenaCount(cores);
  if (!Number.isInteger(arenas) || arenas < 1 || arenas > MAX_ARENAS) throw new RangeError(`transient: narenas must be an integer in 1..${MAX_ARENAS}, got ${arenas}`);
  const arenaCount = Math.min(arenas, cores);
  const reserve = (bytes: number, align = 64): Addr => {
    try {
      return machine.reserveDram(bytes, align);
    } catch (e) {
      const needBytes = GLOBAL_BYTES + CLASS_COUNT * CLASS_RECORD_BYTES + arenaCount * ARENA_STRIDE_BYTES + cores * TCACHE_STRIDE_BYTES + heapPages * (PAGE_RECORD_BYTES + PAGE_STATE_BYTES) + 2 * PAGE_BYTES;
      throw new RangeError(`transient: its DRAM metadata for a ${nvramSizeBytes} B heap on ${cores} cores needs about ${needBytes} B of dramSizeBytes (${machine.layout.dramSizeBytes} B configured): ${(e as Error).message}`);
    }
  };
  return {
    rootBase: nvramBase,
    heapBase: nvramBase + ROOT_AREA_BYTES,
    heapPages,
    global: reserve(GLOBAL_BYTES),
    classTable: reserve(CLASS_COUNT * CLASS_RECORD_BYTES),
    sizeTable: reserve(SMALL_MAX_BYTES / GRANULE_BYTES + 8),
    narenas: arenas,
    arenaCount,
    arenas: reserve(arenaCount * ARENA_STRIDE_BYTES),
    tcaches: reserve(cores * TCACHE_STRIDE_BYTES, PAGE_BYTES),
    cores,
    pageStates: reserve(heapPages * PAGE_STATE_BYTES),
    pageRecords: reserve(heapPages * PAGE_RECORD_BYTES),
  };
}

/** The arena a core's thread is bound to (see arena_choose_hard above). */
export function arenaOfCore(l: TransientLayout, coreId: number): number {
  return coreId % l.narenas;
}
export function arenaAddr(l: TransientLayout, arena: number): Addr {
  return l.arenas + arena * ARENA_STRIDE_BYTES;
}
export function pageRecord(l: TransientLayout, page: number): Addr {
  return l.pageRecords + page * PAGE_RECORD_BYTES;
}
/** Address of a page's state word in the page map. */
export function pageState(l: TransientLayout, page: number): Addr {
  return l.pageStates + page * PAGE_STATE_BYTES;
}
export function pageAddr(l: TransientLayout, page: number): Addr {
  return l.heapBase + page * PAGE_BYTES;
}
export function pageOf(l: TransientLayout, addr: Addr): number {
  return Math.floor((addr - l.heapBase) / PAGE_BYTES);
}
export function binAddr(l: TransientLayout, arena: number, sizeClass: number): Addr {
  return arenaAddr(l, arena) + ARENA_BINS + sizeClass * BIN_BYTES;
}
export function classRecord(l: TransientLayout, sizeClass: number): Addr {
  return l.classTable + sizeClass * CLASS_RECORD_BYTES;
}
export function cacheBinAddr(l: TransientLayout, coreId: number, sizeClass: number): Addr {
  return l.tcaches + coreId * TCACHE_STRIDE_BYTES + TCACHE_BIN_OFFSETS[sizeClass];
}
