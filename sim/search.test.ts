/** lowerBound against a linear scan, sortAscending against Array.prototype.sort (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerBound, sortAscending } from './search.ts';

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

describe('sortAscending', () => {
  it('sorts in place as a comparator sort does (duplicates, runs, every length up to a few partitions)', () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }).filter((x) => !Object.is(x, -0)));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), (xs) => {
        const a = [...xs];
        expect(sortAscending(a)).toBe(a);
        expect(a).toEqual([...xs].sort((p, q) => p - q));
      }),
      { numRuns: 300 },
    );
  });

  it('sorts ascending and descending runs and all-equal arrays', () => {
    for (const n of [0, 1, 2, 16, 17, 100, 1000]) {
      const up = Array.from({ length: n }, (_, i) => i * 16);
      expect(sortAscending([...up].reverse())).toEqual(up);
      expect(sortAscending([...up])).toEqual(up);
      expect(sortAscending(new Array(n).fill(7))).toEqual(new Array(n).fill(7));
    }
  });
});
