/**
 * Ralloc-style restart: clean restore, or recovery GC after a crash (dirty flag set).
 *
 * Model (Ralloc GarbageCollection, conservative filter): after a crash only the
 * persistent descriptor fields and the roots are trusted. (1) Reset the transient
 * heads (free-superblock list, partial lists, frontier). (2) Mark: every root word,
 * then every word of every marked object, is a pointer iff it points into a
 * superblock with a trusted descriptor at a block boundary (a large run: its start);
 * marks go to the DRAM mark bitmap, pending objects to a bounded DRAM mark
 * stack (on overflow the push is dropped and every marked object is rescanned until
 * no push is dropped, as in Boehm's collector). (3) Sweep every superblock: a trusted
 * small superblock gets a fresh free chain of its unmarked blocks, its anchor and a
 * partial-list entry; one with no marked block, an unmarked large run, or an
 * untrusted descriptor goes back to the free-superblock list (non-empty descriptors
 * cleared with clwb, one sfence at the end). The heap stays dirty, so nothing else is
 * flushed (Ralloc flushes its whole regions here; not needed for correctness). The
 * sweep clears every mark-bitmap word it reads, so the bitmap is zero again afterwards
 * (Ralloc's marked_blk set dies with the GarbageCollection object).
 * A clean restart trusts anchors, chains and lists and does no work of its own, as
 * Ralloc's BaseMeta::restart on a clean heap (BaseMeta.hpp:405-418: is_dirty, fence,
 * set_dirty; the caller charges the dirty flag).
 *
 * Invariants: all work goes through the opening core (cycles are real); the caller
 * rebuilds the uncharged misuse shadow (walk.ts rebuildShadow) after either path.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import type { RecoveryStats } from '../contract.ts';
import {
  D_ANCHOR, D_NEXT_FREE, LARGE_CLASS, ROOT_COUNT, SB_FULL, SB_PARTIAL, SB_SIZE_BYTES, T_AVAIL, T_FRONTIER, CLASS_COUNT,
  descTrusted, encodeAnchor, encodeHead, type DescFields,
} from './layout.ts';
import { clearDesc, loadDesc, pushPartial, type RallocCtx } from './superblocks.ts';
import { RALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_MARK = siteId('ralloc:recover-mark');
const S_SWEEP = siteId('ralloc:recover-sweep');

/** Load a word that may hold arbitrary user bits (>= 2^53): two 4-byte loads. */
function loadMaybePointer(core: Core, addr: Addr): number {
  const hi = core.load(addr + 4, 4);
  return hi === 0 ? core.load(addr, 4) : 0;
}

/** The block a conservative pointer designates, with its size, or undefined. */
function resolve(ctx: RallocCtx, core: Core, word: number): { addr: Addr; sizeBytes: number } | undefined {
  const sbIndex = ctx.layout.sbIndexOf(word);
  if (sbIndex < 0) return undefined;
  const d = loadDesc(core, ctx.layout, sbIndex);
  if (!descTrusted(ctx.layout, sbIndex, d)) return undefined;
  const offset = word - d.superblock;
  if (d.cls === LARGE_CLASS) return offset === 0 ? { addr: word, sizeBytes: d.blockSizeBytes } : undefined;
  if (offset % d.blockSizeBytes !== 0 || offset / d.blockSizeBytes >= d.maxCount) return undefined;
  return { addr: word, sizeBytes: d.blockSizeBytes };
}

class Marker {
  top = 0;
  dropped = false;
  marked = 0;
  constructor(private readonly ctx: RallocCtx, private readonly core: Core) {}

  consider(word: number): void {
    const b = resolve(this.ctx, this.core, word);
    if (b === undefined || this.ctx.dram.testMark(this.core, b.addr)) return;
    this.ctx.dram.setMark(this.core, b.addr);
    this.marked++;
    this.push(b.addr);
  }
  private push(addr: Addr): void {
    if (this.top === this.ctx.dram.markStackEntries) {
      this.dropped = true;
      return;
    }
    this.core.store64(this.ctx.dram.markStackBase + this.top * 8, addr);
    this.top++;
  }
  drain(): void {
    while (this.top > 0) {
      this.top--;
      this.scan(this.core.load64(this.ctx.dram.markStackBase + this.top * 8));
    }
  }
  scan(addr: Addr): void {
    const b = resolve(this.ctx, this.core, addr);
    if (b === undefined) return;
    for (let off = 0; off < b.sizeBytes; off += 8) this.consider(loadMaybePointer(this.core, addr + off));
  }
}

function markPhase(ctx: RallocCtx, core: Core): number {
  const m = new Marker(ctx, core);
  for (let i = 0; i < ROOT_COUNT; i++) m.consider(loadMaybePointer(core, ctx.layout.rootAddr(i)));
  m.drain();
  while (m.dropped) {
    m.dropped = false;
    rescanMarked(ctx, core, m);
  }
  return m.marked;
}

/** Overflow recovery: rescan every marked object, pushing children that are not yet marked. */
function rescanMarked(ctx: RallocCtx, core: Core, m: Marker): void {
  const { layout, dram } = ctx;
  for (let i = 0; i < layout.sbCount; i++) {
    const d = loadDesc(core, layout, i);
    if (!descTrusted(layout, i, d)) continue;
    const count = d.cls === LARGE_CLASS ? 1 : d.maxCount;
    for (let b = 0; b < count; b++) {
      const addr = d.superblock + b * d.blockSizeBytes;
      if (!dram.testMark(core, addr)) continue;
      m.scan(addr);
      m.drain();
    }
  }
}

