/**
 * The scheduler (sim/scheduler.ts): interleaving at step boundaries, so the same calls
 * give the same simulated result however they are grouped into ops (property test, no
 * tolerance: the schedule is the same by construction, and the test checks it), the
 * end-of-step lock check, 'blocked' only from an op's first step, and the deadlock
 * report naming every core.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Core } from './api.ts';
import { makeCostModel } from './cost-model.ts';
import { createMachine, type SimMachine } from './machine.ts';
import { runSchedule, type OpSteps, type StepResult } from './scheduler.ts';

interface Call {
  readonly preCycles: number;
  readonly lock: number;
  readonly line: number;
  readonly insideCycles: number;
  readonly postCycles: number;
}

function machine(cores: number): SimMachine {
  return createMachine({ cores, cost: makeCostModel('optane-adr'), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 20, trace: false });
}

function runCall(core: Core, c: Call, locks: number, shared: number): void {
  core.compute(c.preCycles);
  if (c.lock >= 0) core.lock(locks + 64 * c.lock);
  core.store64(shared + 64 * c.line, core.id + 1);
  core.compute(c.insideCycles);
  if (c.lock >= 0) core.unlock(locks + 64 * c.lock);
  core.compute(c.postCycles);
}

/** Runs every thread's calls as ops of `perOp` calls (yielding between calls when > 1). */
function simulate(calls: readonly (readonly Call[])[], perOp: number) {
  const m = machine(calls.length);
  const locks = m.reserveDram(64 * 4, 64);
  const shared = m.reserveDram(64 * 8, 64);
  const counts = calls.map((cs) => Math.ceil(cs.length / perOp));
  function* steps(core: Core, mine: readonly Call[]): Generator<undefined, StepResult, undefined> {
    for (let k = 0; k < mine.length; k++) {
      if (k > 0) yield;
      runCall(core, mine[k], locks, shared);
    }
    return 'done';
  }
  runSchedule(m, counts, (core, t, i): StepResult | OpSteps => {
    const mine = calls[t].slice(i * perOp, (i + 1) * perOp);
    if (perOp === 1) {
      runCall(core, mine[0], locks, shared);
      return 'done';
    }
    return steps(core, mine);
  });
  return { makespan: m.maxClockCycles(), clocks: m.cores.map((c) => c.clockCycles), counters: m.counters() };
}

const call = fc.record({
  preCycles: fc.integer({ min: 0, max: 300 }),
  lock: fc.integer({ min: -1, max: 3 }),
  line: fc.integer({ min: 0, max: 7 }),
  insideCycles: fc.integer({ min: 0, max: 3000 }),
  postCycles: fc.integer({ min: 0, max: 300 }),
});

describe('runSchedule', () => {
  it('property: ops of 1 call and ops of N calls give the same makespan, clocks, lock waits and counters', () => {
    fc.assert(
      fc.property(fc.array(fc.array(call, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 2, max: 6 }), (calls, n) => {
        const one = simulate(calls, 1);
        const batched = simulate(calls, n);
        expect(batched).toEqual(one);
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it('contended locks: waits appear, and the total is the same whatever the batching', () => {
    const calls = Array.from({ length: 4 }, () => Array.from({ length: 20 }, () => ({ preCycles: 10, lock: 0, line: 0, insideCycles: 400, postCycles: 10 })));
    const one = simulate(calls, 1);
    expect(one.counters.lockWaitCycles).toBeGreaterThan(0);
    expect(simulate(calls, 20)).toEqual(one);
  });

  it('a step that ends holding a lock is misuse naming the lock', () => {
    const m = machine(1);
    const l = m.reserveDram(64, 64);
    expect(() => runSchedule(m, [1], (core) => { core.lock(l); return 'done'; })).toThrow(new RegExp(`holding lock\\(s\\) 0x${l.toString(16)}`));
  });

  it("only an op's first step may report 'blocked'", () => {
    const m = machine(1);
    function* op(): Generator<undefined, StepResult, undefined> {
      yield;
      return 'blocked';
    }
    expect(() => runSchedule(m, [1], () => op())).toThrow(/after it had run steps/);
  });

  it('a deadlock names every blocked core and what it waits on', () => {
    const m = machine(2);
    expect(() => runSchedule(m, [1, 1], () => 'blocked', { describeBlocked: (t) => `queue ${t} empty` })).toThrow(/core 0 op 0 \(queue 0 empty\); core 1 op 0 \(queue 1 empty\)/);
  });
});
