/**
 * The write-back path (sim/writeback-path.ts, rule 10): a line dropped by a flush and
 * read back soon is served at writeBackPathReadCycles; once pushed out (capacity), or
 * with the path off, the read pays the media latency again. clwb on a part that
 * retains lines (clwbRetainsLine) re-reads from the cache instead.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCostModel, type CostOverrides } from './cost-model.ts';
import { NVRAM_BASE, createMachine } from './machine.ts';
import { WriteBackPath } from './writeback-path.ts';

function rereadCycles(overrides: CostOverrides, pushOut = 0): number {
  const m = createMachine({ cores: 1, cost: makeCostModel('optane-adr', { xpBufferEnabled: 0, ...overrides }), dramSizeBytes: 1 << 20, nvramSizeBytes: 1 << 22, trace: false });
  m.formatNvram();
  const c = m.core(0);
  const a = NVRAM_BASE + 64 * 1000;
  c.store64(a, 7);
  c.clwb(a);
  for (let i = 0; i < pushOut; i++) {
    c.store64(NVRAM_BASE + 8192 * 64 + 64 * i, 1);
    c.clwb(NVRAM_BASE + 8192 * 64 + 64 * i);
  }
  c.sfence();
  const t = c.clockCycles;
  expect(c.load64(a)).toBe(7);
  return c.clockCycles - t;
}

describe('write-back path', () => {
  it('a dropped line read back soon costs writeBackPathReadCycles, not the media latency', () => {
    const cost = makeCostModel('optane-adr');
    const fromPath = rereadCycles({});
    const fromMedia = rereadCycles({ writeBackPathLines: 0 });
    // The line's block was read moments ago (the store's read for ownership): a sequential read.
    expect(fromMedia - fromPath).toBe(cost.nvmReadSeqCycles - cost.writeBackPathReadCycles);
  });

  it('a line pushed out by newer write-backs pays the media latency again', () => {
    expect(rereadCycles({ writeBackPathLines: 4 }, 4)).toBe(rereadCycles({ writeBackPathLines: 0 }));
    expect(rereadCycles({ writeBackPathLines: 4 }, 3)).toBeLessThan(rereadCycles({ writeBackPathLines: 0 }));
  });

  it('clwb that retains the line re-reads from the L1', () => {
    expect(rereadCycles({ clwbRetainsLine: 1 })).toBe(makeCostModel('optane-adr').l1HitCycles);
  });

  it('FIFO: holds the last capacity distinct lines; a read takes a line out', () => {
    const p = new WriteBackPath(2);
    p.add(1);
    p.add(2);
    p.add(2);
    p.add(3);
    expect(p.take(1)).toBe(false);
    expect(p.take(2)).toBe(true);
    expect(p.take(2)).toBe(false);
    expect(p.take(3)).toBe(true);
  });

  it('hash-indexed FIFO answers as the scanned ring it replaced (reference model)', () => {
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const p = new WriteBackPath(capacity);
        const ref = new ScannedPath(capacity);
        const lineOf = (small: number, hi: number): number => small + hi * 0x10_0000;
        for (const [isAdd, small, hi] of ops) {
          // Lines near and far apart (high bits), so probe runs collide and wrap.
          if (hi === 3 && small === 40) {
            p.reset();
            ref.reset();
          } else if (isAdd) {
            p.add(lineOf(small, hi));
            ref.add(lineOf(small, hi));
          } else {
            expect(p.take(lineOf(small, hi))).toBe(ref.take(lineOf(small, hi)));
          }
        }
        for (let l = 0; l <= 40; l++) for (let hi = 0; hi < 3; hi++) expect(p.take(lineOf(l, hi))).toBe(ref.take(lineOf(l, hi)));
      }),
      { numRuns: 300 },
    );
  });
});

/** The ring as first written: a set of held lines, a take scans the ring (the reference). */
class ScannedPath {
  private readonly ring: number[];
  private readonly held = new Set<number>();
  private pos = 0;
  constructor(readonly capacityLines: number) {
    this.ring = new Array<number>(Math.max(1, capacityLines)).fill(-1);
  }
  add(line: number): void {
    if (this.capacityLines === 0 || this.held.has(line)) return;
    const old = this.ring[this.pos];
    if (old >= 0) this.held.delete(old);
    this.ring[this.pos] = line;
    this.held.add(line);
    this.pos = (this.pos + 1) % this.capacityLines;
  }
  take(line: number): boolean {
    if (!this.held.has(line)) return false;
    this.held.delete(line);
    for (let i = 0; i < this.capacityLines; i++) if (this.ring[i] === line) this.ring[i] = -1;
    return true;
  }
  reset(): void {
    this.ring.fill(-1);
    this.held.clear();
    this.pos = 0;
  }
}
