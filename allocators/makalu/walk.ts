/**
 * Uncharged heap walk and consistency check (for the crash checkers and tests).
 *
 * Model: walks the runs through the header index from block 0 to the heap size.
 * Allocated extents: large objects in use, and small objects whose allocation bit is
 * 1 and that sit in no DRAM list. Free extents: free runs, small slots with bit 0 or
 * in a DRAM list, the unused slack at a block's end is omitted, and the ungrown heap
 * tail. The consistency check verifies the superblock, that runs tile the heap, that
 * every header names its own block, that no two free runs are adjacent, that the free
 * bytes match the bookkeeping, that mark counts match the bits, that header and bump
 * pointers are in range, that no log entry carries the current version, and that the
 * DRAM lists agree with the headers (check-volatile.ts).
 *
 * Invariants: read-only; uses only MemoryReader peeks.
 */
import type { Addr, MemoryReader } from '../../sim/api.ts';
import type { ConsistencyReport, Extent, HeapWalk } from '../contract.ts';
import type { Mk } from './context.ts';
import { bitOf } from './block-headers.ts';
import { IN_LIST_STRIDE_BYTES } from './context.ts';
import {
  BLOCK_BYTES, FLAG_FREE, FLAG_LARGE, GRANULE_BYTES, H_BLOCK, H_FLAGS, H_GRANULES, H_MARKS, H_NMARKS, MARK_BITS_PER_WORD, H_SIZE, HEADER_BYTES, MAGIC, SB_HDR_BUMP,
  SB_HEAP_SIZE, SB_LARGE_FREE, SB_MAGIC, blockAddr, indexAddr, isHeaderWord,
} from './layout.ts';
import { objectsPerBlock } from './size-classes.ts';
import { pendingEntries } from './undo-log.ts';
import { checkVolatile } from './check-volatile.ts';

interface Run {
  b: number;
  h: Addr;
  blocks: number;
  free: boolean;
  granules: number;
  sizeBytes: number;
}

function runs(mk: Mk, r: MemoryReader, errors?: string[]): Run[] {
  const out: Run[] = [];
  const n = r.peek64(mk.nv.superblock + SB_HEAP_SIZE) / BLOCK_BYTES;
  for (let b = 0; b < n;) {
    const h = r.peek64(indexAddr(mk.nv, b));
    if (!isHeaderWord(mk.nv, h)) {
      errors?.push(`block ${b} (0x${blockAddr(mk.nv, b).toString(16)}) starts no run: index word ${h}`);
      b++;
      continue;
    }
    const flags = r.peek64(h + H_FLAGS);
    const free = (flags & FLAG_FREE) !== 0;
    const sizeBytes = r.peek64(h + H_SIZE);
    const granules = free || (flags & FLAG_LARGE) !== 0 ? 0 : r.peek64(h + H_GRANULES);
    const blocks = granules > 0 ? 1 : Math.max(1, Math.ceil(sizeBytes / BLOCK_BYTES));
    out.push({ b, h, blocks, free, granules, sizeBytes });
    b += blocks;
  }
  return out;
}

/**
 * Calls visit(slot, live) for each object slot of a small run: live iff its allocation
 * bit is 1 and its DRAM "listed" bit is 0. Mark and listed words are peeked once per 48
 * slots (the listed word only when some slot of it has its allocation bit set).
 */
function forEachSlot(mk: Mk, r: MemoryReader, run: Run, visit: (slot: number, live: boolean) => void): void {
  const objects = objectsPerBlock(run.granules);
  const inFl = mk.dram.inFreeList + IN_LIST_STRIDE_BYTES * run.b;
  let markW = 0;
  let listW = 0;
  let listLoaded = false;
  for (let s = 0; s < objects; s++) {
    const bit = s % MARK_BITS_PER_WORD;
    const wi = (s - bit) / MARK_BITS_PER_WORD;
    if (bit === 0) {
      markW = r.peek64(run.h + H_MARKS + 8 * wi);
      listLoaded = false;
    }
    let live = false;
    if (bitOf(markW, bit) === 1) {
      if (!listLoaded) {
        listW = r.peek64(inFl + 8 * wi);
        listLoaded = true;
      }
      live = bitOf(listW, bit) === 0;
    }
    visit(s, live);
  }
}

