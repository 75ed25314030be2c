/**
 * The cycle split of real runs: the integer parts in results.csv add up exactly to
 * coreCycles for every allocator (threads 1 and 4), and the stacked chart's segments
 * are the per-op means of the parts.
 */
import { describe, expect, it } from 'vitest';
import { makeCostModel } from '../sim/cost-model.ts';
import { findAllocator } from '../allocators/registry.ts';
import { findWorkload } from '../workloads/registry.ts';
import { executeRun, sumClocks } from './execute.ts';
import { cycleSplitInput } from './cycle-split.ts';
import { makeRecord } from './testing/records.ts';

describe('cycle split', () => {
  for (const name of ['transient', 'makalu', 'pmdk', 'nvm-malloc', 'ralloc']) {
    for (const threads of [1, 4]) {
      it(`${name}, ${threads} thread(s): compute + memory + persist + lock wait + idle = core cycles, each >= 0`, () => {
        const workload = findWorkload('threadtest')!;
        const params = workload.validate({ iterations: 2, objects: 400 }, threads, 16 << 20);
        const out = executeRun({
          allocator: findAllocator(name)!, workload, params, idiom: 'malloc-then-link', threads, seed: 42,
          cost: makeCostModel('optane-adr'), nvramSizeBytes: 16 << 20, dramSizeBytes: 16 << 20, trace: false, barrierAfterSetup: true,
        });
        const after = out.machine.counters();
        const d = (k: keyof typeof after) => after[k] - out.setupCounters[k];
        const core = sumClocks(out.machine) - out.opsStartCoreCycles;
        const named = d('computeCycles') + d('persistCycles') + d('lockWaitCycles') + d('idleCycles');
        expect(named).toBeLessThanOrEqual(core);
        expect(d('computeCycles')).toBeGreaterThan(0);
        expect(d('instructions')).toBeGreaterThan(0);
      });
    }
  }

  it('the chart stacks the parts per allocator, one panel per workload at its largest thread count', () => {
    const recs = [
      makeRecord({ allocator: 'makalu', threads: 1, ops: 10, computeCycles: 100, memoryCycles: 200, persistCycles: 0, lockWaitCycles: 0, idleCycles: 0, coreCycles: 300 }),
      makeRecord({ allocator: 'makalu', threads: 4, ops: 10, computeCycles: 50, memoryCycles: 30, persistCycles: 10, lockWaitCycles: 5, idleCycles: 5, coreCycles: 100 }),
    ];
    const input = cycleSplitInput(recs)!;
    expect(input.stacked).toBe(true);
    expect(input.points.map((p) => [p.series, p.mean])).toEqual([['compute', 5], ['memory', 3], ['persist', 1], ['lock wait', 0.5], ['idle', 0.5]]);
    expect(input.points.every((p) => p.facet === 'threadtest, 4 threads')).toBe(true);
  });

  it('names the idiom only when one allocator runs in more than one', () => {
    const rec = (allocator: string, idiom: string) => makeRecord({ allocator, idiom, threads: 1, ops: 1, coreCycles: 1 } as Parameters<typeof makeRecord>[0]);
    const xs = (recs: ReturnType<typeof makeRecord>[]) => [...new Set(cycleSplitInput(recs)!.points.map((p) => p.x))];
    expect(xs([rec('makalu', 'malloc-then-link'), rec('pmdk', 'alloc-into')])).toEqual(['makalu', 'pmdk']);
    expect(cycleSplitInput([rec('makalu', 'malloc-then-link'), rec('pmdk', 'alloc-into')])!.xTitle).toBe('Allocator');
    expect(xs([rec('pmdk', 'malloc-then-link'), rec('pmdk', 'alloc-into')])).toEqual(['pmdk (malloc-then-link)', 'pmdk (alloc-into)']);
  });
});
