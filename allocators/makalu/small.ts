/**
 * Small objects (<= 2 KB): headerless, in blocks of one size class.
 *
 * Model (makalu_local_heap.c, makalu_malloc.c, makalu_reclaim.c): sizes of 1..24
 * granules use a per-core thread-local list (an array holding two blocks' worth): the
 * malloc and free fast paths touch only DRAM, take no lock, and issue no flush or
 * fence. An empty thread list is refilled, under that size's lock, from the reclaim
 * list (a block at most 7/8 full: its free slots are those with allocation bit 0, then
 * all bits are set), else from the global list of that size, else (under the global
 * lock) from a new block: one section (see large.ts), then all allocation bits set and
 * queued in a flush table. A thread list that reaches two blocks' worth is trimmed to
 * one block: the oldest entries' allocation bits are cleared block by block; a block
 * whose count drops to 0 is freed (one section under the global lock); a floating block
 * that falls to 7/8 full joins the reclaim list; bits are queued in the thread's flush
 * table (no fence). Sizes above 24 granules use the global lists directly under one
 * shared lock, trimmed the same way. Objects are of Makalu's NORMAL kind
 * (DO_INITIALIZED_MALLOC): a freed object is zeroed (unflushed stores), a fresh block is
 * zeroed when it is carved, and reclaimed free slots are zeroed, so malloc returns zeroed
 * memory and the conservative GC never sees stale pointers in free memory.
 *
 * Invariants: an object in a DRAM list has allocation bit 1 and its DRAM "listed" bit
 * set; an allocated object has bit 1 and listed bit 0; a free object has bit 0.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { BS_FLOATING, BS_RECLAIM, FL_AFLUSH_SLOTS, IN_LIST_STRIDE_BYTES, LOCAL_AFLUSH_SLOTS, type ListRef, type Mk, granLock } from './context.ts';
import { headerAt, setAllMarks, writeMark, markWordAddr, bitOf } from './block-headers.ts';
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

const localTable = (mk: Mk, core: Core): FlushTable => ({ base: mk.dram.localAflush[core.id], slots: LOCAL_AFLUSH_SLOTS });
const flTable = (mk: Mk): FlushTable => ({ base: mk.dram.flAflush, slots: FL_AFLUSH_SLOTS });
const blockOf = (mk: Mk, p: Addr): number => (p - mk.nv.heapStart) >>> LOG_BLOCK_BYTES;

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
  core.lock(granLock(mk, granules));
  if (listCount(core, gl) === 0) fillFromBlocks(mk, core, granules, gl, flTable(mk));
  const p = listPop(core, gl);
  if (p !== 0) setListed(mk, core, p, objBytes, false);
  core.unlock(granLock(mk, granules));
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
  core.lock(lock);
  if (reclaimBlock(mk, core, granules, tl, localTable(mk, core))) {
    core.unlock(lock);
    return;
  }
  const gl = mk.dram.globalLists.get(granules)!;
  const n = Math.min(listCount(core, gl), objectsPerBlock(granules));
  for (let i = 0; i < n; i++) listPush(core, tl, listPop(core, gl));
  core.instructions(I.refillPerObject * n);
  core.unlock(lock);
  if (n > 0) return;
  newBlockInto(mk, core, granules, tl, localTable(mk, core));
}

/** Global-list refill for > 24 granules (shared lock held): reclaim, else a new block. */
function fillFromBlocks(mk: Mk, core: Core, granules: number, list: ListRef, table: FlushTable): void {
  if (reclaimBlock(mk, core, granules, list, table)) return;
  newBlockInto(mk, core, granules, list, table);
}

