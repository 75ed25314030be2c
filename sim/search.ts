/**
 * Binary search over sorted numbers, and sorting them.
 *
 * Model: lowerBound(a, x, n) is the first index i in [0, n) with a[i] >= x, or n when
 * there is none; a[0..n) must be ascending. O(log n), no allocation (hot paths use it).
 * sortAscending(a) sorts numbers in place as a.sort((x, y) => x - y) would (numbers
 * that are neither NaN nor -0), without a comparator call per comparison: quicksort
 * (middle pivot, smaller side first, so the stack is O(log n)) down to runs of 16,
 * which insertion sort finishes. Structure walks sort every checked state's keys and
 * objects with it; a typed-array sort costs twice as much on their ~100 numbers.
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

/** Runs this short are left to insertion sort. */
const INSERTION_MAX = 16;

export function sortAscending(a: number[]): number[] {
  const stack: number[] = [];
  let lo = 0;
  let hi = a.length - 1;
  for (;;) {
    while (hi - lo > INSERTION_MAX) {
      const j = partition(a, lo, hi);
      // [lo, j] and [j + 1, hi]: the smaller side now, the larger one later.
      if (j - lo < hi - j) {
        stack.push(j + 1, hi);
        hi = j;
      } else {
        stack.push(lo, j);
        lo = j + 1;
      }
    }
    insertionSort(a, lo, hi);
    if (stack.length === 0) return a;
    hi = stack.pop()!;
    lo = stack.pop()!;
  }
}

/** Hoare partition of a[lo..hi] around its middle value: returns j with a[lo..j] <= pivot <= a[j+1..hi], lo <= j < hi. */
function partition(a: number[], lo: number, hi: number): number {
  const pivot = a[(lo + hi) >>> 1];
  let i = lo - 1;
  let j = hi + 1;
  for (;;) {
    do i++;
    while (a[i] < pivot);
    do j--;
    while (a[j] > pivot);
    if (i >= j) return j;
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function insertionSort(a: number[], lo: number, hi: number): void {
  for (let k = lo + 1; k <= hi; k++) {
    const t = a[k];
    let m = k - 1;
    while (m >= lo && a[m] > t) {
      a[m + 1] = a[m];
      m--;
    }
    a[m + 1] = t;
  }
}
