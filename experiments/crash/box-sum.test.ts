import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BoxSum } from './box-sum.ts';

describe('BoxSum', () => {
  it('equals the BigInt sum, across many folds of the double (boxes near 2^53, and beyond)', () => {
    const box = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 1000 }), fc.bigInt({ min: 1n << 53n, max: 1n << 300n }));
    fc.assert(
      fc.property(fc.array(box, { maxLength: 200 }), (boxes) => {
        const s = new BoxSum();
        let want = 0n;
        for (const b of boxes) {
          if (typeof b === 'bigint') s.addBig(b);
          else s.addNumber(b);
          want += BigInt(b);
        }
        expect(s.total()).toBe(want);
      }),
    );
  });
});
