import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { L2Prefetcher, PAGE_LINES, prefetchOff, type PrefetchParams, type PrefetchTarget } from './prefetcher.ts';

const SKYLAKE: PrefetchParams = { streams: 32, distanceLines: 20, perTrigger: 2, adjacentLine: 1, inFlightLines: 32, triggerStepLines: 4 };

interface Fetch {
  line: number;
  own: boolean;
  at: number;
}

/** A fake L2: a set of lines; fetch puts the line in and answers a latency from the line. */
class FakeL2 implements PrefetchTarget {
  readonly lines = new Set<number>();
  readonly fetches: Fetch[] = [];
  constructor(readonly firstLine = 0, readonly endLine = 1 << 20) {}
  skip(line: number): boolean {
    return line < this.firstLine || line >= this.endLine || this.lines.has(line);
  }
  fetch(line: number, own: boolean, nowCycles: number): number {
    this.lines.add(line);
    this.fetches.push({ line, own, at: nowCycles });
    return latencyOf(line);
  }
}

function latencyOf(line: number): number {
  return 13 + ((line * 2654435761) >>> 0) % 700;
}

/**
 * The naive reference: the module header's rules written out with plain objects, a list
 * of streams in LRU order and a list of fills, without typed arrays or in-place tricks.
 */
class ReferencePrefetcher {
  private streams: { page: number; last: number; dir: number; ahead: number }[] = []; // most recent last
  private fills: { line: number; done: number }[] = [];
  constructor(readonly p: PrefetchParams) {}

  pendingDone(line: number, now: number): number {
    this.fills = this.fills.filter((f) => f.done > now);
    const f = this.fills.find((x) => x.line === line);
    return f === undefined ? -1 : f.done;
  }

  forget(line: number): void {
    this.fills = this.fills.filter((f) => f.line !== line);
  }

  private issue(line: number, own: boolean, now: number, t: PrefetchTarget): boolean {
    this.fills = this.fills.filter((f) => f.done > now);
    if (this.fills.length >= this.p.inFlightLines) return false;
    const done = now + t.fetch(line, own, now);
    this.forget(line);
    this.fills.push({ line, done });
    return true;
  }

  request(line: number, write: boolean, l2Miss: boolean, now: number, t: PrefetchTarget): void {
    if (this.p.inFlightLines === 0) return;
    if (l2Miss && this.p.adjacentLine === 1 && !t.skip(line ^ 1)) this.issue(line ^ 1, write, now, t);
    if (this.p.streams === 0) return;
    const page = Math.floor(line / PAGE_LINES);
    const k = this.streams.findIndex((s) => s.page === page);
    if (k < 0) {
      if (this.streams.length === this.p.streams) this.streams.shift();
      this.streams.push({ page, last: line, dir: 0, ahead: line });
      return;
    }
    const s = this.streams.splice(k, 1)[0];
    this.streams.push(s);
    const d = line > s.last ? 1 : line < s.last ? -1 : s.dir;
    const step = Math.abs(line - s.last);
    s.last = line;
    if (this.p.triggerStepLines > 0 && step > this.p.triggerStepLines) {
      s.dir = 0;
      return;
    }
    if (d === 0) return;
    if (d !== s.dir || (d === 1 ? s.ahead < line : s.ahead > line)) {
      s.dir = d;
      s.ahead = line;
    }
    const lo = page * PAGE_LINES;
    const hi = lo + PAGE_LINES - 1;
    const limit = Math.min(hi, Math.max(lo, line + d * this.p.distanceLines));
    let issued = 0;
    while (issued < this.p.perTrigger && (d === 1 ? s.ahead < limit : s.ahead > limit)) {
      const cand = s.ahead + d;
      if (t.skip(cand)) {
        s.ahead = cand;
        continue;
      }
      if (!this.issue(cand, write, now, t)) break;
      s.ahead = cand;
      issued++;
    }
  }
}

/** One step of a random driver: an L2 request, or the fake L2 losing a line (eviction, invalidation). */
type Step = { kind: 'req'; line: number; write: boolean; dt: number } | { kind: 'evict'; line: number };

