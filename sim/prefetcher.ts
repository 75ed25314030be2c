/**
 * The L2 hardware prefetchers of one core: the streamer and the spatial (adjacent-line)
 * prefetcher of Intel's server cores (issues 12 and 13).
 *
 * Model (Intel 64 and IA-32 Architectures Optimization Reference Manual, order 248966,
 * "Data Prefetch to the L2 and Last Level Cache", the Sandy Bridge section that later
 * cores up to Skylake-SP / Cascade Lake carry over; the streamer's traits of the Core
 * section of the same manual):
 * - Both watch the core's L2 requests: its L1 misses, loads and stores alike (a store's
 *   read for ownership is an L2 request). L1 hits, and prefetches themselves, are not
 *   requests.
 * - Streamer: at most `streams` streams, one per 4 KiB page (64 lines), least recently
 *   requested replaced first. A request to a page without a stream allocates one there
 *   (no prefetch). A later request to the page at most `triggerStepLines` from the
 *   previous one sets the stream's direction (ascending if its line is above the
 *   previous request's, descending if below; the same line keeps the direction); a
 *   longer jump is no sequence and clears the direction ("triggered after two successive
 *   cache misses ... [whose] distance is within a threshold value", the hardware
 *   prefetch section of the same manual). Once a direction is known, it prefetches the
 *   lines after the
 *   stream's frontier in that direction: at most `perTrigger` per request ("two
 *   prefetch requests on every L2 lookup"), never more than `distanceLines` past the
 *   requested line ("up to 20 lines ahead of the load request") and never outside the
 *   page. A change of direction restarts the frontier at the requested line, and so
 *   does a request that has overtaken the frontier. A candidate already in the core's
 *   L2 is skipped (the frontier passes it, it is not a prefetch).
 * - Spatial prefetcher (`adjacentLine` 1): a request that missed L2 also prefetches the
 *   other line of its 128 B-aligned pair ("complete every cache line fetched to the L2
 *   cache with the pair line").
 * - Type: a prefetch triggered by a store fetches with ownership (an RFO), one triggered
 *   by a load fetches to share ("Issues Read For Ownership (RFO) transactions for store
 *   streams and Data Reads for load streams", Core section; Intel SDM vol. 3B, the
 *   off-core response request types PF_L2_DATA_RD and PF_L2_RFO: "RFO requests generated
 *   by L2 prefetcher"). It never marks the line dirty: memory contents are unchanged.
 * - Timing: a prefetch issued at t whose line comes from a level with latency L (the
 *   LLC, another core's cache, DRAM or NVRAM media: the target's answer) is in the core's
 *   L2 at once, and its data arrives at t + L. A demand request that finds the line in
 *   L2 before then waits for the rest of the fill (demand returns when it completes), then pays an L2 hit.
 * - At most `inFlightLines` prefetches are in flight per core; a candidate that finds
 *   them all busy is dropped for this request (the frontier stays, a later request
 *   retries). The streamer's further adaptations (prefetching less far ahead and into
 *   the LLC only when many requests are outstanding) are not modelled, nor the L1 DCU
 *   next-line prefetcher. The L1 IP-stride prefetcher (it saves L2 hits, 13 cycles, where
 *   the streamer saves memory reads) is sim/l1-prefetcher.ts, a timing credit.
 *
 * The prefetcher decides which lines to fetch and remembers when their data arrives;
 * the cache state changes through `PrefetchTarget` (sim/core.ts over sim/coherence.ts).
 * It never touches memory values or the persistency trace.
 *
 * Speed: a request finds its page's stream through a chained hash of pages and keeps the
 * LRU order in a doubly linked list, so it costs O(1), not a scan of every stream.
 *
 * Invariants: every candidate lies in the requested line's 4 KiB page and within
 * `distanceLines` of it; at most `perTrigger` streamer prefetches per request; at most
 * `inFlightLines` fills pending, each line at most once; a stream's frontier is never
 * behind its last request in its direction; all times are integers; streams [0, used)
 * are in use, each on the LRU list once and in its page's bucket chain once.
 */
import { LruList } from './lru-list.ts';

/** Lines in a 4 KiB page: no prefetch crosses one. */
export const PAGE_LINES = 64;
const PAGE_SHIFT_LINES = 6;
/** Buckets of the page -> stream lookup (a power of two). */
const BUCKETS = 64;
const BUCKET_MASK = BUCKETS - 1;

