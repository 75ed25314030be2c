/**
 * MediaWriter (sim/xpbuffer.ts): the hashed, list-ordered XPBuffer answers every
 * write-back as the stamp-scanned buffer it replaced (the reference below): same extra
 * cycles, same media bytes, across fills, hits, evictions and resets.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeCostModel, type CostModel } from './cost-model.ts';
import { zeroCounters } from './counters.ts';
import { MediaWriter } from './xpbuffer.ts';

/** The XPBuffer as first written: a linear scan for the tag and the smallest stamp. */
class ScannedBuffer {
  private readonly tags: Int32Array;
  private readonly stamps: Float64Array;
  private readonly xpShift: number;
  private tick = 0;
  constructor(private readonly cost: CostModel) {
    this.xpShift = 31 - Math.clz32(cost.xpLineSizeBytes >>> 6);
    this.tags = new Int32Array(cost.xpBufferEnabled !== 0 ? cost.xpBufferLines : 0);
    this.stamps = new Float64Array(this.tags.length);
  }
  writeLine(line: number, cnt: { nvmBytesWritten: number }): number {
    if (this.tags.length === 0) {
      cnt.nvmBytesWritten += 64;
      return 0;
    }
    const tag = (line >>> this.xpShift) + 1;
    let victim = 0;
    for (let i = 0; i < this.tags.length; i++) {
      if (this.tags[i] === tag) {
        this.stamps[i] = ++this.tick;
        return 0;
      }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    this.tags[victim] = tag;
    this.stamps[victim] = ++this.tick;
    cnt.nvmBytesWritten += this.cost.xpLineSizeBytes;
    return this.cost.xpBufferMissCycles;
  }
  reset(): void {
    this.tags.fill(0);
    this.stamps.fill(0);
    this.tick = 0;
  }
}

describe('MediaWriter', () => {
  it('answers every write-back as the stamp-scanned buffer (reference model)', () => {
    const write = fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 1 << 24 }), fc.constant(-1));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.constantFrom(64, 256, 1024), fc.array(write, { maxLength: 400 }), (lines, xpBytes, writes) => {
        const cost = makeCostModel('optane-adr', { xpBufferLines: lines, xpLineSizeBytes: xpBytes });
        const m = new MediaWriter(cost);
        const ref = new ScannedBuffer(cost);
        const a = zeroCounters();
        const b = zeroCounters();
        for (const w of writes) {
          if (w < 0) {
            m.reset();
            ref.reset();
            continue;
          }
          // NVM lines near the NVRAM base, so XPLines repeat and collide in the table.
          const line = (0x4000_0000 >>> 6) + w;
          expect(m.writeLine(line, a)).toBe(ref.writeLine(line, b));
          expect(a.nvmBytesWritten).toBe(b.nvmBytesWritten);
        }
      }),
      { numRuns: 300 },
    );
  });
});
