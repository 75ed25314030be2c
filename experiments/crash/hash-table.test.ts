import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HashTable } from './hash-table.ts';
import { hashKey } from '../../sim/persistency/hash.ts';

describe('HashTable', () => {
  it('agrees with a Map keyed by hashKey (same keys iff same hashKey)', () => {
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    fc.assert(
      fc.property(fc.array(fc.tuple(u32, u32, fc.nat(1000)), { maxLength: 300 }), fc.array(fc.tuple(u32, u32), { maxLength: 50 }), (sets, probes) => {
        const t = new HashTable(4);
        const m = new Map<number, number>();
        for (const [a, b, v] of sets) {
          t.set(a, b, v);
          m.set(hashKey({ a, b }), v);
        }
        expect(t.size).toBe(m.size);
        for (const [a, b] of [...sets.map(([a, b]) => [a, b] as const), ...probes]) expect(t.get(a, b)).toBe(m.get(hashKey({ a, b })) ?? -1);
      }),
    );
  });
  it('getOrSet and set, interleaved through growth, agree with a Map model', () => {
    // Few distinct a/b values: many equal keys and many colliding probe sequences.
    const key = fc.tuple(fc.integer({ min: 0, max: 40 }).map((x) => (x * 0x9e37_79b1) >>> 0), fc.integer({ min: 0, max: 3 }).map((x) => x * 0x10_0001));
    const op = fc.tuple(fc.boolean(), key, fc.nat(1 << 30));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.nat(64), (ops, cap) => {
        const t = new HashTable(cap);
        const m = new Map<number, number>();
        for (const [viaGetOrSet, [a, b], v] of ops) {
          const k = hashKey({ a, b });
          if (viaGetOrSet) {
            const had = m.get(k);
            expect(t.getOrSet(a, b, v)).toBe(had ?? -1);
            if (had === undefined) m.set(k, v);
          } else {
            t.set(a, b, v);
            m.set(k, v);
          }
          expect(t.size).toBe(m.size);
        }
        for (const [, [a, b]] of ops) expect(t.get(a, b)).toBe(m.get(hashKey({ a, b })) ?? -1);
      }),
    );
  });
  it('tables built on pooled columns after others released theirs agree with a Map model', () => {
    // Thousands of keys: columns large enough to be pooled, taken again zeroed.
    const keyOf = (x: number): [number, number] => [Math.imul(x, 0x9e37_79b1) >>> 0, (x * 7919) & 0x3f_ffff];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 9000 }), fc.nat(1000), fc.boolean()), { minLength: 1, maxLength: 4 }), (tables) => {
        for (const [n, salt, release] of tables) {
          const t = new HashTable(16);
          const m = new Map<number, number>();
          // Disagreements with the model, as [x, got, want] (one expect per table: fast).
          const bad: number[][] = [];
          for (let x = 0; x < n; x++) {
            const [a, b] = keyOf((x * 3 + salt) % (n - (n >> 2) + 1));
            const k = hashKey({ a, b });
            const got = t.getOrSet(a, b, x);
            if (got !== (m.get(k) ?? -1)) bad.push([x, got, m.get(k) ?? -1]);
            if (!m.has(k)) m.set(k, x);
          }
          for (let x = 0; x < n + 50; x++) {
            const [a, b] = keyOf(x);
            const got = t.get(a, b);
            if (got !== (m.get(hashKey({ a, b })) ?? -1)) bad.push([x, got]);
          }
          expect(bad).toEqual([]);
          expect(t.size).toBe(m.size);
          if (release) {
            t.release();
            expect(t.size).toBe(m.size);
            expect(() => t.get(1, 2)).toThrow();
          }
        }
      }),
      { numRuns: 25 },
    );
  });
  it('takes only values >= 0', () => {
    const t = new HashTable(4);
    t.set(1, 2, 0);
    expect(t.get(1, 2)).toBe(0);
    expect(() => t.set(3, 4, -1)).toThrow(RangeError);
  });
  it('keys differing only in b above bit 21 are the same key', () => {
    const t = new HashTable();
    t.set(5, 0x20_0007, 3);
    expect(t.get(5, 7)).toBe(3);
    expect(t.get(5, 8)).toBe(-1);
  });
});
