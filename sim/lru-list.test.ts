import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruList } from './lru-list.ts';

describe('LruList', () => {
  it('keeps the order of a naive array model under random joins, uses, removals and clears', () => {
    const n = 8;
    const op = fc.record({ kind: fc.constantFrom('push', 'touch', 'unlink', 'clear'), e: fc.integer({ min: 0, max: n - 1 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const list = new LruList(n);
        let model: number[] = []; // least recent first
        for (const o of ops) {
          const listed = model.includes(o.e);
          if (o.kind === 'push' && !listed) {
            list.pushMru(o.e);
            model.push(o.e);
          } else if (o.kind === 'touch' && listed) {
            list.touch(o.e);
            model = [...model.filter((x) => x !== o.e), o.e];
          } else if (o.kind === 'unlink' && listed) {
            list.unlink(o.e);
            model = model.filter((x) => x !== o.e);
          } else if (o.kind === 'clear') {
            list.clear();
            model = [];
          }
          expect(list.lru).toBe(model.length > 0 ? model[0] : -1);
          expect(list.mru).toBe(model.length > 0 ? model[model.length - 1] : -1);
        }
        // Unlinking the lru repeatedly walks the whole order.
        for (const e of model) {
          expect(list.lru).toBe(e);
          list.unlink(e);
        }
        expect(list.lru).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });
});
