/**
 * Small objects (<= 2 KB): headerless, in blocks of one size class.
 *
 * Model (HewlettPackard/Atlas branch makalu, commit d4fd983, makalu_alloc/src; file:line
 * below is at that commit). Sizes of 1..24 granules use a per-core thread-local list
 * holding two blocks' worth (makalu_local_heap.c:50, makalu_config.h:251): the malloc and
 * free fast paths touch only DRAM, take no lock and issue no flush or fence. Locks:
 * `granLock(g)` is MAK_granule_ml[g] (makalu_thread.c:48,56-65; every size above 24
 * granules shares one), the global lock is MAK_global_ml (makalu_thread.h:27).
 *
 * - Thread-list refill (MAK_generic_malloc_many, makalu_malloc.c:340-471). Under the
 *   size's lock (:361) the first reclaim-list block (a block at most 7/8 full) is
 *   unlinked, its allocation bits copied and all set, its count and state written
 *   (:362-380); the lock is released (:381) before its bits are queued in the thread's
 *   flush table (:382-385) and its free slots are listed (:387-393,
 *   makalu_reclaim.c:310-353; CLEAR_MALLOCED_MEMORY is not defined, so those slots are
 *   not zeroed: free zeroed them). Else up to one block's worth is copied from the
 *   size's global list under the same lock (:401-419). Else the size's lock is released
 *   (:423) and the global lock is held only for the block allocation (MAK_allochblk and
 *   heap growth, :430-435): the new block is zeroed, listed and its bits set and queued
 *   outside every lock (MAK_build_array_fl, :436-440, makalu_reclaim.c:173-219).
 * - Thread-list overflow (MAK_free, makalu_local_heap.c:287-297): at two blocks' worth
 *   the list is cut to one block's worth by MAK_truncate_fast_fl (makalu_reclaim.c:667):
 *   the oldest entries are gathered without a lock into a 16-entry table indexed by block
 *   number (:672-727); a table collision returns the evicted entry at once; then every
 *   entry is returned in ONE hold of the size's lock (remove_trun_tb_entry, :566-660):
 *   count decremented, bits cleared word by word, a floating block falling to 7/8 full
 *   joins the reclaim list; a block whose count reaches 0 is freed with the size's lock
 *   dropped and the global lock held over one undo-logged section (:608-620). The bits
 *   of the entries kept are queued in the thread's flush table after the unlock
 *   (:650-659; no fence).
 * - Sizes above 24 granules use the global lists under the shared lock.
 *   malloc (MAK_core_malloc, makalu_malloc.c:108-143) pops under that lock; an empty
 *   list drops it and MAK_generic_malloc (:162-182) retakes it and, still holding it,
 *   sweeps reclaim-list blocks (MAK_continue_reclaim, makalu_reclaim.c:431-455: free
 *   slots are zeroed and their bits set one by one, bits queued in fl_aflush,
 *   :222-265), else takes the global lock too (makalu_malloc.c:271-282) over the block
 *   allocation AND the list build (MAK_new_hblk, makalu_block.c:643-661). free
 *   (MAK_core_free, makalu_malloc.c:296-328) zeroes the object outside the lock, pushes
 *   under it and records the block in the header cache all threads share (:319), and at two blocks' worth truncates to one block's worth under it
 *   (MAK_truncate_freelist, makalu_reclaim.c:459-556): per object a bit cleared and
 *   queued in fl_aflush, the count decremented; a block reaching 0 is freed under the
 *   global lock taken inside the size's lock (:528-532).
 *
 * Objects are of Makalu's NORMAL kind (DO_INITIALIZED_MALLOC, makalu_init.c:124-127): a
 * freed object is zeroed (unflushed stores) and a fresh block is zeroed when carved.
 *
 * Invariants: an object in a DRAM list has allocation bit 1 and its DRAM "listed" bit
 * set; an allocated object has bit 1 and listed bit 0; a free object has bit 0.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { BS_FLOATING, BS_RECLAIM, FL_AFLUSH_SLOTS, HDR_CACHE_ENTRIES, IN_LIST_STRIDE_BYTES, LOCAL_AFLUSH_SLOTS, type ListRef, type Mk, granLock } from './context.ts';
import { headerAt, setAllMarks, writeMark, markWordAddr, bitOf, POW2 } from './block-headers.ts';
import { tableAdd, type FlushTable } from './flush-table.ts';
import {
  blockListPush, blockListUnlink, blockState, listCount, listDropOldest, listOldest, listPop, listPush, reclaimHead, setBlockState, setListed,
} from './free-lists.ts';
import { allocBlocks, freeBlocks, tryExpand } from './large.ts';
import { BLOCK_BYTES, GRANULE_BYTES, H_MARKS, H_NMARKS, LOG_BLOCK_BYTES, MARK_BITS_PER_WORD, MARK_WORDS, TINY_GRANULES, blockAddr } from './layout.ts';
import { nearlyFullThreshold, objectsPerBlock } from './size-classes.ts';
import { beginSection, endSection } from './undo-log.ts';
import { MAKALU_INSTRUCTIONS as I } from './path-lengths.ts';

const S_REFILL = siteId('makalu:refill');
const S_TRIM = siteId('makalu:trim');
/** Entries of MAK_truncate_fast_fl's truncate table (makalu_reclaim.c:672-673). */
export const TRUNCATE_TABLE_ENTRIES = 16;

