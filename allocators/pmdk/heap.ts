/**
 * PMDK libpmemobj-style allocator (eager redo logging): the Allocator itself.
 *
 * Model (pmem/pmdk palloc.c / obj.c; our own code): allocation = reserve a block in
 * DRAM (bucket of the core's arena, or a chunk span for sizes above the largest
 * class), write its 16 B object header with a non-temporal store (1 line), run the
 * caller's init, then publish through the core's lane: the destination (when it is in
 * NVRAM) and the bitmap OR / chunk-header change are redo entries applied atomically
 * (redo.ts). With the destination in DRAM only the bitmap change is persistent, so it
 * is applied in place (2 lines, 2 fences) and the DRAM destination is stored after.
 * Free is the mirror image (bitmap AND or chunk header FREE, destination := 0) and
 * does not return the block to a bucket. Roots are 512 NVRAM slots; setRoot is
 * store + clwb + sfence. open replays or discards every lane's log, then zones are
 * rebuilt lazily on first use. There is no GC: a block allocated with plain malloc
 * and never linked before a crash stays allocated (a measurable leak).
 *
 * Synchronisation per call, as libpmemobj 1.12.1 (commit 786098a02) does it, read in
 * obj.c obj_alloc_construct / obj_free, palloc.c palloc_operation /
 * palloc_reservation_create / palloc_exec_actions, and counted with callgrind (locked
 * instructions executed per call over 20,000 pmemobj_alloc/free pairs, PMEMoid on the
 * stack): the lane's lock word, CAS to take and CAS to release (lane.c); allocation:
 * the arena's bucket lock over the reservation, the header write and the constructor,
 * with a locked add of the active run's `nresv`; the run lock over the redo entries,
 * the drain, the commit, the transient destination and a locked add of the global
 * heap_run_allocated statistic; after it, a locked sub of `nresv`. Free: the run lock
 * over the commit, the statistic and the recycler's two unaccounted counters (the
 * class's total, shared by every thread, and the chunk's). Per call that is 2 CAS + 3
 * locked adds + 2 (alloc) or 1 (free) mutexes, as measured. The statistic and the
 * recycler totals are single lines every core writes, and run locks are 48 B apart, so
 * cores contend on them as they do in PMDK (coherence transfers), not only on mutexes.
 *
 * Invariants: a block's bitmap bit (or chunk header USED) is set only after its header
 * is durable; with alloc-into the destination and the bit become durable atomically.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError, type Allocator, type ConsistencyReport, type HeapWalk, type InitFn, type RecoveryStats, type AllocatorStats, checkDestination, checkRootIndex, checkSize } from '../contract.ts';
import { ChunkType, CLASS_SIZES, DEFAULT_CHUNK_SIZE_BYTES, HDR, OBJ_HEADER_BYTES, ROOTS_OFFSET, ROOT_COUNT, SIGNATURE, ZONE_MAGIC, chunkDataAddr, chunkHeaderAddr, chunkHeaderSize, chunkHeaderType, chunkOfAddr, classFor, computeGeometry, encodeChunkHeader, encodeObjHeader, laneCountFor, runGeometry, zoneOfChunk, type Geometry } from './layout.ts';
import { BK, PmdkDram, STATS } from './dram.ts';
import { commitEntries, recoverLane, RedoOp, type RedoEntry } from './redo.ts';
import { Chunks } from './chunks.ts';
import { blockRef, Runs, type BlockRef } from './runs.ts';
import { invariant } from '../../sim/errors.ts';
import { checkPmdkHeap, walkPmdkHeap } from './walk.ts';
import { PMDK_INSTRUCTIONS as I } from './path-lengths.ts';

const S_ALLOC = siteId('pmdk:alloc');
const S_FREE = siteId('pmdk:free');
const S_ROOT = siteId('pmdk:root');
const S_OPEN = siteId('pmdk:open');

export interface PmdkOptions {
  readonly name: string;
  readonly chunkSizeBytes?: number;
  /** Chunks per zone (PMDK: 65528; smaller values give several zones, for tests of the lazy per-zone rebuild). */
  readonly maxChunksPerZone?: number;
  /** Broken canary: redo entries applied before the log is durable. */
  readonly brokenEarlyApply?: boolean;
}

