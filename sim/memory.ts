/**
 * Sparse paged memory for one region, with copy-on-write over a shared base image.
 *
 * Model: 4 KiB pages in a two-level table (1024 directory entries of 1024 pages, so a
 * region of up to 4 GiB costs nothing until touched). A page is either absent (zero),
 * shared with the base image (read-only until the first write, then copied), or owned.
 * Host memory grows with the pages written, not with the configured size.
 *
 * Speed: the machine reads and writes through here on every access, so the last page
 * read and the last page written are remembered (one compare on a hit). Absent pages
 * read as a shared all-zero page that is never written. Owned pages are carved from
 * 64 KiB slabs (host memory still grows with what is written, in 64 KiB steps).
 * clear() (a crash checker rebases one memory per state) empties only the table slots
 * filled since the last clear and hands the slabs out again; the read-only wrappers of
 * base-image pages are shared between memories over the same page buffers.
 *
 * Invariants: offsets are region-relative and bounds-checked by the caller (the
 * machine); the base image and the zero page are never written; after a page is
 * copied or created for writing, both remembered pages point at the owned copy.
 */
import type { NvramImage } from './api.ts';
import type { ReadTracker } from './read-set.ts';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE_BYTES = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_SIZE_BYTES - 1;
const DIR_SHIFT = 22;
const LEAF_MASK = 1023;
const TWO_32 = 0x1_0000_0000;
/** Largest high half of a word that is still a safe integer (2^53 - 1). */
const MAX_HI = 0x1f_ffff;

class Page {
  readonly u32: Uint32Array;
  constructor(
    readonly u8: Uint8Array,
    readonly shared: boolean,
  ) {
    this.u32 = new Uint32Array(u8.buffer, u8.byteOffset, PAGE_SIZE_BYTES >>> 2);
  }
}

const ZERO_PAGE = new Page(new Uint8Array(PAGE_SIZE_BYTES), true);
/**
 * Read-only Page wrappers of base-image pages, shared by every memory over the same
 * buffers (crash checking rebases one memory per state onto images that share most pages).
 */
const basePages = new WeakMap<Uint8Array, Page>();
/** Owned pages are carved from slabs of this many pages (fewer host allocations, less GC). */
const SLAB_PAGES = 16;

export class PagedMemory {
  private readonly dir: ((Page | undefined)[] | undefined)[] = [];
  private readonly touched: number[] = [];
  /** Page indices given a page object since the last clear (base or owned; clear empties just these). */
  private readonly installed: number[] = [];
  private readPageIndex = -1;
  private readPage: Page = ZERO_PAGE;
  private writePageIndex = -1;
  private writePage: Page = ZERO_PAGE;
  /**
   * Called when a page is given an owned copy (or created) and when every page is dropped
   * (clear), with the remapped range, so the machine can drop the cores' remembered page
   * words of that range (the fast path of sim/core.ts).
   */
  onRemap: ((off: number, sizeBytes: number) => void) | undefined = undefined;
  /** When set, reads and writes are reported to it (crash checking's read sets, sim/read-set.ts). */
  track: ReadTracker | undefined = undefined;
  private slab: Uint8Array | undefined;
  private slabUsedPages = 0;
  /** Every slab this memory allocated; after clear() they are handed out again (zeroed per page). */
  private readonly slabs: Uint8Array[] = [];
  /** Slabs [0, slabsInUse) hold live pages; true when the current slab was in use before the last clear(). */
  private slabsInUse = 0;
  private slabReused = false;

  /**
   * @param baseAddr the simulated address of offset 0 (the machine subtracts it)
   * @param readable false for NVRAM until it is formatted (the machine checks it)
   */
  constructor(
    readonly sizeBytes: number,
    private base?: NvramImage,
    readonly baseAddr = 0,
    public readable = true,
  ) {}

  private lookup(off: number): Page | undefined {
    const leaf = this.dir[off >>> DIR_SHIFT];
    const p = leaf === undefined ? undefined : leaf[(off >>> PAGE_SHIFT) & LEAF_MASK];
    return p === undefined ? this.fromBase(off) : p;
  }

  private fromBase(off: number): Page | undefined {
    if (this.base === undefined) return undefined;
    const src = this.base.page(off >>> PAGE_SHIFT);
    if (src === undefined) return undefined;
    let page = basePages.get(src);
    if (page === undefined) basePages.set(src, (page = new Page(src, true)));
    this.install(off, page);
    return page;
  }

