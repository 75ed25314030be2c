/**
 * Ralloc-style superblock management: descriptors, the free-superblock list, the
 * per-class partial lists and large runs.
 *
 * Model: the free-superblock list (Ralloc's avail_sb) and the partial lists are
 * lock-free stacks of descriptors with a counted head updated by cas64; the frontier
 * (first never-used superblock; Ralloc's region bump pointer) is bumped by cas64. All
 * of these sit in NVRAM but are transient: never flushed, rebuilt after a crash.
 * Assigning a superblock to a class (or to a large run) writes the persistent
 * descriptor fields and makes them durable with one clwb and one sfence BEFORE any
 * block of it is handed out; retiring an emptied superblock clears the descriptor the
 * same way (1 line, 1 fence). The broken variants skip the assignment flush and fence
 * (all of them, or only for large runs as the released Ralloc code does).
 * A large run that does not fit above the frontier takes the slow path: under a DRAM
 * lock, steal the free list, find k contiguous free superblocks, push the rest back
 * (Ralloc grows its heap file instead; nvlab heaps are bounded).
 *
 * Invariants: a superblock is in at most one of {free list, a partial list, a thread
 * cache, full}; a descriptor's persistent fields are durable while any block of its
 * superblock is handed out.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import type { RallocDram } from './dram.ts';
import { SB_IN_USE, SB_RETIRED, type RallocShadow } from './shadow.ts';
import {
  D_ANCHOR, D_BLOCK_SIZE, D_CLASS, D_MAX_COUNT, D_NEXT_FREE, D_NEXT_PARTIAL, D_SUPERBLOCK, LARGE_CLASS, SB_FULL, SB_SIZE_BYTES,
  T_AVAIL, T_FRONTIER, encodeAnchor, encodeHead, headCounter, headIndexPlus1, type DescFields, type RallocLayout,
} from './layout.ts';

const S_NEWSB = siteId('ralloc:new-superblock');
const S_RETIRE = siteId('ralloc:retire-superblock');
const S_LARGE = siteId('ralloc:large-run');

export type SkipDescFlush = 'never' | 'all' | 'large';

export interface RallocCtx {
  readonly layout: RallocLayout;
  readonly dram: RallocDram;
  /** Uncharged misuse-detection shadow (handed-out blocks, superblock states). */
  readonly shadow: RallocShadow;
  /**
   * Which descriptor assignments skip their clwb + sfence: 'never' (the model),
   * 'all' (the broken twin), 'large' (the released Ralloc code: its large-allocation
   * path flushes `&desc`, the local pointer variable, instead of the descriptor).
   */
  readonly skipDescFlush: SkipDescFlush;
}

export function loadDesc(core: Core, layout: RallocLayout, sbIndex: number): DescFields {
  const d = layout.descAddr(sbIndex);
  return {
    superblock: core.load64(d + D_SUPERBLOCK),
    cls: core.load64(d + D_CLASS),
    blockSizeBytes: core.load64(d + D_BLOCK_SIZE),
    maxCount: core.load64(d + D_MAX_COUNT),
  };
}

/** Write the persistent descriptor fields and the initial anchor; flush + fence (unless broken). */
export function assignDesc(ctx: RallocCtx, core: Core, sbIndex: number, f: DescFields, anchorWord: number): void {
  const d = ctx.layout.descAddr(sbIndex);
  core.store64(d + D_SUPERBLOCK, f.superblock);
  core.store64(d + D_CLASS, f.cls);
  core.store64(d + D_BLOCK_SIZE, f.blockSizeBytes);
  core.store64(d + D_MAX_COUNT, f.maxCount);
  core.store64(d + D_ANCHOR, anchorWord);
  const skip = ctx.skipDescFlush === 'all' || (ctx.skipDescFlush === 'large' && f.cls === LARGE_CLASS);
  if (!skip) {
    core.clwb(d);
    core.sfence();
  }
}