type Located = { kind: 'run'; ref: BlockRef } | { kind: 'huge'; chunk: number; chunks: number };

export class PmdkHeap implements Allocator {
  readonly name: string;
  readonly rootCount = ROOT_COUNT;
  readonly g: Geometry;
  /** Redo-log entries persisted since create() (host-side statistic). */
  private logEntries = 0;
  private readonly d: PmdkDram;
  private readonly chunks: Chunks;
  private readonly runs: Runs;

  constructor(
    readonly machine: Machine,
    private readonly opts: PmdkOptions,
  ) {
    this.name = opts.name;
    const nv = machine.layout.nvramSizeBytes;
    this.g = computeGeometry(machine.layout.nvramBase, nv, opts.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES, laneCountFor(nv), opts.maxChunksPerZone);
    this.d = new PmdkDram(machine, machine, this.g);
    this.chunks = new Chunks(this.g, this.d);
    this.runs = new Runs(this.g, this.d, this.chunks);
  }

  // ---- lifecycle ----

  format(core: Core): void {
    this.machine.formatNvram();
    const prev = core.setSite(S_OPEN);
    const b = this.g.base;
    const hdr: [number, number][] = [
      [HDR.signature, SIGNATURE], [HDR.nvramSize, this.g.nvramSizeBytes], [HDR.chunkSize, this.g.chunkSizeBytes], [HDR.chunkCount, this.g.chunkCount],
      [HDR.laneCount, this.g.laneCount], [HDR.zoneCount, this.g.zoneCount], [HDR.chunksPerZone, this.g.chunksPerZone], [HDR.dirty, 1],
    ];
    for (const [off, v] of hdr) core.store64(b + off, v);
    core.clwb(b);
    for (const z of this.g.zones) {
      core.store64(z.header, ZONE_MAGIC);
      core.store64(z.header + 8, z.chunks);
      core.clwb(z.header);
      core.storeAtomic64(z.chunkHeaders, encodeChunkHeader(ChunkType.FREE, z.chunks));
      core.clwb(z.chunkHeaders);
    }
    core.sfence();
    this.resetDram(core);
    core.setSite(prev);
  }

  open(core: Core): RecoveryStats {
    const start = core.clockCycles;
    const prev = core.setSite(S_OPEN);
    this.checkHeader(core);
    core.instructions(I.recoveryFixed + I.recoveryPerLane * this.g.laneCount);
    let replayed = 0;
    for (let lane = 0; lane < this.g.laneCount; lane++) replayed += recoverLane(core, this.g, lane);
    const dirty = core.load64(this.g.base + HDR.dirty);
    core.storeAtomic64(this.g.base + HDR.dirty, 1);
    core.clwb(this.g.base);
    core.sfence();
    this.resetDram(core);
    core.setSite(prev);
    return {
      kind: dirty === 0 ? 'clean' : 'recovered',
      cycles: core.clockCycles - start,
      logEntriesReplayed: replayed,
      objectsMarked: 0,
      blocksScanned: 0,
      blocksFreed: 0,
      extra: { lanesScanned: this.g.laneCount, zonesDeferred: this.g.zoneCount },
    };
  }

  close(core: Core): void {
    const prev = core.setSite(S_OPEN);
    core.storeAtomic64(this.g.base + HDR.dirty, 0);
    core.clwb(this.g.base);
    core.sfence();
    core.setSite(prev);
  }

  private checkHeader(core: Core): void {
    const b = this.g.base;
    const sig = core.load64(b + HDR.signature);
    if (sig !== SIGNATURE) throw new Error(`pmdk: NVRAM at 0x${b.toString(16)} holds no pmdk heap (signature 0x${sig.toString(16)}, expected 0x${SIGNATURE.toString(16)})`);
    const fields: [string, number, number][] = [
      ['nvramSize', core.load64(b + HDR.nvramSize), this.g.nvramSizeBytes],
      ['chunkSize', core.load64(b + HDR.chunkSize), this.g.chunkSizeBytes],
      ['laneCount', core.load64(b + HDR.laneCount), this.g.laneCount],
      ['chunksPerZone', core.load64(b + HDR.chunksPerZone), this.g.chunksPerZone],
    ];
    for (const [f, found, want] of fields) if (found !== want) throw new Error(`pmdk: heap header field ${f} is ${found}, expected ${want} for this machine`);
  }

