/**
 * Ralloc-style layout: size classes, the NVRAM regions and their address arithmetic,
 * and the word encodings of anchors and list heads.
 *
 * Model (Cai et al., ISMM 2020; LRMalloc underneath): the NVRAM holds three regions,
 *   meta  : header line (magic, superblock count, dirty flag), a line with the
 *           transient superblock frontier and free-superblock list head, one line per
 *           size class holding its partial-list head, then 1024 root slots;
 *   desc  : one 64 B descriptor per superblock, found by address arithmetic;
 *   sb    : 64 KB superblocks, 64 KB aligned.
 * Descriptor words: 0 nextFree, 1 nextPartial, 2 anchor (transient, never flushed),
 * 3 superblock address, 4 size class, 5 block size, 6 max count (persistent: written
 * and flushed when a superblock is assigned or retired).
 *
 * Size classes are LRMalloc's (jemalloc's) classes up to 14,336 B, minus 8, 24, 40 and
 * 56 B: the nvlab contract requires 16-byte aligned blocks (a deviation from Ralloc).
 * Larger sizes take a run of whole superblocks (class LARGE_CLASS, max count 1).
 *
 * Invariants: every word value is an integer below 2^53; descriptor index i belongs to
 * the superblock at sbBase + i * SB_SIZE_BYTES.
 */
import type { Addr } from '../../sim/api.ts';
import { lowerBound } from '../../sim/search.ts';

export const SB_SIZE_BYTES = 65536;
export const SB_SHIFT = 16;
export const DESC_SIZE_BYTES = 64;
export const LINE_BYTES = 64;
export const ROOT_COUNT = 1024;
export const MAGIC = 0x52_414c_4c4f_43; // "RALLOC"
/** Block sizes of the small classes; class k (1-based in descriptors) has BLOCK_SIZES[k-1]. */
export const BLOCK_SIZES: readonly number[] = [
  16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560,
  3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336,
];
export const CLASS_COUNT = BLOCK_SIZES.length;
export const MAX_SMALL_BYTES = 14336;
/** Size-class tag of a large run in a descriptor (small classes are 1..CLASS_COUNT). */
export const LARGE_CLASS = 255;

// Descriptor word offsets.
export const D_NEXT_FREE = 0;
export const D_NEXT_PARTIAL = 8;
export const D_ANCHOR = 16;
export const D_SUPERBLOCK = 24;
export const D_CLASS = 32;
export const D_BLOCK_SIZE = 40;
export const D_MAX_COUNT = 48;

// Header words (meta line 0) and transient words (meta line 1).
export const H_MAGIC = 0;
export const H_SB_COUNT = 8;
export const H_DIRTY = 16;
export const T_FRONTIER = 64;
export const T_AVAIL = 72;

/** Anchor states (LRMalloc). */
export const SB_FULL = 1;
export const SB_PARTIAL = 2;
export const SB_EMPTY = 3;

export interface Anchor {
  readonly avail: number;
  readonly count: number;
  readonly state: number;
}
const TWO_16 = 0x1_0000;
const TWO_32 = 0x1_0000_0000;
export function encodeAnchor(a: Anchor): number {
  return a.state * TWO_32 + a.count * TWO_16 + a.avail;
}
export function decodeAnchor(w: number): Anchor {
  return { avail: w % TWO_16, count: Math.floor(w / TWO_16) % TWO_16, state: Math.floor(w / TWO_32) };
}

/** List heads: (descriptor index + 1) in the low 24 bits, an ABA counter above. */
const TWO_24 = 0x100_0000;
const COUNTER_MOD = 0x1000_0000;
export function encodeHead(descIndexPlus1: number, counter: number): number {
  return (counter % COUNTER_MOD) * TWO_24 + descIndexPlus1;
}
export function headIndexPlus1(w: number): number {
  return w % TWO_24;
}
export function headCounter(w: number): number {
  return Math.floor(w / TWO_24);
}

/** Smallest class index (0-based) whose block fits sizeBytes (sizeBytes <= MAX_SMALL_BYTES). */
export function classOf(sizeBytes: number): number {
  return lowerBound(BLOCK_SIZES, sizeBytes, CLASS_COUNT - 1);
}
export function maxCountOf(cls: number): number {
  return Math.floor(SB_SIZE_BYTES / BLOCK_SIZES[cls]);
}

/** Where the regions sit in one machine's NVRAM. */
export class RallocLayout {
  readonly metaBase: Addr;
  readonly rootsBase: Addr;
  readonly descBase: Addr;
  readonly sbBase: Addr;
  readonly sbCount: number;

  constructor(nvramBase: Addr, nvramSizeBytes: number) {
    this.metaBase = nvramBase;
    this.rootsBase = nvramBase + LINE_BYTES * (2 + CLASS_COUNT);
    this.descBase = this.rootsBase + ROOT_COUNT * 8;
    let count = Math.floor(nvramSizeBytes / SB_SIZE_BYTES);
    while (count > 0 && this.sbStartFor(count) + count * SB_SIZE_BYTES > nvramBase + nvramSizeBytes) count--;
    if (count < 1) {
      throw new RangeError(`nvramSizeBytes: ralloc needs room for metadata and at least one 64 KB superblock (>= 128 KB), got ${nvramSizeBytes}`);
    }
    this.sbCount = count;
    this.sbBase = this.sbStartFor(count);
  }

  private sbStartFor(count: number): Addr {
    const end = this.descBase + count * DESC_SIZE_BYTES;
    return Math.ceil(end / SB_SIZE_BYTES) * SB_SIZE_BYTES;
  }

  partialHeadAddr(cls: number): Addr {
    return this.metaBase + LINE_BYTES * (2 + cls);
  }
  rootAddr(i: number): Addr {
    return this.rootsBase + i * 8;
  }
  descAddr(sbIndex: number): Addr {
    return this.descBase + sbIndex * DESC_SIZE_BYTES;
  }
  sbAddr(sbIndex: number): Addr {
    return this.sbBase + sbIndex * SB_SIZE_BYTES;
  }
  /** Superblock index of an address, or -1 outside the superblock region. */
  sbIndexOf(addr: Addr): number {
    if (addr < this.sbBase || addr >= this.sbBase + this.sbCount * SB_SIZE_BYTES) return -1;
    return Math.floor((addr - this.sbBase) / SB_SIZE_BYTES);
  }
  get sbEnd(): Addr {
    return this.sbBase + this.sbCount * SB_SIZE_BYTES;
  }
}

/** Persistent descriptor fields as read from NVRAM. */
export interface DescFields {
  readonly superblock: number;
  readonly cls: number;
  readonly blockSizeBytes: number;
  readonly maxCount: number;
}

/**
 * Whether persistent descriptor fields describe superblock sbIndex coherently (what
 * recovery trusts): the right address, a known class with its block size and count,
 * and a large run that fits the region.
 */
export function descTrusted(layout: RallocLayout, sbIndex: number, d: DescFields): boolean {
  if (d.superblock !== layout.sbAddr(sbIndex)) return false;
  if (d.cls === LARGE_CLASS) {
    const k = d.blockSizeBytes / SB_SIZE_BYTES;
    return d.maxCount === 1 && Number.isInteger(k) && k >= 1 && sbIndex + k <= layout.sbCount;
  }
  if (d.cls < 1 || d.cls > CLASS_COUNT) return false;
  return d.blockSizeBytes === BLOCK_SIZES[d.cls - 1] && d.maxCount === maxCountOf(d.cls - 1);
}