/** Clear a descriptor (persistent fields and anchor) durably: 1 line, 1 fence. */
export function clearDesc(core: Core, layout: RallocLayout, sbIndex: number, fence: boolean): void {
  const d = layout.descAddr(sbIndex);
  for (const off of [D_NEXT_PARTIAL, D_ANCHOR, D_SUPERBLOCK, D_CLASS, D_BLOCK_SIZE, D_MAX_COUNT]) core.store64(d + off, 0);
  core.clwb(d);
  if (fence) core.sfence();
}

// ---- free-superblock list and frontier ----

export function pushFree(core: Core, layout: RallocLayout, sbIndex: number): void {
  const headAddr = layout.metaBase + T_AVAIL;
  let old = core.load64(headAddr);
  for (;;) {
    core.store64(layout.descAddr(sbIndex) + D_NEXT_FREE, headIndexPlus1(old));
    if (core.cas64(headAddr, old, encodeHead(sbIndex + 1, headCounter(old) + 1))) return;
    old = core.load64(headAddr);
  }
}

function popFree(core: Core, layout: RallocLayout): number {
  const headAddr = layout.metaBase + T_AVAIL;
  for (;;) {
    const old = core.load64(headAddr);
    const top = headIndexPlus1(old);
    if (top === 0) return -1;
    const next = core.load64(layout.descAddr(top - 1) + D_NEXT_FREE);
    if (core.cas64(headAddr, old, encodeHead(next, headCounter(old)))) return top - 1;
  }
}

/** Bump the frontier by k superblocks; -1 when they do not fit. */
function bumpFrontier(core: Core, layout: RallocLayout, k: number): number {
  const addr = layout.metaBase + T_FRONTIER;
  for (;;) {
    const f = core.load64(addr);
    if (f + k > layout.sbCount) return -1;
    if (core.cas64(addr, f, f + k)) return f;
  }
}

/** A free superblock for a small class: the free list first, then the frontier. */
export function takeSuperblock(core: Core, layout: RallocLayout): number {
  const i = popFree(core, layout);
  return i >= 0 ? i : bumpFrontier(core, layout, 1);
}

// ---- partial lists ----

export function pushPartial(core: Core, layout: RallocLayout, cls: number, sbIndex: number): void {
  const headAddr = layout.partialHeadAddr(cls);
  let old = core.load64(headAddr);
  for (;;) {
    core.store64(layout.descAddr(sbIndex) + D_NEXT_PARTIAL, headIndexPlus1(old));
    if (core.cas64(headAddr, old, encodeHead(sbIndex + 1, headCounter(old) + 1))) return;
    old = core.load64(headAddr);
  }
}

export function popPartial(core: Core, layout: RallocLayout, cls: number): number {
  const headAddr = layout.partialHeadAddr(cls);
  for (;;) {
    const old = core.load64(headAddr);
    const top = headIndexPlus1(old);
    if (top === 0) return -1;
    const next = core.load64(layout.descAddr(top - 1) + D_NEXT_PARTIAL);
    if (core.cas64(headAddr, old, encodeHead(next, headCounter(old)))) return top - 1;
  }
}

// ---- assignment and retirement ----

/** Retire an emptied small superblock: clear its descriptor durably, push it on the free list. */
export function retireSmall(ctx: RallocCtx, core: Core, sbIndex: number): void {
  const prev = core.setSite(S_RETIRE);
  clearDesc(core, ctx.layout, sbIndex, true);
  ctx.shadow.setSbState(sbIndex, 1, SB_RETIRED);
  pushFree(core, ctx.layout, sbIndex);
  core.setSite(prev);
}

/**
 * Assign a fresh superblock to class cls (0-based): chain all its blocks through their
 * first words, then make the descriptor durable. Returns the superblock index or -1.
 */