  /** Volatile state starts empty: zones unloaded, buckets and recyclers empty. */
  private resetDram(core: Core): void {
    for (let z = 0; z < this.g.zoneCount; z++) core.store64(this.d.zoneLoaded + z * 8, 0);
    core.store64(this.d.rover, 0);
    for (let c = 0; c < CLASS_SIZES.length; c++) core.store64(this.d.recyclers + c * 8, 0);
    for (let a = 0; a < this.d.arenas; a++) {
      for (let c = 0; c < CLASS_SIZES.length; c++) {
        const bk = this.d.bucket(a, c);
        core.store64(bk + BK.run, 0);
        core.store64(bk + BK.avail, 0);
      }
    }
  }

  // ---- allocation ----

  malloc(core: Core, sizeBytes: number): Addr {
    return this.allocate(core, sizeBytes, 0, undefined);
  }

  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    checkDestination(this.machine, destAddr);
    return this.allocate(core, sizeBytes, destAddr, init);
  }

  private allocate(core: Core, sizeBytes: number, dest: Addr, init: InitFn | undefined): Addr {
    checkSize(sizeBytes);
    const prev = core.setSite(S_ALLOC);
    const nvDest = dest !== 0 && this.machine.isNvram(dest);
    const cls = classFor(sizeBytes);
    // pmemobj_alloc's instructions: the reservation (under the bucket lock, Runs.reserve)
    // and the publication (under the run lock, below) are charged where they run, the rest here.
    const locked = cls < 0 ? I.redoCommitInPlace : nvDest ? I.allocRunLockedLogged : I.allocRunLocked;
    core.instructions((nvDest ? I.mallocToNvram : I.mallocFast) - I.reserveBlock - locked);
    const lane = this.laneHold(core);
    const r = cls >= 0 ? this.reserveRun(core, cls, init) : this.reserveHuge(core, sizeBytes, init);
    if (r === null) {
      this.laneRelease(core, lane);
      core.setSite(prev);
      return 0;
    }
    const { user, entry, lock } = r;
    const entries: RedoEntry[] = [];
    if (nvDest) entries.push({ addr: dest, op: RedoOp.SET, value: user });
    entries.push(entry);
    // palloc_exec_actions (palloc.c:526-580): run lock, entries, drain, process (the
    // transient destination is written by operation_process too), on_process (the
    // heap_run_allocated statistic, palloc.c:389-397), unlock; then on_unlock drops the
    // reservation count. Huge blocks take no lock (huge_get_lock, memblock.c:738-746).
    if (lock !== 0) core.lock(lock);
    core.instructions(locked);
    this.commit(core, lane, entries);
    if (dest !== 0 && !nvDest) core.store64(dest, user);
    if (cls >= 0) {
      this.d.fetchAdd(core, this.d.stats + STATS.runAllocated, CLASS_SIZES[cls]);
      core.unlock(lock);
      this.runs.releaseReservation(core, cls);
    }
    this.laneRelease(core, lane);
    core.setSite(prev);
    return user;
  }

  /** Write the object header (one 64 B line, non-temporal) and run the constructor (alloc_prep_block). */
  private prepBlock(core: Core, block: number, usable: number, init: InitFn | undefined): number {
    // memblock_header_compact_write (memblock.c:189-222): the header padded to a cache line,
    // copied with PMEMOBJ_F_MEM_WC (movnt); measured 1 non-temporal line per allocation.
    core.ntstore64(block, encodeObjHeader(usable));
    const user = block + OBJ_HEADER_BYTES;
    if (init !== undefined) init(core, user);
    return user;
  }

  private reserveRun(core: Core, cls: number, init: InitFn | undefined): { user: number; entry: RedoEntry; lock: number } | null {
    let user = 0;
    const ref = this.runs.reserve(core, cls, (rf) => {
      user = this.prepBlock(core, rf.block, Runs.usableBytes(cls), init);
    });
    if (ref === null) return null;
    return { user, entry: { addr: ref.bitmapWord, op: RedoOp.OR, value: ref.mask }, lock: this.d.runLock(ref.chunk) };
  }

  private reserveHuge(core: Core, sizeBytes: number, init: InitFn | undefined): { user: number; entry: RedoEntry; lock: number } | null {
    const k = Math.ceil((sizeBytes + OBJ_HEADER_BYTES) / this.g.chunkSizeBytes);
    if (k > this.g.chunksPerZone) return null;
    // the default bucket (heap lock) is held over the reservation and alloc_prep_block
    core.lock(this.d.heapLock);
    let c = this.chunks.takeSpan(core, k);
    if (c < 0 && this.chunks.reclaimEmptyRuns(core) > 0) c = this.chunks.takeSpan(core, k);
    const user = c < 0 ? 0 : this.prepBlock(core, chunkDataAddr(this.g, c), k * this.g.chunkSizeBytes - OBJ_HEADER_BYTES, init);
    core.unlock(this.d.heapLock);
    if (c < 0) return null;
    const entry = { addr: chunkHeaderAddr(this.g, c), op: RedoOp.SET, value: encodeChunkHeader(ChunkType.USED, k) };
    return { user, entry, lock: 0 };
  }

  // ---- free ----

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    this.release(core, addr, 0);
  }

  freeFrom(core: Core, destAddr: Addr): void {
    checkDestination(this.machine, destAddr);
    const ptr = core.load64(destAddr);
    if (ptr === 0) return;
    this.release(core, ptr, destAddr);
  }

  private release(core: Core, ptr: Addr, dest: Addr): void {
    const prev = core.setSite(S_FREE);
    const loc = this.locate(core, ptr); // misuse raises before the lane is taken
    const lane = this.laneHold(core);
    const nvDest = dest !== 0 && this.machine.isNvram(dest);
    // pmemobj_free's instructions: the part under the run lock is charged there.
    const locked = loc.kind === 'huge' ? I.redoCommitInPlace : nvDest ? I.freeRunLockedLogged : I.freeRunLocked;
    core.instructions((nvDest ? I.freeFromNvram : I.freeFast) - locked);
    const entries: RedoEntry[] = [];
    if (nvDest) entries.push({ addr: dest, op: RedoOp.SET, value: 0 });
    if (loc.kind === 'run') {
      const { chunk, bitmapWord, mask, blockBytes } = loc.ref;
      const lock = this.d.runLock(chunk);
      entries.push({ addr: bitmapWord, op: RedoOp.AND, value: (~mask) >>> 0 });
      core.lock(lock);
      core.instructions(locked);
      this.commit(core, lane, entries);
      if (dest !== 0 && !nvDest) core.store64(dest, 0);
      // on_process under the run lock (palloc.c:398-433): heap_run_allocated -= size, then
      // heap_memblock_on_free -> recycler_inc_unaccounted (heap.c:1141-1169, recycler.c:300-306):
      // unaccounted_total and unaccounted_units[chunk] += 1, each a locked add.
      this.d.fetchAdd(core, this.d.stats + STATS.runAllocated, -blockBytes);
      this.d.fetchAdd(core, this.d.unaccountedTotal(classFor(blockBytes - OBJ_HEADER_BYTES)), 1);
      this.d.fetchAdd(core, this.d.unaccountedUnits + chunk * 8, 1);
      core.unlock(lock);
      this.runs.onFreed(core, chunk);
    } else {
      entries.push({ addr: chunkHeaderAddr(this.g, loc.chunk), op: RedoOp.SET, value: encodeChunkHeader(ChunkType.FREE, loc.chunks) });
      core.instructions(locked);
      this.commit(core, lane, entries);
      if (dest !== 0 && !nvDest) core.store64(dest, 0);
      core.lock(this.d.heapLock);
      this.chunks.releaseSpan(core, loc.chunk, loc.chunks);
      core.unlock(this.d.heapLock);
    }
    this.laneRelease(core, lane);
    core.setSite(prev);
  }

  /** Find the block of a user pointer from the persistent metadata; misuse raises before any change. */
  private locate(core: Core, ptr: Addr): Located {
    const chunk = ptr % 16 === 0 ? chunkOfAddr(this.g, ptr) : -1;
    if (chunk < 0) throw new AllocatorMisuseError('foreign-free', ptr, 'pmdk: not a block of this heap');
    const z = zoneOfChunk(this.g, chunk);
    if (core.load64(this.d.zoneLoaded + z * 8) !== 1) {
      core.lock(this.d.heapLock);
      this.chunks.ensureZone(core, z);
      core.unlock(this.d.heapLock);
    }
    const h = core.load64(chunkHeaderAddr(this.g, chunk));
    const data = chunkDataAddr(this.g, chunk);
    const type = chunkHeaderType(h);
    if (type === ChunkType.RUN) {
      const blockBytes = core.load64(data);
      const { nbits, dataOffset } = runGeometry(this.g.chunkSizeBytes, blockBytes);
      const off = ptr - OBJ_HEADER_BYTES - (data + dataOffset);
      if (off < 0 || off % blockBytes !== 0 || off / blockBytes >= nbits) throw new AllocatorMisuseError('foreign-free', ptr, `pmdk: not the start of a ${blockBytes} B block`);
      const ref = blockRef(this.g, chunk, blockBytes, off / blockBytes);
      if ((core.load(ref.bitmapWord, 4) & ref.mask) === 0) throw new AllocatorMisuseError('double-free', ptr, 'pmdk: block is not allocated');
      return { kind: 'run', ref };
    }
    if (ptr !== data + OBJ_HEADER_BYTES) throw new AllocatorMisuseError('foreign-free', ptr, 'pmdk: not the start of a chunk allocation');
    if (type === ChunkType.USED) return { kind: 'huge', chunk, chunks: chunkHeaderSize(h) };
    throw new AllocatorMisuseError('double-free', ptr, `pmdk: chunk header type ${type} is not USED`);
  }

  /**
   * lane_hold (lane.c:510-555): the thread's lane, taken with a CAS of its lane lock word
   * (get_lane, lane.c:430-460). A core keeps lane core.id % laneCount (no two of the first
   * laneCount cores share one); the lock words are a line apart, as PMDK's primary lanes
   * are (LANE_JUMP, lane.h:24).
   */
  private laneHold(core: Core): number {
    const lane = core.id % this.g.laneCount;
    // A step runs to its end, so the word is 0 here unless a call was cut short by an
    // exception (a crash checker's cycle budget); the lane is then taken over as it is.
    core.cas64(this.d.laneLock(lane), 0, 1);
    return lane;
  }

  /** lane_release (lane.c:557-575): a CAS of the lane lock word back to 0. */
  private laneRelease(core: Core, lane: number): void {
    if (!core.cas64(this.d.laneLock(lane), 1, 0)) invariant(false, `pmdk: lane ${lane} was not held`);
  }

  /** Publish through the lane's log; more than one entry goes through the redo log. */
  private commit(core: Core, lane: number, entries: Parameters<typeof commitEntries>[3]): void {
    if (entries.length > 1) this.logEntries += entries.length;
    commitEntries(core, this.g, lane, entries, { brokenEarlyApply: this.opts.brokenEarlyApply });
  }

  stats(): AllocatorStats {
    return { logEntries: this.logEntries };
  }

  // ---- roots ----

  rootAddress(index: number): Addr {
    checkRootIndex(index, ROOT_COUNT);
    return this.g.base + ROOTS_OFFSET + index * 8;
  }
  setRoot(core: Core, index: number, value: Addr): void {
    const a = this.rootAddress(index);
    const prev = core.setSite(S_ROOT);
    core.storeAtomic64(a, value);
    core.clwb(a);
    core.sfence();
    core.setSite(prev);
  }
  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  // ---- checkers ----

  walkHeap(reader: MemoryReader): HeapWalk {
    return walkPmdkHeap(reader, this.g);
  }
  checkConsistency(reader: MemoryReader): ConsistencyReport {
    return checkPmdkHeap(reader, this.g, this.d);
  }
}