/** Take one reclaim-list block with free slots into `list`; false if none. Lazy sweep. */
function reclaimBlock(mk: Mk, core: Core, granules: number, list: ListRef, table: FlushTable): boolean {
  const head = reclaimHead(mk, granules);
  for (let first = core.load64(head); first !== 0; first = core.load64(head)) {
    const b = first - 1;
    blockListUnlink(mk, core, head, b);
    setBlockState(mk, core, b, BS_FLOATING);
    const h = headerAt(mk, core, b);
    const objects = objectsPerBlock(granules);
    const marks: number[] = [];
    for (let i = 0; i < MARK_WORDS; i++) marks.push(core.load64(h + H_MARKS + 8 * i));
    setAllMarks(core, h, objects);
    tableAdd(core, table, h + H_MARKS, 56);
    let found = 0;
    for (let slot = 0; slot < objects; slot++) {
      if (bitOf(marks[Math.floor(slot / MARK_BITS_PER_WORD)], slot % MARK_BITS_PER_WORD) === 1) continue;
      const p = blockAddr(mk.nv, b) + slot * granules * GRANULE_BYTES;
      zeroRange(core, p, granules * GRANULE_BYTES);
      listPush(core, list, p);
      setListed(mk, core, p, granules * GRANULE_BYTES, true);
      found++;
    }
    core.instructions(I.refillPerObject * found);
    if (found > 0) return true;
  }
  return false;
}

/** Allocate a fresh block under the global lock (growing the heap if needed), list all its objects. */
function newBlockInto(mk: Mk, core: Core, granules: number, list: ListRef, table: FlushTable): void {
  core.lock(mk.dram.globalLock);
  core.instructions(I.slowPath);
  let b = allocBlocks(mk, core, granules * GRANULE_BYTES, granules);
  if (b < 0 && tryExpand(mk, core, 1)) b = allocBlocks(mk, core, granules * GRANULE_BYTES, granules);
  core.unlock(mk.dram.globalLock);
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
  if (listPush(core, gl, p) >= gl.capacity) trimList(mk, core, granules, gl, keep, flTable(mk), true);
  core.unlock(granLock(mk, granules));
}

/**
 * MAK_truncate_fast_fl / MAK_truncate_freelist: give the oldest entries beyond `keep`
 * back to their blocks (clear allocation bits), block by block.
 */
export function trimList(mk: Mk, core: Core, granules: number, list: ListRef, keep: number, table: FlushTable, lockHeld: boolean): void {
  const n = listCount(core, list) - keep;
  if (n <= 0) return;
  const objBytes = granules * GRANULE_BYTES;
  const perBlock = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const p = listOldest(core, list, i);
    setListed(mk, core, p, objBytes, false);
    const b = blockOf(mk, p);
    const slots = perBlock.get(b) ?? [];
    slots.push((p - blockAddr(mk.nv, b)) / objBytes);
    perBlock.set(b, slots);
    core.compute(2);
  }
  listDropOldest(core, list, n);
  core.instructions(I.freeOverflowPerObject * n);
  const prev = core.setSite(S_TRIM);
  for (const [b, slots] of perBlock) returnSlots(mk, core, granules, b, slots, table, lockHeld);
  core.setSite(prev);
}

function returnSlots(mk: Mk, core: Core, granules: number, b: number, slots: number[], table: FlushTable, lockHeld: boolean): void {
  const lock = granLock(mk, granules);
  if (!lockHeld) core.lock(lock);
  const h = headerAt(mk, core, b);
  const count = core.load64(h + H_NMARKS) - slots.length;
  core.store64(h + H_NMARKS, count);
  const state = blockState(mk, core, b);
  if (count === 0) {
    if (state === BS_RECLAIM) blockListUnlink(mk, core, reclaimHead(mk, granules), b);
    setBlockState(mk, core, b, 0);
    for (const s of slots) writeMark(core, h, s, 0);
    if (!lockHeld) core.unlock(lock);
    core.lock(mk.dram.globalLock);
    core.instructions(I.blockRelease);
    beginSection(mk, core);
    freeBlocks(mk, core, b);
    endSection(mk, core);
    core.unlock(mk.dram.globalLock);
    return;
  }
  for (const s of slots) writeMark(core, h, s, 0);
  if (state === BS_FLOATING && count <= nearlyFullThreshold(granules)) blockListPush(mk, core, reclaimHead(mk, granules), b, BS_RECLAIM);
  if (!lockHeld) core.unlock(lock);
  tableAdd(core, table, markWordAddr(h, 0), 56);
}

