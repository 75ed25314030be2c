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
import type { PersistTrace } from '../api.ts';
import { type ImageHash, addHash, hashLineWords, subHash } from './hash.ts';
import { OverlayImage, type PageBuf, newPage, writeUnit } from './image.ts';
import { isStoreKind, unitSizeBytes } from './replay.ts';

export interface PrefixImage {
  readonly image: OverlayImage;
  /** NVRAM line indices stored to before the position. */
  readonly lines: ReadonlySet<number>;
  readonly pages: ReadonlyMap<number, PageBuf>;
}

export function prefixImage(trace: PersistTrace, pos: number): PrefixImage {
  const pages = new Map<number, PageBuf>();
  const bytes = new Map<number, Uint8Array>();
  const lines = new Set<number>();
  const base = trace.base;
  for (let i = 0; i < pos; i++) {
    const k = trace.kind(i);
    if (!isStoreKind(k)) continue;
    const off = trace.arg(i);
    const p = off >>> 12;
    let buf = pages.get(p);
    if (buf === undefined) {
      buf = newPage(base.page(p));
      pages.set(p, buf);
      bytes.set(p, buf.u8);
    }
    writeUnit(buf, off, unitSizeBytes(k), trace.valueLo(i), trace.valueHi(i));
    lines.add(off >>> 6);
  }
  return { image: new OverlayImage(base, bytes), lines, pages };
}

const scratch8 = new Uint8Array(64);
const scratch32 = new Uint32Array(scratch8.buffer);
const tmp: ImageHash = { a: 0, b: 0 };

/** Content hash of a prefix image, given the hash of the trace's base image. */
export function prefixHash(trace: PersistTrace, pre: PrefixImage, baseHash: ImageHash): ImageHash {
  const h: ImageHash = { a: baseHash.a, b: baseHash.b };
  for (const line of pre.lines) {
    const w = (line & 63) * 16;
    const old = trace.base.page(line >>> 6);
    if (old === undefined) scratch8.fill(0);
    else scratch8.set(old.subarray(w * 4, w * 4 + 64));
    hashLineWords(line, scratch32, 0, tmp);
    subHash(h, tmp);
    hashLineWords(line, pre.pages.get(line >>> 6)!.u32, w, tmp);
    addHash(h, tmp);
  }
  return h;
}
