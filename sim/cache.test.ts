/**
 * SetAssocCache against a naive reference: one LRU list per set (contents and hit/miss
 * per access), including the stamp renumbering at the tick limit.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SetAssocCache } from './cache.ts';

/** Naive LRU: per set an array, least recently used first. */
class NaiveLru {
  readonly sets: number[][];
  constructor(
    readonly nsets: number,
    readonly ways: number,
  ) {
    this.sets = Array.from({ length: nsets }, () => []);
  }
  /** Access line; returns true on a hit. Misses fill, evicting the LRU line of a full set. */
  access(line: number): boolean {
    const s = this.sets[line % this.nsets];
    const k = s.indexOf(line);
    if (k >= 0) {
      s.splice(k, 1);
      s.push(line);
      return true;
    }
    if (s.length === this.ways) s.shift();
    s.push(line);
    return false;
  }
}

function accessReal(c: SetAssocCache, line: number): boolean {
  const i = c.find(line);
  if (i >= 0) {
    c.touch(i);
    return true;
  }
  c.fill(c.victim(line), line, 0);
  return false;
}

const geometry = fc.record({ sets: fc.constantFrom(1, 2, 3, 4, 5, 8), ways: fc.integer({ min: 1, max: 6 }) });

describe('SetAssocCache', () => {
  it('agrees with a naive per-set LRU list on hits, misses and contents', () => {
    fc.assert(
      fc.property(geometry, fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 300 }), ({ sets, ways }, lines) => {
        const real = new SetAssocCache('t', sets * ways * 64, ways);
        const ref = new NaiveLru(sets, ways);
        for (const line of lines) expect(accessReal(real, line)).toBe(ref.access(line));
        for (let s = 0; s < sets; s++) expect(real.setContents(s)).toEqual(ref.sets[s]);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the naive model when lines are invalidated and the cache reset, and counts each set exactly', () => {
    const op = fc.record({ kind: fc.constantFrom('access', 'access', 'access', 'invalidate', 'reset'), line: fc.nat({ max: 40 }) });
    fc.assert(
      fc.property(geometry, fc.array(op, { minLength: 1, maxLength: 300 }), ({ sets, ways }, ops) => {
        const real = new SetAssocCache('t', sets * ways * 64, ways);
        const ref = new NaiveLru(sets, ways);
        for (const o of ops) {
          if (o.kind === 'access') expect(accessReal(real, o.line)).toBe(ref.access(o.line));
          else if (o.kind === 'invalidate') {
            const i = real.find(o.line);
            if (i >= 0) real.invalidate(i);
            const s = ref.sets[o.line % sets];
            if (s.includes(o.line)) s.splice(s.indexOf(o.line), 1);
          } else {
            real.reset();
            for (const s of ref.sets) s.length = 0;
          }
          for (let s = 0; s < sets; s++) {
            expect(real.setContents(s)).toEqual(ref.sets[s]);
            expect(real.validCount(s)).toBe(ref.sets[s].length);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a released cache hands a zeroed array to the next cache of its shape, which then behaves as a fresh one', () => {
    fc.assert(
      fc.property(geometry, fc.array(fc.nat({ max: 400 }), { minLength: 1, maxLength: 400 }), fc.array(fc.nat({ max: 40 }), { maxLength: 100 }), ({ sets, ways }, before, after) => {
        // Many lines: some runs overflow the used-entry tracking (reset then fills the array).
        const old = new SetAssocCache('t', sets * ways * 64, ways);
        for (const l of before) accessReal(old, l);
        const array = old.data;
        old.release();
        expect(old.data.length).toBe(0);
        const next = new SetAssocCache('t', sets * ways * 64, ways);
        expect(next.data).toBe(array);
        expect(next.data.every((v) => v === 0)).toBe(true);
        const ref = new NaiveLru(sets, ways);
        for (const l of after) expect(accessReal(next, l)).toBe(ref.access(l));
        next.release(); // back to the spares: the next run starts with the same pool
      }),
      { numRuns: 200 },
    );
  });

  it('keeps LRU order exactly across tick renumbering', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 30 }), { minLength: 50, maxLength: 200 }), (lines) => {
        const real = new SetAssocCache('t', 4 * 4 * 64, 4);
        const ref = new NaiveLru(4, 4);
        lines.forEach((line, n) => {
          if (n === 20) real.setTickForTest((1 << 30) - 5);
          expect(accessReal(real, line)).toBe(ref.access(line));
        });
        for (let s = 0; s < 4; s++) expect(real.setContents(s)).toEqual(ref.sets[s]);
      }),
      { numRuns: 100 },
    );
  });

  it('fillIn / invalidateIn (the set base passed in) leave the same state as fill / invalidate', () => {
    const op = fc.record({ evict: fc.boolean(), line: fc.nat({ max: 60 }) });
    fc.assert(
      fc.property(geometry, fc.array(op, { minLength: 1, maxLength: 200 }), ({ sets, ways }, ops) => {
        const a = new SetAssocCache('a', sets * ways * 64, ways);
        const b = new SetAssocCache('b', sets * ways * 64, ways);
        for (const { evict, line } of ops) {
          const i = a.find(line);
          expect(b.find(line)).toBe(i);
          if (i >= 0) {
            a.touch(i);
            b.touch(i);
            continue;
          }
          const v = a.victim(line);
          expect(b.victim(line)).toBe(v);
          if (evict && a.lineAt(v) >= 0) {
            a.invalidate(v);
            b.invalidateIn(b.setBase(line), v);
          }
          a.fill(v, line, line & 1);
          b.fillIn(b.setBase(line), v, line, line & 1);
        }
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
        a.reset();
        b.reset();
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
        expect(b.data.every((x) => x === 0)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('fillEmptyIn on an empty entry (never filled or invalidated, with rows in use) leaves the same state as fillIn', () => {
    const op = fc.record({ line: fc.nat({ max: 60 }), flag: fc.integer({ min: 0, max: 1 }), user: fc.integer({ min: 1, max: 9 }) });
    fc.assert(
      fc.property(geometry, fc.array(op, { minLength: 1, maxLength: 200 }), ({ sets, ways }, ops) => {
        const a = new SetAssocCache('a', sets * ways * 64, ways, 4);
        const b = new SetAssocCache('b', sets * ways * 64, ways, 4);
        for (const { line, flag, user } of ops) {
          if (a.find(line) >= 0) continue;
          const base = a.setBase(line);
          const v = a.victim(line);
          if (a.lineAt(v) >= 0) {
            a.invalidateIn(base, v);
            b.invalidateIn(base, v);
          }
          a.fillIn(base, v, line, flag);
          b.fillEmptyIn(base, v, line, flag);
          a.set(v, 3, user); // a row of the hierarchy's, emptied with the entry
          b.set(v, 3, user);
        }
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
      }),
      { numRuns: 200 },
    );
  });

  it('findOrVictimIn finds what findIn finds and, on a miss, leaves the entry victimIn returns', () => {
    // Random fills, touches and invalidations, so sets are empty, partly filled (empty ways
    // anywhere, after invalidations) and full; every lookup is compared with the two-pass one.
    const op = fc.record({ kind: fc.integer({ min: 0, max: 3 }), line: fc.nat({ max: 60 }) });
    fc.assert(
      fc.property(geometry, fc.array(op, { minLength: 1, maxLength: 300 }), ({ sets, ways }, ops) => {
        const c = new SetAssocCache('c', sets * ways * 64, ways);
        for (const { kind, line } of ops) {
          const base = c.setBase(line);
          const i = c.findOrVictimIn(base, line);
          expect(i).toBe(c.findIn(base, line));
          if (i < 0) expect(c.missVictim).toBe(c.victimIn(base));
          if (i >= 0) {
            if (kind === 0) c.invalidateIn(base, i);
            else c.touch(i);
          } else if (kind !== 3) {
            const v = c.victimIn(base);
            if (c.lineAt(v) >= 0) c.invalidateIn(base, v);
            c.fillIn(base, v, line, 0);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('pairBase gives the set base of the other line of a 128 B pair, for even, odd and power-of-two set counts', () => {
    for (const sets of [1, 2, 3, 5, 6, 10, 16, 40960]) {
      const c = new SetAssocCache('p', sets * 4 * 64, 4);
      for (const line of [0, 1, 2, 3, 7, 8, 1023, 1024, 40959, 40960, 16777217, 16777216 + 12345]) {
        expect(c.pairBase(c.setBase(line), line)).toBe(c.setBase(line ^ 1));
      }
    }
  });

  it('uses line % sets for a non-power-of-two set count', () => {
    const c = new SetAssocCache('t', 3 * 2 * 64, 2);
    expect(c.sets).toBe(3);
    expect(c.setBase(7)).toBe((7 % 3) * c.stride + 1);
  });

  it('rejects a size that is not a whole number of sets', () => {
    expect(() => new SetAssocCache('l9', 1000, 4)).toThrow(/l9: sizeBytes 1000/);
  });
});
