/**
 * Block headers (tier 1) and the header index (tier 2).
 *
 * Model: a header is allocated from the free-header list (head in DRAM, linked through
 * the headers; rebuilt at open from headers whose block field is 0) or else from the persistent header bump pointer.
 * Inside a section the bump pointer was logged by the caller (Makalu logs
 * MAK_hdr_free_ptr first); a header taken from the free list logs its block field,
 * so an undone section leaves it free. Removing a header zeroes its size and (logged)
 * block field. The header index maps each heap block to its header (first block of a
 * run), a forwarding count (interior block of an allocated large object) or 0; it is
 * written in place and queued in the aflush table (no fence), so it is untrusted after
 * a crash and rebuilt from the headers.
 *
 * Invariants: a header is in use iff its block field is non-zero; the index word of
 * a run's first block is that run's header.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { invariant } from '../../sim/errors.ts';
import { AFLUSH_SLOTS, type Mk } from './context.ts';
import { tableAdd } from './flush-table.ts';
import { H_BLOCK, H_MARKS, H_NEXT, H_NMARKS, H_SIZE, HEADER_BYTES, MARK_BITS_PER_WORD, MARK_WORDS, MAX_JUMP, SB_HDR_BUMP, blockAddr, indexAddr } from './layout.ts';
import { logWord, storeLogged, storeNoLog } from './undo-log.ts';

export function setIndex(mk: Mk, core: Core, b: number, value: number): void {
  const a = indexAddr(mk.nv, b);
  core.store64(a, value);
  tableAdd(core, { base: mk.dram.aflush, slots: AFLUSH_SLOTS }, a);
}

export function loadIndex(mk: Mk, core: Core, b: number): number {
  return core.load64(indexAddr(mk.nv, b));
}

/** Header of the run starting at block b (0 if b starts no run). */
export function headerAt(mk: Mk, core: Core, b: number): Addr {
  const v = loadIndex(mk, core, b);
  return v >= mk.nv.headers ? v : 0;
}

/** Link a free header onto the free-header list (head in DRAM, link in the header). */
export function pushFreeHeader(mk: Mk, core: Core, h: Addr): void {
  core.store64(h + H_NEXT, core.load64(mk.dram.hdrFree));
  core.store64(mk.dram.hdrFree, h);
}

/** alloc_hdr + install_header, inside a section whose caller logged the bump pointer. */
export function installHeader(mk: Mk, core: Core, b: number): Addr {
  let h: Addr = core.load64(mk.dram.hdrFree);
  if (h !== 0) {
    core.store64(mk.dram.hdrFree, core.load64(h + H_NEXT));
    core.store64(h + H_NEXT, 0);
    logWord(mk, core, h + H_BLOCK);
  } else {
    const bumpAddr = mk.nv.superblock + SB_HDR_BUMP;
    h = core.load64(bumpAddr);
    invariant(h + HEADER_BYTES <= mk.nv.headers + mk.nv.headerCapacity * HEADER_BYTES, 'makalu: header space exhausted');
    storeNoLog(mk, core, bumpAddr, h + HEADER_BYTES);
  }
  storeNoLog(mk, core, h + H_BLOCK, blockAddr(mk.nv, b));
  setIndex(mk, core, b, h);
  return h;
}

/**
 * MAK_remove_header: size 0 (unlogged), block 0 (logged), onto the free-header list
 * (its link written lazily: MAK_STORE_NVM_ASYNC through the aflush table), index nil.
 */
export function removeHeader(mk: Mk, core: Core, h: Addr, b: number): void {
  storeNoLog(mk, core, h + H_SIZE, 0);
  storeLogged(mk, core, h + H_BLOCK, 0);
  pushFreeHeader(mk, core, h);
  tableAdd(core, { base: mk.dram.aflush, slots: AFLUSH_SLOTS }, h + H_NEXT);
  setIndex(mk, core, b, 0);
}

/** Forwarding counts for the interior blocks of an allocated large run (install_counts). */
export function installCounts(mk: Mk, core: Core, b: number, blocks: number): void {
  for (let i = 1; i < blocks; i++) setIndex(mk, core, b + i, Math.min(i, MAX_JUMP));
}

export function removeCounts(mk: Mk, core: Core, b: number, blocks: number): void {
  for (let i = 1; i < blocks; i++) setIndex(mk, core, b + i, 0);
}

/** Clear the mark bits and count of a header (plain stores: tier 2, MAK_clear_hdr_marks). */
export function clearMarks(core: Core, h: Addr): void {
  for (let i = 0; i < MARK_WORDS; i++) core.store64(h + H_MARKS + 8 * i, 0);
  core.store64(h + H_NMARKS, 0);
}

/** Address of the mark word holding slot `slot` (its bit: slot % MARK_BITS_PER_WORD). */
export const markWordAddr = (h: Addr, slot: number): Addr => h + H_MARKS + 8 * Math.floor(slot / MARK_BITS_PER_WORD);

/** 2^i for i = 0..52 (exact doubles; a table lookup instead of a pow in hot loops). */
export const POW2: Float64Array = Float64Array.from({ length: 53 }, (_, i) => 2 ** i);
const TWO_32 = 0x1_0000_0000;

/** Bit `bit` (0..52) of a word (an integer in [0, 2^53)), by integer shifts on its two halves. */
export const bitOf = (word: number, bit: number): number =>
  bit < 32 ? (word >>> bit) & 1 : (Math.floor(word / TWO_32) >>> (bit - 32)) & 1;

export function testMark(core: Core, h: Addr, slot: number): boolean {
  return bitOf(core.load64(markWordAddr(h, slot)), slot % MARK_BITS_PER_WORD) === 1;
}

/** Set (value 1) or clear (0) a mark bit with a charged load and store; returns whether it changed. */
export function writeMark(core: Core, h: Addr, slot: number, value: 0 | 1): boolean {
  const addr = markWordAddr(h, slot);
  const bit = slot % MARK_BITS_PER_WORD;
  const w = core.load64(addr);
  const cur = bitOf(w, bit);
  if (cur === value) return false;
  core.store64(addr, value === 1 ? w + POW2[bit] : w - POW2[bit]);
  return true;
}

/** The mark word value with the low `n` bits set. */
export const onesWord = (n: number): number => POW2[n] - 1;

/** Set the marks of slots 0..objects-1 (all allocated or listed) and the count. */
export function setAllMarks(core: Core, h: Addr, objects: number): void {
  for (let i = 0; i < MARK_WORDS; i++) {
    const n = Math.max(0, Math.min(MARK_BITS_PER_WORD, objects - i * MARK_BITS_PER_WORD));
    core.store64(h + H_MARKS + 8 * i, onesWord(n));
  }
  core.store64(h + H_NMARKS, objects);
}
