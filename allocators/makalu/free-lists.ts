/**
 * Tier 3, DRAM only: object lists, block free lists, reclaim lists, in-list bits.
 *
 * Model: object free lists are arrays of pointers in DRAM (a ring: count, start,
 * entries), so putting an object on a list writes nothing to NVRAM. Block free lists
 * (61 buckets) and reclaim lists (one per size class: small blocks at most 7/8 full)
 * are doubly linked through per-block DRAM side words (next+1, prev+1), with a per-block
 * state (free list / reclaim list / floating) and, for free runs, an "end owner" word
 * on the run's last block so a freed run finds its free predecessor in O(1). One DRAM
 * bit per object slot says "this object sits in some DRAM list" (for double-free
 * detection: the persistent allocation bit is 1 for both allocated and listed objects).
 *
 * Invariants: a block is in at most one list; side words encode "none" as 0.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { BS_FREE_LIST, BS_NONE, IN_LIST_STRIDE_BYTES, type ListRef, type Mk, sideEndOwner, sideNext, sidePrev, sideState } from './context.ts';
import { MARK_BITS_PER_WORD, blockAddr, LOG_BLOCK_BYTES } from './layout.ts';
import { POW2, bitOf } from './block-headers.ts';

// ---- ring lists of object pointers ----
export const listCount = (core: Core, l: ListRef): number => core.load64(l.addr);

export function listPush(core: Core, l: ListRef, p: Addr): number {
  const count = core.load64(l.addr);
  const start = core.load64(l.addr + 8);
  core.store64(l.addr + 16 + 8 * ((start + count) % l.capacity), p);
  core.store64(l.addr, count + 1);
  return count + 1;
}

/** Pop the most recently pushed pointer (0 if empty). */
export function listPop(core: Core, l: ListRef): Addr {
  const count = core.load64(l.addr);
  if (count === 0) return 0;
  const start = core.load64(l.addr + 8);
  const p = core.load64(l.addr + 16 + 8 * ((start + count - 1) % l.capacity));
  core.store64(l.addr, count - 1);
  return p;
}

/** The i-th oldest entry. */
export function listOldest(core: Core, l: ListRef, i: number): Addr {
  const start = core.load64(l.addr + 8);
  return core.load64(l.addr + 16 + 8 * ((start + i) % l.capacity));
}

/** Drop the n oldest entries. */
export function listDropOldest(core: Core, l: ListRef, n: number): void {
  const count = core.load64(l.addr);
  const start = core.load64(l.addr + 8);
  core.store64(l.addr, count - n);
  core.store64(l.addr + 8, (start + n) % l.capacity);
}

export function listReset(core: Core, l: ListRef): void {
  core.store64(l.addr, 0);
  core.store64(l.addr + 8, 0);
}

// ---- per-object "in a DRAM list" bits ----
/** Address of the DRAM word holding the listed bit of object p (slot s of block b: word s / 48, bit s % 48). */
function inFlWord(mk: Mk, b: number, slot: number): Addr {
  return mk.dram.inFreeList + IN_LIST_STRIDE_BYTES * b + 8 * Math.floor(slot / MARK_BITS_PER_WORD);
}

const blockOfAddr = (mk: Mk, p: Addr): number => (p - mk.nv.heapStart) >>> LOG_BLOCK_BYTES;
const slotOf = (mk: Mk, p: Addr, b: number, objBytes: number): number => Math.floor((p - blockAddr(mk.nv, b)) / objBytes);

export function isListed(mk: Mk, core: Core, p: Addr, objBytes: number): boolean {
  const b = blockOfAddr(mk, p);
  const slot = slotOf(mk, p, b, objBytes);
  return bitOf(core.load64(inFlWord(mk, b, slot)), slot % MARK_BITS_PER_WORD) === 1;
}

export function setListed(mk: Mk, core: Core, p: Addr, objBytes: number, listed: boolean): void {
  const b = blockOfAddr(mk, p);
  const slot = slotOf(mk, p, b, objBytes);
  const addr = inFlWord(mk, b, slot);
  const bit = slot % MARK_BITS_PER_WORD;
  const w = core.load64(addr);
  const cur = bitOf(w, bit) === 1;
  if (cur !== listed) core.store64(addr, listed ? w + POW2[bit] : w - POW2[bit]);
}

export function peekListed(mk: Mk, peek: (a: Addr) => number, p: Addr, objBytes: number): boolean {
  const b = blockOfAddr(mk, p);
  const slot = slotOf(mk, p, b, objBytes);
  return bitOf(peek(inFlWord(mk, b, slot)), slot % MARK_BITS_PER_WORD) === 1;
}

// ---- doubly linked block lists (block free-list buckets, reclaim lists) ----
export function blockListPush(mk: Mk, core: Core, headAddr: Addr, b: number, state: number): void {
  const first = core.load64(headAddr);
  core.store64(sideNext(mk, b), first);
  core.store64(sidePrev(mk, b), 0);
  if (first !== 0) core.store64(sidePrev(mk, first - 1), b + 1);
  core.store64(headAddr, b + 1);
  core.store64(sideState(mk, b), state);
}

export function blockListUnlink(mk: Mk, core: Core, headAddr: Addr, b: number): void {
  const next = core.load64(sideNext(mk, b));
  const prev = core.load64(sidePrev(mk, b));
  if (prev === 0) core.store64(headAddr, next);
  else core.store64(sideNext(mk, prev - 1), next);
  if (next !== 0) core.store64(sidePrev(mk, next - 1), prev);
  core.store64(sideNext(mk, b), 0);
  core.store64(sidePrev(mk, b), 0);
  core.store64(sideState(mk, b), BS_NONE);
}

export const blockState = (mk: Mk, core: Core, b: number): number => core.load64(sideState(mk, b));
export const setBlockState = (mk: Mk, core: Core, b: number, s: number): void => core.store64(sideState(mk, b), s);
/** First block of the next run in the same list, or -1. */
export const blockListNext = (mk: Mk, core: Core, b: number): number => core.load64(sideNext(mk, b)) - 1;
export const bucketHead = (mk: Mk, n: number): Addr => mk.dram.bucketHeads + 8 * n;
export const reclaimHead = (mk: Mk, granules: number): Addr => mk.dram.reclaimHeads + 8 * granules;

/** Link a free run into its bucket (DRAM only) and record its last block. */
export function linkFreeRun(mk: Mk, core: Core, b: number, blocks: number, bucket: number): void {
  blockListPush(mk, core, bucketHead(mk, bucket), b, BS_FREE_LIST);
  core.store64(sideEndOwner(mk, b + blocks - 1), b + 1);
}

export function unlinkFreeRun(mk: Mk, core: Core, b: number, blocks: number, bucket: number): void {
  blockListUnlink(mk, core, bucketHead(mk, bucket), b);
  core.store64(sideEndOwner(mk, b + blocks - 1), 0);
}

/** First block of the listed free run ending just before block b, or -1 (MAK_free_block_ending_at). */
export function freeRunEndingAt(mk: Mk, core: Core, b: number): number {
  if (b === 0) return -1;
  const owner = core.load64(sideEndOwner(mk, b - 1));
  if (owner === 0) return -1;
  return core.load64(sideState(mk, owner - 1)) === BS_FREE_LIST ? owner - 1 : -1;
}
