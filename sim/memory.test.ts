/**
 * PagedMemory against a byte Map reference: random writes and reads of 1, 2, 4 and 8
 * bytes, over an empty region or copy-on-write over a base image (the remembered read
 * and write pages must never show stale data), plus the host-memory property.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PagedMemory, imageFromPages } from './memory.ts';

const SIZE = 4 * 4096;

function refRead(ref: Map<number, number>, off: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (ref.get(off + i) ?? 0);
  return v;
}

const access = fc.record({
  write: fc.boolean(),
  size: fc.constantFrom(1, 2, 4, 8),
  off: fc.nat({ max: SIZE - 8 }),
  value: fc.nat(),
});

describe('PagedMemory', () => {
  it('reads what was written, over an empty region or a base image', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(access, { maxLength: 200 }), (withBase, ops) => {
        const ref = new Map<number, number>();
        const pages = new Map<number, Uint8Array>();
        if (withBase) {
          const p = new Uint8Array(4096);
          for (let i = 0; i < 4096; i += 7) { p[i] = i & 255; ref.set(4096 + i, i & 255); }
          pages.set(1, p);
        }
        const base = imageFromPages(SIZE, pages);
        const baseCopy = withBase ? pages.get(1)!.slice() : undefined;
        const mem = new PagedMemory(SIZE, base);
        for (const o of ops) {
          const size = o.size;
          const off = size === 8 ? o.off & ~7 : size === 1 ? o.off : o.off & ~(size - 1);
          if (o.write) {
            if (size === 8) {
              mem.writeWord(off, o.value >>> 0, 7);
              for (let i = 0; i < 4; i++) ref.set(off + i, (o.value >>> (8 * i)) & 255);
              for (let i = 4; i < 8; i++) ref.set(off + i, i === 4 ? 7 : 0);
            } else {
              const v = o.value % 2 ** (8 * size);
              mem.writeSmall(off, size, v);
              for (let i = 0; i < size; i++) ref.set(off + i, Math.floor(v / 2 ** (8 * i)) & 255);
            }
          } else if (size === 8) {
            expect(mem.readLo(off)).toBe(refRead(ref, off, 4));
            const want = refRead(ref, off, 8);
            expect(mem.readWord(off)).toBe(want > Number.MAX_SAFE_INTEGER ? -1 : want);
          } else {
            expect(mem.readSmall(o.off, size)).toBe(refRead(ref, o.off, size));
          }
        }
        if (baseCopy) expect(pages.get(1)).toEqual(baseCopy); // the base is never written
        const snap = mem.snapshot();
        for (let p = 0; p < 4; p++) {
          const page = snap.page(p);
          for (let i = 0; i < 4096; i += 61) expect(page ? page[i] : 0).toBe(ref.get(p * 4096 + i) ?? 0);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('readWord reports a value >= 2^53 as -1', () => {
    const mem = new PagedMemory(SIZE);
    mem.writeWord(8, 0, 0x20_0000);
    expect(mem.readWord(8)).toBe(-1);
    mem.writeWord(8, 0xffff_ffff, 0x1f_ffff);
    expect(mem.readWord(8)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('grows host memory with the pages written, not the configured size (1 GiB region)', () => {
    const mem = new PagedMemory(1 << 30);
    for (let i = 0; i < 10; i++) mem.writeWord(i * 100 * 1024 * 1024, i, 0);
    expect(mem.ownedPageCount()).toBe(10);
    expect(mem.readWord(900 * 1024 * 1024)).toBe(9);
    expect(mem.readWord((1 << 30) - 8)).toBe(0);
  });
});
