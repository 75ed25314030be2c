import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TraceRecorder } from './trace.ts';
import { TraceKind } from '../api.ts';
import { emptyImage } from '../memory.ts';

/** Every event of a trace as [kind, core, site, arg, lo, hi]. */
function events(t: TraceRecorder): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < t.length; i++) out.push([t.kind(i), t.core(i), t.site(i), t.arg(i), t.valueLo(i), t.valueHi(i)]);
  return out;
}

function record(t: TraceRecorder, n: number, salt: number): void {
  for (let i = 0; i < n; i++) t.push(i % 3 === 0 ? TraceKind.FENCE : TraceKind.STORE8, i & 1, (i * 7 + salt) & 0xffff, i * 8 + salt, (i * 2654435761 + salt) >>> 0, i + salt);
}

describe('TraceRecorder.restart', () => {
  it('after a trace spanning several chunks, records exactly what a fresh recorder does', () => {
    const a = emptyImage(1 << 20);
    const b = emptyImage(1 << 20);
    const reused = new TraceRecorder(a);
    record(reused, 150_000, 1);
    expect(reused.restart(b)).toBe(reused);
    expect(reused.length).toBe(0);
    expect(reused.base).toBe(b);
    for (const n of [5, 70_000]) {
      const fresh = new TraceRecorder(b);
      reused.restart(b);
      record(fresh, n, 9);
      record(reused, n, 9);
      expect(reused.length).toBe(n);
      expect(events(reused)).toEqual(events(fresh));
    }
  });
});

describe('TraceRecorder events', () => {
  const event = fc.tuple(
    fc.integer({ min: 0, max: TraceKind.OP_END }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.nat({ max: 0xffff_ffff }),
    fc.nat({ max: 0xffff_ffff }),
    // valueHi: mostly 0 (then it is not in the side list), up to 2^21 - 1 (values < 2^53)
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x1f_ffff })),
  );

  it('reads back every field of every event, across chunks, after a restart too', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 300 }), fc.nat({ max: 140_000 }), (evs, fill) => {
        const t = new TraceRecorder(emptyImage(1 << 20));
        record(t, fill, 3); // a run before the restart, with many valueHi entries
        t.restart(emptyImage(1 << 20));
        // put the checked events at the end of a long trace (several chunks) half the time
        const pad = fill % 2 === 0 ? fill : 0;
        for (let i = 0; i < pad; i++) t.push(TraceKind.FENCE, 0, 0, 0, 0, 0);
        for (const e of evs) t.push(e[0], e[1], e[2], e[3], e[4], e[5]);
        expect(t.length).toBe(pad + evs.length);
        expect(events(t).slice(pad)).toEqual(evs);
        const his = evs.filter((e) => e[5] !== 0).length;
        expect(t.byteLength()).toBe((pad + evs.length) * 12 + his * 8);
      }),
      { numRuns: 40 },
    );
  });
});
