/**
 * Interval queries over extents for the no-double-allocation oracle.
 *
 * Model: extents sorted by start with a running maximum of ends, so "does [a, b)
 * overlap any extent?" and "is [a, b) inside one extent?" are binary searches.
 * Invariants: inputs are not modified; zero-sized extents never overlap.
 */
import type { Extent } from '../../allocators/contract.ts';

export class ExtentIndex {
  private readonly starts: number[];
  private readonly ends: number[];
  private readonly maxEnd: number[];
  readonly extents: Extent[];

  constructor(extents: readonly Extent[]) {
    this.extents = extents.filter((e) => e.sizeBytes > 0).sort((x, y) => x.addr - y.addr || x.sizeBytes - y.sizeBytes);
    this.starts = this.extents.map((e) => e.addr);
    this.ends = this.extents.map((e) => e.addr + e.sizeBytes);
    this.maxEnd = [];
    let m = -Infinity;
    for (const e of this.ends) this.maxEnd.push((m = Math.max(m, e)));
  }

  /** Index of the last extent starting before b (or -1). */
  private lastBefore(b: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] < b) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
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
