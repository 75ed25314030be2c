/**
 * Sparse paged memory for one region, with copy-on-write over a shared base image.
 *
 * Model: 4 KiB pages in a two-level table (1024 directory entries of 1024 pages, so a
 * region of up to 4 GiB costs nothing until touched). A page is either absent (zero),
 * shared with the base image (read-only until the first write, then copied), or owned.
 * Host memory grows with the pages written, not with the configured size.
 *
 * Invariants: offsets are region-relative and bounds-checked by the caller (the
 * machine); the base image is never written.
 */
import type { NvramImage } from './api.ts';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE_BYTES = 1 << PAGE_SHIFT;
const DIR_SHIFT = 22;
const LEAF_MASK = 1023;

interface Page {
  u8: Uint8Array;
  u32: Uint32Array;
  shared: boolean;
}

export class PagedMemory {
  private readonly dir: (Page[] | undefined)[] = [];
  private readonly touched: number[] = [];

  constructor(
    readonly sizeBytes: number,
    private readonly base?: NvramImage,
  ) {}

  private lookup(off: number): Page | undefined {
    const leaf = this.dir[off >>> DIR_SHIFT];
    if (leaf === undefined) return this.fromBase(off);
    const p = leaf[(off >>> PAGE_SHIFT) & LEAF_MASK];
    return p === undefined ? this.fromBase(off) : p;
  }

  private fromBase(off: number): Page | undefined {
    if (this.base === undefined) return undefined;
    const src = this.base.page(off >>> PAGE_SHIFT);
    if (src === undefined) return undefined;
    const page: Page = { u8: src, u32: new Uint32Array(src.buffer, src.byteOffset, PAGE_SIZE_BYTES >>> 2), shared: true };
    this.install(off, page);
    return page;
  }

  private install(off: number, page: Page): void {
    let leaf = this.dir[off >>> DIR_SHIFT];
    if (leaf === undefined) {
      leaf = [];
      this.dir[off >>> DIR_SHIFT] = leaf;
    }
    leaf[(off >>> PAGE_SHIFT) & LEAF_MASK] = page;
  }

  private writable(off: number): Page {
    let page = this.lookup(off);
    if (page === undefined || page.shared) {
      const u8 = new Uint8Array(PAGE_SIZE_BYTES);
      if (page !== undefined) u8.set(page.u8);
      page = { u8, u32: new Uint32Array(u8.buffer), shared: false };
      this.install(off, page);
      this.touched.push(off >>> PAGE_SHIFT);
    }
    return page;
  }

  /** Read 1, 2 or 4 bytes (little endian); any alignment within a page boundary is handled bytewise. */
  readSmall(off: number, sizeBytes: number): number {
    const page = this.lookup(off);
    if (page === undefined) return 0;
    const o = off & (PAGE_SIZE_BYTES - 1);
    if (sizeBytes === 4 && (o & 3) === 0) return page.u32[o >>> 2];
    let v = 0;
    for (let i = sizeBytes - 1; i >= 0; i--) v = v * 256 + this.byteAt(off + i);
    return v;
  }

  private byteAt(off: number): number {
    const page = this.lookup(off);
    return page === undefined ? 0 : page.u8[off & (PAGE_SIZE_BYTES - 1)];
  }

  /** Low and high 32-bit halves of the aligned word at off (off % 8 === 0). */
  readLo(off: number): number {
    const page = this.lookup(off);
    return page === undefined ? 0 : page.u32[(off & (PAGE_SIZE_BYTES - 1)) >>> 2];
  }
  readHi(off: number): number {
    const page = this.lookup(off);
    return page === undefined ? 0 : page.u32[((off & (PAGE_SIZE_BYTES - 1)) >>> 2) + 1];
  }

  writeWord(off: number, lo: number, hi: number): void {
    const page = this.writable(off);
    const i = (off & (PAGE_SIZE_BYTES - 1)) >>> 2;
    page.u32[i] = lo;
    page.u32[i + 1] = hi;
  }

  writeSmall(off: number, sizeBytes: number, value: number): void {
    const o = off & (PAGE_SIZE_BYTES - 1);
    if (sizeBytes === 4 && (o & 3) === 0) {
      this.writable(off).u32[o >>> 2] = value >>> 0;
      return;
    }
    let v = value;
    for (let i = 0; i < sizeBytes; i++) {
      this.writable(off + i).u8[(off + i) & (PAGE_SIZE_BYTES - 1)] = v & 0xff;
      v = Math.floor(v / 256);
    }
  }

  writeByte(off: number, value: number): void {
    this.writable(off).u8[off & (PAGE_SIZE_BYTES - 1)] = value;
  }

  /** Zero everything (drops all pages and the base). */
  clear(): void {
    this.dir.length = 0;
    this.touched.length = 0;
  }

  /** An immutable snapshot: pages are copied, so later writes do not show through. */
  snapshot(): NvramImage {
    const pages = new Map<number, Uint8Array>();
    const indices = new Set<number>(this.touched);
    if (this.base !== undefined) for (const i of this.base.pageIndices()) indices.add(i);
    for (const i of [...indices].sort((a, b) => a - b)) {
      const page = this.lookup(i << PAGE_SHIFT);
      if (page !== undefined && page.u8.some((b) => b !== 0)) pages.set(i, page.u8.slice());
    }
    return imageFromPages(this.sizeBytes, pages);
  }
}

/** Build an NvramImage from a page map (the map is taken over, not copied). */
export function imageFromPages(nvramSizeBytes: number, pages: Map<number, Uint8Array>): NvramImage {
  const indices = [...pages.keys()].sort((a, b) => a - b);
  return {
    nvramSizeBytes,
    page: (i) => pages.get(i),
    pageIndices: () => indices,
  };
}

export function emptyImage(nvramSizeBytes: number): NvramImage {
  return imageFromPages(nvramSizeBytes, new Map());
}
