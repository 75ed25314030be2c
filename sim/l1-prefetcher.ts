/**
 * The L1 IP-based stride prefetcher of one core (issue 12), as a timing credit.
 *
 * Model (Intel 64 and IA-32 Architectures Optimization Reference Manual, order 248966,
 * "Data Prefetch to L1 Data Cache", Sandy Bridge section carried over to Skylake-SP /
 * Cascade Lake): "Instruction pointer (IP)-based stride prefetcher. This prefetcher keeps
 * track of individual load instructions. If a load instruction is detected to have a
 * regular stride, then a prefetch is sent to the next address which is the sum of the
 * current address and the stride. This prefetcher can prefetch forward or backward and
 * can detect strides of up to 2 KB"; "The prefetched data is within the same 4K byte page
 * as the load instruction that triggered it".
 * - The simulator has no instruction pointer: the access's site (Core.setSite, one per
 *   allocator or workload code path) stands for it, so two load streams of one site are
 *   one "instruction" (they spoil each other's strides: fewer prefetches, never more).
 * - Trained by load misses: a load that misses L1 (an L2 request) with site k at address
 *   a. The stride of k is a minus k's previous miss address; a stride seen twice in a row
 *   (non-zero, at most `maxStrideBytes` either way) is regular, and the prefetch goes to
 *   the line of a + stride if that is in a's 4 KiB page. L1 hits do not train (they need
 *   no prefetch; a hit's stride history is not kept), so the result does not depend on
 *   the core's fast path.
 * - Timing only: the prefetch is issued at the triggering miss's start time tp. A later
 *   load miss of the same site to the predicted line at time t, whose fill costs `paid`
 *   cycles, pays max(l1HitCycles, paid - (t - tp)) instead: the fill started at tp. The
 *   cache contents, memory values and persistency trace are those without the
 *   prefetcher (the line enters L1 at the demand, as without it); only the clock moves.
 * - Not modelled: the DCU next-line prefetcher (triggered by several loads to one line;
 *   a free-list pop reads one word a line), the prefetch's own bandwidth and cache
 *   pollution, the manual's "not many other load misses in progress" condition, and the
 *   table's size (undocumented; the simulator has a few dozen sites).
 *
 * Invariants: a credit is only given to the line predicted by the same core and site at
 * its latest miss, once; it never makes a miss cheaper than an L1 hit; all times are
 * integers.
 */

export interface StrideEntry {
  lastAddr: number;
  stride: number;
  /** Line predicted by the latest miss (-1: none) and when it was issued. */
  predictedLine: number;
  predictedAtCycles: number;
}

const PAGE_BYTES = 4096;

export class IpStridePrefetcher {
  private readonly table = new Map<number, StrideEntry>();
  /** The table's entry of the site of the latest miss (misses come in runs of one site): no map lookup for them. */
  private lastSite = -1;
  private lastEntry: StrideEntry | undefined;

  constructor(
    /** Largest stride detected, bytes (0 = prefetcher off). */
    readonly maxStrideBytes: number,
  ) {}

  /**
   * A load miss of `site` at `addr` starting at `nowCycles`: returns when a prefetch of its
   * line was issued (-1 if none), then trains on it (which may predict the next line).
   */
  miss(site: number, addr: number, nowCycles: number): number {
    const line = Math.floor(addr / 64);
    let e = site === this.lastSite ? this.lastEntry : this.table.get(site);
    if (e === undefined) {
      e = { lastAddr: addr, stride: 0, predictedLine: -1, predictedAtCycles: 0 };
      this.table.set(site, e);
      this.lastSite = site;
      this.lastEntry = e;
      return -1;
    }
    this.lastSite = site;
    this.lastEntry = e;
    const issued = e.predictedLine === line ? e.predictedAtCycles : -1;
    const stride = addr - e.lastAddr;
    e.predictedLine = -1;
    if (stride !== 0 && stride === e.stride && Math.abs(stride) <= this.maxStrideBytes) {
      const target = addr + stride;
      if (target >= 0 && Math.floor(target / PAGE_BYTES) === Math.floor(addr / PAGE_BYTES)) {
        e.predictedLine = Math.floor(target / 64);
        e.predictedAtCycles = nowCycles;
      }
    }
    e.stride = stride;
    e.lastAddr = addr;
    return issued;
  }

  /** Cycles a miss that paid `paidCycles` from `nowCycles` saves when its prefetch was issued at `issuedAt` (>= 0). */
  static saved(paidCycles: number, nowCycles: number, issuedAt: number, l1HitCycles: number): number {
    return Math.max(0, Math.min(paidCycles - l1HitCycles, nowCycles - issuedAt));
  }

  reset(): void {
    this.table.clear();
    this.lastSite = -1;
    this.lastEntry = undefined;
  }
}
