/**
 * PMDK-style heap: runs and buckets (after libpmemobj heap.c, bucket.c, memblock.c,
 * recycler.c; our own code).
 *
 * Model: a run is one chunk of equal blocks with a persistent bitmap (set =
 * allocated). Each arena (one per core) has a locked bucket per class holding one run
 * and a DRAM copy of that run's reservable bits. Reserving clears a DRAM bit only;
 * the persistent bit is set later through the redo log. Free never returns a block to
 * a bucket: it clears the persistent bit and bumps the recycler's unaccounted counters
 * (heap.ts); a run outside every bucket with freed blocks goes to its class's recycler. When a
 * bucket runs dry it rescans its run's bitmap (under the run lock), then takes a run
 * from the recycler, then creates a new run: run header and zeroed bitmap flushed,
 * fence, then the 8 B chunk header FREE -> RUN (1 line, 1 fence) as the commit point.
 *
 * Reservation follows palloc_reservation_create (palloc.c:178-259, 1.12.1): under the
 * bucket lock the block is taken, its header written and the caller's constructor run
 * (alloc_prep_block, palloc.c:112-158), and the active run's reservation count `nresv`
 * bumped with a locked add (palloc.c:245-246); the publisher drops it after the commit
 * (palloc_reservation_clear, palloc.c:351).
 *
 * Invariants: a reservable DRAM bit is clear in the persistent bitmap; a run is
 * owned by at most one bucket; `reserve` holds the bucket lock while it runs `prep`.
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { ChunkType, CLASS_SIZES, OBJ_HEADER_BYTES, RUN_HEADER_BYTES, chunkDataAddr, chunkHeaderAddr, encodeChunkHeader, runGeometry, type Geometry } from './layout.ts';
import { BK, RD, STATS, type PmdkDram } from './dram.ts';
import type { Chunks } from './chunks.ts';
import { PMDK_INSTRUCTIONS as I } from './path-lengths.ts';

const S_RUN = siteId('pmdk:new-run');
const S_BUCKET = siteId('pmdk:bucket');

export interface BlockRef {
  readonly chunk: number;
  readonly index: number;
  /** Address of the block (its 16 B header); the user pointer is block + 16. */
  readonly block: number;
  readonly blockBytes: number;
  /** Address and mask of the block's persistent bitmap word. */
  readonly bitmapWord: number;
  readonly mask: number;
}

export function blockRef(g: Geometry, chunk: number, blockBytes: number, index: number): BlockRef {
  const data = chunkDataAddr(g, chunk);
  const { dataOffset } = runGeometry(g.chunkSizeBytes, blockBytes);
  return {
    chunk,
    index,
    block: data + dataOffset + index * blockBytes,
    blockBytes,
    bitmapWord: data + RUN_HEADER_BYTES + Math.floor(index / 32) * 4,
    mask: 2 ** (index % 32),
  };
}

export class Runs {
  constructor(
    readonly g: Geometry,
    readonly d: PmdkDram,
    readonly chunks: Chunks,
  ) {}

  /**
   * Reserve a block of class cls for the core's arena and run `prep` on it (header and
   * constructor), both under the bucket lock; bumps the bucket's `nresv`. Null when the
   * heap is full. The caller publishes, then calls `release`.
   */
  reserve(core: Core, cls: number, prep: (ref: BlockRef) => void): BlockRef | null {
    const b = this.d.bucket(this.d.arenaOf(core.id), cls);
    const prev = core.setSite(S_BUCKET);
    core.lock(b + BK.lock);
    core.instructions(I.reserveBlock);
    let ref: BlockRef | null = null;
    // Terminates: each dry refill detaches a full run or consumes a recycled / new one.
    while (ref === null) {
      if (core.load64(b + BK.avail) > 0) ref = this.takeBit(core, b, cls);
      else if (!this.refill(core, b, cls)) break;
    }
    if (ref !== null) {
      core.setSite(prev);
      prep(ref);
      core.setSite(S_BUCKET);
      this.d.fetchAdd(core, b + BK.nresv, 1);
    }
    core.unlock(b + BK.lock);
    core.setSite(prev);
    return ref;
  }

  /** After the publication: drop the reservation count (palloc_reservation_clear, a locked sub). */
  releaseReservation(core: Core, cls: number): void {
    this.d.fetchAdd(core, this.d.bucket(this.d.arenaOf(core.id), cls) + BK.nresv, -1);
  }

  private takeBit(core: Core, b: number, cls: number): BlockRef {
    const run = core.load64(b + BK.run) - 1;
    const { bitmapWords } = runGeometry(this.g.chunkSizeBytes, CLASS_SIZES[cls]);
    let i = core.load64(b + BK.cursor);
    for (let n = 0; n < bitmapWords; n++, i = (i + 1) % bitmapWords) {
      const w = core.load(b + BK.bits + 4 * i, 4);
      if (w === 0) continue;
      const bit = 31 - Math.clz32(w & -w);
      core.store(b + BK.bits + 4 * i, 4, (w & ~(1 << bit)) >>> 0);
      core.store64(b + BK.avail, core.load64(b + BK.avail) - 1);
      core.store64(b + BK.cursor, i);
      core.compute(2);
      return blockRef(this.g, run, CLASS_SIZES[cls], i * 32 + bit);
    }
    throw new Error(`pmdk: bucket of class ${cls} counts free blocks but has none`);
  }