const stepArb = (pages: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('req' as const), line: fc.integer({ min: 0, max: pages * PAGE_LINES - 1 }), write: fc.boolean(), dt: fc.integer({ min: 0, max: 400 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('evict' as const), line: fc.integer({ min: 0, max: pages * PAGE_LINES - 1 }) }) },
  );

/** Walk lines `from` and up (or down) by one, `n` requests, `dt` cycles apart: returns the fake L2 after. */
function walk(pf: L2Prefetcher, l2: FakeL2, from: number, n: number, d: number, write = false, dt = 100): void {
  let now = 0;
  for (let k = 0; k < n; k++, now += dt) {
    const line = from + k * d;
    const hit = l2.lines.has(line);
    l2.lines.add(line);
    pf.demand(line, write, hit, now, l2);
  }
}

describe('L2Prefetcher against a naive reference model', () => {
  it('issues the same prefetches (line, type, time) and reports the same pending fills', () => {
    const params = fc.record({
      streams: fc.integer({ min: 0, max: 6 }),
      distanceLines: fc.integer({ min: 0, max: 24 }),
      perTrigger: fc.integer({ min: 0, max: 3 }),
      adjacentLine: fc.integer({ min: 0, max: 1 }),
      inFlightLines: fc.integer({ min: 0, max: 12 }),
      triggerStepLines: fc.integer({ min: 0, max: 6 }),
    });
    fc.assert(
      fc.property(params, fc.array(stepArb(8), { minLength: 1, maxLength: 300 }), (p, steps) => {
        const fast = new L2Prefetcher(p);
        const ref = new ReferencePrefetcher(p);
        // Memory is lines [8, 8 * 64 - 8): candidates near the ends are outside it.
        const l2a = new FakeL2(8, 8 * PAGE_LINES - 8);
        const l2b = new FakeL2(8, 8 * PAGE_LINES - 8);
        let now = 0;
        for (const s of steps) {
          if (s.kind === 'evict') {
            l2a.lines.delete(s.line);
            l2b.lines.delete(s.line);
            continue;
          }
          now += s.dt;
          const hit = l2a.lines.has(s.line);
          // What the core asks in one call: an L2 hit asks for a pending fill, a miss voids it.
          let pending = -1;
          if (hit) pending = ref.pendingDone(s.line, now);
          else ref.forget(s.line);
          l2a.lines.add(s.line);
          l2b.lines.add(s.line);
          ref.request(s.line, s.write, !hit, now, l2b);
          expect(fast.demand(s.line, s.write, hit, now, l2a)).toBe(pending);
          expect(l2a.fetches).toEqual(l2b.fetches);
        }
        expect(fast.issued).toBe(l2a.fetches.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('L2Prefetcher rules', () => {
  it('an ascending stream runs ahead two lines a request, up to 20 lines, never past its page', () => {
    const pf = new L2Prefetcher({ ...SKYLAKE, adjacentLine: 0 });
    const l2 = new FakeL2();
    walk(pf, l2, 128, 1, 1); // allocates the stream of page 2: no prefetch
    expect(l2.fetches).toEqual([]);
    walk(pf, l2, 129, 1, 1);
    expect(l2.fetches.map((f) => f.line)).toEqual([130, 131]);
    const l3 = new FakeL2();
    const p3 = new L2Prefetcher({ ...SKYLAKE, adjacentLine: 0, inFlightLines: 1000 });
    walk(p3, l3, 128, 64, 1, false, 0);
    const lines = l3.fetches.map((f) => f.line);
    expect(Math.max(...lines)).toBe(191); // the page's last line
    expect(Math.min(...lines)).toBe(130);
    expect(new Set(lines).size).toBe(lines.length);
    // Two a request: after lines 128..139 the frontier is 129 + 2 x 11; after 128..167 it
    // has caught up with the 20-line distance (167 + 20).
    const ahead = (n: number) => {
      const p4 = new L2Prefetcher({ ...SKYLAKE, adjacentLine: 0, inFlightLines: 1000 });
      const l4 = new FakeL2();
      walk(p4, l4, 128, n, 1, false, 0);
      return Math.max(...l4.fetches.map((f) => f.line));
    };
    expect(ahead(12)).toBe(129 + 2 * 11);
    expect(ahead(40)).toBe(167 + 20);
  });

  it('a descending stream prefetches below, within the page', () => {
    const pf = new L2Prefetcher({ ...SKYLAKE, adjacentLine: 0, inFlightLines: 1000 });
    const l2 = new FakeL2();
    walk(pf, l2, 255, 64, -1, false, 0);
    const lines = l2.fetches.map((f) => f.line);
    expect(lines.slice(0, 2)).toEqual([253, 252]);
    expect(Math.min(...lines)).toBe(192);
    expect(Math.max(...lines)).toBeLessThan(256);
  });

  it('a jump longer than triggerStepLines is no sequence: no prefetch until two close requests', () => {
    const pf = new L2Prefetcher({ ...SKYLAKE, adjacentLine: 0 });
    const l2 = new FakeL2();
    pf.demand(0, false, false, 0, l2);
    pf.demand(10, false, false, 1, l2); // 10 lines: a jump
    pf.demand(30, false, false, 2, l2);
    expect(l2.fetches).toEqual([]);
    pf.demand(33, false, false, 3, l2); // 3 lines: a sequence
    expect(l2.fetches.map((f) => f.line)).toEqual([34, 35]);
  });

  it('store streams fetch with ownership, load streams without', () => {
    const pf = new L2Prefetcher(SKYLAKE);
    const l2 = new FakeL2();
    walk(pf, l2, 0, 4, 1, true);
    walk(pf, l2, 640, 4, 1, false);
    expect(l2.fetches.filter((f) => f.line < 64).every((f) => f.own)).toBe(true);
    expect(l2.fetches.filter((f) => f.line >= 640).every((f) => !f.own)).toBe(true);
    expect(l2.fetches.length).toBeGreaterThan(4);
  });

  it('the spatial prefetcher fetches the pair line on an L2 miss only', () => {
    const pf = new L2Prefetcher({ ...SKYLAKE, streams: 0 });
    const l2 = new FakeL2();
    pf.demand(10, false, false, 0, l2);
    expect(l2.fetches).toEqual([{ line: 11, own: false, at: 0 }]);
    pf.demand(21, false, true, 5, l2);
    expect(l2.fetches.length).toBe(1);
    pf.demand(21, true, false, 7, l2);
    expect(l2.fetches[1]).toEqual({ line: 20, own: true, at: 7 });
  });

  it('a fill is pending until its data arrives; at most inFlightLines are in flight', () => {
    const pf = new L2Prefetcher({ ...SKYLAKE, adjacentLine: 0, inFlightLines: 3 });
    const l2 = new FakeL2();
    walk(pf, l2, 0, 3, 1, false, 0); // lines 0, 1, 2 at time 0: 2 and 3 after line 1, then 4 (the cap) after line 2
    const issued = l2.fetches.map((f) => f.line);
    expect(issued.length).toBe(3);
    for (const line of issued) expect(pf.pendingDone(line, 0)).toBe(latencyOf(line));
    const first = Math.min(...issued.map(latencyOf));
    expect(pf.inFlight(first)).toBe(2);
    expect(pf.pendingDone(issued[0], 100000)).toBe(-1);
  });

  it('reset forgets streams and fills', () => {
    const pf = new L2Prefetcher(SKYLAKE);
    const l2 = new FakeL2();
    walk(pf, l2, 0, 5, 1);
    pf.reset();
    expect(pf.inFlight(0)).toBe(0);
    const again = new FakeL2();
    pf.demand(300, false, true, 0, again);
    expect(again.fetches).toEqual([]); // a new stream: allocation only
  });

  it('rejects bad parameters and knows when it is off', () => {
    expect(() => new L2Prefetcher({ ...SKYLAKE, streams: -1 })).toThrow(/streams/);
    expect(() => new L2Prefetcher({ ...SKYLAKE, distanceLines: 1.5 })).toThrow(/distanceLines/);
    expect(prefetchOff({ ...SKYLAKE, inFlightLines: 0 })).toBe(true);
    expect(prefetchOff({ ...SKYLAKE, streams: 0, adjacentLine: 0 })).toBe(true);
    expect(prefetchOff({ ...SKYLAKE, streams: 0 })).toBe(false);
    expect(prefetchOff(SKYLAKE)).toBe(false);
  });
});
