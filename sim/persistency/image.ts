/**
 * Mutable persisted memory and copy-on-write overlay images.
 *
 * Model: `PersistedMemory` is the NVRAM content guaranteed durable at the replay
 * position (every line at its lower bound): 4 KiB pages, copied from the base image
 * on first write, so its size grows with the pages written, not with the heap.
 * An `OverlayImage` is an NvramImage whose pages are those of one base (a
 * PersistedMemory or any NvramImage) except for the few pages in its own map; building
 * one costs a page copy per page holding a line that differs, never the heap.
 *
 * Invariants: the base image is never written; an overlay over a PersistedMemory is a
 * view that is valid until the memory advances (the crash checker consumes each state
 * before the replay moves on); `materializeImage` gives a standalone copy.
 */
import type { NvramImage } from '../api.ts';

export const PAGE_BYTES = 4096;

export interface PageBuf {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
}

function asU32(u8: Uint8Array): Uint32Array {
  if ((u8.byteOffset & 3) !== 0) return new Uint32Array(u8.slice().buffer, 0, PAGE_BYTES >>> 2);
  return new Uint32Array(u8.buffer, u8.byteOffset, PAGE_BYTES >>> 2);
}

/**
 * Pages are cut from shared slabs: one host allocation per SLAB_PAGES pages (a buffer
 * each costs ~1 us). 64 KiB slabs stay below the C allocator's mmap threshold, so a
 * collected slab's memory is reused instead of faulted in afresh (2-4 us a 4 KiB page here).
 */
const SLAB_PAGES = 16;
let slab = new ArrayBuffer(0);
let slabNext = SLAB_PAGES;

/** A fresh zero page, or a copy of `from`; never shared with another page. */
export function newPage(from?: Uint8Array): PageBuf {
  if (slabNext === SLAB_PAGES) {
    slab = new ArrayBuffer(SLAB_PAGES * PAGE_BYTES);
    slabNext = 0;
  }
  const off = slabNext++ * PAGE_BYTES;
  const u8 = new Uint8Array(slab, off, PAGE_BYTES);
  if (from !== undefined) u8.set(from);
  return { u8, u32: new Uint32Array(slab, off, PAGE_BYTES >>> 2) };
}

export const ZERO_PAGE: PageBuf = newPage();

/** Copy one 64-byte line from src at srcOff to dst at dstOff (no view object, unlike set(subarray)). */
export function copyLine(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number): void {
  for (let i = 0; i < 64; i++) dst[dstOff + i] = src[srcOff + i];
}

export class PersistedMemory implements NvramImage {
  private readonly pages = new Map<number, PageBuf>();
  private sortedIndices: number[] | undefined;

  constructor(readonly base: NvramImage) {}

  get nvramSizeBytes(): number {
    return this.base.nvramSizeBytes;
  }

  /** Read view of a page (zero page when absent). Never write through it. */
  view(pageIndex: number): PageBuf {
    const own = this.pages.get(pageIndex);
    if (own !== undefined) return own;
    let v = this.baseViews.get(pageIndex);
    if (v === undefined) {
      const b = this.base.page(pageIndex);
      v = b === undefined ? ZERO_PAGE : { u8: b, u32: asU32(b) };
      this.baseViews.set(pageIndex, v);
    }
    return v;
  }
  /** Views of base pages already asked for (the base never changes: no view object per read). */
  private readonly baseViews = new Map<number, PageBuf>();

  /** A page of this memory that may be written (copied from the base on first use). */
  writable(pageIndex: number): PageBuf {
    let own = this.pages.get(pageIndex);
    if (own === undefined) {
      own = newPage(this.base.page(pageIndex));
      this.pages.set(pageIndex, own);
      this.sortedIndices = undefined;
    }
    return own;
  }

  page(pageIndex: number): Uint8Array | undefined {
    return this.pages.get(pageIndex)?.u8 ?? this.base.page(pageIndex);
  }

  pageIndices(): readonly number[] {
    return (this.sortedIndices ??= mergedIndices(this.base, this.pages.keys()));
  }
}

/** The base's page indices and `own`, ascending, each once. */
function mergedIndices(base: NvramImage, own: Iterable<number>): number[] {
  const s = new Set<number>(base.pageIndices());
  for (const k of own) s.add(k);
  return [...s].sort((x, y) => x - y);
}

/** An NvramImage: `base` except for the pages in `pages`. */
export class OverlayImage implements NvramImage {
  private indices: number[] | undefined;
  constructor(
    readonly base: NvramImage,
    readonly pages: Map<number, Uint8Array>,
  ) {}
  get nvramSizeBytes(): number {
    return this.base.nvramSizeBytes;
  }
  page(pageIndex: number): Uint8Array | undefined {
    return this.pages.get(pageIndex) ?? this.base.page(pageIndex);
  }
  pageIndices(): readonly number[] {
    return (this.indices ??= mergedIndices(this.base, this.pages.keys()));
  }
}

/** A standalone copy of an image (for replay comparisons and long-lived images). */
export function materializeImage(image: NvramImage): NvramImage {
  const pages = new Map<number, Uint8Array>();
  for (const i of image.pageIndices()) {
    const p = image.page(i);
    if (p !== undefined && p.some((b) => b !== 0)) pages.set(i, p.slice());
  }
  const indices = [...pages.keys()].sort((x, y) => x - y);
  return { nvramSizeBytes: image.nvramSizeBytes, page: (i) => pages.get(i), pageIndices: () => indices };
}

/** Write one store unit (size 1/2/4/8, little endian) at byte offset `off` of a page. */
export function writeUnit(page: PageBuf, off: number, sizeBytes: number, lo: number, hi: number): void {
  const o = off & (PAGE_BYTES - 1);
  if (sizeBytes === 8) {
    page.u32[o >>> 2] = lo;
    page.u32[(o >>> 2) + 1] = hi;
  } else if (sizeBytes === 4) {
    page.u32[o >>> 2] = lo;
  } else if (sizeBytes === 2) {
    page.u8[o] = lo & 0xff;
    page.u8[o + 1] = (lo >>> 8) & 0xff;
  } else {
    page.u8[o] = lo & 0xff;
  }
}