export function walkMakalu(mk: Mk, r: MemoryReader): HeapWalk {
  const allocated: Extent[] = [];
  const free: Extent[] = [];
  const heapBlocks = r.peek64(mk.nv.superblock + SB_HEAP_SIZE) / BLOCK_BYTES;
  for (const run of runs(mk, r)) {
    const start = blockAddr(mk.nv, run.b);
    if (run.free) free.push({ addr: start, sizeBytes: run.blocks * BLOCK_BYTES });
    else if (run.granules === 0) allocated.push({ addr: start, sizeBytes: run.sizeBytes });
    else {
      // Each live slot is an allocated extent; consecutive free slots are one free extent
      // (the crash checker walks every state's heap: one object per free slot adds up).
      const objBytes = run.granules * GRANULE_BYTES;
      let freeFrom = -1;
      forEachSlot(mk, r, run, (slot, live) => {
        if (!live) {
          if (freeFrom < 0) freeFrom = slot;
          return;
        }
        if (freeFrom >= 0) free.push({ addr: start + freeFrom * objBytes, sizeBytes: (slot - freeFrom) * objBytes });
        freeFrom = -1;
        allocated.push({ addr: start + slot * objBytes, sizeBytes: objBytes });
      });
      const slots = objectsPerBlock(run.granules);
      if (freeFrom >= 0) free.push({ addr: start + freeFrom * objBytes, sizeBytes: (slots - freeFrom) * objBytes });
    }
  }
  if (heapBlocks < mk.nv.maxBlocks) free.push({ addr: blockAddr(mk.nv, heapBlocks), sizeBytes: (mk.nv.maxBlocks - heapBlocks) * BLOCK_BYTES });
  return { allocated, free };
}

export function checkMakalu(mk: Mk, r: MemoryReader): ConsistencyReport {
  const errors: string[] = [];
  const sb = mk.nv.superblock;
  if (r.peek64(sb + SB_MAGIC) !== MAGIC) return { ok: false, errors: [`superblock 0x${sb.toString(16)}: bad magic`] };
  const heapBytes = r.peek64(sb + SB_HEAP_SIZE);
  if (heapBytes % BLOCK_BYTES !== 0 || heapBytes > mk.nv.maxBlocks * BLOCK_BYTES) errors.push(`superblock: heap size ${heapBytes} not a block multiple within ${mk.nv.maxBlocks} blocks`);
  const bump = r.peek64(sb + SB_HDR_BUMP);
  if (bump < mk.nv.headers || bump > mk.nv.headers + mk.nv.headerCapacity * HEADER_BYTES || (bump - mk.nv.headers) % HEADER_BYTES !== 0) {
    errors.push(`superblock: header bump pointer 0x${bump.toString(16)} outside the header space`);
  }
  const all = runs(mk, r, errors);
  let freeBytes = 0;
  let freeRuns = 0;
  let prevFree = false;
  for (const run of all) {
    const at = `run at block ${run.b} (0x${blockAddr(mk.nv, run.b).toString(16)}, header 0x${run.h.toString(16)})`;
    if (r.peek64(run.h + H_BLOCK) !== blockAddr(mk.nv, run.b)) errors.push(`${at}: header names block 0x${r.peek64(run.h + H_BLOCK).toString(16)}`);
    if (run.h >= bump) errors.push(`${at}: header beyond the bump pointer`);
    if (run.free) {
      if (prevFree) errors.push(`${at}: free run adjacent to another free run (not coalesced)`);
      if (run.sizeBytes % BLOCK_BYTES !== 0) errors.push(`${at}: free run size ${run.sizeBytes} not a block multiple`);
      freeBytes += run.blocks * BLOCK_BYTES;
      freeRuns++;
    } else if (run.granules > 0) {
      checkMarkCount(run, r, at, errors);
    }
    prevFree = run.free;
    if (run.b + run.blocks > heapBytes / BLOCK_BYTES) errors.push(`${at}: run of ${run.blocks} blocks runs past the heap end`);
  }
  const lfb = r.peek64(sb + SB_LARGE_FREE);
  if (lfb !== freeBytes) errors.push(`superblock: large free bytes ${lfb} but free runs hold ${freeBytes}`);
  checkVolatile(mk, r, errors, freeRuns);
  const pending = pendingEntries(mk, (a) => r.peek64(a));
  if (pending !== 0) errors.push(`undo log 0x${mk.nv.log.toString(16)}: ${pending} entries carry the current version outside a section`);
  return { ok: errors.length === 0, errors };
}

function checkMarkCount(run: Run, r: MemoryReader, at: string, errors: string[]): void {
  let bits = 0;
  const objects = objectsPerBlock(run.granules);
  let markW = 0;
  for (let s = 0; s < objects; s++) {
    const bit = s % MARK_BITS_PER_WORD;
    if (bit === 0) markW = r.peek64(run.h + H_MARKS + 8 * ((s - bit) / MARK_BITS_PER_WORD));
    bits += bitOf(markW, bit);
  }
  const count = r.peek64(run.h + H_NMARKS);
  if (count !== bits) errors.push(`${at}: allocation count ${count} but ${bits} bits set`);
}
