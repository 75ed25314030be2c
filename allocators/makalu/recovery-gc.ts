/**
 * Open: clean restart, or crash recovery with the recovery-time garbage collector.
 *
 * Model (makalu_init.c, makalu_mark.c, makalu_reclaim.c):
 *  clean restart (state word clean): rebuild the DRAM lists from the trusted headers,
 *    index and allocation bits: free runs into block free lists, small blocks at most
 *    7/8 full into reclaim lists. No mark phase.
 *  recovery (state word dirty): (1) replay the undo log in reverse for entries of the
 *    current version; (2) rebuild the header index by scanning every header (a header
 *    nested inside another run is stale and is released); (3) clear all allocation bits,
 *    then mark conservatively from the 512 roots only: a word is a pointer iff it lies
 *    in the heap, its block has a header that is not free, and it is the start of an
 *    object slot; marked objects are scanned word by word (DRAM mark stack with
 *    overflow rescans); (4) sweep: free small blocks with no marks and unmarked large
 *    objects (one logged section each, coalescing), queue surviving bits for flushing;
 *    free slots inside surviving blocks are swept lazily when the block is next used.
 * Every step runs on the opening core, so its cycles are real.
 *
 * Invariants: after open the DRAM lists match the headers; recovery is idempotent
 * (a crash during recovery leaves a dirty heap that recovers again).
 */
