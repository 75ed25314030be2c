/**
 * Ralloc-style malloc and free: LRMalloc thread caches over lock-free superblocks.
 *
 * Model: malloc pops the head of this core's cache bin for the size class (a DRAM
 * head and count; the chain runs through the blocks' first words in NVRAM); an empty
 * bin is refilled with every free block of one superblock, taken from the class's
 * partial list by a CAS on its anchor (state FULL), or with a whole new superblock.
 * free pushes the block on the bin; a full bin (one superblock's worth) is first
 * flushed back: runs of consecutive cached blocks of one superblock are spliced into
 * its free chain by a CAS on its anchor; a FULL superblock becomes PARTIAL (pushed on
 * the partial list) or, if every block came back, is retired. Nothing on these paths
 * is flushed or fenced except superblock assignment and retirement.
 * Lines touched per fast-path call, as in the released code (urcs-sync/ralloc@6b9d7a1):
 * malloc reads the bin and the head block's link word (TCache.cpp:37-47 pop_block);
 * free reads the block's descriptor and its class's heap line (BaseMeta.cpp:698-702
 * desc_lookup, desc->heap->sc_idx) and the bin, and writes the block's link word
 * (TCache.cpp:19-25 push_block). A free goes to the freeing core's bin whatever core
 * allocated the block (BaseMeta.cpp:713-720); only a flush returns blocks to their
 * superblocks (BaseMeta.cpp:325-408).
 * nvlab additions: the link word is cleared when a block is handed out (so a stale
 * free-list link inside a live object cannot make the conservative mark retain a free
 * block; the line was just read, so this is an L1 hit), and free checks the descriptor
 * (charged: Ralloc reads it anyway) and the uncharged shadow (shadow.ts) before
 * changing anything (double / foreign free detection).
 *
 * Invariants: a bin's count equals the length of its chain; a block is in at most one
 * of {a bin, a superblock free chain, handed out}; it is in the shadow iff handed out.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { AllocatorMisuseError } from '../contract.ts';
import { SB_RETIRED } from './shadow.ts';
import {
  BLOCK_SIZES, D_ANCHOR, LARGE_CLASS, SB_EMPTY, SB_FULL, SB_PARTIAL, SB_SIZE_BYTES, classOf, decodeAnchor, encodeAnchor,
  maxCountOf,
} from './layout.ts';
import { loadDesc, newSmallSuperblock, popPartial, pushPartial, retireSmall, type RallocCtx } from './superblocks.ts';
import { RALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

export function mallocSmall(ctx: RallocCtx, core: Core, sizeBytes: number): Addr {
  const cls = classOf(sizeBytes);
  const bin = ctx.dram.binAddr(core.id, cls);
  let count = core.load64(bin + 8);
  if (count === 0) {
    count = fillCache(ctx, core, cls, bin);
    if (count === 0) return 0;
  }
  const block = core.load64(bin);
  core.store64(bin, core.load64(block));
  core.store64(bin + 8, count - 1);
  core.store64(block, 0);
  ctx.shadow.handedOut.add(block);
  return block;
}

/** Refill an empty bin from a partial superblock, else a new one; returns the block count. */
function fillCache(ctx: RallocCtx, core: Core, cls: number, bin: Addr): number {
  const fromPartial = fillFromPartial(ctx, core, cls, bin);
  if (fromPartial > 0) return fromPartial;
  const maxCount = maxCountOf(cls);
  const sbIndex = newSmallSuperblock(ctx, core, cls, BLOCK_SIZES[cls], maxCount);
  if (sbIndex < 0) return 0;
  core.instructions(I.slowPath + I.refillPerObject * maxCount);
  core.store64(bin, ctx.layout.sbAddr(sbIndex));
  core.store64(bin + 8, maxCount);
  return maxCount;
}

function fillFromPartial(ctx: RallocCtx, core: Core, cls: number, bin: Addr): number {
  const { layout } = ctx;
  for (;;) {
    const sbIndex = popPartial(core, layout, cls);
    if (sbIndex < 0) return 0;
    const d = loadDesc(core, layout, sbIndex);
    const anchorAddr = layout.descAddr(sbIndex) + D_ANCHOR;
    let oldWord = core.load64(anchorAddr);
    let old = decodeAnchor(oldWord);
    let retired = false;
    for (;;) {
      if (old.state === SB_EMPTY) {
        retireSmall(ctx, core, sbIndex);
        retired = true;
        break;
      }
      if (core.cas64(anchorAddr, oldWord, encodeAnchor({ avail: d.maxCount, count: 0, state: SB_FULL }))) break;
      oldWord = core.load64(anchorAddr);
      old = decodeAnchor(oldWord);
    }
    if (retired) continue;
    // Constant time: the free chain becomes the cache list as it is (BaseMeta.cpp:489-505,
    // push_list), no per-block loop. No separate callgrind count: the anchor update of
    // flush_cache (load, compute, CAS; descriptorCas) is the nearest measured path.
    core.instructions(I.descriptorCas);
    core.store64(bin, d.superblock + old.avail * d.blockSizeBytes);
    core.store64(bin + 8, old.count);
    return old.count;
  }
}

