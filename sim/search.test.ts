/** lowerBound against a linear scan (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerBound } from './search.ts';

describe('lowerBound', () => {
  it('is the first index of a value >= x within the first n, as a linear scan finds', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 40 }), fc.integer({ min: -60, max: 60 }), fc.nat(), (xs, x, cut) => {
        const a = [...xs].sort((p, q) => p - q);
        const n = a.length === 0 ? 0 : cut % (a.length + 1);
        let want = 0;
        while (want < n && a[want] < x) want++;
        expect(lowerBound(a, x, n)).toBe(want);
      }),
    );
  });
});