const localTable = (mk: Mk, core: Core): FlushTable => ({ base: mk.dram.localAflush[core.id], slots: LOCAL_AFLUSH_SLOTS });
const flTable = (mk: Mk): FlushTable => ({ base: mk.dram.flAflush, slots: FL_AFLUSH_SLOTS });
const blockOf = (mk: Mk, p: Addr): number => (p - mk.nv.heapStart) >>> LOG_BLOCK_BYTES;
const slotOf = (mk: Mk, p: Addr, b: number, objBytes: number): number => (p - blockAddr(mk.nv, b)) / objBytes;

export function mallocSmall(mk: Mk, core: Core, granules: number): Addr {
  const objBytes = granules * GRANULE_BYTES;
  if (granules <= TINY_GRANULES) {
    const tl = mk.dram.tlLists[core.id][granules];
    let p = listPop(core, tl);
    if (p === 0) {
      refillThreadList(mk, core, granules, tl);
      p = listPop(core, tl);
      if (p === 0) return 0;
    }
    setListed(mk, core, p, objBytes, false);
    return p;
  }
  const gl = mk.dram.globalLists.get(granules)!;
  const lock = granLock(mk, granules);
  core.lock(lock);
  if (listCount(core, gl) === 0) {
    // MAK_core_malloc drops the lock on an empty list; MAK_generic_malloc retakes it (makalu_malloc.c:127-129,163).
    core.unlock(lock);
    core.lock(lock);
    if (listCount(core, gl) === 0) fillGlobalList(mk, core, granules, gl);
  }
  const p = listPop(core, gl);
  if (p !== 0) setListed(mk, core, p, objBytes, false);
  core.unlock(lock);
  return p;
}

/** MAK_generic_malloc_many: reclaim list, then the global list, then a new block. */
function refillThreadList(mk: Mk, core: Core, granules: number, tl: ListRef): void {
  const prev = core.setSite(S_REFILL);
  refillFromSources(mk, core, granules, tl);
  core.setSite(prev);
}

function refillFromSources(mk: Mk, core: Core, granules: number, tl: ListRef): void {
  const lock = granLock(mk, granules);
  for (;;) {
    core.lock(lock);
    const taken = takeReclaimBlock(mk, core, granules);
    if (taken === undefined) break;
    core.unlock(lock);
    tableAdd(core, localTable(mk, core), taken.h + H_MARKS, 56);
    if (listFreeSlots(mk, core, granules, taken.b, taken.marks, tl, false) > 0) return;
  }
  const gl = mk.dram.globalLists.get(granules)!;
  const n = Math.min(listCount(core, gl), objectsPerBlock(granules));
  for (let i = 0; i < n; i++) listPush(core, tl, listPop(core, gl));
  core.instructions(I.refillPerObject * n);
  core.unlock(lock);
  if (n > 0) return;
  newBlockInto(mk, core, granules, tl, localTable(mk, core), false);
}