  private install(off: number, page: Page): void {
    let leaf = this.dir[off >>> DIR_SHIFT];
    if (leaf === undefined) {
      // Kept for the memory's life (clear empties its used slots): no leaf regrown per crash state.
      leaf = new Array<Page | undefined>(LEAF_MASK + 1);
      this.dir[off >>> DIR_SHIFT] = leaf;
    }
    const slot = (off >>> PAGE_SHIFT) & LEAF_MASK;
    if (leaf[slot] === undefined) this.installed.push(off >>> PAGE_SHIFT);
    leaf[slot] = page;
  }

  /** The page holding off, for reading (the zero page when absent). */
  private pageForRead(off: number): Page {
    const p = off >>> PAGE_SHIFT;
    if (p === this.readPageIndex) return this.readPage;
    const page = this.lookup(off) ?? ZERO_PAGE;
    this.readPageIndex = p;
    this.readPage = page;
    return page;
  }

  /** The page holding off, owned by this memory (copied or created on first write). */
  private pageForWrite(off: number): Page {
    const p = off >>> PAGE_SHIFT;
    if (p === this.writePageIndex) return this.writePage;
    let page = this.lookup(off);
    if (page === undefined || page.shared) {
      const u8 = this.newPageBytes();
      if (page !== undefined) u8.set(page.u8);
      page = new Page(u8, false);
      this.install(off, page);
      this.touched.push(p);
      this.remapped(p << PAGE_SHIFT, PAGE_SIZE_BYTES);
    }
    this.writePageIndex = p;
    this.writePage = page;
    this.readPageIndex = p;
    this.readPage = page;
    return page;
  }

  private remapped(off: number, sizeBytes: number): void {
    if (this.onRemap !== undefined) this.onRemap(off, sizeBytes);
  }

  /** The words of the page holding off, for reading (valid until the page is remapped). */
  readPageWords(off: number): Uint32Array {
    if (this.track !== undefined) this.track.pageRead(off);
    return this.pageForRead(off).u32;
  }
  /** True if the page holding off is owned by this memory (writes go straight to it). */
  ownsPage(off: number): boolean {
    return !this.pageForRead(off).shared;
  }

  /** A zeroed 4 KiB page from the current slab (a new slab when it is used up). */
  private newPageBytes(): Uint8Array {
    if (this.slab === undefined || this.slabUsedPages === SLAB_PAGES) {
      this.slabReused = this.slabsInUse < this.slabs.length;
      if (!this.slabReused) this.slabs.push(new Uint8Array(SLAB_PAGES * PAGE_SIZE_BYTES));
      this.slab = this.slabs[this.slabsInUse++];
      this.slabUsedPages = 0;
    }
    const start = this.slabUsedPages * PAGE_SIZE_BYTES;
    this.slabUsedPages++;
    const page = this.slab.subarray(start, start + PAGE_SIZE_BYTES);
    if (this.slabReused) page.fill(0);
    return page;
  }

  /** The page holding off for reading: its words and whether it is owned (fast path of sim/core.ts). */
  pageWords(off: number): { readonly u32: Uint32Array; readonly shared: boolean } {
    if (this.track !== undefined) this.track.pageRead(off);
    return this.pageForRead(off);
  }

  /**
   * The page holding off, without counting a page read: only for reading the line at
   * off through it, a line the tracker has already counted (Core's fast-path hints).
   */
  lineWords(off: number): { readonly u32: Uint32Array; readonly shared: boolean } {
    return this.pageForRead(off);
  }

  /** The aligned word at off (off % 8 === 0) as a number, or -1 when it is >= 2^53. */
  readWord(off: number): number {
    if (this.track !== undefined) this.track.read(off, 8);
    const u32 = this.pageForRead(off).u32;
    const i = (off & PAGE_MASK) >>> 2;
    const hi = u32[i + 1];
    if (hi === 0) return u32[i];
    return hi > MAX_HI ? -1 : hi * TWO_32 + u32[i];
  }

  /** Read 1, 2 or 4 bytes (little endian); any alignment is handled (bytewise when misaligned). */
  readSmall(off: number, sizeBytes: number): number {
    if (this.track !== undefined) this.track.read(off, sizeBytes);
    if ((off & (sizeBytes - 1)) === 0) {
      const page = this.pageForRead(off);
      const o = off & PAGE_MASK;
      if (sizeBytes === 4) return page.u32[o >>> 2];
      if (sizeBytes === 1) return page.u8[o];
      return page.u8[o] | (page.u8[o + 1] << 8);
    }
    let v = 0;
    for (let i = sizeBytes - 1; i >= 0; i--) v = v * 256 + this.pageForRead(off + i).u8[(off + i) & PAGE_MASK];
    return v;
  }