  /** Give the bucket reservable blocks. False when none can be found (heap full for this class). */
  private refill(core: Core, b: number, cls: number): boolean {
    const run = core.load64(b + BK.run) - 1;
    if (run >= 0) {
      if (this.scan(core, b, run, cls) > 0) return true;
      core.store64(this.d.runDesc(run) + RD.owner, 0);
      core.store64(b + BK.run, 0);
    }
    // heap_ensure_run_bucket_filled (heap.c:1083-1139): a recycled run (recycler_get under the
    // class's recycler lock), else a new run under the default bucket's lock (the heap lock)
    let next = this.popUnowned(core, cls);
    if (next < 0) {
      core.lock(this.d.heapLock);
      next = this.createRun(core, cls);
      core.unlock(this.d.heapLock);
    }
    if (next < 0) next = this.popUnowned(core, cls); // runs found by the zone loads of the chunk search
    if (next >= 0) core.store64(this.d.runDesc(next) + RD.owner, this.d.arenaOf(core.id) + 1);
    if (next < 0) return false;
    core.store64(b + BK.run, next + 1);
    core.store64(b + BK.cursor, 0);
    this.scan(core, b, next, cls);
    return true;
  }

  private popUnowned(core: Core, cls: number): number {
    const lock = this.d.recyclerLock(cls);
    core.lock(lock);
    // runs a bucket took back meanwhile are dropped from the list
    let c = this.chunks.popRecycler(core, cls);
    while (c >= 0 && core.load64(this.d.runDesc(c) + RD.owner) !== 0) c = this.chunks.popRecycler(core, cls);
    core.unlock(lock);
    return c;
  }

  /** Copy the run's free bits into the bucket under the run lock; returns how many. */
  private scan(core: Core, b: number, run: number, cls: number): number {
    const lock = this.d.runLock(run);
    core.lock(lock);
    const { nbits, bitmapWords } = runGeometry(this.g.chunkSizeBytes, CLASS_SIZES[cls]);
    const bitmap = chunkDataAddr(this.g, run) + RUN_HEADER_BYTES;
    let avail = 0;
    for (let i = 0; i < bitmapWords; i++) {
      const valid = i < bitmapWords - 1 || nbits % 32 === 0 ? 0xffff_ffff : 2 ** (nbits % 32) - 1;
      const free = (~core.load(bitmap + 4 * i, 4) & valid) >>> 0;
      core.store(b + BK.bits + 4 * i, 4, free);
      avail += popcount(free);
    }
    core.compute(bitmapWords);
    core.instructions(I.refillPerObject * avail);
    core.store64(b + BK.avail, avail);
    core.unlock(lock);
    return avail;
  }

  /** Create a run of class cls in a new chunk (caller holds the heap lock). Returns the chunk or -1. */
  private createRun(core: Core, cls: number): number {
    let c = this.chunks.takeSpan(core, 1);
    if (c < 0 && this.chunks.reclaimEmptyRuns(core) > 0) c = this.chunks.takeSpan(core, 1);
    if (c < 0) return -1;
    const prev = core.setSite(S_RUN);
    core.instructions(I.slowPath);
    const blockBytes = CLASS_SIZES[cls];
    const { nbits, dataOffset } = runGeometry(this.g.chunkSizeBytes, blockBytes);
    const data = chunkDataAddr(this.g, c);
    core.store64(data, blockBytes);
    core.store64(data + 8, nbits);
    for (let a = data + RUN_HEADER_BYTES; a < data + dataOffset; a += 8) core.store64(a, 0);
    for (let a = data; a < data + dataOffset; a += 64) core.clwb(a);
    core.sfence();
    const h = chunkHeaderAddr(this.g, c);
    core.storeAtomic64(h, encodeChunkHeader(ChunkType.RUN, 1));
    core.clwb(h);
    core.sfence();
    const rd = this.d.runDesc(c);
    core.store64(rd + RD.cls, cls + 1);
    core.store64(rd + RD.inRecycler, 0);
    core.setSite(prev);
    // heap_run_create (heap.c:1065-1080), after memblock_run_init: STATS_INC transient heap_run_active
    this.d.fetchAdd(core, this.d.stats + STATS.runActive, this.g.chunkSizeBytes);
    return c;
  }

  /** After a block's bit was cleared durably: recycle its run if no bucket holds it. */
  onFreed(core: Core, chunk: number): void {
    const rd = this.d.runDesc(chunk);
    if (core.load64(rd + RD.owner) !== 0 || core.load64(rd + RD.inRecycler) !== 0) return;
    const cls = core.load64(rd + RD.cls) - 1;
    core.lock(this.d.recyclerLock(cls));
    this.chunks.pushRecycler(core, chunk);
    core.unlock(this.d.recyclerLock(cls));
  }

  /** Usable bytes of a block of class cls. */
  static usableBytes(cls: number): number {
    return CLASS_SIZES[cls] - OBJ_HEADER_BYTES;
  }
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v = (v & (v - 1)) >>> 0) n++;
  return n;
}