/** Global-list refill for > 24 granules (shared lock held): sweep reclaim blocks, else a new block. */
function fillGlobalList(mk: Mk, core: Core, granules: number, list: ListRef): void {
  for (let taken = takeReclaimBlock(mk, core, granules); taken !== undefined; taken = takeReclaimBlock(mk, core, granules)) {
    tableAdd(core, flTable(mk), taken.h + H_MARKS, 56);
    if (listFreeSlots(mk, core, granules, taken.b, taken.marks, list, true) > 0) return;
  }
  newBlockInto(mk, core, granules, list, flTable(mk), true);
}

/**
 * Under the size's lock: unlink the first reclaim-list block, make it floating, copy its
 * allocation bits and set them all (with the count). undefined if the list is empty.
 */
function takeReclaimBlock(mk: Mk, core: Core, granules: number): { b: number; h: Addr; marks: number[] } | undefined {
  const head = reclaimHead(mk, granules);
  const first = core.load64(head);
  if (first === 0) return undefined;
  const b = first - 1;
  blockListUnlink(mk, core, head, b);
  setBlockState(mk, core, b, BS_FLOATING);
  const h = headerAt(mk, core, b);
  const marks: number[] = [];
  for (let i = 0; i < MARK_WORDS; i++) marks.push(core.load64(h + H_MARKS + 8 * i));
  setAllMarks(core, h, objectsPerBlock(granules));
  return { b, h, marks };
}

/** List the slots of block b whose copied bit is 0 (zeroing them when `zero`); returns how many. */
function listFreeSlots(mk: Mk, core: Core, granules: number, b: number, marks: number[], list: ListRef, zero: boolean): number {
  const objects = objectsPerBlock(granules);
  const objBytes = granules * GRANULE_BYTES;
  let found = 0;
  for (let slot = 0; slot < objects; slot++) {
    if (bitOf(marks[Math.floor(slot / MARK_BITS_PER_WORD)], slot % MARK_BITS_PER_WORD) === 1) continue;
    const p = blockAddr(mk.nv, b) + slot * objBytes;
    if (zero) zeroRange(core, p, objBytes);
    listPush(core, list, p);
    setListed(mk, core, p, objBytes, true);
    found++;
  }
  core.instructions(I.refillPerObject * found);
  return found;
}

/**
 * A fresh block under the global lock (growing the heap if needed), all its objects listed.
 * `buildLocked`: the list is built with the global lock still held (MAK_new_hblk);
 * otherwise after it is released (MAK_generic_malloc_many).
 */
function newBlockInto(mk: Mk, core: Core, granules: number, list: ListRef, table: FlushTable, buildLocked: boolean): void {
  core.lock(mk.dram.globalLock);
  core.instructions(I.slowPath);
  let b = allocBlocks(mk, core, granules * GRANULE_BYTES, granules);
  if (b < 0 && tryExpand(mk, core, 1)) b = allocBlocks(mk, core, granules * GRANULE_BYTES, granules);
  if (!buildLocked || b < 0) core.unlock(mk.dram.globalLock);
  if (b < 0) return;
  const h = headerAt(mk, core, b);
  const objects = objectsPerBlock(granules);
  zeroRange(core, blockAddr(mk.nv, b), BLOCK_BYTES);
  setBlockState(mk, core, b, BS_FLOATING);
  setAllMarks(core, h, objects);
  tableAdd(core, table, h + H_MARKS, 56);
  const objBytes = granules * GRANULE_BYTES;
  for (let slot = 0; slot < objects; slot++) listPush(core, list, blockAddr(mk.nv, b) + slot * objBytes);
  core.instructions(I.refillPerObject * objects);
  const inFl = mk.dram.inFreeList + IN_LIST_STRIDE_BYTES * b;
  for (let i = 0; i < MARK_WORDS && i * MARK_BITS_PER_WORD < objects; i++) {
    core.store64(inFl + 8 * i, 2 ** Math.min(MARK_BITS_PER_WORD, objects - i * MARK_BITS_PER_WORD) - 1);
  }
  if (buildLocked) core.unlock(mk.dram.globalLock);
}

