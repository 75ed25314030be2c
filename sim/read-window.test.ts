/**
 * ReadWindow against a naive FIFO of the last `size` distinct blocks per core, on
 * random reads that crowd few buckets (blocks spaced by multiples of 256) so the
 * bucket-collision paths run.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReadWindow } from './read-window.ts';

class NaiveWindow {
  private readonly fifo: number[][];
  constructor(
    cores: number,
    readonly size: number,
  ) {
    this.fifo = Array.from({ length: cores }, () => []);
  }
  read(c: number, block: number): boolean {
    const f = this.fifo[c];
    const present = f.includes(block);
    const seq = present || f.includes(block - 1);
    if (!present && this.size > 0) {
      f.push(block);
      if (f.length > this.size) f.shift();
    }
    return seq;
  }
}

describe('ReadWindow', () => {
  it('agrees with a naive FIFO window on every read', () => {
    const read = fc.record({ core: fc.nat(2), lane: fc.nat(5), step: fc.nat(3) });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.array(read, { maxLength: 300 }), fc.boolean(), (size, reads, reset) => {
        const w = new ReadWindow(3, size);
        const ref = new NaiveWindow(3, size);
        reads.forEach(({ core, lane, step }, i) => {
          if (reset && i === reads.length >> 1) {
            w.reset();
            for (let c = 0; c < 3; c++) (ref as unknown as { fifo: number[][] }).fifo[c] = [];
          }
          const block = 1 + lane * 256 + step; // lanes share buckets; steps make streams
          expect(w.read(core, block)).toBe(ref.read(core, block));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a stream of consecutive blocks is sequential after its first read', () => {
    const w = new ReadWindow(1, 16);
    expect(w.read(0, 100)).toBe(false);
    for (let b = 101; b < 140; b++) expect(w.read(0, b)).toBe(true);
    expect(w.read(0, 100)).toBe(false); // long out of the window
  });
});
