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
  it('keys differing only in b above bit 21 are the same key', () => {
    const t = new HashTable();
    t.set(5, 0x20_0007, 3);
    expect(t.get(5, 7)).toBe(3);
    expect(t.get(5, 8)).toBe(-1);
  });
});