  /** Low and high 32-bit halves of the aligned word at off (off % 8 === 0). */
  readLo(off: number): number {
    if (this.track !== undefined) this.track.read(off, 4);
    return this.pageForRead(off).u32[(off & PAGE_MASK) >>> 2];
  }
  readHi(off: number): number {
    if (this.track !== undefined) this.track.read(off + 4, 4);
    return this.pageForRead(off).u32[((off & PAGE_MASK) >>> 2) + 1];
  }

  writeWord(off: number, lo: number, hi: number): void {
    if (this.track !== undefined) this.track.write(off, 8);
    const u32 = this.pageForWrite(off).u32;
    const i = (off & PAGE_MASK) >>> 2;
    u32[i] = lo;
    u32[i + 1] = hi;
  }

  /** Write 1, 2 or 4 bytes (little endian) at an offset aligned to the size. */
  writeSmall(off: number, sizeBytes: number, value: number): void {
    if (this.track !== undefined) this.track.write(off, sizeBytes);
    const page = this.pageForWrite(off);
    const o = off & PAGE_MASK;
    if (sizeBytes === 4) page.u32[o >>> 2] = value >>> 0;
    else if (sizeBytes === 1) page.u8[o] = value;
    else {
      page.u8[o] = value & 0xff;
      page.u8[o + 1] = value >>> 8;
    }
  }

  writeByte(off: number, value: number): void {
    if (this.track !== undefined) this.track.write(off, 1);
    this.pageForWrite(off).u8[off & PAGE_MASK] = value;
  }

  /** Drop every owned page and show `image` through instead (crash checking reuses a machine). */
  rebase(image: NvramImage): void {
    this.clear();
    this.base = image;
    this.readable = true;
  }

  /**
   * Show `image` instead of the base while keeping what this memory wrote (crash
   * checking moves a recovered machine to another state that recovers alike): shared
   * pages are dropped (read from `image` again); in owned pages every byte the tracker
   * does not record as written is taken from `image`, except on lines `same(line)` (the
   * caller knows both images hold the same bytes there; writes the tracker missed, by
   * the cores' fast path, are only to lines it had counted as read, which the caller
   * passes as same). Needs the tracker that saw every write since the last clear; does
   * nothing and returns false unless the base is still `from` (not dropped by a reset).
   */
  rebaseKeepingWrites(from: NvramImage, image: NvramImage, track: ReadTracker, same: (line: number) => boolean): boolean {
    if (this.base !== from) return false;
    this.remapped(0, this.sizeBytes);
    let n = 0;
    for (const p of this.installed) {
      const leaf = this.dir[p >>> (DIR_SHIFT - PAGE_SHIFT)]!;
      if (leaf[p & LEAF_MASK]!.shared) leaf[p & LEAF_MASK] = undefined;
      else this.installed[n++] = p;
    }
    this.installed.length = n;
    this.readPageIndex = -1;
    this.writePageIndex = -1;
    this.readPage = ZERO_PAGE;
    this.writePage = ZERO_PAGE;
    this.base = image;
    for (const p of this.touched) {
      const pg = this.dir[p >>> (DIR_SHIFT - PAGE_SHIFT)]![p & LEAF_MASK]!;
      const page = pg.u8;
      const u32 = pg.u32;
      const src = image.page(p);
      // Words nothing wrote are copied as two 32-bit halves (from a 4-aligned source).
      const src32 = src !== undefined && (src.byteOffset & 3) === 0 ? new Uint32Array(src.buffer, src.byteOffset, PAGE_SIZE_BYTES >>> 2) : undefined;
      for (let l = 0; l < 64; l++) {
        if (same((p << 6) + l)) continue;
        for (let w = 0; w < 8; w++) {
          const m = track.writtenMask((p << 9) + l * 8 + w);
          if (m === 0xff) continue;
          const o = l * 64 + w * 8;
          if (m === 0 && (src === undefined || src32 !== undefined)) {
            u32[o >>> 2] = src32 === undefined ? 0 : src32[o >>> 2];
            u32[(o >>> 2) + 1] = src32 === undefined ? 0 : src32[(o >>> 2) + 1];
            continue;
          }
          for (let b = 0; b < 8; b++) if (((m >>> b) & 1) === 0) page[o + b] = src === undefined ? 0 : src[o + b];
        }
      }
    }
    return true;
  }

