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
 * Speed: an XPLine's entry is found through an IntMap (int-map.ts) and the LRU order is an LruList (lru-list.ts),
 * so a write-back costs O(1), not a scan of the buffer. Entries fill in index order and
 * never empty before a reset, so the victim of a miss is the first empty entry while one
 * is left, else the least recently used: the choice of the stamp scan this replaced
 * (smallest stamp, first on ties; an empty entry's stamp was 0), which a test checks.
 *
 * Invariants: an XPLine is in the buffer at most once; deterministic LRU; the IntMap maps
 * exactly the filled entries' tags to their entries.
 */
import type { Counters } from './api.ts';
import type { CostModel } from './cost-model.ts';
import { invariant } from './errors.ts';
import { IntMap } from './int-map.ts';
import { LruList } from './lru-list.ts';

export class MediaWriter {
  private readonly enabled: boolean;
  /** Per entry: XPLine + 1, or 0 (empty). */
  private readonly tags: Int32Array;
  /** The entries' recency order. */
  private readonly order: LruList;
  /** Entries filled since the last reset (entries [0, filled) hold XPLines). */
  private filled = 0;
  /** XPLine -> the entry holding it. */
  private readonly entryOf: IntMap;
  private readonly xpShift: number;

  constructor(private readonly cost: CostModel) {
    this.enabled = cost.xpBufferEnabled !== 0 && cost.xpBufferLines > 0;
    const lines = cost.xpLineSizeBytes >>> 6;
    invariant(lines >= 1 && (lines & (lines - 1)) === 0, `xpLineSizeBytes must be 64 * 2^k, got ${cost.xpLineSizeBytes}`);
    this.xpShift = 31 - Math.clz32(lines);
    const n = this.enabled ? cost.xpBufferLines : 0;
    this.tags = new Int32Array(n);
    this.order = new LruList(n);
    this.entryOf = new IntMap(Math.max(1, n));
  }

  /** One 64 B write-back of NVM `line` reaches the DIMM; returns extra cycles. */
  writeLine(line: number, cnt: Counters): number {
    if (!this.enabled) {
      cnt.nvmBytesWritten += 64;
      return 0;
    }
    const xpLine = line >>> this.xpShift;
    const hit = this.entryOf.get(xpLine);
    if (hit >= 0) {
      this.order.touch(hit);
      return 0;
    }
    let victim: number;
    if (this.filled < this.tags.length) {
      victim = this.filled++;
    } else {
      victim = this.order.lru;
      this.entryOf.delete(this.tags[victim] - 1);
      this.order.unlink(victim);
    }
    this.tags[victim] = xpLine + 1;
    this.entryOf.add(xpLine, victim);
    this.order.pushMru(victim);
    cnt.nvmBytesWritten += this.cost.xpLineSizeBytes;
    return this.cost.xpBufferMissCycles;
  }

  /** Forget every buffered line, as if freshly constructed (crash checking). */
  reset(): void {
    if (this.filled === 0) return;
    this.tags.fill(0);
    this.entryOf.clear();
    this.filled = 0;
    this.order.clear();
  }
}
