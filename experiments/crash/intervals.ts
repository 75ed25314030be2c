/**
 * Interval queries over extents for the no-double-allocation oracle.
 *
 * Model: extents sorted by start with a running maximum of ends, so "does [a, b)
 * overlap any extent?" and "is [a, b) inside one extent?" are binary searches.
 * Invariants: inputs are not modified; zero-sized extents never overlap.
 */
import type { Extent } from '../../allocators/contract.ts';
import { lowerBound } from '../../sim/search.ts';

export class ExtentIndex {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  /** Running maximum of ends: `ends` itself when the ends never decrease (disjoint extents, as walks give). */
  private readonly maxEnd: Float64Array;
  readonly extents: readonly Extent[];

  constructor(extents: readonly Extent[]) {
    // Heap walks list extents in address order, none empty: then the input is used as it
    // is (no copy, one pass filling the arrays); else the non-empty ones are copied and
    // sorted. Starts and ends share one allocation.
    let kept: readonly Extent[] = extents;
    let cols = ExtentIndex.columns(kept);
    if (cols === undefined) {
      kept = extents.filter((e) => e.sizeBytes > 0).sort((x, y) => x.addr - y.addr || x.sizeBytes - y.sizeBytes);
      cols = ExtentIndex.columns(kept)!;
    }
    this.extents = kept;
    this.starts = cols.starts;
    this.ends = cols.ends;
    this.maxEnd = cols.maxEnd;
  }

  /** The columns of extents already in order and non-empty, or undefined when they are not. */
  private static columns(kept: readonly Extent[]): { starts: Float64Array; ends: Float64Array; maxEnd: Float64Array } | undefined {
    const n = kept.length;
    const buf = new Float64Array(2 * n);
    const starts = buf.subarray(0, n);
    const ends = buf.subarray(n, 2 * n);
    let m = -Infinity;
    let monotone = true;
    let prevAddr = -Infinity;
    let prevSize = 0;
    for (let i = 0; i < n; i++) {
      const e = kept[i];
      const a = e.addr;
      const size = e.sizeBytes;
      if (size <= 0 || prevAddr > a || (prevAddr === a && prevSize > size)) return undefined;
      prevAddr = a;
      prevSize = size;
      const end = a + size;
      starts[i] = a;
      ends[i] = end;
      if (end < m) monotone = false;
      else m = end;
    }
    if (monotone) return { starts, ends, maxEnd: ends };
    const maxEnd = new Float64Array(n);
    m = -Infinity;
    for (let i = 0; i < n; i++) maxEnd[i] = m = Math.max(m, ends[i]);
    return { starts, ends, maxEnd };
  }

  /** Index of the last extent starting before b (or -1). */
  private lastBefore(b: number): number {
    return lowerBound(this.starts, b) - 1;
  }

  /** An extent overlapping [addr, addr + size), or undefined. */
  overlapping(addr: number, sizeBytes: number): Extent | undefined {
    if (sizeBytes <= 0) return undefined;
    let i = this.lastBefore(addr + sizeBytes);
    if (i < 0 || this.maxEnd[i] <= addr) return undefined;
    while (i >= 0 && this.ends[i] <= addr) i--;
    return i >= 0 ? this.extents[i] : undefined;
  }

  /** True if [addr, addr + size) lies inside one extent. */
  contains(addr: number, sizeBytes: number): boolean {
    for (let i = this.lastBefore(addr + 1); i >= 0 && this.maxEnd[i] > addr; i--) {
      if (this.starts[i] <= addr && addr + sizeBytes <= this.ends[i]) return true;
    }
    return false;
  }
}
