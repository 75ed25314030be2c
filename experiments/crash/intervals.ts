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
  private readonly maxEnd: Float64Array;
  readonly extents: readonly Extent[];

  constructor(extents: readonly Extent[]) {
    // Heap walks list extents in address order, none empty: then the input is used as it
    // is (no copy); else the non-empty ones are copied and sorted.
    let ordered = true;
    for (let i = 0; i < extents.length && ordered; i++) {
      const e = extents[i];
      const prev = i > 0 ? extents[i - 1] : undefined;
      if (e.sizeBytes <= 0 || (prev !== undefined && (prev.addr > e.addr || (prev.addr === e.addr && prev.sizeBytes > e.sizeBytes)))) ordered = false;
    }
    let kept: readonly Extent[] = extents;
    if (!ordered) kept = extents.filter((e) => e.sizeBytes > 0).sort((x, y) => x.addr - y.addr || x.sizeBytes - y.sizeBytes);
    this.extents = kept;
    const n = kept.length;
    this.starts = new Float64Array(n);
    this.ends = new Float64Array(n);
    this.maxEnd = new Float64Array(n);
    let m = -Infinity;
    for (let i = 0; i < n; i++) {
      const e = kept[i];
      this.starts[i] = e.addr;
      this.ends[i] = e.addr + e.sizeBytes;
      this.maxEnd[i] = m = Math.max(m, this.ends[i]);
    }
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
