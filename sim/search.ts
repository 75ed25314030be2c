/**
 * Binary search over sorted numbers.
 *
 * Model: lowerBound(a, x, n) is the first index i in [0, n) with a[i] >= x, or n when
 * there is none; a[0..n) must be ascending. O(log n), no allocation (hot paths use it).
 */
export function lowerBound(a: ArrayLike<number>, x: number, n: number = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