import type { Addr, Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import type { RecoveryStats } from '../contract.ts';
import { MisuseError } from '../../sim/errors.ts';
import { AFLUSH_SLOTS, BS_FLOATING, BS_RECLAIM, FL_AFLUSH_SLOTS, LOCAL_AFLUSH_SLOTS, type Mk } from './context.ts';
import { clearMarks, headerAt, installCounts, markWordAddr, pushFreeHeader, setIndex, testMark, writeMark } from './block-headers.ts';
import { tableAdd, tableFlushAll } from './flush-table.ts';
import { blockListPush, linkFreeRun, reclaimHead, setBlockState } from './free-lists.ts';
import { blocksOfBytes, freeBlocks, heapBlocks } from './large.ts';
import {
  BLOCK_BYTES, FLAG_FREE, FLAG_LARGE, GRANULE_BYTES, H_BLOCK, H_FLAGS, H_GRANULES, H_NMARKS, H_SIZE, HEADER_BYTES,
  ROOT_COUNT, SB_HDR_BUMP, blockAddr, indexAddr,
} from './layout.ts';
import { bucketOf, nearlyFullThreshold, objectsPerBlock } from './size-classes.ts';
import { beginSection, endSection, replayLog } from './undo-log.ts';
import { MAKALU_INSTRUCTIONS as I } from './path-lengths.ts';

const S_REPLAY = siteId('makalu:recover-replay');
const S_SCAN = siteId('makalu:recover-header-scan');
const S_MARK = siteId('makalu:recover-mark');
const S_SWEEP = siteId('makalu:recover-sweep');

interface RunInfo {
  blocks: number;
  free: boolean;
  granules: number;
}

/** One object for every runInfo result (host speed): callers copy the fields out at once. */
const RUN: RunInfo = { blocks: 0, free: false, granules: 0 };

/** The run whose header is h (charged loads: flags, then granules or size as needed). */
function runInfo(core: Core, h: Addr): Readonly<RunInfo> {
  const flags = core.load64(h + H_FLAGS);
  const free = (flags & FLAG_FREE) !== 0;
  const granules = free || (flags & FLAG_LARGE) !== 0 ? 0 : core.load64(h + H_GRANULES);
  RUN.blocks = free || granules === 0 ? blocksOfBytes(core.load64(h + H_SIZE)) : 1;
  RUN.free = free;
  RUN.granules = granules;
  return RUN;
}

/** Free-header list rebuild: every header below the bump pointer with block 0 is free. */
function rebuildHeaderStack(mk: Mk, core: Core): number {
  const bump = core.load64(mk.nv.superblock + SB_HDR_BUMP);
  core.store64(mk.dram.hdrFree, 0);
  let scanned = 0;
  for (let h = mk.nv.headers; h < bump; h += HEADER_BYTES, scanned++) {
    if (core.load64(h + H_BLOCK) === 0) pushFreeHeader(mk, core, h);
  }
  return scanned;
}

/** Clean restart: DRAM lists from trusted metadata. Returns the heap blocks covered. */
export function cleanRestart(mk: Mk, core: Core): number {
  rebuildHeaderStack(mk, core);
  const n = heapBlocks(mk, core);
  for (let b = 0; b < n;) {
    const h = headerAt(mk, core, b);
    if (h === 0) { b++; continue; }
    const { free, blocks, granules } = runInfo(core, h);
    if (free) linkFreeRun(mk, core, b, blocks, bucketOf(blocks));
    else if (granules > 0) placeSmallBlock(mk, core, b, granules, core.load64(h + H_NMARKS));
    b += blocks;
  }
  return n;
}

function placeSmallBlock(mk: Mk, core: Core, b: number, granules: number, count: number): void {
  if (count <= nearlyFullThreshold(granules)) blockListPush(mk, core, reclaimHead(mk, granules), b, BS_RECLAIM);
  else setBlockState(mk, core, b, BS_FLOATING);
}

export function recover(mk: Mk, core: Core): RecoveryStats {
  const site = core.setSite(S_REPLAY);
  const t0 = core.clockCycles;
  const logEntriesReplayed = mk.variant.skipLogReplay ? 0 : replayLog(mk, core);
  const t1 = core.clockCycles;
  core.setSite(S_SCAN);
  const blocksScanned = rebuildIndex(mk, core);
  core.instructions(I.recoveryPerBlock * blocksScanned);
  const t2 = core.clockCycles;
  core.setSite(S_MARK);
  const objectsMarked = markFromRoots(mk, core);
  core.instructions(I.recoveryPerObject * objectsMarked);
  const t3 = core.clockCycles;
  core.setSite(S_SWEEP);
  const blocksFreed = sweep(mk, core);
  for (const t of allTables(mk)) tableFlushAll(core, t);
  const t4 = core.clockCycles;
  core.setSite(site);
  return {
    kind: 'recovered', cycles: t4 - t0, logEntriesReplayed, objectsMarked, blocksScanned, blocksFreed,
    extra: { logReplayCycles: t1 - t0, headerScanCycles: t2 - t1, markCycles: t3 - t2, sweepCycles: t4 - t3 },
  };
}

export function allTables(mk: Mk): { base: Addr; slots: number }[] {
  return [
    { base: mk.dram.aflush, slots: AFLUSH_SLOTS },
    { base: mk.dram.flAflush, slots: FL_AFLUSH_SLOTS },
    ...mk.dram.localAflush.map((base) => ({ base, slots: LOCAL_AFLUSH_SLOTS })),
  ];
}

/** Step 2: clear the index, install every in-use header, walk runs fixing interior words. Returns heap blocks. */
function rebuildIndex(mk: Mk, core: Core): number {
  const n = heapBlocks(mk, core);
  for (let b = 0; b < n; b++) core.store64(indexAddr(mk.nv, b), 0);
  rebuildHeaderStack(mk, core);
  const bump = core.load64(mk.nv.superblock + SB_HDR_BUMP);
  for (let h = mk.nv.headers; h < bump; h += HEADER_BYTES) {
    const blk = core.load64(h + H_BLOCK);
    if (blk === 0) continue;
    const b = (blk - mk.nv.heapStart) / BLOCK_BYTES;
    if (!Number.isInteger(b) || b < 0 || b >= n || headerAt(mk, core, b) !== 0) releaseHeader(mk, core, h);
    else setIndex(mk, core, b, h);
  }
  for (let b = 0; b < n;) {
    const h = headerAt(mk, core, b);
    if (h === 0) { b++; continue; }
    const { free, blocks, granules } = runInfo(core, h);
    for (let i = 1; i < blocks && b + i < n; i++) {
      const stale = headerAt(mk, core, b + i);
      if (stale !== 0) releaseHeader(mk, core, stale);
    }
    if (!free && granules === 0) installCounts(mk, core, b, blocks);
    else for (let i = 1; i < blocks && b + i < n; i++) setIndex(mk, core, b + i, 0);
    b += blocks;
  }
  return n;
}

/** A header left by an undone section: block field 0 (durably), back to the free-header list. */
function releaseHeader(mk: Mk, core: Core, h: Addr): void {
  core.store64(h + H_BLOCK, 0);
  core.clflush(h);
  pushFreeHeader(mk, core, h);
}

/** Step 3: clear all bits, then mark from the roots. Returns objects marked. */
function markFromRoots(mk: Mk, core: Core): number {
  const n = heapBlocks(mk, core);
  for (let b = 0; b < n;) {
    const h = headerAt(mk, core, b);
    if (h === 0) { b++; continue; }
    const { free, blocks, granules } = runInfo(core, h);
    if (!free) clearMarks(core, h);
    b += blocks;
  }
  const m = { marked: 0, sp: 0, overflow: false };
  for (let i = 0; i < ROOT_COUNT; i++) markWord(mk, core, scanWord(core, mk.nv.roots + 8 * i), m, n);
  for (;;) {
    drain(mk, core, m, n);
    if (!m.overflow) break;
    m.overflow = false;
    rescanMarked(mk, core, m, n);
  }
  return m.marked;
}

interface MarkState { marked: number; sp: number; overflow: boolean }

/**
 * A word read while scanning conservatively. A word >= 2^53 (composed by narrower
 * stores) cannot be loaded as a number; it is no heap address, so it counts as 0.
 */
function scanWord(core: Core, addr: Addr): number {
  try {
    return core.load64(addr);
  } catch (e) {
    if (e instanceof MisuseError && e.kind === 'bad-value') return 0;
    throw e;
  }
}

/** Conservative pointer test and mark; pushes newly marked objects. */
function markWord(mk: Mk, core: Core, v: number, m: MarkState, n: number): void {
  core.compute(1);
  if (v < mk.nv.heapStart || v >= mk.nv.heapStart + n * BLOCK_BYTES || v % GRANULE_BYTES !== 0) return;
  const b = Math.floor((v - mk.nv.heapStart) / BLOCK_BYTES);
  const h = headerAt(mk, core, b);
  if (h === 0) return;
  const { free, blocks, granules } = runInfo(core, h);
  if (free) return;
  const off = v - blockAddr(mk.nv, b);
  let slot = 0;
  let sizeBytes: number;
  if (granules > 0) {
    sizeBytes = granules * GRANULE_BYTES;
    if (off % sizeBytes !== 0 || off / sizeBytes >= objectsPerBlock(granules)) return;
    slot = off / sizeBytes;
  } else {
    if (off !== 0) return;
    sizeBytes = core.load64(h + H_SIZE);
  }
  if (!writeMark(core, h, slot, 1)) return;
  core.store64(h + H_NMARKS, core.load64(h + H_NMARKS) + 1);
  m.marked++;
  push(mk, core, m, v, sizeBytes);
}

function push(mk: Mk, core: Core, m: MarkState, addr: Addr, sizeBytes: number): void {
  if (m.sp >= mk.dram.markStackCapacity / 2) { m.overflow = true; return; }
  core.store64(mk.dram.markStack + 16 * m.sp, addr);
  core.store64(mk.dram.markStack + 16 * m.sp + 8, sizeBytes);
  m.sp++;
}

function drain(mk: Mk, core: Core, m: MarkState, n: number): void {
  while (m.sp > 0) {
    m.sp--;
    const addr = core.load64(mk.dram.markStack + 16 * m.sp);
    const size = core.load64(mk.dram.markStack + 16 * m.sp + 8);
    for (let off = 0; off + 8 <= size; off += 8) markWord(mk, core, scanWord(core, addr + off), m, n);
  }
}

/** After a mark-stack overflow: rescan every marked object's words (BDWGC style). */
function rescanMarked(mk: Mk, core: Core, m: MarkState, n: number): void {
  for (let b = 0; b < n;) {
    const h = headerAt(mk, core, b);
    if (h === 0) { b++; continue; }
    const { free, blocks, granules } = runInfo(core, h);
    if (!free) {
      const objects = granules > 0 ? objectsPerBlock(granules) : 1;
      const size = granules > 0 ? granules * GRANULE_BYTES : core.load64(h + H_SIZE);
      for (let s = 0; s < objects; s++) {
        if (!testMark(core, h, s)) continue;
        const addr = blockAddr(mk.nv, b) + s * size;
        for (let off = 0; off + 8 <= size; off += 8) markWord(mk, core, scanWord(core, addr + off), m, n);
        drain(mk, core, m, n);
      }
    }
    b += blocks;
  }
}

/** Step 4: free empty small blocks and unmarked large objects; list the rest. Returns runs freed. */
function sweep(mk: Mk, core: Core): number {
  const n = heapBlocks(mk, core);
  let freed = 0;
  for (let b = 0; b < n;) {
    const h = headerAt(mk, core, b);
    if (h === 0) { b++; continue; }
    const { free, blocks, granules } = runInfo(core, h);
    if (free) {
      linkFreeRun(mk, core, b, blocks, bucketOf(blocks));
      b += blocks;
      continue;
    }
    const count = core.load64(h + H_NMARKS);
    if (count === 0) {
      freed++;
      beginSection(mk, core);
      const [first, blocks] = freeBlocks(mk, core, b);
      endSection(mk, core);
      b = first + blocks;
      continue;
    }
    if (granules > 0) placeSmallBlock(mk, core, b, granules, count);
    queueMarks(mk, core, h);
    b += blocks;
  }
  return freed;
}

function queueMarks(mk: Mk, core: Core, h: Addr): void {
  tableAdd(core, { base: mk.dram.aflush, slots: AFLUSH_SLOTS }, markWordAddr(h, 0), 56);
}

