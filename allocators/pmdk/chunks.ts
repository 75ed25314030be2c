/**
 * PMDK-style heap: chunks and zones (after libpmemobj heap.c; our own code).
 *
 * Model: the persistent truth is the chunk-header walk of each zone (a header at the
 * first chunk of every span, advancing by its size). The DRAM free map (1 byte per
 * chunk) is rebuilt lazily per zone on first use by walking that zone's headers and
 * searched next-fit from a rover (then first-fit, so no false out-of-memory);
 * adjacent free spans are coalesced in DRAM only (the persistent headers are merged
 * when the range is next allocated). Allocating k chunks takes a maximal free range of
 * at least k chunks, so its first chunk is always a persistent span start;
 * the remainder is described by a FREE header written (and flushed) beyond the new
 * span before the caller commits the span's own header with one 8 B store.
 * Empty runs outside any bucket are turned back into free chunks (1 line, 1 fence)
 * when no free chunk is left (PMDK reclaims empty runs the same way).
 *
 * Invariants: the caller holds the heap lock (dram.heapLock); spans never cross a zone;
 * recycler lists are changed under their class's recycler lock (pushRecycler and
 * popRecycler leave the locking to their callers).
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { ChunkType, CLASS_SIZES, chunkHeaderAddr, chunkHeaderSize, chunkHeaderType, chunkDataAddr, encodeChunkHeader, runGeometry, type Geometry } from './layout.ts';
import { RD, STATS, type PmdkDram } from './dram.ts';
import { PMDK_INSTRUCTIONS as I } from './path-lengths.ts';

const S_ZONE = siteId('pmdk:zone-load');
const S_CHUNK = siteId('pmdk:chunk');

export class Chunks {
  /** Chunk headers read by lazy zone loads (a statistic for reports). */
  headersScanned = 0;

  constructor(
    readonly g: Geometry,
    readonly d: PmdkDram,
  ) {}

  /** Rebuild zone z's DRAM state from its chunk headers, once. */
  ensureZone(core: Core, z: number): void {
    if (core.load64(this.d.zoneLoaded + z * 8) === 1) return;
    const prev = core.setSite(S_ZONE);
    const zone = this.g.zones[z];
    let c = zone.first;
    const end = zone.first + zone.chunks;
    while (c < end) {
      const h = core.load64(chunkHeaderAddr(this.g, c));
      this.headersScanned++;
      const type = chunkHeaderType(h);
      const size = Math.max(1, Math.min(chunkHeaderSize(h), end - c));
      const free = type === ChunkType.FREE ? 1 : 0;
      for (let i = c; i < c + size; i++) {
        core.store(this.d.freeMap + i, 1, free);
        core.store64(this.d.runDesc(i) + RD.cls, 0);
      }
      if (type === ChunkType.RUN) this.loadRun(core, c);
      c += size;
    }
    core.storeAtomic64(this.d.zoneLoaded + z * 8, 1);
    core.setSite(prev);
  }

  private loadRun(core: Core, c: number): void {
    const blockBytes = core.load64(chunkDataAddr(this.g, c));
    const cls = CLASS_SIZES.indexOf(blockBytes);
    if (cls < 0) return;
    core.instructions(I.recoveryPerBlock);
    const rd = this.d.runDesc(c);
    core.store64(rd + RD.cls, cls + 1);
    core.store64(rd + RD.owner, 0);
    core.store64(rd + RD.inRecycler, 0);
    core.lock(this.d.recyclerLock(cls));
    this.pushRecycler(core, c);
    core.unlock(this.d.recyclerLock(cls));
  }

  ensureAllZones(core: Core): void {
    for (let z = 0; z < this.g.zoneCount; z++) this.ensureZone(core, z);
  }

  /**
   * Find k free chunks, write the remainder's FREE header (flushed, not fenced) and
   * mark them used in DRAM. Returns the first chunk or -1. The caller commits the
   * span's header (chunk header of the returned chunk).
   */
  takeSpan(core: Core, k: number): number {
    const rover = core.load64(this.d.rover);
    // next-fit from the rover, then first-fit over every zone (no false out-of-memory)
    for (let pass = 0; pass < 2; pass++) {
      for (let z = 0; z < this.g.zoneCount; z++) {
        const zone = this.g.zones[z];
        const end = zone.first + zone.chunks;
        if (pass === 0 && (rover < zone.first || rover >= end)) continue;
        this.ensureZone(core, z);
        let start = pass === 0 ? rover : zone.first;
        // a candidate must start a maximal free range (it is then a persistent span start)
        while (start > zone.first && core.load(this.d.freeMap + start - 1, 1) === 1) start--;
        const s = this.firstFit(core, start, end, k);
        if (s >= 0) {
          core.store64(this.d.rover, s + k);
          return s;
        }
      }
    }
    return -1;
  }

  private firstFit(core: Core, from: number, end: number, k: number): number {
    let c = from;
    while (c < end) {
      if (core.load(this.d.freeMap + c, 1) === 0) {
        c++;
        continue;
      }
      let e = c;
      while (e < end && core.load(this.d.freeMap + e, 1) === 1) e++;
      if (e - c >= k) {
        this.splitFree(core, c, k, e);
        return c;
      }
      c = e;
    }
    return -1;
  }

  private splitFree(core: Core, s: number, k: number, e: number): void {
    const prev = core.setSite(S_CHUNK);
    if (e > s + k) {
      const h = chunkHeaderAddr(this.g, s + k);
      core.storeAtomic64(h, encodeChunkHeader(ChunkType.FREE, e - s - k));
      core.clwb(h);
    }
    for (let i = s; i < s + k; i++) core.store(this.d.freeMap + i, 1, 0);
    core.setSite(prev);
  }

  /** Return k chunks starting at s to the DRAM free map (after their FREE header is durable). */
  releaseSpan(core: Core, s: number, k: number): void {
    for (let i = s; i < s + k; i++) {
      core.store(this.d.freeMap + i, 1, 1);
      core.store64(this.d.runDesc(i) + RD.cls, 0);
    }
  }

  pushRecycler(core: Core, c: number): void {
    const rd = this.d.runDesc(c);
    const cls = core.load64(rd + RD.cls) - 1;
    const head = this.d.recyclers + cls * 8;
    core.store64(rd + RD.next, core.load64(head));
    core.store64(rd + RD.inRecycler, 1);
    core.store64(head, c + 1);
  }

  popRecycler(core: Core, cls: number): number {
    const head = this.d.recyclers + cls * 8;
    const c = core.load64(head) - 1;
    if (c < 0) return -1;
    const rd = this.d.runDesc(c);
    core.store64(head, core.load64(rd + RD.next));
    core.store64(rd + RD.inRecycler, 0);
    return c;
  }

  /** Turn every empty run sitting in a recycler back into a free chunk. Returns how many. */
  reclaimEmptyRuns(core: Core): number {
    let reclaimed = 0;
    for (let cls = 0; cls < CLASS_SIZES.length; cls++) {
      const keep: number[] = [];
      core.lock(this.d.recyclerLock(cls));
      for (let c = this.popRecycler(core, cls); c >= 0; c = this.popRecycler(core, cls)) {
        if (this.runIsEmpty(core, c, CLASS_SIZES[cls])) {
          this.runToFreeChunk(core, c);
          reclaimed++;
        } else keep.push(c);
      }
      for (const c of keep) this.pushRecycler(core, c);
      core.unlock(this.d.recyclerLock(cls));
    }
    return reclaimed;
  }

  private runIsEmpty(core: Core, c: number, blockBytes: number): boolean {
    const bitmap = chunkDataAddr(this.g, c) + 16;
    const { bitmapWords } = runGeometry(this.g.chunkSizeBytes, blockBytes);
    for (let i = 0; i < bitmapWords; i++) if (core.load(bitmap + 4 * i, 4) !== 0) return false;
    return true;
  }

  private runToFreeChunk(core: Core, c: number): void {
    const prev = core.setSite(S_CHUNK);
    const h = chunkHeaderAddr(this.g, c);
    core.storeAtomic64(h, encodeChunkHeader(ChunkType.FREE, 1));
    core.clwb(h);
    core.sfence();
    // heap_run_into_free_chunk (heap.c:697-710): STATS_SUB transient heap_run_active
    this.d.fetchAdd(core, this.d.stats + STATS.runActive, -this.g.chunkSizeBytes);
    this.releaseSpan(core, c, 1);
    core.setSite(prev);
  }
}
