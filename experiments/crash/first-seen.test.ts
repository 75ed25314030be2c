import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { KeyLog, countDistinct, firstSeen } from './first-seen.ts';
import { giveColumn } from './columns.ts';
import { hashKey } from '../../sim/persistency/hash.ts';

/** first[] by a Map keyed by hashKey (the key equality enumeration dedups by). */
function model(keys: readonly (readonly [number, number])[]): number[] {
  const seen = new Map<number, number>();
  return keys.map(([a, b], i) => {
    const k = hashKey({ a, b });
    if (!seen.has(k)) seen.set(k, i);
    return seen.get(k)!;
  });
}

function logOf(keys: readonly (readonly [number, number])[]): KeyLog {
  const log = new KeyLog();
  for (const [a, b] of keys) log.push(a, b);
  return log;
}

describe('firstSeen', () => {
  it('agrees with a Map keyed by hashKey (b compared on its low 21 bits)', () => {
    // Few distinct values, b's high bits varied: many repeats and keys equal only as hashKey.
    const key = fc.tuple(fc.integer({ min: 0, max: 30 }).map((x) => (x * 0x9e37_79b1) >>> 0), fc.tuple(fc.nat(3), fc.nat(7)).map(([lo, hi]) => ((hi << 21) | (lo * 0x1_0001)) >>> 0));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 300 }), (keys) => {
        const log = logOf(keys);
        const want = model(keys);
        expect(Array.from(firstSeen(log))).toEqual(want);
        expect(countDistinct(log)).toBe(new Set(want).size);
      }),
    );
  });

  it('agrees with the model over many partitions (100,000 keys, about a third repeated)', () => {
    const keys: [number, number][] = [];
    let x = 7;
    for (let i = 0; i < 100_000; i++) {
      x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
      const k = x % 70_000;
      keys.push([Math.imul(k, 0x9e37_79b1) >>> 0, Math.imul(k ^ 0x55, 0x85eb_ca6b) >>> 0]);
    }
    const log = logOf(keys);
    expect(log.n).toBe(keys.length);
    expect(log.a[99_999] >>> 0).toBe(keys[99_999][0]);
    expect(Array.from(firstSeen(log))).toEqual(model(keys));
  });

  it('gives the same answers on pooled arrays, after logs and results were given back', () => {
    const keys: [number, number][] = Array.from({ length: 40_000 }, (_, i) => [Math.imul(i % 25_000, 0x9e37_79b1) >>> 0, i % 25_000]);
    const want = model(keys);
    for (let round = 0; round < 3; round++) {
      const log = logOf(keys);
      const first = firstSeen(log);
      expect(Array.from(first)).toEqual(want);
      expect(countDistinct(log)).toBe(25_000);
      giveColumn(first);
      log.release();
      expect(log.n).toBe(0);
    }
  });

  it('gives nothing for no keys', () => {
    expect(firstSeen(new KeyLog()).length).toBe(0);
    expect(countDistinct(new KeyLog())).toBe(0);
  });
});
