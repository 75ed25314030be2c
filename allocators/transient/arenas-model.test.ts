import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine } from '../../sim/machine.ts';
import { TransientAllocator } from './transient.ts';

/**
 * Random malloc/free on 3 cores, frees often from another core than the allocating one,
 * on a 2 MiB heap: smaller than one arena growth (2 MiB), so the first arena to grow takes
 * the whole frontier and the others must take runs from its extents; the heap runs out. Against a host model of the live blocks: no overlap, walkHeap reports exactly the
 * live blocks, checkConsistency stays clean, and out of memory only when no free extent
 * of the walk could hold the request.
 */
describe('transient: arenas against a model of live blocks', () => {
  it('keeps ownership, caches and extents consistent under cross-core frees and exhaustion', () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('malloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 600, max: 60_000 })), core: fc.nat(2) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('free' as const), pick: fc.nat(10_000), core: fc.nat(2) }) },
    );
    let runsOutOfMemory = 0;
    fc.assert(
      fc.property(fc.constantFrom(undefined, 1, 2), fc.array(op, { minLength: 150, maxLength: 400 }), (narenas, ops) => {
        const machine = createMachine({ cores: 3, cost: makeCostModel('optane-adr'), dramSizeBytes: 16 << 20, nvramSizeBytes: 2 << 20, trace: false });
        const alloc = new TransientAllocator(machine, narenas);
        alloc.format(machine.core(0));
        const live = new Map<number, number>();
        let outOfMemory = 0;
        for (const [i, o] of ops.entries()) {
          const core = machine.core(o.core);
          if (o.t === 'free') {
            if (live.size === 0) continue;
            const addr = [...live.keys()][o.pick % live.size];
            live.delete(addr);
            alloc.free(core, addr);
          } else {
            const addr = alloc.malloc(core, o.size);
            if (addr === 0) {
              outOfMemory++;
              // Out of memory: no free extent of the walk holds a page run of this size.
              if (o.size > 14_336) expect(Math.max(0, ...alloc.walkHeap(machine).free.map((e) => e.sizeBytes))).toBeLessThan(Math.ceil(o.size / 4096) * 4096);
              continue;
            }
            for (const [a, s] of live) expect(addr + o.size <= a || a + s <= addr, `overlap ${addr} ${a}`).toBe(true);
            live.set(addr, o.size);
          }
          if (i % 100 === 99) expect(alloc.checkConsistency(machine).errors).toEqual([]);
        }
        const allocated = alloc.walkHeap(machine).allocated.map((e) => e.addr).sort((a, b) => a - b);
        expect(allocated).toEqual([...live.keys()].sort((a, b) => a - b));
        expect(alloc.checkConsistency(machine).errors).toEqual([]);
        runsOutOfMemory += outOfMemory > 0 ? 1 : 0;
      }),
      { seed: 12, numRuns: 10 },
    );
    // The exhaustion paths were taken (fixed seed).
    expect(runsOutOfMemory).toBeGreaterThan(0);
  });
});
