/**
 * Exact, deterministic number formatting for CSV and charts.
 *
 * Model: every derived figure is a ratio of integers (cycles / ops, ...). It is kept
 * as a BigInt fraction and printed with a fixed number of decimals, rounding half away
 * from zero, so the text never depends on floating-point behaviour. Means over seeds
 * are exact sums of fractions.
 *
 * Invariants: denominators are positive; output has exactly `decimals` decimals.
 */

export interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
}

export function ratio(num: number | bigint, den: number | bigint = 1): Ratio {
  let n = BigInt(num);
  let d = BigInt(den);
  if (d === 0n) throw new RangeError('ratio with zero denominator');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  return { num: n, den: d };
}

export function addRatio(a: Ratio, b: Ratio): Ratio {
  return reduce({ num: a.num * b.den + b.num * a.den, den: a.den * b.den });
}

export function divRatio(a: Ratio, k: number): Ratio {
  return reduce({ num: a.num, den: a.den * BigInt(k) });
}

export function compareRatio(a: Ratio, b: Ratio): number {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function reduce(r: Ratio): Ratio {
  const g = gcd(r.num, r.den);
  return g > 1n ? { num: r.num / g, den: r.den / g } : r;
}

/** Fixed-decimal text of a ratio, rounding half away from zero. */
export function formatRatio(r: Ratio, decimals: number): string {
  const scale = 10n ** BigInt(decimals);
  const neg = r.num < 0n;
  const abs = neg ? -r.num : r.num;
  const scaled = (abs * scale * 2n + r.den) / (2n * r.den);
  const intPart = scaled / scale;
  const frac = (scaled % scale).toString().padStart(decimals, '0');
  const sign = neg && scaled !== 0n ? '-' : '';
  return decimals === 0 ? `${sign}${intPart}` : `${sign}${intPart}.${frac}`;
}

export interface Summary {
  readonly mean: Ratio;
  readonly min: Ratio;
  readonly max: Ratio;
  readonly n: number;
}

/** Exact mean, min and max of a non-empty list of ratios. */
export function summarize(values: readonly Ratio[]): Summary {
  if (values.length === 0) throw new RangeError('summarize of an empty list');
  let sum = ratio(0);
  let min = values[0];
  let max = values[0];
  for (const v of values) {
    sum = addRatio(sum, v);
    if (compareRatio(v, min) < 0) min = v;
    if (compareRatio(v, max) > 0) max = v;
  }
  return { mean: divRatio(sum, values.length), min, max, n: values.length };
}
