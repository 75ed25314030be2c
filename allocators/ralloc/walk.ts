/**
 * Ralloc-style heap walk and consistency check (uncharged peeks, for the checkers).
 *
 * Model: the walk reads what the allocator itself believes: a superblock with a
 * trusted descriptor holds its free-chain blocks (anchor avail/count) and the blocks
 * sitting in any core's cache bin as free, every other block as allocated; a large
 * run is one allocated extent; a superblock without a trusted descriptor is one free
 * 64 KB extent. The consistency check verifies anchors, chains, bins, the partial and
 * free-superblock lists, and that the misuse shadow (shadow.ts) agrees with them.
 * rebuildShadow sets the shadow from the walk (open calls it after restore or recovery).
 *
 * Invariants: reads only through the MemoryReader; never throws on a corrupt heap
 * (problems become report lines naming the address).
 */
import type { Addr, MemoryReader } from '../../sim/api.ts';
import type { ConsistencyReport, Extent, HeapWalk } from '../contract.ts';
import {
  CLASS_COUNT, D_ANCHOR, D_BLOCK_SIZE, D_CLASS, D_MAX_COUNT, D_NEXT_FREE, D_NEXT_PARTIAL, D_SUPERBLOCK, H_MAGIC, LARGE_CLASS, MAGIC,
  SB_EMPTY, SB_FULL, SB_PARTIAL, SB_SIZE_BYTES, T_AVAIL, T_FRONTIER, decodeAnchor, descTrusted, headIndexPlus1, type DescFields,
} from './layout.ts';
import { SB_IN_USE } from './shadow.ts';
import type { RallocCtx } from './superblocks.ts';

function peekSafe(r: MemoryReader, addr: Addr): number {
  try {
    return r.peek64(addr);
  } catch {
    return -1;
  }
}

function peekDesc(r: MemoryReader, ctx: RallocCtx, i: number): DescFields {
  const d = ctx.layout.descAddr(i);
  return {
    superblock: peekSafe(r, d + D_SUPERBLOCK),
    cls: peekSafe(r, d + D_CLASS),
    blockSizeBytes: peekSafe(r, d + D_BLOCK_SIZE),
    maxCount: peekSafe(r, d + D_MAX_COUNT),
  };
}

/** Blocks in every core's cache bins; problems appended to errors. */
function binBlocks(r: MemoryReader, ctx: RallocCtx, errors: string[]): Set<Addr> {
  const out = new Set<Addr>();
  for (let c = 0; c < ctx.dram.coreCount; c++) {
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const bin = ctx.dram.binAddr(c, cls);
      const count = peekSafe(r, bin + 8);
      let addr = peekSafe(r, bin);
      for (let n = 0; n < count; n++) {
        if (addr <= 0 || out.has(addr) || ctx.layout.sbIndexOf(addr) < 0) {
          errors.push(`core ${c} class ${cls} cache bin: bad or repeated block 0x${addr.toString(16)} at position ${n} of ${count}`);
          break;
        }
        out.add(addr);
        addr = peekSafe(r, addr);
      }
    }
  }
  return out;
}

/** Blocks of a superblock's free chain (anchor avail, count); problems appended to errors. */
function chainBlocks(r: MemoryReader, ctx: RallocCtx, i: number, d: DescFields, errors: string[]): Set<Addr> {
  const out = new Set<Addr>();
  const a = decodeAnchor(peekSafe(r, ctx.layout.descAddr(i) + D_ANCHOR));
  const where = `superblock 0x${d.superblock.toString(16)}`;
  if (a.state !== SB_FULL && a.state !== SB_PARTIAL && a.state !== SB_EMPTY) errors.push(`${where}: anchor state ${a.state} invalid`);
  if (a.state === SB_FULL) {
    if (a.count !== 0) errors.push(`${where}: FULL anchor with count ${a.count}`);
    return out;
  }
  if (a.count < 1 || a.count > d.maxCount || a.avail >= d.maxCount) errors.push(`${where}: anchor avail ${a.avail} count ${a.count} out of range`);
  let addr = d.superblock + a.avail * d.blockSizeBytes;
  for (let n = 0; n < Math.min(a.count, d.maxCount); n++) {
    const off = addr - d.superblock;
    if (off < 0 || off >= d.maxCount * d.blockSizeBytes || off % d.blockSizeBytes !== 0 || out.has(addr)) {
      errors.push(`${where}: free chain leaves the superblock or repeats at 0x${addr.toString(16)}`);
      break;
    }
    out.add(addr);
    addr = peekSafe(r, addr);
  }
  if ((a.state === SB_EMPTY) !== (a.count === d.maxCount)) errors.push(`${where}: state ${a.state} disagrees with count ${a.count}/${d.maxCount}`);
  return out;
}

interface Scan {
  allocated: Extent[];
  free: Extent[];
  errors: string[];
}