/** BZERO: plain (unflushed) stores of zero over [addr, addr + sizeBytes). */
export function zeroRange(core: Core, addr: Addr, sizeBytes: number): void {
  for (let off = 0; off < sizeBytes; off += 8) core.store64(addr + off, 0);
}

/** Free a small object the caller validated (allocation bit 1, not listed). */
export function freeSmall(mk: Mk, core: Core, p: Addr, granules: number): void {
  const objBytes = granules * GRANULE_BYTES;
  const keep = objectsPerBlock(granules);
  zeroRange(core, p, objBytes);
  if (granules <= TINY_GRANULES) {
    const tl = mk.dram.tlLists[core.id][granules];
    setListed(mk, core, p, objBytes, true);
    if (listPush(core, tl, p) >= tl.capacity) trimList(mk, core, granules, tl, keep, localTable(mk, core), false);
    return;
  }
  const gl = mk.dram.globalLists.get(granules)!;
  core.lock(granLock(mk, granules));
  setListed(mk, core, p, objBytes, true);
  const full = listPush(core, gl, p) >= gl.capacity;
  updateGlobalHdrCache(mk, core, blockOf(mk, p));
  if (full) trimList(mk, core, granules, gl, keep, flTable(mk), true);
  core.unlock(granLock(mk, granules));
}

/** MAK_update_hc on the shared MAK_hdr_cache (makalu_malloc.c:319, makalu_hdr.c:114-121): entry (block & 7) = block number, header. */
function updateGlobalHdrCache(mk: Mk, core: Core, b: number): void {
  const blockNumber = Math.floor(blockAddr(mk.nv, b) / BLOCK_BYTES);
  const entry = mk.dram.globalHdrCache + 16 * (blockNumber % HDR_CACHE_ENTRIES);
  core.store64(entry, blockNumber);
  core.store64(entry + 8, headerAt(mk, core, b));
}

/**
 * Give the oldest entries beyond `keep` back to their blocks (clear allocation bits):
 * MAK_truncate_freelist when the caller holds the size's lock (a global list), else
 * MAK_truncate_fast_fl (a thread list; it takes the size's lock itself).
 */
export function trimList(mk: Mk, core: Core, granules: number, list: ListRef, keep: number, table: FlushTable, lockHeld: boolean): void {
  const n = listCount(core, list) - keep;
  if (n <= 0) return;
  const prev = core.setSite(S_TRIM);
  if (lockHeld) truncateLocked(mk, core, granules, list, n, table);
  else truncateFast(mk, core, granules, list, n, table);
  core.setSite(prev);
}

/** One truncate-table entry: a block and the slots of it being returned. */
interface TruncEntry {
  readonly b: number;
  readonly slots: number[];
}

/** MAK_truncate_fast_fl (makalu_reclaim.c:667-735). */
function truncateFast(mk: Mk, core: Core, granules: number, list: ListRef, n: number, table: FlushTable): void {
  const objBytes = granules * GRANULE_BYTES;
  const entries: (TruncEntry | undefined)[] = new Array(TRUNCATE_TABLE_ENTRIES).fill(undefined);
  for (let i = 0; i < n; i++) {
    const p = listOldest(core, list, i);
    setListed(mk, core, p, objBytes, false);
    const b = blockOf(mk, p);
    // The table is indexed by the block's address >> LOG_HBLKSIZE (makalu_reclaim.c:702-703).
    const idx = Math.floor(blockAddr(mk.nv, b) / BLOCK_BYTES) % TRUNCATE_TABLE_ENTRIES;
    let e = entries[idx];
    if (e !== undefined && e.b !== b) {
      returnEntries(mk, core, granules, [e], table);
      e = undefined;
    }
    if (e === undefined) entries[idx] = e = { b, slots: [] };
    e.slots.push(slotOf(mk, p, b, objBytes));
    core.compute(2);
  }
  listDropOldest(core, list, n);
  core.instructions(I.freeOverflowPerObject * n);
  returnEntries(mk, core, granules, entries.filter((e): e is TruncEntry => e !== undefined), table);
}

