/**
 * Lock timelines (sim/locks.ts): grants at the requester's own time when free, waits
 * for overlapping holds with the spin / sleep / wake costs, moves a hold that overlaps a
 * recorded one, initialisation rules, misuse reports; and a property test against a
 * naive model (holds never overlap, nobody waits for a lock that is free).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCostModel, type CostOverrides } from './cost-model.ts';
import { DRAM_BASE, NVRAM_BASE, createMachine, type SimMachine } from './machine.ts';
import { LockTable } from './locks.ts';

const cost = makeCostModel('optane-adr', { mutexSpinCycles: 500, mutexWakeCycles: 4000, mutexHandoffPerWaiterCycles: 90 });
const table = (): LockTable => new LockTable(cost, () => true);

function machine(cores: number, overrides: CostOverrides = {}): SimMachine {
  return createMachine({ cores, cost: makeCostModel('optane-adr', overrides), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 20 });
}

describe('LockTable', () => {
  it("grants a lock at the requester's time when no hold covers it, even before a recorded later hold", () => {
    const t = table();
    t.acquire(64, 0, 1000);
    t.release(64, 0, 1100);
    const g = t.acquire(64, 1, 10);
    expect(g).toEqual({ acquireCycles: 10, waitCycles: 0 });
    expect(t.release(64, 1, 200)).toBe(0);
  });

  it('a short wait spins: the lock is taken at the release', () => {
    const t = table();
    t.acquire(64, 0, 0);
    t.release(64, 0, 300);
    expect(t.acquire(64, 1, 100)).toEqual({ acquireCycles: 300, waitCycles: 200 });
  });

  it('a wait past the spin window sleeps and runs mutexWakeCycles after the release', () => {
    const t = table();
    t.acquire(64, 0, 0);
    t.release(64, 0, 2000);
    expect(t.acquire(64, 1, 100)).toEqual({ acquireCycles: 2000 + 4000, waitCycles: 5900 });
  });

  it('a spin lock never sleeps', () => {
    const t = table();
    t.init(64, 'spin', 0);
    t.acquire(64, 0, 0);
    t.release(64, 0, 2000);
    expect(t.acquire(64, 1, 100).acquireCycles).toBe(2000);
  });

  it('a waiter pays a handoff for each release it saw another core win', () => {
    const t = table();
    t.acquire(64, 0, 0);
    t.release(64, 0, 300);
    expect(t.acquire(64, 1, 100).acquireCycles).toBe(300);
    t.release(64, 1, 350);
    // Core 2 (asks at 150) sees core 1 win the release at 300, then wins at 350: + 90.
    expect(t.acquire(64, 2, 150).acquireCycles).toBe(350 + 90);
  });

  it('a hold that turns out to overlap a recorded later hold is moved after it', () => {
    const t = table();
    t.acquire(64, 0, 500);
    t.release(64, 0, 600);
    expect(t.acquire(64, 1, 400).waitCycles).toBe(0);
    // Core 1 held from 400 to 550, overlapping [500, 600): moved to [600, 750).
    expect(t.release(64, 1, 550)).toBe(200);
    expect(t.acquire(64, 2, 700).waitCycles).toBe(50);
  });

  it('reports misuse: recursion, release by a non-holder, use before init', () => {
    const t = new LockTable(cost, (a) => a < 1000);
    t.acquire(64, 0, 0);
    expect(() => t.acquire(64, 0, 5)).toThrow(/already holds it/);
    expect(() => t.release(64, 1, 5)).toThrow(/unlock by core 1, but it is held by core 0/);
    expect(() => t.acquire(4096, 0, 5)).toThrow(/used before init/);
    t.init(4096, 'mutex', 0);
    expect(t.acquire(4096, 0, 5).waitCycles).toBe(0);
  });

  it('property: holds never overlap and a free lock is granted without waiting', () => {
    const req = fc.record({ core: fc.integer({ min: 0, max: 3 }), at: fc.integer({ min: 0, max: 5000 }), len: fc.integer({ min: 1, max: 400 }) });
    fc.assert(
      fc.property(fc.array(req, { maxLength: 40 }), (reqs) => {
        const t = table();
        const holds: [number, number][] = [];
        for (const r of reqs) {
          const free = !holds.some(([a, b]) => a <= r.at && r.at < b);
          const g = t.acquire(64, r.core, r.at);
          if (free) expect(g.waitCycles).toBe(0);
          expect(g.acquireCycles).toBeGreaterThanOrEqual(r.at);
          const shift = t.release(64, r.core, g.acquireCycles + r.len);
          const start = g.acquireCycles + shift;
          for (const [a, b] of holds) expect(start + r.len <= a || start >= b).toBe(true);
          holds.push([start, start + r.len]);
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('Core.lock / initLock', () => {
  it('a lock word in NVRAM or unreserved DRAM must be initialised first', () => {
    const m = machine(1);
    m.formatNvram();
    const c = m.core(0);
    expect(() => c.lock(NVRAM_BASE + 64)).toThrow(/used before init/);
    expect(() => c.lock(DRAM_BASE + 4096)).toThrow(/used before init/);
    c.initLock(NVRAM_BASE + 64);
    c.lock(NVRAM_BASE + 64);
    c.unlock(NVRAM_BASE + 64);
    expect(m.peek64(NVRAM_BASE + 64)).toBe(0);
  });

  it('a zero word in reserved DRAM is a valid static mutex', () => {
    const m = machine(1);
    const l = m.reserveDram(64, 64);
    m.core(0).lock(l);
    expect(m.peek64(l)).toBe(1);
    m.core(0).unlock(l);
  });

  it('a moved hold is charged as lock wait on the releasing core', () => {
    const m = machine(2);
    const l = m.reserveDram(64, 64);
    const [a, b] = [m.core(0), m.core(1)];
    a.compute(500);
    a.lock(l);
    a.compute(100);
    a.unlock(l);
    b.compute(400);
    b.lock(l);
    expect(m.counters(1).lockWaitCycles).toBe(0);
    b.compute(300);
    const before = b.clockCycles;
    b.unlock(l);
    expect(m.counters(1).lockWaitCycles).toBeGreaterThan(0);
    expect(b.clockCycles - before).toBeGreaterThan(m.counters(1).lockWaitCycles);
  });
});