export function newSmallSuperblock(ctx: RallocCtx, core: Core, cls: number, blockSizeBytes: number, maxCount: number): number {
  const prev = core.setSite(S_NEWSB);
  const sbIndex = takeSuperblock(core, ctx.layout);
  if (sbIndex >= 0) {
    const sb = ctx.layout.sbAddr(sbIndex);
    for (let i = 0; i < maxCount - 1; i++) core.store64(sb + i * blockSizeBytes, sb + (i + 1) * blockSizeBytes);
    core.store64(sb + (maxCount - 1) * blockSizeBytes, 0);
    const fields = { superblock: sb, cls: cls + 1, blockSizeBytes, maxCount };
    assignDesc(ctx, core, sbIndex, fields, encodeAnchor({ avail: maxCount, count: 0, state: SB_FULL }));
    ctx.shadow.setSbState(sbIndex, 1, SB_IN_USE);
  }
  core.setSite(prev);
  return sbIndex;
}

/** Allocate a run of k superblocks for one large block; returns its address or 0. */
export function allocLargeRun(ctx: RallocCtx, core: Core, k: number): Addr {
  const prev = core.setSite(S_LARGE);
  let sbIndex = bumpFrontier(core, ctx.layout, k);
  if (sbIndex < 0) sbIndex = slowRun(core, ctx, k);
  let addr = 0;
  if (sbIndex >= 0) {
    addr = ctx.layout.sbAddr(sbIndex);
    const fields = { superblock: addr, cls: LARGE_CLASS, blockSizeBytes: k * SB_SIZE_BYTES, maxCount: 1 };
    assignDesc(ctx, core, sbIndex, fields, encodeAnchor({ avail: 0, count: 0, state: SB_FULL }));
    ctx.shadow.setSbState(sbIndex, k, SB_IN_USE);
    ctx.shadow.handedOut.add(addr);
  }
  core.setSite(prev);
  return addr;
}

/** Free a large run: clear its descriptor durably, return its superblocks to the free list. */
export function freeLargeRun(ctx: RallocCtx, core: Core, sbIndex: number, k: number): void {
  const prev = core.setSite(S_LARGE);
  ctx.shadow.handedOut.delete(ctx.layout.sbAddr(sbIndex));
  clearDesc(core, ctx.layout, sbIndex, true);
  ctx.shadow.setSbState(sbIndex, k, SB_RETIRED);
  for (let i = k - 1; i >= 0; i--) pushFree(core, ctx.layout, sbIndex + i);
  core.setSite(prev);
}

/**
 * Slow path for a large run: steal the whole free list, mark its members in the DRAM
 * scratch bytes, find k contiguous free superblocks (those at or above the frontier
 * count as free), move the frontier if the run crosses it, push the others back.
 */
function slowRun(core: Core, ctx: RallocCtx, k: number): number {
  const { layout, dram } = ctx;
  core.lock(dram.slowLockAddr);
  const headAddr = layout.metaBase + T_AVAIL;
  let old = core.load64(headAddr);
  while (!core.cas64(headAddr, old, encodeHead(0, headCounter(old)))) old = core.load64(headAddr);
  for (let i = headIndexPlus1(old); i !== 0; i = core.load64(layout.descAddr(i - 1) + D_NEXT_FREE)) {
    core.store(dram.scratchAddr(i - 1), 1, 1);
  }
  const frontier = core.load64(layout.metaBase + T_FRONTIER);
  let start = -1;
  let run = 0;
  for (let i = 0; i < layout.sbCount && start < 0; i++) {
    const free = i >= frontier || core.load(dram.scratchAddr(i), 1) === 1;
    run = free ? run + 1 : 0;
    if (run === k) start = i - k + 1;
  }
  if (start >= 0 && start + k > frontier) core.storeAtomic64(layout.metaBase + T_FRONTIER, start + k);
  for (let i = Math.min(frontier, layout.sbCount) - 1; i >= 0; i--) {
    if (core.load(dram.scratchAddr(i), 1) !== 1) continue;
    core.store(dram.scratchAddr(i), 1, 0);
    if (start < 0 || i < start || i >= start + k) pushFree(core, layout, i);
  }
  core.unlock(dram.slowLockAddr);
  return start;
}
