/**
 * SeededChoice (sim/choice.ts) draws seedrandom's ARC4 words itself: its draws must be
 * seedrandom's own (int32() >>> 0 under index's rejection), whatever the seed and bound.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { SeededChoice, SeedTree } from './choice.ts';

/** index(n) as first written, over seedrandom's int32() (the reference). */
function referenceIndex(rng: seedrandom.PRNG, n: number): number {
  const TWO_32 = 0x1_0000_0000;
  if (n <= TWO_32) {
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = rng.int32() >>> 0;
      if (x < limit) return x % n;
    }
  }
  const hiN = Math.ceil(n / TWO_32);
  for (;;) {
    const x = referenceIndex(rng, hiN) * TWO_32 + (rng.int32() >>> 0);
    if (x < n) return x;
  }
}

describe('SeededChoice', () => {
  it("draws seedrandom's words: index(n) equals the reference over seedrandom's int32", () => {
    const bound = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 2 ** 32 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
    fc.assert(
      fc.property(fc.string(), fc.array(bound, { minLength: 1, maxLength: 400 }), (seed, bounds) => {
        const c = new SeededChoice(seed);
        const ref = seedrandom(seed);
        for (const n of bounds) expect(c.index(n)).toBe(referenceIndex(ref, n));
      }),
      { numRuns: 200 },
    );
  });

  it('a long stream of a seed tree node matches seedrandom (ARC4 indices wrap many times)', () => {
    const seed = SeedTree.root(42).child('workload').child('thread-0').seed;
    const c = new SeededChoice(seed);
    const ref = seedrandom(seed);
    for (let k = 0; k < 20_000; k++) expect(c.index(100 + (k % 7))).toBe(referenceIndex(ref, 100 + (k % 7)));
  });
});
