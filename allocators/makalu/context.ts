/**
 * The shared state of one Makalu allocator instance: NVRAM layout, DRAM (tier 3)
 * layout, and the variant switches.
 *
 * Model: every volatile structure lives in DRAM reserved once with
 * machine.reserveDram (like Makalu's transient scratch memory): lock words (one global
 * lock, one per small granule size 1..24, one shared lock for all sizes above 384 B),
 * per-core thread-local list arrays (two blocks' worth per granule size), global object
 * list arrays, the flush tables, block free-list and reclaim-list links (per block),
 * the "in a DRAM free list" bits (per object, for double-free detection), the header
 * free-header list head, the mark stack, the undo-log cursor and the shared
 * allocation-time header cache (MAK_hdr_cache).
 *
 * Invariants: DRAM areas are zero when reserved (empty lists); nothing here is needed
 * after a crash, all of it is rebuilt by open.
 */
import type { Addr, Machine } from '../../sim/api.ts';
import { MARK_WORDS, N_HBLK_FLS, MAX_SMALL_GRANULES, TINY_GRANULES, BLOCK_BYTES, GRANULE_BYTES, type NvLayout, computeLayout } from './layout.ts';
import { SMALL_CLASSES } from './size-classes.ts';

export interface Variant {
  readonly name: string;
  /** The released code's unbraced MAK_STORE_NVM_SYNC: fence-flush-fence on every bucket probe and block free. */
  readonly shippedMacro: boolean;
  /** Canary: the split's header-size/flags change is made without its undo-log entries. */
  readonly omitSplitLog: boolean;
  /** Canary: setRoot and mallocTo publish the pointer without clwb + sfence. */
  readonly omitRootFlush: boolean;
  /** Canary: closing a section bumps the version without writing back its dirty lines. */
  readonly omitSectionFlush: boolean;
  /** Canary: crash recovery skips the undo-log replay. */
  readonly skipLogReplay: boolean;
}

/** A DRAM ring list: [count, start, entries...]. */
export interface ListRef {
  readonly addr: Addr;
  readonly capacity: number;
}

export interface DramLayout {
  readonly globalLock: Addr;
  readonly sharedLock: Addr;
  readonly granLocks: Addr;
  readonly tlLists: ListRef[][];
  readonly globalLists: Map<number, ListRef>;
  readonly localAflush: Addr[];
  readonly flAflush: Addr;
  readonly aflush: Addr;
  readonly sflush: Addr;
  /** Per block: next+1, prev+1, state, endOwner+1 (32 B). */
  readonly blockSide: Addr;
  /** Per block: 6 words of "object sits in a DRAM free list" bits. */
  readonly inFreeList: Addr;
  readonly bucketHeads: Addr;
  readonly reclaimHeads: Addr;
  /** Head of the free-header list (linked through each header's H_NEXT word). */
  readonly hdrFree: Addr;
  readonly markStack: Addr;
  readonly markStackCapacity: number;
  readonly logCursor: Addr;
  /** MAK_hdr_cache: the allocation-time header cache shared by all threads (8 entries of block number + header). */
  readonly globalHdrCache: Addr;
  /** [start, end) of everything reserved here (for a reset on re-open). */
  readonly rangeStart: Addr;
  readonly rangeEnd: Addr;
}

export const AFLUSH_SLOTS = 32;
export const FL_AFLUSH_SLOTS = 8;
export const LOCAL_AFLUSH_SLOTS = 8;
export const SFLUSH_SLOTS = 8;
export const MARK_STACK_ENTRIES = 4096;
/** HDR_CACHE_SIZE (makalu_config.h:288). */
export const HDR_CACHE_ENTRIES = 8;
export const IN_LIST_STRIDE_BYTES = 8 * MARK_WORDS;

/** Block states kept in DRAM. */
export const BS_NONE = 0;
export const BS_FREE_LIST = 1;
export const BS_RECLAIM = 2;
export const BS_FLOATING = 3;

export interface Mk {
  readonly machine: Machine;
  readonly nv: NvLayout;
  readonly dram: DramLayout;
  readonly variant: Variant;
  /** Host-side statistics (an instrument, like the machine's counters; not heap state). */
  readonly counts: { logEntries: number };
}