/** remove_trun_tb_entry (makalu_reclaim.c:566-660): one hold of the size's lock for all entries. */
function returnEntries(mk: Mk, core: Core, granules: number, entries: TruncEntry[], table: FlushTable): void {
  const lock = granLock(mk, granules);
  const kept: Addr[] = [];
  core.lock(lock);
  let locked = true;
  for (let i = 0; i < entries.length; i++) {
    if (!locked) {
      core.lock(lock);
      locked = true;
    }
    const { b, slots } = entries[i];
    const h = headerAt(mk, core, b);
    const count = core.load64(h + H_NMARKS) - slots.length;
    core.store64(h + H_NMARKS, count);
    const state = blockState(mk, core, b);
    clearMarkWords(core, h, slots);
    if (count === 0) {
      if (state === BS_RECLAIM) blockListUnlink(mk, core, reclaimHead(mk, granules), b);
      setBlockState(mk, core, b, 0);
      core.unlock(lock);
      locked = false;
      releaseBlock(mk, core, b);
      continue;
    }
    if (state === BS_FLOATING && count <= nearlyFullThreshold(granules)) blockListPush(mk, core, reclaimHead(mk, granules), b, BS_RECLAIM);
    kept.push(h);
  }
  if (locked) core.unlock(lock);
  for (const h of kept) tableAdd(core, table, markWordAddr(h, 0), 56);
}

/** hb_marks[i] &= ~entry->marks[i], one load and store per word holding a returned slot. */
function clearMarkWords(core: Core, h: Addr, slots: number[]): void {
  const clear = new Array<number>(MARK_WORDS).fill(0);
  for (const s of slots) clear[Math.floor(s / MARK_BITS_PER_WORD)] += POW2[s % MARK_BITS_PER_WORD];
  for (let i = 0; i < MARK_WORDS; i++) {
    if (clear[i] === 0) continue;
    const addr = h + H_MARKS + 8 * i;
    core.store64(addr, core.load64(addr) - clear[i]);
  }
}

/** An emptied block back to the block free lists: one section under the global lock. */
function releaseBlock(mk: Mk, core: Core, b: number): void {
  core.lock(mk.dram.globalLock);
  core.instructions(I.blockRelease);
  beginSection(mk, core);
  freeBlocks(mk, core, b);
  endSection(mk, core);
  core.unlock(mk.dram.globalLock);
}

/** MAK_truncate_freelist (makalu_reclaim.c:459-556), the size's lock held by the caller. */
function truncateLocked(mk: Mk, core: Core, granules: number, list: ListRef, n: number, table: FlushTable): void {
  const objBytes = granules * GRANULE_BYTES;
  for (let i = 0; i < n; i++) {
    const p = listOldest(core, list, i);
    setListed(mk, core, p, objBytes, false);
    const b = blockOf(mk, p);
    const h = headerAt(mk, core, b);
    const slot = slotOf(mk, p, b, objBytes);
    writeMark(core, h, slot, 0);
    tableAdd(core, table, markWordAddr(h, slot));
    const count = core.load64(h + H_NMARKS) - 1;
    core.store64(h + H_NMARKS, count);
    const state = blockState(mk, core, b);
    if (count === 0) {
      if (state === BS_RECLAIM) blockListUnlink(mk, core, reclaimHead(mk, granules), b);
      setBlockState(mk, core, b, 0);
      releaseBlock(mk, core, b);
      continue;
    }
    if (state === BS_FLOATING && count <= nearlyFullThreshold(granules)) blockListPush(mk, core, reclaimHead(mk, granules), b, BS_RECLAIM);
    tableAdd(core, table, h + H_NMARKS);
  }
  listDropOldest(core, list, n);
  core.instructions(I.freeOverflowPerObject * n);
}
