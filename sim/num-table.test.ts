/** NumTable against a host Map (fast-check): sets, lookups and clears over keys dense and sparse, small and up to 2^53. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { giveNumTable, NumTable, takeNumTable } from './num-table.ts';

const key = fc.oneof(fc.integer({ min: -40, max: 40 }), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.integer({ min: 0, max: 1000 }).map((i) => 0x4000_0000 + 16 * i));
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
  fc.record({ kind: fc.constant('get' as const), key }),
  fc.record({ kind: fc.constant('clear' as const) }),
);

describe('NumTable', () => {
  it('answers get, has and size as a Map does', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new NumTable(1);
        const m = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            t.set(o.key, o.value);
            m.set(o.key, o.value);
          } else if (o.kind === 'get') {
            expect(t.get(o.key)).toBe(m.get(o.key));
            expect(t.has(o.key)).toBe(m.has(o.key));
          } else {
            t.clear();
            m.clear();
          }
          expect(t.size).toBe(m.size);
        }
        for (const [k, v] of m) expect(t.get(k)).toBe(v);
      }),
      { numRuns: 300 },
    );
  });

  it('comes back empty from the pool, after growing and after many clears', () => {
    const t = takeNumTable();
    for (let i = 0; i < 5000; i++) t.set(0x4000_0000 + 16 * i, i);
    expect(t.size).toBe(5000);
    giveNumTable(t);
    const u = takeNumTable();
    expect(u.size).toBe(0);
    expect(u.has(0x4000_0000)).toBe(false);
    for (let i = 0; i < 1000; i++) {
      u.set(i, i);
      u.clear();
    }
    expect(u.get(999)).toBeUndefined();
    giveNumTable(u);
  });
});