/** Walk the heap; with checkShadow, report every block on which the shadow disagrees. */
function scanHeap(r: MemoryReader, ctx: RallocCtx, checkShadow: boolean): Scan {
  const s: Scan = { allocated: [], free: [], errors: [] };
  const { layout, shadow } = ctx;
  const cached = binBlocks(r, ctx, s.errors);
  let i = 0;
  while (i < layout.sbCount) {
    const d = peekDesc(r, ctx, i);
    if (!descTrusted(layout, i, d)) {
      s.free.push({ addr: layout.sbAddr(i), sizeBytes: SB_SIZE_BYTES });
      i++;
      continue;
    }
    if (d.cls === LARGE_CLASS) {
      s.allocated.push({ addr: d.superblock, sizeBytes: d.blockSizeBytes });
      if (checkShadow && !shadow.handedOut.has(d.superblock)) s.errors.push(`large run 0x${d.superblock.toString(16)}: not in the handed-out shadow`);
      i += d.blockSizeBytes / SB_SIZE_BYTES;
      continue;
    }
    const chain = chainBlocks(r, ctx, i, d, s.errors);
    for (let b = 0; b < d.maxCount; b++) {
      const addr = d.superblock + b * d.blockSizeBytes;
      const inChain = chain.has(addr);
      const isFree = inChain || cached.has(addr);
      if (inChain && cached.has(addr)) s.errors.push(`block 0x${addr.toString(16)} is both in a cache bin and a free chain`);
      if (checkShadow && shadow.handedOut.has(addr) === isFree) s.errors.push(`block 0x${addr.toString(16)}: ${isFree ? 'a free block is in' : 'an allocated block is missing from'} the handed-out shadow`);
      (isFree ? s.free : s.allocated).push({ addr, sizeBytes: d.blockSizeBytes });
    }
    i++;
  }
  return s;
}

export function walkHeap(r: MemoryReader, ctx: RallocCtx): HeapWalk {
  const s = scanHeap(r, ctx, false);
  return { allocated: s.allocated, free: s.free };
}

/**
 * Set the uncharged misuse shadow from the metadata (uncharged peeks): every allocated
 * block handed out, every superblock with a trusted descriptor (and the rest of a large
 * run) in use, the others never used.
 */
export function rebuildShadow(r: MemoryReader, ctx: RallocCtx): void {
  const { layout, shadow } = ctx;
  shadow.reset();
  for (const e of scanHeap(r, ctx, false).allocated) shadow.handedOut.add(e.addr);
  for (let i = 0; i < layout.sbCount; i++) {
    const d = peekDesc(r, ctx, i);
    if (!descTrusted(layout, i, d)) continue;
    const k = d.cls === LARGE_CLASS ? d.blockSizeBytes / SB_SIZE_BYTES : 1;
    shadow.setSbState(i, k, SB_IN_USE);
    i += k - 1;
  }
}

/** Walk a descriptor list (free-superblock or partial) with a bound; returns its members. */
function listMembers(r: MemoryReader, ctx: RallocCtx, headWord: number, linkOff: number, name: string, errors: string[]): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (let p = headIndexPlus1(headWord); p !== 0; p = peekSafe(r, ctx.layout.descAddr(p - 1) + linkOff)) {
    if (p < 0 || p > ctx.layout.sbCount || seen.has(p)) {
      errors.push(`${name}: bad or repeated descriptor index ${p - 1}`);
      break;
    }
    seen.add(p);
    out.push(p - 1);
  }
  return out;
}

export function checkConsistency(r: MemoryReader, ctx: RallocCtx): ConsistencyReport {
  const { layout } = ctx;
  if (peekSafe(r, layout.metaBase + H_MAGIC) !== MAGIC) return { ok: false, errors: [`no ralloc heap at 0x${layout.metaBase.toString(16)} (magic)`] };
  const s = scanHeap(r, ctx, true);
  const errors = s.errors;
  const frontier = peekSafe(r, layout.metaBase + T_FRONTIER);
  if (frontier < 0 || frontier > layout.sbCount) errors.push(`frontier ${frontier} out of range`);
  for (const i of listMembers(r, ctx, peekSafe(r, layout.metaBase + T_AVAIL), D_NEXT_FREE, 'free-superblock list', errors)) {
    if (descTrusted(layout, i, peekDesc(r, ctx, i))) errors.push(`free-superblock list holds superblock 0x${layout.sbAddr(i).toString(16)} that has a descriptor`);
    if (i >= frontier) errors.push(`free-superblock list holds superblock ${i} at or above the frontier ${frontier}`);
  }
  for (let cls = 0; cls < CLASS_COUNT; cls++) {
    for (const i of listMembers(r, ctx, peekSafe(r, layout.partialHeadAddr(cls)), D_NEXT_PARTIAL, `partial list ${cls}`, errors)) {
      const d = peekDesc(r, ctx, i);
      const a = decodeAnchor(peekSafe(r, layout.descAddr(i) + D_ANCHOR));
      if (!descTrusted(layout, i, d) || d.cls !== cls + 1) errors.push(`partial list ${cls} holds superblock ${i} of another class or without descriptor`);
      else if (a.state === SB_FULL) errors.push(`partial list ${cls} holds FULL superblock 0x${d.superblock.toString(16)}`);
    }
  }
  return { ok: errors.length === 0, errors };
}