  /** Drop every owned page (the base image, if any, shows through again). */
  clear(): void {
    this.remapped(0, this.sizeBytes);
    for (const p of this.installed) this.dir[p >>> (DIR_SHIFT - PAGE_SHIFT)]![p & LEAF_MASK] = undefined;
    this.installed.length = 0;
    this.touched.length = 0;
    this.readPageIndex = -1;
    this.writePageIndex = -1;
    this.readPage = ZERO_PAGE;
    this.writePage = ZERO_PAGE;
    // Keep the slabs: no page of them is reachable any more (snapshots copy, the cores'
    // page hints were dropped by remapped() above), so they are handed out again.
    this.slab = undefined;
    this.slabsInUse = 0;
  }

  /** Forget everything, the base image too: the region reads as zeros (formatting). */
  reset(): void {
    this.base = undefined;
    this.clear();
  }

  /**
   * The memory as it is now, to come back to (crash checking rolls a recovered machine
   * back after a probe ran on it; experiments/crash/checkpoint.ts): `restore()` gives the
   * same page table, owned pages' bytes, base image and remembered pages as at this
   * call; it costs the pages owned then and installed since. Owned pages' bytes are
   * copied now (into `buffer(sizeBytes)`, a new array unless the caller pools them). Pages carved from a slab after the checkpoint are zero-filled when handed
   * out again (slabReused), since their bytes may hold writes made after it.
   */
  checkpoint(buffer: (sizeBytes: number) => Uint8Array = (n) => new Uint8Array(n)): () => void {
    const installed = this.installed.slice();
    const slots = installed.map((p) => this.dir[p >>> (DIR_SHIFT - PAGE_SHIFT)]![p & LEAF_MASK]!);
    const touched = this.touched.slice();
    const owned = touched.map((p) => this.dir[p >>> (DIR_SHIFT - PAGE_SHIFT)]![p & LEAF_MASK]!);
    const bytes = buffer(owned.length * PAGE_SIZE_BYTES);
    for (let i = 0; i < owned.length; i++) bytes.set(owned[i].u8, i * PAGE_SIZE_BYTES);
    const { base, readable, track, slab, slabUsedPages, slabsInUse, slabReused, readPageIndex, readPage, writePageIndex, writePage } = this;
    return () => {
      this.remapped(0, this.sizeBytes);
      for (const p of this.installed) this.dir[p >>> (DIR_SHIFT - PAGE_SHIFT)]![p & LEAF_MASK] = undefined;
      for (let i = 0; i < installed.length; i++) this.install(installed[i] * PAGE_SIZE_BYTES, slots[i]);
      this.installed.length = 0;
      this.installed.push(...installed);
      this.touched.length = 0;
      this.touched.push(...touched);
      for (let i = 0; i < owned.length; i++) owned[i].u8.set(bytes.subarray(i * PAGE_SIZE_BYTES, (i + 1) * PAGE_SIZE_BYTES));
      this.base = base;
      this.readable = readable;
      this.track = track;
      this.slab = slab;
      this.slabUsedPages = slabUsedPages;
      this.slabsInUse = slabsInUse;
      // Pages of the current slab past slabUsedPages may have been written since: zeroed when handed out.
      this.slabReused = slabReused || slab !== undefined;
      this.readPageIndex = readPageIndex;
      this.readPage = readPage;
      this.writePageIndex = writePageIndex;
      this.writePage = writePage;
    };
  }

  /** Pages owned by this memory (host memory in use), for tests and reports. */
  ownedPageCount(): number {
    return this.touched.length;
  }

  /** An immutable snapshot: pages are copied, so later writes do not show through. */
  snapshot(): NvramImage {
    const pages = new Map<number, Uint8Array>();
    const indices = new Set<number>(this.touched);
    if (this.base !== undefined) for (const i of this.base.pageIndices()) indices.add(i);
    if (this.track !== undefined) for (const i of indices) this.track.pageRead(i * PAGE_SIZE_BYTES);
    for (const i of [...indices].sort((a, b) => a - b)) {
      const page = this.lookup(i * PAGE_SIZE_BYTES);
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
