/**
 * A small crash-point sweep of the Ralloc-style allocator (test-local oracle, line
 * mode): just before every event that raises a lower bound, and at the end, recover
 * the lower and the upper image and check that the heap is consistent, every object
 * reachable from the roots is allocated and overlaps no free extent, and nothing else
 * is allocated (the recovery GC promises no leak). The broken twin must fail it.
 */
import { describe, expect, it } from 'vitest';
import type { Core, NvramImage } from '../../sim/api.ts';
import { PersistReplayer, type Deviation } from '../../sim/persistency/replay.ts';
import type { Allocator, AllocatorFactory } from '../contract.ts';
import { rallocBrokenDescFactory, rallocFactory } from './index.ts';
import { RallocLayout } from './layout.ts';
import { covered, newMachine, reachable, startsOf } from './test-helpers.ts';

const LISTS = 3;

/** Lists of 64 B nodes (word 0 = next) under roots, with leaks, frees and one large object. */
function workload(a: Allocator, core: Core): void {
  for (let k = 0; k < 12; k++) {
    const r = k % LISTS;
    const n = a.malloc(core, 64 + 200 * r);
    core.store64(n, a.getRoot(core, r));
    core.clwb(n);
    core.sfence();
    a.setRoot(core, r, n);
    if (k % 4 === 1) a.malloc(core, 32); // leaked by a crash
    if (k === 7) {
      const victim = a.getRoot(core, 1);
      a.setRoot(core, 1, core.load64(victim));
      a.free(core, victim);
    }
  }
  const big = a.malloc(core, 80_000);
  core.store64(big, a.getRoot(core, 0));
  core.clwb(big);
  core.sfence();
  a.setRoot(core, 0, big);
}

/** Problems found after recovering one image (empty = valid). */
function checkImage(factory: AllocatorFactory, image: NvramImage): string[] {
  const m = newMachine(1, image);
  const a = factory.create(m);
  a.open(m.core(0));
  const problems = [...a.checkConsistency(m).errors];
  const walk = a.walkHeap(m);
  const live = reachable(m, a, LISTS, () => 1);
  for (const p of live) {
    if (covered(walk.free, p)) problems.push(`reachable 0x${p.toString(16)} lies in a free extent`);
  }
  const allocated = startsOf(walk.allocated);
  for (const p of live) if (!allocated.has(p)) problems.push(`reachable 0x${p.toString(16)} not allocated`);
  for (const p of allocated) if (!live.has(p)) problems.push(`leak: 0x${p.toString(16)} allocated but unreachable`);
  return problems;
}

function sweep(factory: AllocatorFactory, mode: 'line' | 'word' = 'line', singles = false): { states: number; failing: number; sample: string[] } {
  const m = newMachine(1);
  const a = factory.create(m);
  a.format(m.core(0));
  workload(a, m.core(0));
  const trace = m.trace!;
  const sbBaseOffset = new RallocLayout(m.layout.nvramBase, m.layout.nvramSizeBytes).sbBase - m.layout.nvramBase;
  const r = new PersistReplayer(trace, mode);
  let count = 0;
  let failing = 0;
  let sample: string[] = [];
  const visit = (): void => {
    const ents = r.entities();
    const upper: Deviation[] = [];
    for (let j = 0; j < ents.length; j += 2) upper.push([ents[j], ents[j + 1]]);
    const states: Deviation[][] = [[], upper];
    // single deviations of the metadata lines (meta and descriptor regions, below the superblocks)
    const metaUpper = upper.filter(([e]) => r.entityLine(e) * 64 < sbBaseOffset);
    if (singles) for (const d of metaUpper) states.push([d], ...(d[1] > 1 ? [[[d[0], 1] as Deviation]] : []));
    for (const devs of states) {
      const problems = checkImage(factory, r.stateImage(devs));
      count++;
      if (problems.length > 0) {
        failing++;
        if (sample.length === 0) sample = problems;
      }
    }
  };
  for (let i = 0; i < trace.length; i++) {
    if (r.raises(i)) visit();
    r.step();
  }
  visit();
  return { states: count, failing, sample };
}

describe('ralloc: crash-point sweep (lower and upper images at every persist point)', () => {
  it('the faithful model recovers every state', () => {
    const { states, failing, sample } = sweep(rallocFactory());
    console.log(`ralloc line-mode sweep: ${states} states, ${failing} failing`);
    expect(states).toBeGreaterThan(60);
    expect(sample).toEqual([]);
    expect(failing).toBe(0);
  });

  it('the faithful model recovers every single-deviation state, word mode', () => {
    const { states, failing, sample } = sweep(rallocFactory(), 'word', true);
    console.log(`ralloc word-mode sweep: ${states} states, ${failing} failing`);
    expect(sample).toEqual([]);
    expect(failing).toBe(0);
  });

  it('the broken twin fails some states (reachable object swept as free)', () => {
    const { states, failing, sample } = sweep(rallocBrokenDescFactory());
    console.log(`ralloc-broken-desc line-mode sweep: ${states} states, ${failing} failing`);
    expect(failing).toBeGreaterThan(0);
    expect(sample.join('\n')).toMatch(/free extent|not allocated/);
  });
});

