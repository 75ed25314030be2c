import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpareArrays } from './spare-arrays.ts';

describe('SpareArrays', () => {
  it('agrees with a naive list model: same-length arrays back last-given first, within both bounds', () => {
    const op = fc.oneof(
      fc.record({ give: fc.constant(true as const), length: fc.constantFrom(4, 8, 16) }),
      fc.record({ give: fc.constant(false as const), length: fc.constantFrom(4, 8, 16) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 200 }), fc.array(op, { maxLength: 60 }), (perLength, maxBytes, ops) => {
        const pool = new SpareArrays(perLength, maxBytes);
        const model: Int32Array[] = [];
        for (const o of ops) {
          if (o.give) {
            const a = new Int32Array(o.length);
            const same = model.filter((x) => x.length === o.length).length;
            const bytes = model.reduce((s, x) => s + x.byteLength, 0);
            if (same < perLength && bytes + a.byteLength <= maxBytes) model.push(a);
            pool.give(a);
          } else {
            let i = model.length - 1;
            while (i >= 0 && model[i].length !== o.length) i--;
            const want = i >= 0 ? model.splice(i, 1)[0] : undefined;
            expect(pool.take(o.length)).toBe(want);
          }
          expect(pool.keptBytes).toBe(model.reduce((s, x) => s + x.byteLength, 0));
        }
      }),
      { numRuns: 200 },
    );
  });
});
