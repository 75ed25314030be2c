/**
 * Exact formatting and summaries against naive reference models (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareRatio, formatRatio, formatSpread, formatSqrt, isqrt, ratio, sampleVariance, summarize, t95Milli } from './number.ts';

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

describe('formatSqrt, sampleVariance and formatSpread', () => {
  it('isqrt is the floor of the square root', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 40n }), (n) => {
        const r = isqrt(n);
        expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
      }),
    );
  });

  it('rounds sqrt(q) to the nearest last digit (naive model: compare the squares of both neighbours)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 0, max: 6 }), (num, den, d) => {
        const digits = BigInt(formatSqrt(ratio(num, den), d).replace('.', ''));
        const target = num * 10n ** BigInt(2 * d); // compare (digits / 10^d)^2 with num / den, scaled
        // digits - 1/2 <= sqrt(q) * 10^d <= digits + 1/2 (the lower bound tight unless digits is 0)
        expect((2n * digits + 1n) ** 2n * den >= 4n * target).toBe(true);
        if (digits > 0n) expect((2n * digits - 1n) ** 2n * den <= 4n * target).toBe(true);
      }),
    );
    expect(formatSqrt(ratio(2), 4)).toBe('1.4142');
    expect(formatSqrt(ratio(1, 4), 0)).toBe('1'); // a tie (0.5) rounds away from zero
    expect(formatSqrt(ratio(9, 4), 2)).toBe('1.50');
  });

  it('sample variance agrees with the two-pass float formula', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 2, maxLength: 30 }), (xs) => {
        const v = sampleVariance(xs.map((x) => ratio(x)))!;
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const naive = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
        expect(Math.abs(Number(v.num) / Number(v.den) - naive)).toBeLessThanOrEqual(1e-9 * Math.max(1, naive));
      }),
    );
    expect(sampleVariance([ratio(3)])).toBeNull();
  });

  it('gives the textbook spread of a small sample', () => {
    // 2, 4, 4, 4, 5, 5, 7, 9: sample sd = sqrt(32 / 7) = 2.138; t(7) = 2.365; ci = 2.365 * 2.138 / sqrt(8) = 1.788
    const s = formatSpread([2, 4, 4, 4, 5, 5, 7, 9].map((x) => ratio(x)), 3)!;
    expect(s).toEqual({ sd: '2.138', ci95: '1.788' });
    expect(formatSpread([ratio(5), ratio(5)], 2)).toEqual({ sd: '0.00', ci95: '0.00' });
    expect(formatSpread([ratio(1)], 2)).toBeNull();
    expect(t95Milli(1)).toBe(12706);
    expect(t95Milli(35)).toBe(2042);
    expect(t95Milli(500)).toBe(1980);
  });
});
