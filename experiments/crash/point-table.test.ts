/**
 * The compact point table gives back the crash points the sweep saw: positions,
 * completed counts and in-flight operations (recomputed by `prepare` from the trace)
 * equal the CrashPoint objects scanCrashPoints hands its callback, whatever subset and
 * order of points is prepared.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadJob } from './job.ts';
import { enumerateStates } from './enumerate.ts';
import { PersistReplayer } from '../../sim/persistency/replay.ts';
import { scanCrashPoints, type CrashPoint } from '../../sim/crash/points.ts';
import type { CrashJob } from './api.ts';
import { PointTable } from './point-table.ts';
import { TraceRecorder } from '../../sim/persistency/trace.ts';
import { TraceKind } from '../../sim/api.ts';
import { emptyImage } from '../../sim/memory.ts';

const MB = 1 << 20;

function sweepPoints(job: CrashJob): { en: ReturnType<typeof enumerateStates>; want: CrashPoint[] } {
  const ctx = loadJob(job);
  const en = enumerateStates(ctx);
  const want: CrashPoint[] = [];
  scanCrashPoints(new PersistReplayer(ctx.run.machine.trace!, job.persistency, true), ctx.run.setupTraceLength, (p) => {
    // inFlight lists are shared until the next op event: copy them as seen here.
    want.push({ ...p, inFlight: p.inFlight.map((x) => [...x] as const) });
  });
  return { en, want };
}

describe('point table', () => {
  it('prepared points of random runs (1-3 threads, any subset and order) equal the sweep\'s points', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('makalu', 'ralloc', 'pmdk', 'nvm-malloc'),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom('lower', 'upper', 'k-subsets'),
        fc.array(fc.nat(), { maxLength: 12 }),
        (allocator, threads, ops, seed, mode, picks) => {
          const job: CrashJob = { allocator, workload: 'list', params: { opsPerThread: ops }, idiom: 'malloc-then-link', threads, seed, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode, k: 2, maxStatesPerPoint: 16 };
          const { en, want } = sweepPoints(job);
          const pts = en.points;
          expect(pts.length).toBe(want.length);
          expect(pts.length).toBe(en.plan.points);
          for (let o = 0; o < pts.length; o++) {
            expect(pts.pos(o)).toBe(want[o].pos);
            expect(pts.completedCount(o)).toBe(want[o].completedCount);
          }
          const ords = picks.map((x) => x % pts.length);
          pts.prepare(ords);
          for (const o of ords) expect(pts.at(o)).toEqual(want[o]);
          expect(pts.all()).toEqual(want);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('a table of several chunks (tens of thousands of points, 2 threads) gives back every point the scan saw', () => {
    // Ops of two interleaved threads, each a store, a flush and a fence: a point at each op boundary and raise.
    const t = new TraceRecorder(emptyImage(1 << 16));
    for (let op = 0; op < 60_000; op++) {
      const th = op & 1;
      t.push(TraceKind.OP_BEGIN, th, 0, op, th, 0);
      t.push(TraceKind.STORE8, th, 0, (op % 512) * 64, op, 0);
      t.push(TraceKind.CLWB, th, 0, op % 512, 0, 0);
      t.push(TraceKind.FENCE, th, 0, 0, 0, 0);
      if (th === 1) {
        t.push(TraceKind.OP_END, 0, 0, op - 1, 0, 0);
        t.push(TraceKind.OP_END, 1, 0, op, 1, 0);
      }
    }
    const pts = new PointTable(t);
    const want: CrashPoint[] = [];
    scanCrashPoints(new PersistReplayer(t, 'line', true), 0, (p) => {
      pts.push(p.pos, p.completedCount);
      want.push({ ...p, inFlight: p.inFlight.map((x) => [...x] as const) });
    });
    expect(pts.length).toBe(want.length);
    expect(pts.length).toBeGreaterThan(3 * 32_768);
    const bad: number[] = [];
    for (let o = 0; o < pts.length; o++) if (pts.pos(o) !== want[o].pos || pts.completedCount(o) !== want[o].completedCount) bad.push(o);
    expect(bad).toEqual([]);
    const ords = [0, 32_767, 32_768, 65_535, 65_536, pts.length - 1, 40_000, 5];
    pts.prepare(ords);
    for (const o of ords) expect(pts.at(o)).toEqual(want[o]);
  });

  it('rejects ordinals it does not hold', () => {
    const { en } = sweepPoints({ allocator: 'makalu', workload: 'list', params: { opsPerThread: 3 }, idiom: 'malloc-then-link', threads: 1, seed: 1, nvramSizeBytes: 4 * MB, dramSizeBytes: 16 * MB, persistency: 'line', mode: 'lower' });
    expect(() => en.points.pos(en.points.length)).toThrow(/no crash point/);
    expect(() => en.points.at(-1)).toThrow(/no crash point/);
  });

  it('refuses a trace position past 2^31, at a chunk start or inside a chunk', () => {
    const first = new PointTable(new TraceRecorder(emptyImage(4 * MB)));
    expect(() => first.push(2 ** 31, 0)).toThrow(/beyond the point table's 2\^31 positions/);
    const later = new PointTable(new TraceRecorder(emptyImage(4 * MB)));
    later.push(5, 0);
    expect(() => later.push(2 ** 31, 0)).toThrow(/beyond the point table's 2\^31 positions/);
    expect(later.length).toBe(1);
    expect(later.pos(0)).toBe(5);
  });
});