const tlCapacity = (g: number): number => Math.floor((2 * BLOCK_BYTES) / (g * GRANULE_BYTES));

function reserveList(r: (bytes: number) => Addr, capacity: number): ListRef {
  return { addr: r(16 + 8 * capacity), capacity };
}

/**
 * The last context built per machine: a crash checker re-creates the allocator on a
 * reset machine for every state, and the layout is the same whenever the DRAM
 * reservations start at the same address; one reservation of the same span then
 * leaves the machine exactly as the individual reservations would (host speed only).
 */
const lastContext = new WeakMap<Machine, Mk>();

export function createContext(machine: Machine, variant: Variant): Mk {
  const last = lastContext.get(machine);
  // reserveDram(0, 1) reserves nothing: it returns the next free DRAM address.
  if (last !== undefined && last.variant === variant && align64(machine.reserveDram(0, 1)) === last.dram.rangeStart) {
    machine.reserveDram(last.dram.rangeEnd - last.dram.rangeStart, 64);
    return last;
  }
  const mk = buildContext(machine, variant);
  lastContext.set(machine, mk);
  return mk;
}

const align64 = (a: Addr): Addr => Math.ceil(a / 64) * 64;

function buildContext(machine: Machine, variant: Variant): Mk {
  const nv = computeLayout(machine.layout.nvramBase, machine.layout.nvramSizeBytes);
  let rangeEnd = 0;
  const r = (bytes: number): Addr => {
    const a = machine.reserveDram(bytes, 64);
    rangeEnd = Math.max(rangeEnd, a + bytes);
    return a;
  };
  const globalLock = r(64);
  const sharedLock = r(64);
  const granLocks = r(64 * (TINY_GRANULES + 1));
  const tlLists: ListRef[][] = [];
  const localAflush: Addr[] = [];
  for (let c = 0; c < machine.cores.length; c++) {
    const lists: ListRef[] = [];
    for (let g = 0; g <= TINY_GRANULES; g++) lists.push(reserveList(r, g === 0 ? 0 : tlCapacity(g)));
    tlLists.push(lists);
    localAflush.push(r(8 * LOCAL_AFLUSH_SLOTS));
  }
  const globalLists = new Map<number, ListRef>();
  for (const g of SMALL_CLASSES) globalLists.set(g, reserveList(r, tlCapacity(g)));
  const dram: DramLayout = {
    globalLock, sharedLock, granLocks, tlLists, globalLists, localAflush,
    flAflush: r(8 * FL_AFLUSH_SLOTS),
    aflush: r(8 * AFLUSH_SLOTS),
    sflush: r(8 * SFLUSH_SLOTS),
    blockSide: r(32 * nv.maxBlocks),
    inFreeList: r(IN_LIST_STRIDE_BYTES * nv.maxBlocks),
    bucketHeads: r(8 * (N_HBLK_FLS + 1)),
    reclaimHeads: r(8 * (MAX_SMALL_GRANULES + 1)),
    hdrFree: r(64),
    markStack: r(8 * MARK_STACK_ENTRIES),
    markStackCapacity: MARK_STACK_ENTRIES,
    logCursor: r(64),
    globalHdrCache: r(16 * HDR_CACHE_ENTRIES),
    rangeStart: globalLock,
    rangeEnd: 0,
  };
  return { machine, nv, dram: { ...dram, rangeEnd }, variant, counts: { logEntries: 0 } };
}

/** Lock word guarding the global object list of `granules` (per size up to 24, then one shared). */
export function granLock(mk: Mk, granules: number): Addr {
  return granules <= TINY_GRANULES ? mk.dram.granLocks + 64 * granules : mk.dram.sharedLock;
}

export const sideNext = (mk: Mk, b: number): Addr => mk.dram.blockSide + 32 * b;
export const sidePrev = (mk: Mk, b: number): Addr => mk.dram.blockSide + 32 * b + 8;
export const sideState = (mk: Mk, b: number): Addr => mk.dram.blockSide + 32 * b + 16;
export const sideEndOwner = (mk: Mk, b: number): Addr => mk.dram.blockSide + 32 * b + 24;
