/**
 * Exact formatting and summaries against naive reference models (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareRatio, formatRatio, ratio, summarize } from './number.ts';

/** Reference: scale by 10^d, round half away from zero by comparing twice the remainder. */
function naiveFormat(num: bigint, den: bigint, d: number): string {
  const neg = num < 0n;
  const a = neg ? -num : num;
  const scaled = a * 10n ** BigInt(d);
  let q = scaled / den;
  if (2n * (scaled % den) >= den) q += 1n;
  const s = q.toString().padStart(d + 1, '0');
  const text = d === 0 ? s : `${s.slice(0, -d)}.${s.slice(-d)}`;
  return neg && q !== 0n ? `-${text}` : text;
}

describe('formatRatio', () => {
  it('matches the naive model and stays within half a unit of the last place', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 0, max: 6 }), (num, den, d) => {
        const text = formatRatio(ratio(num, den), d);
        expect(text).toBe(naiveFormat(num, den, d));
        const digits = BigInt(text.replace('.', ''));
        const err = digits * den - num * 10n ** BigInt(d);
        expect(2n * (err < 0n ? -err : err) <= den).toBe(true);
      }),
    );
  });

  it('prints fixed decimals', () => {
    expect(formatRatio(ratio(1, 3), 4)).toBe('0.3333');
    expect(formatRatio(ratio(2, 3), 2)).toBe('0.67');
    expect(formatRatio(ratio(5, 2), 0)).toBe('3');
    expect(formatRatio(ratio(-5, 2), 0)).toBe('-3');
    expect(formatRatio(ratio(7), 2)).toBe('7.00');
  });
});

describe('summarize', () => {
  it('mean times n equals the exact sum; min and max bound every value', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 1, max: 1000 })), { minLength: 1, maxLength: 20 }), (pairs) => {
        const values = pairs.map(([n, d]) => ratio(n, d));
        const s = summarize(values);
        // sum via a common denominator (naive)
        const common = pairs.reduce((acc, [, d]) => acc * BigInt(d), 1n);
        const sum = pairs.reduce((acc, [n, d]) => acc + (BigInt(n) * common) / BigInt(d), 0n);
        expect(s.mean.num * common * BigInt(values.length)).toBe(sum * s.mean.den);
        for (const v of values) {
          expect(compareRatio(s.min, v) <= 0).toBe(true);
          expect(compareRatio(s.max, v) >= 0).toBe(true);
        }
      }),
    );
  });
});
