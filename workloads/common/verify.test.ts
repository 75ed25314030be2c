/**
 * The structure walks' checksum: checksum2 (no array per node) equals checksum of the
 * two words, and checksum equals the reference mixing written out in one loop.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksum, checksum2 } from './verify.ts';

/** The checksum as first written: two 32-bit lanes mixed per word, folded to 53 bits, never 0. */
function reference(words: readonly number[]): number {
  let h1 = 0x9e3779b9 | 0;
  let h2 = 0x7f4a7c15 | 0;
  for (const w of words) {
    h1 = Math.imul(h1 ^ (w >>> 0), 0x85ebca6b);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ (Math.floor(w / 2 ** 32) >>> 0) ^ h1, 0xc2b2ae35);
    h2 = (h2 << 17) | (h2 >>> 15);
  }
  h1 = Math.imul(h1 ^ (h2 >>> 16), 0x27d4eb2f);
  const v = (h2 & 0x1fffff) * 2 ** 32 + (h1 >>> 0);
  return v === 0 ? 1 : v;
}

const word = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.maxSafeNat());

describe('checksum (property)', () => {
  it('equals the reference on any word list, and checksum2(a, b) equals checksum([a, b])', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), word, word, (ws, a, b) => {
        expect(checksum(ws)).toBe(reference(ws));
        expect(checksum2(a, b)).toBe(checksum([a, b]));
      }),
      { numRuns: 500 },
    );
    expect(checksum2(0, 0)).toBe(reference([0, 0]));
  });
});
