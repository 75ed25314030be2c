import { describe, it, expect } from 'vitest';
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
