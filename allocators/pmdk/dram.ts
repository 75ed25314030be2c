/**
 * PMDK-style heap: where the volatile state lives in simulated DRAM.
 *
 * Model (libpmemobj heap.c / bucket.c / recycler.c, simplified; our own code):
 *   heap lock        guards the free-chunk map (PMDK's default bucket lock)
 *   rover            next-fit start for chunk searches
 *   zone loaded[z]   1 once zone z was rebuilt from its chunk headers (lazy, per zone)
 *   free map         1 byte per chunk: 1 = free chunk
 *   run locks        one 48 B pthread mutex per chunk, packed (heap.c:93 `os_mutex_t
 *                    run_locks[MAX_RUN_LOCKS]`, indexed chunk % 65528 at heap.c:509;
 *                    os_mutex_t is 48 B, os_thread.h:49-52), so the locks of neighbouring
 *                    chunks share cache lines as in PMDK; the lock word is the first word
 *   run descriptors  64 B per chunk: class + 1, owning arena + 1, recycler link
 *                    (chunk + 1), in-recycler flag
 *   recycler heads   per class: runs that are not in a bucket and may have free blocks
 *   unaccounted      recycler counters bumped by every free (recycler.c:300-306
 *                    recycler_inc_unaccounted): 8 B per chunk (`unaccounted_units`, one
 *                    array for all classes here, one per class in PMDK), and per class
 *                    one `unaccounted_total` line and one line for the recycler's lock
 *                    (recycler_put / recycler_get take it, recycler.c:154, 171)
 *   stats            one line: heap_run_allocated, heap_run_active (stats.h:18-21; the
 *                    transient statistics are on by default, stats.c:124)
 *   lane locks       one word per lane, a line apart (lane.c lane_hold / lane_release CAS
 *                    lane_locks[idx]; primary lanes are LANE_JUMP = 8 words apart, lane.h:24)
 *   buckets          per arena (= core) and class: lock, run chunk + 1, available count,
 *                    scan cursor, reservations of the active run (`nresv`), then a DRAM
 *                    copy of the run's free bits (set = reservable)
 * The JS object holds only these addresses; every read and write goes through a Core.
 *
 * Invariants: a run is in at most one bucket; a reserved bit is clear in its bucket.
 */
import type { Core, Machine, MemoryReader } from '../../sim/api.ts';
import { invariant } from '../../sim/errors.ts';
import { CLASS_SIZES, MAX_CHUNKS_PER_ZONE, runGeometry, type Geometry } from './layout.ts';

export const RD_BYTES = 64;
export const RD = { cls: 8, owner: 16, next: 32, inRecycler: 40 } as const;
export const BK = { lock: 0, run: 8, avail: 16, cursor: 24, nresv: 32, bits: 64 } as const;
/** sizeof(os_mutex_t) on Linux x86-64: union { long long; char[44]; } (os_thread.h:49-52). */
export const RUN_LOCK_BYTES = 48;
export const STATS = { runAllocated: 0, runActive: 8 } as const;
const TWO_48 = 2 ** 48;

/**
 * A locked fetch-and-add (`lock add` / `lock xadd`, PMDK's util_fetch_and_add64): one
 * locked read-modify-write of the line, charged as Core.cas64 (the cas is the access and
 * pays any coherence transfer; the value it compares with is read uncharged, since the
 * step runs to its end without interleaving). Counters wrap mod 2^48: they are
 * statistics nothing reads back.
 */
export function fetchAdd64(core: Core, mem: MemoryReader, addr: number, delta: number): void {
  const v = mem.peek64(addr);
  // The message is built only on failure (a template per call cost a string per fetch-and-add).
  // In range (always, but for a wrap) the sum is its own residue: no float modulo per add.
  const sum = v + delta;
  const next = sum >= 0 && sum < TWO_48 ? sum : (((sum % TWO_48) + TWO_48) % TWO_48);
  if (!core.cas64(addr, v, next)) invariant(false, `pmdk: fetch-and-add at 0x${addr.toString(16)} lost its word`);
}

export class PmdkDram {
  readonly heapLock: number;
  readonly rover: number;
  readonly zoneLoaded: number;
  readonly freeMap: number;
  readonly runDescs: number;
  readonly runLocks: number;
  readonly recyclers: number;
  readonly unaccountedUnits: number;
  readonly unaccountedTotals: number;
  readonly stats: number;
  readonly laneLocks: number;
  readonly buckets: number;
  readonly bucketBytes: number;
  readonly arenas: number;

  constructor(
    private readonly mem: MemoryReader,
    machine: Machine,
    g: Geometry,
  ) {
    const maxBits = runGeometry(g.chunkSizeBytes, CLASS_SIZES[0]).bitmapWords * 4;
    this.arenas = machine.cores.length;
    this.bucketBytes = BK.bits + Math.ceil(maxBits / 64) * 64;
    this.heapLock = machine.reserveDram(64, 64);
    this.rover = machine.reserveDram(64, 64);
    this.zoneLoaded = machine.reserveDram(g.zoneCount * 8, 64);
    this.freeMap = machine.reserveDram(Math.ceil(g.chunkCount / 8) * 8, 64);
    this.runDescs = machine.reserveDram(g.chunkCount * RD_BYTES, 64);
    this.runLocks = machine.reserveDram(Math.min(g.chunkCount, MAX_CHUNKS_PER_ZONE) * RUN_LOCK_BYTES, 64);
    this.recyclers = machine.reserveDram(CLASS_SIZES.length * 8, 64);
    this.unaccountedUnits = machine.reserveDram(g.chunkCount * 8, 64);
    this.unaccountedTotals = machine.reserveDram(CLASS_SIZES.length * 128, 64);
    this.stats = machine.reserveDram(64, 64);
    this.laneLocks = machine.reserveDram(g.laneCount * 64, 64);
    this.buckets = machine.reserveDram(this.arenas * CLASS_SIZES.length * this.bucketBytes, 64);
  }

  runDesc(chunk: number): number {
    return this.runDescs + chunk * RD_BYTES;
  }
  /** A locked add on a DRAM counter (fetchAdd64). */
  fetchAdd(core: Core, addr: number, delta: number): void {
    fetchAdd64(core, this.mem, addr, delta);
  }
  /** The run lock of a chunk (heap_get_run_lock: run_locks[chunk_id % nlocks]). */
  runLock(chunk: number): number {
    return this.runLocks + (chunk % MAX_CHUNKS_PER_ZONE) * RUN_LOCK_BYTES;
  }
  laneLock(lane: number): number {
    return this.laneLocks + lane * 64;
  }
  unaccountedTotal(cls: number): number {
    return this.unaccountedTotals + cls * 128;
  }
  /** The class's recycler lock (struct recycler's `lock`), the line after its unaccounted_total. */
  recyclerLock(cls: number): number {
    return this.unaccountedTotals + cls * 128 + 64;
  }
  bucket(arena: number, cls: number): number {
    return this.buckets + (arena * CLASS_SIZES.length + cls) * this.bucketBytes;
  }
  arenaOf(coreId: number): number {
    return coreId % this.arenas;
  }
}