export interface PrefetchParams {
  /** Streams tracked at once (one per 4 KiB page); 0 turns the streamer off. */
  readonly streams: number;
  /** How far past the requested line the streamer may run, lines. */
  readonly distanceLines: number;
  /** Streamer prefetches per L2 request, at most. */
  readonly perTrigger: number;
  /** 1 = spatial prefetcher on (the other line of a 128 B pair, on an L2 miss). */
  readonly adjacentLine: number;
  /** Prefetches in flight per core, at most; 0 turns prefetching off. */
  readonly inFlightLines: number;
  /** Largest step between two successive requests in a page that continues a sequence, lines; 0 = any step in the page. */
  readonly triggerStepLines: number;
}

/** What a prefetch acts on: the core's caches. */
export interface PrefetchTarget {
  /** True when `line` needs no prefetch: it is in the core's L2 already, or outside memory. */
  skip(line: number): boolean;
  /** Bring `line` into the core's L2 (and the LLC), with ownership if `own`, at `nowCycles`; returns the cycles until its data arrives. */
  fetch(line: number, own: boolean, nowCycles: number): number;
}

/** True when the parameters turn every prefetcher off. */
export function prefetchOff(p: PrefetchParams): boolean {
  return p.inFlightLines === 0 || (p.adjacentLine === 0 && (p.streams === 0 || p.perTrigger === 0 || p.distanceLines === 0));
}

export class L2Prefetcher {
  // Streams (index s): page + 1 (0 = free), last requested line, direction (+1, -1, 0 =
  // not known yet), frontier (the furthest line prefetched or passed).
  private readonly page: Int32Array;
  private readonly last: Int32Array;
  private readonly dir: Int8Array;
  private readonly ahead: Int32Array;
  // Recency order of the streams in use.
  private readonly order: LruList;
  private used = 0;
  // Page lookup: chains of streams per bucket (page & BUCKET_MASK), -1 ended.
  private readonly bucketHead: Int32Array;
  private readonly chainNext: Int32Array;
  // Fills in flight: entries [0, count).
  private readonly fillLine: Int32Array;
  private readonly fillDone: Float64Array;
  private count = 0;
  /** Prefetches issued since construction or reset. */
  issued = 0;
  // The parameters as fields of this object (read on every request).
  private readonly streams: number;
  private readonly distanceLines: number;
  private readonly perTrigger: number;
  private readonly adjacentLine: number;
  private readonly inFlightLines: number;
  private readonly triggerStepLines: number;

  constructor(readonly params: PrefetchParams) {
    for (const [k, v] of Object.entries(params)) {
      if (!(Number.isSafeInteger(v) && v >= 0)) throw new RangeError(`prefetch parameter ${k} must be a non-negative integer, got ${String(v)}`);
    }
    this.streams = params.streams;
    this.distanceLines = params.distanceLines;
    this.perTrigger = params.perTrigger;
    this.adjacentLine = params.adjacentLine;
    this.inFlightLines = params.inFlightLines;
    this.triggerStepLines = params.triggerStepLines;
    const n = Math.max(1, params.streams);
    this.page = new Int32Array(n);
    this.last = new Int32Array(n);
    this.dir = new Int8Array(n);
    this.ahead = new Int32Array(n);
    this.order = new LruList(n);
    this.bucketHead = new Int32Array(BUCKETS).fill(-1);
    this.chainNext = new Int32Array(n);
    this.fillLine = new Int32Array(Math.max(1, params.inFlightLines));
    this.fillDone = new Float64Array(this.fillLine.length);
  }

  /** When the prefetch fill of `line` completes, if it is still in flight at `nowCycles`; else -1 (inspection: demand answers the core). */
  pendingDone(line: number, nowCycles: number): number {
    if (this.count === 0) return -1;
    this.expire(nowCycles);
    for (let i = 0; i < this.count; i++) if (this.fillLine[i] === line) return this.fillDone[i];
    return -1;
  }

  /**
   * An L2 request of the core (an L1 miss; sim/core.ts) to `line` at `nowCycles`, for a
   * store if `write`, that hit the L2 if `l2Hit`. Fills done by `nowCycles` expire; on a
   * hit, returns the completion time of a fill still pending for the line (else -1); on a
   * miss, a fill still recorded for the line is void (the line left L2 meanwhile) and -1 is
   * returned. Then the streamer trains and the prefetches it and the spatial prefetcher
   * call for are issued through `target`. One pass over the fills serves the expiry and
   * the lookup.
   */
  demand(line: number, write: boolean, l2Hit: boolean, nowCycles: number, target: PrefetchTarget): number {
    let done = -1;
    if (this.count !== 0) {
      this.expire(nowCycles);
      const fl = this.fillLine;
      for (let i = 0, n = this.count; i < n; i++) {
        if (fl[i] === line) {
          if (l2Hit) done = this.fillDone[i];
          else this.removeFill(i);
          break;
        }
      }
    }
    if (this.inFlightLines !== 0) this.train(line, write, !l2Hit, nowCycles, target);
    return done;
  }

