import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IntMap } from './int-map.ts';

describe('IntMap', () => {
  it('agrees with a Map under random adds, deletes, lookups and clears (keys colliding in a small table)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.integer({ min: 0, max: 200 }), value: fc.integer({ min: 0, max: 1e6 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 400 }), (capacity, ops) => {
        const m = new IntMap(capacity);
        const ref = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'add') {
            if (ref.has(o.key) || ref.size >= capacity) continue;
            m.add(o.key, o.value);
            ref.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            expect(m.delete(o.key)).toBe(ref.get(o.key) ?? -1);
            ref.delete(o.key);
          } else if (o.kind === 'get') {
            expect(m.get(o.key)).toBe(ref.get(o.key) ?? -1);
            expect(m.has(o.key)).toBe(ref.has(o.key));
          } else {
            m.clear();
            ref.clear();
          }
          expect(m.size).toBe(ref.size);
        }
        for (const [k, v] of ref) expect(m.get(k)).toBe(v);
      }),
      { numRuns: 200 },
    );
  });
});
