/**
 * Uncharged consistency check of the tier-3 (DRAM) structures against the headers.
 *
 * Model: every free run is linked in exactly the bucket its size maps to, and every
 * linked block starts a free run; every reclaim-list block is an in-use small block of
 * that class; every pointer in a thread-local or global object list is an object slot
 * of a small block of that class whose allocation bit and "listed" bit are both set.
 *
 * Invariants: read-only (MemoryReader peeks only).
 */
import type { Addr, MemoryReader } from '../../sim/api.ts';
import { type ListRef, type Mk, sideNext } from './context.ts';
import { bitOf, markWordAddr } from './block-headers.ts';
import { peekListed } from './free-lists.ts';
import { BLOCK_BYTES, FLAG_FREE, FLAG_LARGE, GRANULE_BYTES, H_FLAGS, H_GRANULES, H_SIZE, MARK_BITS_PER_WORD, MAX_SMALL_GRANULES, N_HBLK_FLS, SB_HEAP_SIZE, indexAddr, isHeaderWord } from './layout.ts';
import { bucketOf, objectsPerBlock } from './size-classes.ts';

interface BlockView {
  h: Addr;
  free: boolean;
  granules: number;
  blocks: number;
}

/** One object for every view result (the crash checker runs this for every state): callers read it before the next view. */
const VIEW: BlockView = { h: 0, free: false, granules: 0, blocks: 0 };

function view(mk: Mk, r: MemoryReader, b: number): Readonly<BlockView> | undefined {
  const h = r.peek64(indexAddr(mk.nv, b));
  if (!isHeaderWord(mk.nv, h)) return undefined;
  const flags = r.peek64(h + H_FLAGS);
  const free = (flags & FLAG_FREE) !== 0;
  const granules = free || (flags & FLAG_LARGE) !== 0 ? 0 : r.peek64(h + H_GRANULES);
  VIEW.h = h;
  VIEW.free = free;
  VIEW.granules = granules;
  VIEW.blocks = granules > 0 ? 1 : Math.ceil(r.peek64(h + H_SIZE) / BLOCK_BYTES);
  return VIEW;
}

/** First block linked from `head` through the side words (or -1 when the list is empty). */
function firstLinked(r: MemoryReader, head: Addr): number {
  return r.peek64(head) - 1;
}

/** Block after b in its list (or -1 at the end). */
function nextLinked(mk: Mk, r: MemoryReader, b: number): number {
  return r.peek64(sideNext(mk, b)) - 1;
}

/** Free runs found walking the runs from block 0 (the same walk as walk.ts). */
function countFreeRuns(mk: Mk, r: MemoryReader, heapBlocks: number): number {
  let freeRuns = 0;
  for (let b = 0; b < heapBlocks;) {
    const v = view(mk, r, b);
    if (v === undefined) { b++; continue; }
    if (v.free) freeRuns++;
    b += Math.max(1, v.blocks);
  }
  return freeRuns;
}

/**
 * @param freeRunsSeen the free runs a caller already counted on the same walk of the
 *   runs (walk.ts), so the blocks are not walked twice; counted here when absent.
 */
export function checkVolatile(mk: Mk, r: MemoryReader, errors: string[], freeRunsSeen?: number): void {
  const heapBlocks = r.peek64(mk.nv.superblock + SB_HEAP_SIZE) / BLOCK_BYTES;
  const freeRuns = freeRunsSeen ?? countFreeRuns(mk, r, heapBlocks);
  // Plain loops, no callback per list: the crash checker runs this for every state.
  // A list is followed for at most heapBlocks + 1 links (a cycle stops it).
  let listed = 0;
  for (let n = 0; n <= N_HBLK_FLS; n++) {
    for (let b = firstLinked(r, mk.dram.bucketHeads + 8 * n), k = 0; b >= 0 && k <= heapBlocks; b = nextLinked(mk, r, b), k++) {
      listed++;
      const v = view(mk, r, b);
      if (v === undefined || !v.free) errors.push(`block free list ${n}: block ${b} does not start a free run`);
      else if (bucketOf(v.blocks) !== n) errors.push(`block free list ${n}: run at block ${b} of ${v.blocks} blocks belongs in bucket ${bucketOf(v.blocks)}`);
    }
  }
  if (listed !== freeRuns) errors.push(`block free lists hold ${listed} runs but the headers show ${freeRuns} free runs`);
  for (let g = 1; g <= MAX_SMALL_GRANULES; g++) {
    for (let b = firstLinked(r, mk.dram.reclaimHeads + 8 * g), k = 0; b >= 0 && k <= heapBlocks; b = nextLinked(mk, r, b), k++) {
      const v = view(mk, r, b);
      if (v === undefined || v.free || v.granules !== g) errors.push(`reclaim list ${g}: block ${b} is not an in-use block of ${g}-granule objects`);
    }
  }
  const tl = mk.dram.tlLists;
  for (let core = 0; core < tl.length; core++) {
    for (let g = 1; g < tl[core].length; g++) checkList(mk, r, tl[core][g], g, 'core', core, errors);
  }
  for (const [g, l] of mk.dram.globalLists) checkList(mk, r, l, g, 'global', -1, errors);
}

function listName(kind: 'core' | 'global', core: number, g: number): string {
  return kind === 'core' ? `core ${core} thread list ${g}` : `global list ${g}`;
}

/** Checks one object list; `core` names a thread list's core (kind 'core') in messages. */
function checkList(mk: Mk, r: MemoryReader, l: ListRef, g: number, kind: 'core' | 'global', core: number, errors: string[]): void {
  const count = r.peek64(l.addr);
  const start = r.peek64(l.addr + 8);
  if (count > l.capacity) { errors.push(`${listName(kind, core, g)}: count ${count} exceeds capacity ${l.capacity}`); return; }
  const objBytes = g * GRANULE_BYTES;
  let peek: ((a: Addr) => number) | undefined;
  for (let i = 0; i < count; i++) {
    const p = r.peek64(l.addr + 16 + 8 * ((start + i) % l.capacity));
    const b = Math.floor((p - mk.nv.heapStart) / BLOCK_BYTES);
    const v = b >= 0 ? view(mk, r, b) : undefined;
    const off = p - mk.nv.heapStart - b * BLOCK_BYTES;
    if (v === undefined || v.free || v.granules !== g || off % objBytes !== 0 || off / objBytes >= objectsPerBlock(g)) {
      errors.push(`${listName(kind, core, g)}: 0x${p.toString(16)} is not a ${objBytes} B object slot`);
      continue;
    }
    const slot = off / objBytes;
    if (bitOf(r.peek64(markWordAddr(v.h, slot)), slot % MARK_BITS_PER_WORD) !== 1 || !peekListed(mk, (peek ??= (a) => r.peek64(a)), p, objBytes)) errors.push(`${listName(kind, core, g)}: 0x${p.toString(16)} lacks its allocation or listed bit`);
  }
}