  /** The prefetchers' part of a request, after the expiry of the fills done at nowCycles. */
  private train(line: number, write: boolean, l2Miss: boolean, nowCycles: number, target: PrefetchTarget): void {
    if (l2Miss && this.adjacentLine !== 0) this.tryFetch(line ^ 1, write, nowCycles, target);
    if (this.streams === 0) return;
    const s = this.streamFor(line);
    if (s < 0) return;
    const prev = this.last[s];
    const d = line > prev ? 1 : line < prev ? -1 : this.dir[s];
    this.last[s] = line;
    const step = this.triggerStepLines;
    if (step !== 0 && (line - prev) * d > step) {
      this.dir[s] = 0; // a jump: not a sequence; the next request may start one from here
      return;
    }
    if (d === 0) return;
    if (d !== this.dir[s] || (this.ahead[s] - line) * d < 0) {
      this.dir[s] = d;
      this.ahead[s] = line;
    }
    this.advance(s, line, d, write, nowCycles, target);
  }

  /** Issue up to perTrigger prefetches past stream s's frontier, within distance and page. */
  private advance(s: number, line: number, d: number, write: boolean, nowCycles: number, target: PrefetchTarget): void {
    const first = (line >>> PAGE_SHIFT_LINES) << PAGE_SHIFT_LINES;
    let limit = line + d * this.distanceLines;
    if (limit < first) limit = first;
    if (limit > first + PAGE_LINES - 1) limit = first + PAGE_LINES - 1;
    let issued = 0;
    let a = this.ahead[s];
    const perTrigger = this.perTrigger;
    while (issued < perTrigger && (limit - a) * d > 0) {
      const cand = a + d;
      if (target.skip(cand)) {
        a = cand;
        continue;
      }
      if (this.count >= this.inFlightLines) break;
      this.record(cand, nowCycles + target.fetch(cand, write, nowCycles));
      a = cand;
      issued++;
    }
    this.ahead[s] = a;
  }

  /** The spatial prefetcher's candidate. */
  private tryFetch(line: number, own: boolean, nowCycles: number, target: PrefetchTarget): void {
    if (this.count >= this.inFlightLines || target.skip(line)) return;
    this.record(line, nowCycles + target.fetch(line, own, nowCycles));
  }

  /**
   * The stream of line's page, touched as most recent; a new stream (the least recently
   * requested one replaced) returns -1: its first request only allocates it.
   */
  private streamFor(line: number): number {
    const tag = (line >>> PAGE_SHIFT_LINES) + 1;
    const b = tag & BUCKET_MASK;
    for (let s = this.bucketHead[b]; s >= 0; s = this.chainNext[s]) {
      if (this.page[s] === tag) {
        this.order.touch(s);
        return s;
      }
    }
    let v: number;
    if (this.used < this.streams) {
      v = this.used++;
    } else {
      v = this.order.lru;
      this.order.unlink(v);
      this.unlinkBucket(v);
    }
    this.page[v] = tag;
    this.chainNext[v] = this.bucketHead[b];
    this.bucketHead[b] = v;
    this.last[v] = line;
    this.dir[v] = 0;
    this.ahead[v] = line;
    this.order.pushMru(v);
    return -1;
  }

  private unlinkBucket(s: number): void {
    const b = this.page[s] & BUCKET_MASK;
    let k = this.bucketHead[b];
    if (k === s) {
      this.bucketHead[b] = this.chainNext[s];
      return;
    }
    while (this.chainNext[k] !== s) k = this.chainNext[k];
    this.chainNext[k] = this.chainNext[s];
  }

  private record(line: number, doneCycles: number): void {
    this.issued++;
    for (let i = 0; i < this.count; i++) {
      if (this.fillLine[i] === line) {
        this.fillDone[i] = doneCycles;
        return;
      }
    }
    this.fillLine[this.count] = line;
    this.fillDone[this.count] = doneCycles;
    this.count++;
  }

  /** Drop the fills complete at `nowCycles` (order within the table does not matter). */
  private expire(nowCycles: number): void {
    let i = 0;
    while (i < this.count) {
      if (this.fillDone[i] <= nowCycles) this.removeFill(i);
      else i++;
    }
  }

  private removeFill(i: number): void {
    this.count--;
    this.fillLine[i] = this.fillLine[this.count];
    this.fillDone[i] = this.fillDone[this.count];
  }

  /** Fills in flight at `nowCycles` (tests). */
  inFlight(nowCycles: number): number {
    this.expire(nowCycles);
    return this.count;
  }

  /** Back to a fresh prefetcher (crash checking reuses a machine). */
  reset(): void {
    this.page.fill(0);
    this.bucketHead.fill(-1);
    this.order.clear();
    this.used = 0;
    this.count = 0;
    this.issued = 0;
  }
}
