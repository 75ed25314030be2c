/**
 * The program-order prefix image of a trace: every store unit before a position
 * durable (the upper image at that position), built without a replayer.
 *
 * Model: the upper image at position p applies, line by line in program order, every
 * store unit issued before p on top of the trace's base, whatever the lower bounds;
 * so it is the base with the stores [0, p) written in order. Building it costs a page
 * copy per page stored to and O(p) event reads; its content hash is the base's hash
 * plus, per line stored to, H(line now) - H(line in the base): O(lines stored).
 *
 * Invariants: equal to PersistReplayer.stateImage(upperDeviations()) at p in every
 * persistency mode (replay.test.ts checks it); the base image is never written.
 */
import type { NvramImage, PersistTrace } from '../api.ts';
import { type ImageHash, addHash, hashLineWords, imageLineHash, subHash } from './hash.ts';
import { OverlayImage, type PageBuf, copyLine, newPage, writeUnit } from './image.ts';
import { isStoreKind, unitSizeBytes } from './replay.ts';

export interface PrefixImage {
  /** Line -> slot of its final content (64 B) in `slots`, for each line stored to before the position. */
  readonly lines: ReadonlyMap<number, number>;
  /** Line contents, 64 slots of 64 B a page buffer (slot s: buffer s >> 6, bytes (s & 63) * 64). */
  readonly slots: readonly PageBuf[];
  /** The image itself (built on first use: page copies only when it is recovered). */
  image(): OverlayImage;
}

export function prefixImage(trace: PersistTrace, pos: number): PrefixImage {
  const lines = new Map<number, number>();
  const slots: PageBuf[] = [];
  const base = trace.base;
  for (let i = 0; i < pos; i++) {
    const k = trace.kind(i);
    if (!isStoreKind(k)) continue;
    const off = trace.arg(i);
    const line = off >>> 6;
    let s = lines.get(line);
    if (s === undefined) {
      s = lines.size;
      lines.set(line, s);
      if ((s & 63) === 0) slots.push(newPage());
      const page = base.page(line >>> 6);
      if (page !== undefined) copyLine(slots[s >>> 6].u8, (s & 63) * 64, page, (line & 63) * 64);
    }
    // writeUnit takes the offset within a page buffer: the slot's bytes plus the offset in the line.
    writeUnit(slots[s >>> 6], (s & 63) * 64 + (off & 63), unitSizeBytes(k), trace.valueLo(i), trace.valueHi(i));
  }
  return new Prefix(base, lines, slots);
}

class Prefix implements PrefixImage {
  private built: OverlayImage | undefined;
  constructor(
    private readonly base: NvramImage,
    readonly lines: ReadonlyMap<number, number>,
    readonly slots: readonly PageBuf[],
  ) {}
  image(): OverlayImage {
    return (this.built ??= overlayOf(this.base, this.lines, this.slots));
  }
}

function overlayOf(base: NvramImage, lines: ReadonlyMap<number, number>, slots: readonly PageBuf[]): OverlayImage {
  const pages = new Map<number, Uint8Array>();
  for (const [line, s] of lines) {
    let page = pages.get(line >>> 6);
    if (page === undefined) pages.set(line >>> 6, (page = newPage(base.page(line >>> 6)).u8));
    copyLine(page, (line & 63) * 64, slots[s >>> 6].u8, (s & 63) * 64);
  }
  return new OverlayImage(base, pages);
}

const tmp: ImageHash = { a: 0, b: 0 };

/** Content hash of a prefix image, given the hash of the trace's base image: O(lines stored). */
export function prefixHash(trace: PersistTrace, pre: PrefixImage, baseHash: ImageHash): ImageHash {
  const h: ImageHash = { a: baseHash.a, b: baseHash.b };
  for (const [line, s] of pre.lines) {
    imageLineHash(trace.base, line, tmp);
    subHash(h, tmp);
    hashLineWords(line, pre.slots[s >>> 6].u32, (s & 63) * 16, tmp);
    addHash(h, tmp);
  }
  return h;
}

/**
 * True when the prefix image holds the very bytes of the trace's base on every line it
 * stored to (stores that rewrote what was there): the prefix image is then the base
 * image itself, byte for byte.
 */
export function prefixUnchanged(trace: PersistTrace, pre: PrefixImage): boolean {
  for (const [line, s] of pre.lines) {
    const page = trace.base.page(line >>> 6);
    const slot = pre.slots[s >>> 6].u8;
    const so = (s & 63) * 64;
    const bo = (line & 63) * 64;
    if (page === undefined) {
      for (let i = 0; i < 64; i++) if (slot[so + i] !== 0) return false;
    } else {
      for (let i = 0; i < 64; i++) if (slot[so + i] !== page[bo + i]) return false;
    }
  }
  return true;
}
