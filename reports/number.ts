/**
 * Exact, deterministic number formatting for CSV and charts.
 *
 * Model: every derived figure is a ratio of integers (cycles / ops, ...). It is kept
 * as a BigInt fraction and printed with a fixed number of decimals, rounding half away
 * from zero, so the text never depends on floating-point behaviour. Means over seeds
 * are exact sums of fractions; a standard deviation or a confidence half-width is the
 * square root of an exact ratio, printed rounded to the nearest last digit by integer
 * square roots (no floating point either).
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

/** Integer square root: the largest r with r * r <= n (n >= 0). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError('isqrt of a negative number');
  if (n < 2n) return n;
  // Newton's iteration from above: x shrinks to floor(sqrt(n)).
  let x = 1n << BigInt((n.toString(2).length + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Fixed-decimal text of sqrt(q) for a ratio q >= 0, rounded to the nearest last digit. */
export function formatSqrt(q: Ratio, decimals: number): string {
  if (q.num < 0n) throw new RangeError('formatSqrt of a negative ratio');
  const scale2 = 10n ** BigInt(2 * decimals);
  // r = floor(sqrt(q) * 10^d); round up when (r + 1/2)^2 <= q * 10^(2d), i.e.
  // (2r + 1)^2 * den <= 4 * num * 10^(2d): a tie rounds up, as formatRatio's half away from zero.
  let r = isqrt((q.num * scale2) / q.den);
  if ((2n * r + 1n) ** 2n * q.den <= 4n * q.num * scale2) r += 1n;
  return formatRatio({ num: r, den: 10n ** BigInt(decimals) }, decimals);
}

/** Exact sample variance (divisor n - 1) of at least two ratios, else null. */
export function sampleVariance(values: readonly Ratio[]): Ratio | null {
  const n = values.length;
  if (n < 2) return null;
  let sum = ratio(0);
  for (const v of values) sum = addRatio(sum, v);
  const mean = divRatio(sum, n);
  let squares = ratio(0);
  for (const v of values) {
    const d = addRatio(v, { num: -mean.num, den: mean.den });
    squares = addRatio(squares, reduce({ num: d.num * d.num, den: d.den * d.den }));
  }
  return divRatio(squares, n - 1);
}

/**
 * Two-sided 95 % Student t quantiles in thousandths, by degrees of freedom (1..30), then
 * at 40, 60 and 120 (standard tables); between and beyond tabulated values the next lower
 * tabulated degrees of freedom is used (a slightly wider interval).
 */
const T95_MILLI = [12706, 4303, 3182, 2776, 2571, 2447, 2365, 2306, 2262, 2228, 2201, 2179, 2160, 2145, 2131, 2120, 2110, 2101, 2093, 2086, 2080, 2074, 2069, 2064, 2060, 2056, 2052, 2048, 2045, 2042];

export function t95Milli(degreesOfFreedom: number): number {
  const df = degreesOfFreedom;
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  if (df <= 30) return T95_MILLI[df - 1];
  if (df < 40) return 2042;
  if (df < 60) return 2021;
  if (df < 120) return 2000;
  return 1980;
}

/**
 * Spread of a sample: the sample standard deviation and the half-width of the 95 %
 * confidence interval of its mean (t * sd / sqrt(n)), as fixed-decimal text; null for
 * fewer than two values.
 */
export function formatSpread(values: readonly Ratio[], decimals: number): { sd: string; ci95: string } | null {
  const variance = sampleVariance(values);
  if (variance === null) return null;
  const t = BigInt(t95Milli(values.length - 1));
  const ciSquared = reduce({ num: variance.num * t * t, den: variance.den * 1_000_000n * BigInt(values.length) });
  return { sd: formatSqrt(variance, decimals), ci95: formatSqrt(ciSquared, decimals) };
}
