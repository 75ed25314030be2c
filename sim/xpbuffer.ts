/**
 * NVM media writes: bytes written and the optional XPBuffer (nvram-model.md rule 1).
 *
 * Model: without the XPBuffer (cost.xpBufferEnabled = 0) every 64 B write-back of an NVM
 * line writes 64 B of media and costs nothing extra. With it, the DIMM combines writes in
 * a buffer of `xpBufferLines` XPLines (256 B each, true LRU, one buffer for the machine:
 * interleaving over several DIMMs is not modelled). A write-back to an XPLine already in
 * the buffer merges (no extra media bytes, no extra cycles). One that misses allocates an
 * entry: that XPLine will reach the media as one 256 B unit, needing a read-modify-write
 * when it is partial, so it counts 256 media bytes and costs `xpBufferMissCycles` more.
 * Sequential flushes therefore pay once per XPLine; scattered 64 B flushes pay every time
 * and write 4x the bytes (the write amplification of FAST'20).
 *
 * Invariants: an XPLine is in the buffer at most once; deterministic LRU (stamps).
 */
import type { Counters } from './api.ts';
import type { CostModel } from './cost-model.ts';
import { invariant } from './errors.ts';

export class MediaWriter {
  private readonly enabled: boolean;
  private readonly tags: Int32Array;
  private readonly stamps: Float64Array;
  private readonly xpShift: number;
  private tick = 0;

  constructor(private readonly cost: CostModel) {
    this.enabled = cost.xpBufferEnabled !== 0 && cost.xpBufferLines > 0;
    const lines = cost.xpLineSizeBytes >>> 6;
    invariant(lines >= 1 && (lines & (lines - 1)) === 0, `xpLineSizeBytes must be 64 * 2^k, got ${cost.xpLineSizeBytes}`);
    this.xpShift = 31 - Math.clz32(lines);
    this.tags = new Int32Array(this.enabled ? cost.xpBufferLines : 0);
    this.stamps = new Float64Array(this.tags.length);
  }

  /** One 64 B write-back of NVM `line` reaches the DIMM; returns extra cycles. */
  writeLine(line: number, cnt: Counters): number {
    if (!this.enabled) {
      cnt.nvmBytesWritten += 64;
      return 0;
    }
    const tag = (line >>> this.xpShift) + 1;
    const tags = this.tags;
    let victim = 0;
    for (let i = 0; i < tags.length; i++) {
      if (tags[i] === tag) {
        this.stamps[i] = ++this.tick;
        return 0;
      }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    tags[victim] = tag;
    this.stamps[victim] = ++this.tick;
    cnt.nvmBytesWritten += this.cost.xpLineSizeBytes;
    return this.cost.xpBufferMissCycles;
  }

  /** Forget every buffered line, as if freshly constructed (crash checking). */
  reset(): void {
    this.tags.fill(0);
    this.stamps.fill(0);
    this.tick = 0;
  }
}
