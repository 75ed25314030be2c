import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine } from '../../sim/machine.ts';
import { transientFactory } from './index.ts';

const PAGE = 4096;

/** Large blocks only (page runs): random malloc/free against a naive list of live runs. */
describe('transient: page runs vs a naive model', () => {
  it('never reports out of memory while a large enough free run exists in any arena; frees everything back', () => {
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ t: fc.constant('malloc' as const), pages: fc.integer({ min: 5, max: 300 }), core: fc.nat(1) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('free' as const), pick: fc.nat(1000), core: fc.nat(1) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        const machine = createMachine({ cores: 2, cost: makeCostModel('optane-adr'), dramSizeBytes: 16 << 20, nvramSizeBytes: 4 << 20, trace: false });
        const alloc = transientFactory.create(machine);
        alloc.format(machine.core(0));
        const live: number[] = [];
        for (const o of ops) {
          const core = machine.core(o.core);
          if (o.t === 'free') {
            if (live.length > 0) alloc.free(core, live.splice(o.pick % live.length, 1)[0]);
            continue;
          }
          // 14,337 B and up are page runs: ask for (pages - 1) pages + 1 byte.
          const addr = alloc.malloc(core, (o.pages - 1) * PAGE + 1);
          const largestFree = Math.max(0, ...alloc.walkHeap(machine).free.map((e) => e.sizeBytes));
          if (addr === 0) expect(largestFree).toBeLessThan(o.pages * PAGE);
          else {
            expect((addr - machine.layout.nvramBase) % PAGE).toBe(0);
            live.push(addr);
          }
          expect(alloc.checkConsistency(machine).errors).toEqual([]);
        }
        for (const a of live) alloc.free(machine.core(0), a);
        // Each arena keeps its extents (coalesced within the arena, checked by checkConsistency).
        const walk = alloc.walkHeap(machine);
        expect(walk.allocated).toEqual([]);
        expect(walk.free.reduce((n, e) => n + e.sizeBytes, 0)).toBe(machine.layout.nvramSizeBytes - PAGE);
        expect(alloc.checkConsistency(machine).errors).toEqual([]);
      }),
      { seed: 7, numRuns: 40 },
    );
  });
});
