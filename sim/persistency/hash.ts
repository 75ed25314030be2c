/**
 * Content hashes of NVRAM images, updatable line by line.
 *
 * Model: the hash of an image is the sum (mod 2^32, per lane, two lanes) over every
 * non-zero 64 B line L of H(L, bytes of L), with H a murmur3-style mix of the line
 * index and its sixteen 32-bit words (two seeds, one per lane). An all-zero line
 * contributes 0, so absent pages cost nothing and the hash does not depend on how an
 * image was built (base + overlay, or materialized): changing one line changes the
 * hash by H(L, new) - H(L, old), which is what lets a crash state be hashed in time
 * proportional to the lines that differ from its base.
 *
 * Invariants: equal contents give equal hashes; the 53-bit key (lane a + 21 bits of
 * lane b) is used for deduplication (collision odds ~ n^2 / 2^54 for n states).
 */
import type { NvramImage } from '../api.ts';
import { copyLine } from './image.ts';

export interface ImageHash {
  a: number;
  b: number;
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixWord(h: number, w: number): number {
  let k = Math.imul(w, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Lane hashes of line `line` whose 16 words start at u32[wordIdx]; writes [a, b] into out. Zero line -> [0, 0]. */
export function hashLineWords(line: number, u32: Uint32Array, wordIdx: number, out: ImageHash): void {
  let any = 0;
  let a = line ^ 0x2545f491;
  let b = Math.imul(line, 0x9e3779b1) ^ 0x7f4a7c15;
  for (let i = 0; i < 16; i++) {
    const w = u32[wordIdx + i];
    any |= w;
    a = mixWord(a, w);
    b = mixWord(b, w ^ 0x5bd1e995);
  }
  if (any === 0) {
    out.a = 0;
    out.b = 0;
    return;
  }
  out.a = fmix(a ^ 64);
  out.b = fmix(b ^ 0x3c6ef372);
}

export function addHash(into: ImageHash, x: ImageHash): void {
  into.a = (into.a + x.a) >>> 0;
  into.b = (into.b + x.b) >>> 0;
}
export function subHash(into: ImageHash, x: ImageHash): void {
  into.a = (into.a - x.a) >>> 0;
  into.b = (into.b - x.b) >>> 0;
}

/** A 53-bit number key for Maps. */
export function hashKey(h: ImageHash): number {
  return (h.b & 0x1f_ffff) * 0x1_0000_0000 + h.a;
}
export function hashHex(h: ImageHash): string {
  return h.b.toString(16).padStart(8, '0') + h.a.toString(16).padStart(8, '0');
}

const lineBytes = new Uint8Array(64);
const lineWords = new Uint32Array(lineBytes.buffer);

/**
 * The lane hashes line `line` of `image` contributes to hashImage(image), into out
 * (0 for an absent page): what a line-by-line update subtracts before adding the new content.
 */
export function imageLineHash(image: NvramImage, line: number, out: ImageHash): void {
  const page = image.page(line >>> 6);
  if (page === undefined) {
    out.a = 0;
    out.b = 0;
    return;
  }
  copyLine(lineBytes, 0, page, (line & 63) * 64);
  hashLineWords(line, lineWords, 0, out);
}

/** Hash of a whole image (cost proportional to its non-zero pages). */
export function hashImage(image: NvramImage): ImageHash {
  const sum: ImageHash = { a: 0, b: 0 };
  const tmp: ImageHash = { a: 0, b: 0 };
  for (const p of image.pageIndices()) {
    const page = image.page(p);
    if (page === undefined) continue;
    const u32 = new Uint32Array(page.buffer, page.byteOffset, 1024);
    for (let l = 0; l < 64; l++) {
      hashLineWords(p * 64 + l, u32, l * 16, tmp);
      addHash(sum, tmp);
    }
  }
  return sum;
}
