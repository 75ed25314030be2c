/**
 * PMDK-style heap: where the volatile state lives in simulated DRAM.
 *
 * Model (libpmemobj heap.c / bucket.c / recycler.c, simplified; our own code):
 *   heap lock        guards the free-chunk map and the recyclers (PMDK's default bucket lock)
 *   rover            next-fit start for chunk searches
 *   zone loaded[z]   1 once zone z was rebuilt from its chunk headers (lazy, per zone)
 *   free map         1 byte per chunk: 1 = free chunk
 *   run descriptors  64 B per chunk: lock (the per-run lock), class + 1, owning arena + 1,
 *                    blocks freed since the last scan, recycler link (chunk + 1), in-recycler flag
 *   recycler heads   per class: runs that are not in a bucket and may have free blocks
 *   buckets          per arena (= core) and class: lock, run chunk + 1, available count,
 *                    scan cursor, then a DRAM copy of the run's free bits (set = reservable)
 * The JS object holds only these addresses; every read and write goes through a Core.
 *
 * Invariants: a run is in at most one bucket; a reserved bit is clear in its bucket.
 */
import type { Machine } from '../../sim/api.ts';
import { CLASS_SIZES, runGeometry, type Geometry } from './layout.ts';

export const RD_BYTES = 64;
export const RD = { lock: 0, cls: 8, owner: 16, freed: 24, next: 32, inRecycler: 40 } as const;
export const BK = { lock: 0, run: 8, avail: 16, cursor: 24, bits: 64 } as const;

export class PmdkDram {
  readonly heapLock: number;
  readonly rover: number;
  readonly zoneLoaded: number;
  readonly freeMap: number;
  readonly runDescs: number;
  readonly recyclers: number;
  readonly buckets: number;
  readonly bucketBytes: number;
  readonly arenas: number;

  constructor(machine: Machine, g: Geometry) {
    const maxBits = runGeometry(g.chunkSizeBytes, CLASS_SIZES[0]).bitmapWords * 4;
    this.arenas = machine.cores.length;
    this.bucketBytes = BK.bits + Math.ceil(maxBits / 64) * 64;
    this.heapLock = machine.reserveDram(64, 64);
    this.rover = machine.reserveDram(64, 64);
    this.zoneLoaded = machine.reserveDram(g.zoneCount * 8, 64);
    this.freeMap = machine.reserveDram(Math.ceil(g.chunkCount / 8) * 8, 64);
    this.runDescs = machine.reserveDram(g.chunkCount * RD_BYTES, 64);
    this.recyclers = machine.reserveDram(CLASS_SIZES.length * 8, 64);
    this.buckets = machine.reserveDram(this.arenas * CLASS_SIZES.length * this.bucketBytes, 64);
  }

  runDesc(chunk: number): number {
    return this.runDescs + chunk * RD_BYTES;
  }
  bucket(arena: number, cls: number): number {
    return this.buckets + (arena * CLASS_SIZES.length + cls) * this.bucketBytes;
  }
  arenaOf(coreId: number): number {
    return coreId % this.arenas;
  }
}
