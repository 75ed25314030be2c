/**
 * ExtentIndex against a naive scan of the extents (sorted or shuffled input, zero sizes,
 * nested and overlapping extents).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExtentIndex } from './intervals.ts';

const extent = fc.record({ addr: fc.nat(200), sizeBytes: fc.nat(40) });

describe('ExtentIndex', () => {
  it('answers overlapping and contains as a naive scan does', () => {
    fc.assert(
      fc.property(fc.array(extent, { maxLength: 40 }), fc.boolean(), fc.array(extent, { minLength: 1, maxLength: 20 }), (exts, sortFirst, queries) => {
        const input = sortFirst ? [...exts].sort((x, y) => x.addr - y.addr || x.sizeBytes - y.sizeBytes) : exts;
        const idx = new ExtentIndex(input);
        const live = exts.filter((e) => e.sizeBytes > 0);
        for (const q of queries) {
          const hit = idx.overlapping(q.addr, q.sizeBytes);
          const naiveHit = q.sizeBytes > 0 && live.some((e) => e.addr < q.addr + q.sizeBytes && q.addr < e.addr + e.sizeBytes);
          expect(hit !== undefined).toBe(naiveHit);
          if (hit !== undefined) expect(hit.addr < q.addr + q.sizeBytes && q.addr < hit.addr + hit.sizeBytes).toBe(true);
          // contains is asked of objects (size > 0); an empty range is left unspecified.
          if (q.sizeBytes > 0) expect(idx.contains(q.addr, q.sizeBytes)).toBe(live.some((e) => e.addr <= q.addr && q.addr + q.sizeBytes <= e.addr + e.sizeBytes));
        }
      }),
      { numRuns: 300 },
    );
  });
});