interface SweepTotals {
  freedSuperblocks: number;
  freeBlocks: number;
}

/** Sweep one trusted small superblock; returns its free-block count (maxCount = empty). */
function sweepSmall(ctx: RallocCtx, core: Core, sbIndex: number, d: DescFields): number {
  let first = -1;
  let prevAddr = 0;
  let free = 0;
  let wordAddr = 0;
  let word = 0;
  for (let b = 0; b < d.maxCount; b++) {
    const addr = d.superblock + b * d.blockSizeBytes;
    const pos = ctx.dram.bitWord(addr);
    if (pos.wordAddr !== wordAddr) {
      wordAddr = pos.wordAddr; // one bitmap load per 32 granules, cleared once read
      word = core.load(wordAddr, 4);
      if (word !== 0) core.store(wordAddr, 4, 0);
    }
    if (((word & pos.mask) >>> 0) !== 0) continue;
    if (prevAddr !== 0) core.store64(prevAddr, addr);
    else first = b;
    prevAddr = addr;
    free++;
  }
  if (free === d.maxCount) return free;
  if (prevAddr !== 0) core.store64(prevAddr, 0);
  const anchorAddr = ctx.layout.descAddr(sbIndex) + D_ANCHOR;
  if (free === 0) {
    core.store64(anchorAddr, encodeAnchor({ avail: d.maxCount, count: 0, state: SB_FULL }));
  } else {
    core.store64(anchorAddr, encodeAnchor({ avail: first, count: free, state: SB_PARTIAL }));
    pushPartial(core, ctx.layout, d.cls - 1, sbIndex);
  }
  return free;
}

/** Sweep every superblock; rebuild anchors, chains, the partial and free-superblock lists and the frontier. */
function sweepPhase(ctx: RallocCtx, core: Core): SweepTotals {
  const { layout } = ctx;
  const totals: SweepTotals = { freedSuperblocks: 0, freeBlocks: 0 };
  let firstFree = -1;
  let lastFree = -1;
  let cut = -1; // last free superblock below the highest superblock in use
  let frontier = 0;
  const addFree = (i: number): void => {
    if (lastFree >= 0) core.store64(layout.descAddr(lastFree) + D_NEXT_FREE, i + 1);
    else firstFree = i;
    lastFree = i;
  };
  let i = 0;
  while (i < layout.sbCount) {
    const d = loadDesc(core, layout, i);
    const trusted = descTrusted(layout, i, d);
    if (trusted && d.cls === LARGE_CLASS && ctx.dram.testMark(core, d.superblock)) {
      const k = d.blockSizeBytes / SB_SIZE_BYTES;
      ctx.dram.clearMark(core, d.superblock);
      core.store64(layout.descAddr(i) + D_ANCHOR, encodeAnchor({ avail: 0, count: 0, state: SB_FULL }));
      cut = lastFree;
      i += k;
      frontier = i;
      continue;
    }
    if (trusted && d.cls !== LARGE_CLASS) {
      const free = sweepSmall(ctx, core, i, d);
      totals.freeBlocks += free;
      if (free < d.maxCount) {
        cut = lastFree;
        i++;
        frontier = i;
        continue;
      }
    }
    if (trusted) totals.freedSuperblocks++;
    if (d.superblock !== 0 || d.cls !== 0 || d.blockSizeBytes !== 0 || d.maxCount !== 0) clearDesc(core, layout, i, false);
    addFree(i);
    i++;
  }
  core.sfence();
  if (cut >= 0) core.store64(layout.descAddr(cut) + D_NEXT_FREE, 0);
  core.store64(layout.metaBase + T_AVAIL, encodeHead(cut >= 0 ? firstFree + 1 : 0, 0));
  core.store64(layout.metaBase + T_FRONTIER, frontier);
  return totals;
}

function resetTransientHeads(ctx: RallocCtx, core: Core): void {
  core.store64(ctx.layout.metaBase + T_AVAIL, 0);
  core.store64(ctx.layout.metaBase + T_FRONTIER, 0);
  for (let c = 0; c < CLASS_COUNT; c++) core.store64(ctx.layout.partialHeadAddr(c), 0);
}

/** Crash recovery: mark from the roots, sweep every superblock. */
export function recoverHeap(ctx: RallocCtx, core: Core): RecoveryStats {
  const t0 = core.clockCycles;
  const prev = core.setSite(S_MARK);
  resetTransientHeads(ctx, core);
  const marked = markPhase(ctx, core);
  core.instructions(I.recoveryPerObject * marked);
  const t1 = core.clockCycles;
  core.setSite(S_SWEEP);
  const totals = sweepPhase(ctx, core);
  core.instructions(I.recoveryPerBlock * ctx.layout.sbCount);
  const t2 = core.clockCycles;
  core.setSite(prev);
  return {
    kind: 'recovered',
    cycles: t2 - t0,
    logEntriesReplayed: 0,
    objectsMarked: marked,
    blocksScanned: ctx.layout.sbCount,
    blocksFreed: totals.freedSuperblocks,
    extra: { markCycles: t1 - t0, sweepCycles: t2 - t1, freeBlocksRebuilt: totals.freeBlocks },
  };
}

/** Clean restart: trust the metadata; nothing to rebuild (the caller sets the dirty flag). */
export function restoreClean(): RecoveryStats {
  return { kind: 'clean', cycles: 0, logEntriesReplayed: 0, objectsMarked: 0, blocksScanned: 0, blocksFreed: 0 };
}
