import { describe, it, expect } from 'vitest';
import { capacityOf, giveColumn, grownColumn, takeColumn, takeZeroed } from './columns.ts';

describe('pooled columns', () => {
  it('a column given back (or a view of its start) is taken again; takeZeroed clears it', () => {
    const n = 1 << 15;
    const a = takeColumn(n);
    a.fill(7);
    giveColumn(a.subarray(0, 10));
    const b = takeZeroed(n);
    expect(b.buffer).toBe(a.buffer);
    expect(b.every((x) => x === 0)).toBe(true);
    b[3] = 9;
    giveColumn(b);
    const c = takeColumn(n);
    expect(c.buffer).toBe(a.buffer);
    expect(c[3]).toBe(9);
    giveColumn(c);
  });

  it('grownColumn doubles and keeps the first n entries', () => {
    const a = takeColumn(1 << 14);
    for (let i = 0; i < 100; i++) a[i] = i * 3;
    const b = grownColumn(a, 100);
    expect(b.length).toBe(1 << 15);
    expect(Array.from(b.subarray(0, 100))).toEqual(Array.from({ length: 100 }, (_, i) => i * 3));
    expect(grownColumn(new Int32Array(0), 0).length).toBe(16);
  });

  it('capacityOf is the least power of two >= n, at least 16', () => {
    expect([0, 16, 17, 1000, 1024, 1025].map(capacityOf)).toEqual([16, 16, 32, 1024, 1024, 2048]);
  });
});
