import { describe, it, expect } from 'vitest';
import { loadJob } from './job.ts';
import { enumerateStates } from './enumerate.ts';
import { upperLogBudget } from './upper-log.ts';
import { PersistReplayer } from '../../sim/persistency/replay.ts';
import type { CrashJob } from './api.ts';

const MB = 1 << 20;
const base = { allocator: 'makalu', workload: 'list', idiom: 'malloc-then-link', threads: 1, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, k: 2 } as const;

describe('enumeration hashes', () => {
  it.each([
    ['line', 'k-subsets'],
    ['line', 'prefixes'],
    ['word', 'k-subsets'],
    ['line', 'lower'],
    ['line', 'upper'],
  ] as const)('every distinct state carries the replayer stateHash of its deviations (%s, %s)', (persistency, mode) => {
    const job: CrashJob = { ...base, params: { opsPerThread: 15 }, seed: 11, persistency, mode };
    const ctx = loadJob(job);
    const en = enumerateStates(ctx);
    expect(en.states.length).toBeGreaterThan(10);
    const r = new PersistReplayer(ctx.run.machine.trace!, persistency);
    for (const s of en.states) {
      r.advanceTo(en.points.pos(s.point));
      const h = r.stateHash(s.devs);
      expect([s.hashA, s.hashB]).toEqual([h.a, h.b]);
    }
  });

  it.each([
    ['makalu', 'line', 'k-subsets', undefined],
    ['ralloc', 'line', 'k-subsets', 300],
    ['pmdk', 'word', 'prefixes', undefined],
    ['nvm-malloc', 'line', 'upper', 20],
  ] as const)('a count-only enumeration gives the plan of the full one (%s, %s, %s, maxStates %s)', (allocator, persistency, mode, maxStates) => {
    const job: CrashJob = { ...base, allocator, params: { opsPerThread: 12 }, seed: 5, persistency, mode, ...(maxStates !== undefined ? { maxStates } : {}) };
    const ctx = loadJob(job);
    const full = enumerateStates(ctx);
    const counted = enumerateStates(ctx, { countOnly: true });
    expect(counted.plan).toEqual(full.plan);
    expect(counted.capped).toBe(full.capped);
    expect(counted.states).toEqual([]);
  });

  it.each([
    ['ralloc', 40, 60, 'the sweep\'s log'],
    ['makalu', 30, undefined, 'the sweep\'s log'],
    ['ralloc', 40, 60, 'a replay'],
    ['makalu', 30, undefined, 'a replay'],
  ] as const)('upper mode: every kept state and occurrence gets the upper deviations of its point (%s, %i ops, maxStates %s, from %s)', (allocator, ops, maxStates, from) => {
    const job: CrashJob = { ...base, allocator, params: { opsPerThread: ops }, seed: 2, persistency: 'line', mode: 'upper', ...(maxStates !== undefined ? { maxStates } : {}) };
    const ctx = loadJob(job);
    const saved = { ...upperLogBudget };
    // No budget: the log gives up at the first point with a dirty line and materializeUpper replays.
    if (from === 'a replay') Object.assign(upperLogBudget, { pairsPerEvent: 0, slackPairs: 0 });
    let en: ReturnType<typeof enumerateStates>;
    try {
      en = enumerateStates(ctx);
    } finally {
      Object.assign(upperLogBudget, saved);
    }
    expect(en.states.length).toBeGreaterThan(10);
    const want = new Map<number, { pos: number; devs: unknown; hash: [number, number] }>();
    const r = new PersistReplayer(ctx.run.machine.trace!, 'line');
    const ords = [...new Set(en.states.flatMap((s) => s.occurrences.map((o) => o.point)))].sort((a, b) => a - b);
    for (const o of ords) {
      r.advanceTo(en.points.pos(o));
      const up = r.upperDeviations();
      const h = r.stateHash(up);
      want.set(o, { pos: r.pos, devs: up, hash: [h.a, h.b] });
    }
    for (const s of en.states) {
      expect(s.devs).toEqual(want.get(s.point)!.devs);
      expect([s.hashA, s.hashB]).toEqual(want.get(s.point)!.hash);
      for (const occ of s.occurrences) expect(occ.devs).toEqual(want.get(occ.point)!.devs);
    }
  });

  it.each(['makalu', 'ralloc', 'nvm-malloc'] as const)('lower and upper (line mode, hashes and box kept by the replayer) give the points, box and distinct points the per-point lists of k-subsets give, and their distinct states those of a naive sweep (%s)', (allocator) => {
    const job = (mode: 'lower' | 'upper' | 'k-subsets'): CrashJob => ({ ...base, allocator, params: { opsPerThread: 25 }, seed: 3, persistency: 'line', mode });
    const ctx = loadJob(job('k-subsets'));
    const listed = enumerateStates(ctx).plan;
    for (const mode of ['lower', 'upper'] as const) {
      const en = enumerateStates({ ...ctx, job: job(mode) });
      const { rawPoints, points, distinctPoints, boxSize, boxSizeLog2 } = en.plan;
      expect({ rawPoints, points, distinctPoints, boxSize, boxSizeLog2 }).toEqual({ rawPoints: listed.rawPoints, points: listed.points, distinctPoints: listed.distinctPoints, boxSize: listed.boxSize, boxSizeLog2: listed.boxSizeLog2 });
      // Naive: the state's hash recomputed from its deviations at every point.
      const r = new PersistReplayer(ctx.run.machine.trace!, 'line');
      const seen = new Map<string, number>();
      for (const p of en.points.all()) {
        r.advanceTo(p.pos);
        const h = r.stateHash(mode === 'lower' ? [] : r.upperDeviations());
        const key = `${h.a},${h.b}`;
        if (!seen.has(key)) seen.set(key, p.ordinal);
      }
      expect(en.states.map((s) => [s.point, s.hashA, s.hashB].join())).toEqual([...seen].map(([k, ord]) => `${ord},${k}`));
      expect(en.plan.rawStates).toBe(en.points.length);
    }
  });
});