/** What free learned about a block while checking it. */
export interface BlockInfo {
  readonly sbIndex: number;
  /** 0-based small class, or -1 for a large run. */
  readonly cls: number;
  /** Superblocks in the run (large) or 1. */
  readonly runLength: number;
}

/**
 * Check that addr is a block this heap handed out and that is still handed out;
 * raises AllocatorMisuseError (double-free / foreign-free) before anything changes.
 */
export function checkBlock(ctx: RallocCtx, core: Core, addr: Addr): BlockInfo {
  const { layout, shadow } = ctx;
  const sbIndex = Number.isSafeInteger(addr) ? layout.sbIndexOf(addr) : -1;
  if (sbIndex < 0) throw new AllocatorMisuseError('foreign-free', addr, 'not inside the ralloc superblock region');
  const d = loadDesc(core, layout, sbIndex);
  const sb = layout.sbAddr(sbIndex);
  if (d.superblock !== sb) {
    if (shadow.sbState(sbIndex) === SB_RETIRED) {
      throw new AllocatorMisuseError('double-free', addr, `superblock 0x${sb.toString(16)} was retired: every block in it is already free`);
    }
    throw new AllocatorMisuseError('foreign-free', addr, `superblock 0x${sb.toString(16)} is not assigned (no descriptor)`);
  }
  const large = d.cls === LARGE_CLASS;
  const offset = addr - sb;
  if (large ? offset !== 0 : offset % d.blockSizeBytes !== 0 || offset / d.blockSizeBytes >= d.maxCount) {
    throw new AllocatorMisuseError('foreign-free', addr, `not at a block boundary (block size ${d.blockSizeBytes} B)`);
  }
  if (!shadow.handedOut.has(addr)) throw new AllocatorMisuseError('double-free', addr, 'block is already free');
  return { sbIndex, cls: large ? -1 : d.cls - 1, runLength: large ? d.blockSizeBytes / SB_SIZE_BYTES : 1 };
}

/**
 * Free a checked small block: push it on this core's bin (flushing a full bin first).
 * Ralloc's do_free finds the class through the descriptor's heap pointer,
 * `desc->heap->sc_idx` (BaseMeta.cpp:702): a load from the class's ProcHeap line, which
 * also holds the partial-list head that fills and flushes CAS (BaseMeta.hpp:278-290).
 * The model keeps the class in the descriptor, so that load only touches the line (the
 * class's partial-head line here), and pays its coherence misses.
 */
export function freeSmall(ctx: RallocCtx, core: Core, addr: Addr, cls: number): void {
  core.load64(ctx.layout.partialHeadAddr(cls));
  ctx.shadow.handedOut.delete(addr);
  const bin = ctx.dram.binAddr(core.id, cls);
  let count = core.load64(bin + 8);
  if (count >= maxCountOf(cls)) {
    flushBin(ctx, core, cls, bin);
    count = 0;
  }
  core.store64(addr, core.load64(bin));
  core.store64(bin, addr);
  core.store64(bin + 8, count + 1);
}

/** Return every block of a bin to its superblock (LRMalloc flush_cache). */
export function flushBin(ctx: RallocCtx, core: Core, cls: number, bin: Addr): void {
  const { layout } = ctx;
  let count = core.load64(bin + 8);
  while (count > 0) {
    const head = core.load64(bin);
    const sbIndex = layout.sbIndexOf(head);
    const d = loadDesc(core, layout, sbIndex);
    let tail = head;
    let run = 1;
    while (run < count) {
      const next = core.load64(tail);
      if (next < d.superblock || next >= d.superblock + SB_SIZE_BYTES) break;
      tail = next;
      run++;
    }
    count -= run;
    core.instructions(I.flushPerObject * run + I.descriptorCas);
    core.store64(bin, count > 0 ? core.load64(tail) : 0);
    core.store64(bin + 8, count);
    spliceRun(ctx, core, sbIndex, d.superblock, d.blockSizeBytes, d.maxCount, cls, head, tail, run);
  }
}

function spliceRun(
  ctx: RallocCtx, core: Core, sbIndex: number, sb: Addr, blockSizeBytes: number, maxCount: number, cls: number,
  head: Addr, tail: Addr, run: number,
): void {
  const anchorAddr = ctx.layout.descAddr(sbIndex) + D_ANCHOR;
  let oldWord = core.load64(anchorAddr);
  for (;;) {
    const old = decodeAnchor(oldWord);
    core.store64(tail, old.avail < maxCount ? sb + old.avail * blockSizeBytes : 0);
    const count = old.count + run;
    const state = count === maxCount ? SB_EMPTY : SB_PARTIAL;
    const next = encodeAnchor({ avail: (head - sb) / blockSizeBytes, count, state });
    if (core.cas64(anchorAddr, oldWord, next)) {
      if (old.state === SB_FULL) {
        if (state === SB_EMPTY) retireSmall(ctx, core, sbIndex);
        else pushPartial(core, ctx.layout, cls, sbIndex);
      }
      return;
    }
    oldWord = core.load64(anchorAddr);
  }
}
