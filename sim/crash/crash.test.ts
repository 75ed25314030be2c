/**
 * Crash points and per-mode state sets on small synthetic traces.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TraceKind } from '../api.ts';
import { TraceRecorder } from '../persistency/trace.ts';
import { PersistReplayer } from '../persistency/replay.ts';
import { emptyImage } from '../memory.ts';
import { SeedTree } from '../choice.ts';
import { scanCrashPoints } from './points.ts';
import { boxSize, statesAtPoint, type CrashStateMode } from './states.ts';

const SIZE = 1 << 16;

function trace(events: [TraceKind, number, number][]): TraceRecorder {
  const t = new TraceRecorder(emptyImage(SIZE));
  for (const [k, core, arg] of events) t.push(k, core, 0, arg, k <= TraceKind.NTSTORE8 ? arg + 1 : 0, 0);
  return t;
}

describe('crash points', () => {
  it('crash just before raising events, at op boundaries and at the end; skip unchanged boxes', () => {
    const t = trace([
      [TraceKind.OP_BEGIN, 0, 0], // 0: candidate (op boundary)
      [TraceKind.STORE8, 0, 0], // 1: line 0
      [TraceKind.CLWB, 0, 0], // 2
      [TraceKind.FENCE, 0, 0], // 3: raises -> point 3
      [TraceKind.FENCE, 0, 0], // 4: drains nothing
      [TraceKind.OP_END, 0, 0], // 5: op end -> candidate at 6, changed (fence raised) -> kept
      [TraceKind.OP_BEGIN, 0, 1], // 6: same position 6
      [TraceKind.OP_END, 0, 1], // 7 -> candidate at 8: nothing changed -> skipped
      [TraceKind.OP_BEGIN, 0, 2], // 8
      [TraceKind.STORE8, 0, 64], // 9: line 1
      [TraceKind.CLFLUSH, 0, 1], // 10: raises -> point 10
      [TraceKind.OP_END, 0, 2], // 11 -> candidate 12 (end) kept
    ]);
    const pts: number[] = [];
    const done: number[] = [];
    const counts = scanCrashPoints(new PersistReplayer(t, 'line'), 0, (p) => {
      pts.push(p.pos);
      done.push(p.completedCount);
    });
    expect(pts).toEqual([0, 3, 6, 10, 12]);
    expect(done).toEqual([0, 0, 1, 2, 3]);
    expect(counts.rawPoints).toBe(6);
    expect(counts.points).toBe(5);
  });

  it('eADR: a point before every store unit (each image a program-order prefix)', () => {
    const t = trace([[TraceKind.STORE8, 0, 0], [TraceKind.STORE8, 1, 8], [TraceKind.CLWB, 0, 0], [TraceKind.STORE8, 0, 72]]);
    const pts: number[] = [];
    scanCrashPoints(new PersistReplayer(t, 'eadr'), 0, (p) => pts.push(p.pos));
    expect(pts).toEqual([0, 1, 3, 4]);
  });
});

const lineOf = (e: number): number => e;
function gen(ents: number[], mode: CrashStateMode, extra: Partial<{ k: number; limit: number; max: number; read: (l: number) => boolean }> = {}) {
  return statesAtPoint(ents, { mode, k: extra.k ?? 2, exhaustiveLimit: extra.limit ?? 5000, maxStates: extra.max ?? 100000, choice: () => SeedTree.root(1).choice(), readLine: extra.read, lineOf });
}
function choose(n: number, k: number): number {
  let r = 1;
  for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1);
  return r;
}

describe('states per mode', () => {
  const entsArb = fc.uniqueArray(fc.nat(50), { minLength: 0, maxLength: 5 }).chain((es) =>
    fc.tuple(fc.constant(es.sort((a, b) => a - b)), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: es.length, maxLength: es.length })),
  ).map(([es, ns]) => es.flatMap((e, i) => [e, ns[i]]));

  it('counts: k-subsets, prefixes, exhaustive match the combinatorics; all states distinct and valid', () => {
    fc.assert(fc.property(entsArb, fc.integer({ min: 1, max: 3 }), (ents, k) => {
      const n = ents.length / 2;
      const ns = ents.filter((_, i) => i % 2 === 1);
      const ks = gen(ents, 'k-subsets', { k }).states;
      let expectK = 1 + (n > 0 ? 1 : 0);
      for (let j = 1; j <= k; j++) expectK += choose(n, j);
      expect(ks.length).toBe(expectK);
      const ex = gen(ents, 'exhaustive').states;
      expect(BigInt(ex.length)).toBe(boxSize(ents));
      expect(new Set(ex.map((s) => JSON.stringify(s))).size).toBe(ex.length);
      const pre = gen(ents, 'prefixes', { k: n }).states;
      // with k = n, prefixes is the whole box (lower counted once) plus the upper again
      expect(pre.length).toBe(ex.length + (n > 0 ? 1 : 0));
      for (const s of [...ks, ...pre, ...ex]) for (const [e, x] of s) {
        const i = ents.findIndex((v, j) => j % 2 === 0 && v === e);
        expect(i).toBeGreaterThanOrEqual(0);
        expect(x).toBeGreaterThanOrEqual(1);
        expect(x).toBeLessThanOrEqual(ns[i / 2]);
      }
    }), { numRuns: 60 });
  });

  it('read-driven branches only on lines recovery read; lower and upper always present', () => {
    const ents = [1, 2, 5, 1, 9, 3];
    const s = gen(ents, 'read-driven', { k: 2, read: (l) => l === 5 || l === 9 }).states;
    expect(s[0]).toEqual([]);
    expect(s[1]).toEqual([[1, 2], [5, 1], [9, 3]]);
    for (const st of s.slice(2)) for (const [e] of st) expect([5, 9]).toContain(e);
    expect(s.length).toBe(2 + 1 + 3 + 3);
  });

  it('exhaustive over the limit samples and says so; per-point caps sample deterministically', () => {
    const ents = [0, 3, 1, 3, 2, 3, 3, 3, 4, 3];
    const g = gen(ents, 'exhaustive', { limit: 10 });
    expect(g.sampled).toBe(true);
    expect(g.note).toMatch(/sampled/);
    expect(g.states.length).toBe(12);
    const a = gen(ents, 'prefixes', { max: 8 });
    const b = gen(ents, 'prefixes', { max: 8 });
    expect(a.sampled).toBe(true);
    expect(a.states).toEqual(b.states);
    expect(a.states.length).toBe(8);
  });
});
