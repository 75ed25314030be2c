/**
 * A small cache of computations keyed by the bytes an image holds on the lines they read.
 *
 * Model: an entry is (lines, the 64 bytes the image held on each, value). `find(image)`
 * returns the value of the first entry (most recently added or found first) whose every
 * line holds the very same bytes in `image` (compared word for word, no hash), among the
 * entries `accept` admits; `add` keeps a new entry and evicts the least recent beyond
 * `capacity`. Used for whole checks (share.ts, CheckCache) and for the phases of a check
 * (phase-cache.ts): a deterministic computation that reads an image only through the
 * lines it recorded gives the same result on every image holding the same bytes there.
 *
 * Invariants: an entry's lines are kept in the order given (any order is correct;
 * first-read order makes runs of one page cheap); images are read, never written; the
 * evicted entry's buffers are reused by the next entry when large enough.
 */
import type { NvramImage } from '../../sim/api.ts';

export class LineCache<T> {
  private readonly entries: LineEntry<T>[] = [];

  constructor(readonly capacity: number) {}

  /** The value of the most recent entry `accept` admits whose lines hold the same bytes in `image`. */
  find(image: NvramImage, accept?: (value: T) => boolean): T | undefined {
    // One cursor for every entry compared: their lines mostly lie on the same few pages.
    const pages = new PageCursor(image);
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (accept !== undefined && !accept(e.value)) continue;
      // The line that differed last time first: consecutive images mostly differ in the
      // same few lines (a log header, a bitmap word), so most misses end at once.
      if (!sameLine(pages, e, e.lastDiff)) continue;
      const d = firstDiff(pages, e);
      if (d >= 0) {
        e.lastDiff = d;
        continue;
      }
      if (i > 0) {
        this.entries.splice(i, 1);
        this.entries.unshift(e);
      }
      return e.value;
    }
    return undefined;
  }

  /** Keep `value` for images holding `image`'s bytes on `lines` (the first `count` lines iterated, all when omitted). */
  add(image: NvramImage, lines: Iterable<number>, count: number, value: T): void {
    // The evicted entry's buffers are reused when large enough (a check reads ~1,000
    // lines: 64 KiB of content a check otherwise allocated and zero-filled).
    const evicted = this.entries.length >= this.capacity ? this.entries.pop() : undefined;
    const n = count;
    const reuse = evicted !== undefined && evicted.linesBuf.length >= n;
    const linesBuf = reuse ? evicted.linesBuf : new Uint32Array(n);
    const contentBuf = reuse ? evicted.contentBuf : new Uint32Array(n * 16);
    const ls = linesBuf.subarray(0, n);
    const content = contentBuf.subarray(0, n * 16);
    let k = 0;
    for (const l of lines) {
      if (k === n) break;
      ls[k++] = l;
    }
    const pages = new PageCursor(image);
    for (let i = 0; i < n; i++) {
      const l = ls[i];
      const words = pages.wordsOfLine(l);
      const c = i * 16;
      if (words === undefined) content.fill(0, c, c + 16);
      else {
        const off = (l & 63) * 16;
        for (let w = 0; w < 16; w++) content[c + w] = words[off + w];
      }
    }
    this.entries.unshift({ lines: ls, content, linesBuf, contentBuf, value, lastDiff: 0 });
  }
}

interface LineEntry<T> {
  /** The entry's lines and their bytes in the image it was added for (16 words a line). */
  readonly lines: Uint32Array;
  readonly content: Uint32Array;
  /** The buffers lines and content are views of (reused by a later entry). */
  readonly linesBuf: Uint32Array;
  readonly contentBuf: Uint32Array;
  readonly value: T;
  /** Index in lines of the line that last differed from an image looked up (checked first). */
  lastDiff: number;
}

/**
 * The 32-bit words of a page (image pages are whole 4 KiB buffers): a view, one per page
 * kept while the page lives (a lookup compares a few hundred lines spread over the heap,
 * and a view made per page visited was most of its garbage); a view sees the page's
 * later writes. An unaligned page is copied, every time.
 */
const pageWords = new WeakMap<Uint8Array, Uint32Array>();
function wordsOf(page: Uint8Array): Uint32Array {
  if ((page.byteOffset & 3) !== 0) return new Uint32Array(page.slice().buffer);
  let w = pageWords.get(page);
  if (w === undefined) pageWords.set(page, (w = new Uint32Array(page.buffer, page.byteOffset, 1024)));
  return w;
}

/**
 * The words of the image page holding each line asked for in turn (undefined for a page
 * the image does not hold, i.e. zeros): one page lookup per run of lines on one page.
 */
class PageCursor {
  private pageIndex = -1;
  private words: Uint32Array | undefined;
  constructor(private readonly image: NvramImage) {}

  wordsOfLine(line: number): Uint32Array | undefined {
    if (line >>> 6 !== this.pageIndex) {
      this.pageIndex = line >>> 6;
      const page = this.image.page(this.pageIndex);
      this.words = page === undefined ? undefined : wordsOf(page);
    }
    return this.words;
  }
}

/** Whether line index i of the entry holds the same bytes in the cursor's image (true when the entry has no lines). */
function sameLine<T>(pages: PageCursor, e: LineEntry<T>, i: number): boolean {
  if (i >= e.lines.length) return true;
  return !lineDiffers(e, i, pages.wordsOfLine(e.lines[i]));
}

/** Whether line index i of the entry differs from its page's words (undefined: a zero page). */
function lineDiffers<T>(e: LineEntry<T>, i: number, words: Uint32Array | undefined): boolean {
  const { content } = e;
  const c = i * 16;
  if (words === undefined) {
    for (let w = 0; w < 16; w++) if (content[c + w] !== 0) return true;
    return false;
  }
  const off = (e.lines[i] & 63) * 16;
  for (let w = 0; w < 16; w++) if (content[c + w] !== words[off + w]) return true;
  return false;
}

/** Index of the first of the entry's lines whose bytes differ in the cursor's image, or -1. */
function firstDiff<T>(pages: PageCursor, e: LineEntry<T>): number {
  for (let i = 0; i < e.lines.length; i++) if (lineDiffers(e, i, pages.wordsOfLine(e.lines[i]))) return i;
  return -1;
}
