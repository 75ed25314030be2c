/**
 * The Makalu-style allocator: wires layout, log, headers, block runs, small objects,
 * recovery and the heap walk into the Allocator contract.
 *
 * Model: plain malloc/free (malloc-then-link); an object is live iff reachable from the
 * 512 persistent roots, and leaks left by a crash are reclaimed by the recovery GC.
 * mallocTo = malloc, init, fence (orders init's write-backs), store the pointer, clwb,
 * sfence; freeFrom = load, store 0, clwb, sfence, free. setRoot = store + clwb + sfence
 * (the caller's flush in Makalu, done here for the contract). close = give every DRAM
 * list back (clearing allocation bits), flush every flush table, mark the heap clean.
 * open = clean restart if the state word is clean, else crash recovery; either way the
 * heap is marked dirty again (durably) before it is used.
 *
 * Invariants: misuse (double free, foreign free, bad root, bad size) raises
 * AllocatorMisuseError before any state changes.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError, cleanStats, type Allocator, type ConsistencyReport, type HeapWalk, type InitFn, type RecoveryStats, type AllocatorStats, checkDestination, checkRootIndex } from '../contract.ts';
import { type Mk, type Variant, createContext, FL_AFLUSH_SLOTS, LOCAL_AFLUSH_SLOTS } from './context.ts';
import { headerAt, loadIndex, testMark } from './block-headers.ts';
import { storeSync, tableFlushAll } from './flush-table.ts';
import { isListed, listReset } from './free-lists.ts';
import { allocBlocks, blocksOfBytes, freeBlocks, tryExpand } from './large.ts';
import {
  BLOCK_BYTES, FLAG_FREE, GRANULE_BYTES, H_FLAGS, H_GRANULES, LOG_BLOCK_BYTES, MAGIC, ROOT_COUNT, SB_HDR_BUMP, SB_HEAP_SIZE,
  SB_LOG_VERSION, SB_MAGIC, SB_MAX_BLOCKS, SB_STATE, STATE_CLEAN, STATE_DIRTY, TINY_GRANULES, LINE_BYTES,
} from './layout.ts';
import { allTables, cleanRestart, recover } from './recovery-gc.ts';
import { classGranules, granulesOf, isSmall, objectsPerBlock, SMALL_CLASSES } from './size-classes.ts';
import { freeSmall, mallocSmall, trimList, zeroRange } from './small.ts';
import { beginSection, endSection } from './undo-log.ts';
import { checkMakalu, walkMakalu } from './walk.ts';
import { MAKALU_INSTRUCTIONS as I } from './path-lengths.ts';

const S_MALLOC = siteId('makalu:malloc');
const S_FREE = siteId('makalu:free');
const S_PUBLISH = siteId('makalu:publish');
const S_OPEN = siteId('makalu:open');
const S_CLOSE = siteId('makalu:close');
const MAX_REQUEST_BYTES = 2 ** 40;

export class MakaluAllocator implements Allocator {
  readonly rootCount = ROOT_COUNT;
  readonly mk: Mk;
  /** Whether this instance's DRAM state was used (a re-open must start from empty lists). */
  private dramUsed = false;

  constructor(readonly machine: Machine, readonly variant: Variant) {
    this.mk = createContext(machine, variant);
    this.mk.counts.logEntries = 0;
  }

  /** Undo-log entries written since this allocator was created. */
  stats(): AllocatorStats {
    return { logEntries: this.mk.counts.logEntries };
  }

  get name(): string {
    return this.variant.name;
  }

  format(core: Core): void {
    this.machine.formatNvram();
    this.resetDram(core);
    const sb = this.mk.nv.superblock;
    const prev = core.setSite(S_OPEN);
    core.store64(sb + SB_MAGIC, MAGIC);
    core.store64(sb + SB_MAX_BLOCKS, this.mk.nv.maxBlocks);
    core.store64(sb + SB_HDR_BUMP, this.mk.nv.headers);
    core.store64(sb + SB_HEAP_SIZE, 0);
    core.store64(sb + SB_LOG_VERSION, 1);
    core.store64(sb + SB_STATE, STATE_DIRTY);
    for (let off = 0; off < 4 * LINE_BYTES; off += LINE_BYTES) core.clwb(sb + off);
    core.sfence();
    core.setSite(prev);
  }

  open(core: Core): RecoveryStats {
    const sb = this.mk.nv.superblock;
    if (core.load64(sb + SB_MAGIC) !== MAGIC) throw new AllocatorMisuseError('bad-destination', sb, 'open: NVRAM holds no Makalu heap (bad magic); format it first');
    const prev = core.setSite(S_OPEN);
    this.resetDram(core);
    const t0 = core.clockCycles;
    let stats: RecoveryStats;
    if (core.load64(sb + SB_STATE) === STATE_CLEAN) {
      stats = { ...cleanStats(0), blocksScanned: cleanRestart(this.mk, core) };
    } else {
      stats = recover(this.mk, core);
    }
    storeSync(core, sb + SB_STATE, STATE_DIRTY);
    core.setSite(prev);
    return { ...stats, cycles: core.clockCycles - t0 };
  }

  /** A process starts with zeroed memory; only a re-used instance pays to clear its DRAM. */
  private resetDram(core: Core): void {
    if (!this.dramUsed) {
      this.dramUsed = true;
      return;
    }
    for (let a = this.mk.dram.rangeStart; a < this.mk.dram.rangeEnd; a += 8) core.store64(a, 0);
  }

  close(core: Core): void {
    const prev = core.setSite(S_CLOSE);
    const mk = this.mk;
    for (let c = 0; c < mk.dram.tlLists.length; c++) {
      for (let g = 1; g <= TINY_GRANULES; g++) {
        trimList(mk, core, g, mk.dram.tlLists[c][g], 0, { base: mk.dram.localAflush[c], slots: LOCAL_AFLUSH_SLOTS }, false);
        listReset(core, mk.dram.tlLists[c][g]);
      }
    }
    for (const g of SMALL_CLASSES) {
      const gl = mk.dram.globalLists.get(g)!;
      trimList(mk, core, g, gl, 0, { base: mk.dram.flAflush, slots: FL_AFLUSH_SLOTS }, false);
    }
    for (const t of allTables(mk)) tableFlushAll(core, t);
    storeSync(core, mk.nv.superblock + SB_STATE, STATE_CLEAN);
    core.setSite(prev);
  }

  malloc(core: Core, sizeBytes: number): Addr {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > MAX_REQUEST_BYTES) {
      throw new AllocatorMisuseError('bad-size', 0, `malloc: sizeBytes must be an integer >= 1, got ${sizeBytes}`);
    }
    const prev = core.setSite(S_MALLOC);
    core.instructions(I.mallocFast);
    const p = isSmall(sizeBytes) ? mallocSmall(this.mk, core, classGranules(granulesOf(sizeBytes))) : this.mallocLarge(core, sizeBytes);
    core.setSite(prev);
    return p;
  }

  private mallocLarge(core: Core, sizeBytes: number): Addr {
    const bytes = granulesOf(sizeBytes) * GRANULE_BYTES;
    const blocks = blocksOfBytes(bytes);
    if (blocks > this.mk.nv.maxBlocks) return 0;
    core.lock(this.mk.dram.globalLock);
    core.instructions(I.slowPath);
    let b = allocBlocks(this.mk, core, bytes, 0);
    if (b < 0 && tryExpand(this.mk, core, blocks)) b = allocBlocks(this.mk, core, bytes, 0);
    core.unlock(this.mk.dram.globalLock);
    if (b < 0) return 0;
    const p = this.mk.nv.heapStart + b * BLOCK_BYTES;
    zeroRange(core, p, blocks * BLOCK_BYTES);
    return p;
  }

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    const prev = core.setSite(S_FREE);
    core.instructions(I.freeFast);
    const target = this.classify(core, addr);
    if (target.granules > 0) freeSmall(this.mk, core, addr, target.granules);
    else {
      core.lock(this.mk.dram.globalLock);
      core.instructions(I.blockRelease);
      beginSection(this.mk, core);
      freeBlocks(this.mk, core, target.block);
      endSection(this.mk, core);
      core.unlock(this.mk.dram.globalLock);
    }
    core.setSite(prev);
  }

  /** Validate a free: returns the block and object class (0 = large), or throws misuse. */
  private classify(core: Core, addr: Addr): { block: number; granules: number } {
    const mk = this.mk;
    const heapBytes = core.load64(mk.nv.superblock + SB_HEAP_SIZE);
    if (!Number.isSafeInteger(addr) || addr < mk.nv.heapStart || addr >= mk.nv.heapStart + heapBytes || addr % GRANULE_BYTES !== 0) {
      throw new AllocatorMisuseError('foreign-free', addr, 'free: not an address inside the Makalu heap that malloc could return');
    }
    const b = (addr - mk.nv.heapStart) >>> LOG_BLOCK_BYTES;
    const off = addr - (mk.nv.heapStart + b * BLOCK_BYTES);
    const idx = loadIndex(mk, core, b);
    const h = headerAt(mk, core, b);
    if (h === 0 && idx !== 0) throw new AllocatorMisuseError('foreign-free', addr, 'free: address inside a large object, not its start');
    if (h === 0 || (core.load64(h + H_FLAGS) & FLAG_FREE) !== 0) {
      throw new AllocatorMisuseError('double-free', addr, 'free: the address lies in a free run of blocks (already freed)');
    }
    const granules = core.load64(h + H_GRANULES);
    if (granules === 0) {
      if (off !== 0) throw new AllocatorMisuseError('foreign-free', addr, 'free: address inside a large object, not its start');
      return { block: b, granules: 0 };
    }
    const objBytes = granules * GRANULE_BYTES;
    if (off % objBytes !== 0 || off / objBytes >= objectsPerBlock(granules)) {
      throw new AllocatorMisuseError('foreign-free', addr, `free: not the start of a ${objBytes} B object slot`);
    }
    if (!testMark(core, h, off / objBytes) || isListed(mk, core, addr, objBytes)) {
      throw new AllocatorMisuseError('double-free', addr, 'free: object is not allocated (already free)');
    }
    return { block: b, granules };
  }

  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    checkDestination(this.machine, destAddr);
    const p = this.malloc(core, sizeBytes);
    if (p === 0) return 0;
    const prev = core.setSite(S_PUBLISH);
    if (init !== undefined) {
      init(core, p);
      core.sfence();
    }
    this.publish(core, destAddr, p);
    core.setSite(prev);
    return p;
  }

  freeFrom(core: Core, destAddr: Addr): void {
    checkDestination(this.machine, destAddr);
    const prev = core.setSite(S_PUBLISH);
    const p = core.load64(destAddr);
    this.publish(core, destAddr, 0);
    core.setSite(prev);
    this.free(core, p);
  }

  private publish(core: Core, destAddr: Addr, value: number): void {
    core.store64(destAddr, value);
    if (this.variant.omitRootFlush) return;
    if (this.machine.isNvram(destAddr)) core.clwb(destAddr);
    core.sfence();
  }

  rootAddress(index: number): Addr {
    checkRootIndex(index, ROOT_COUNT);
    return this.mk.nv.roots + 8 * index;
  }

  setRoot(core: Core, index: number, value: Addr): void {
    const a = this.rootAddress(index);
    const prev = core.setSite(S_PUBLISH);
    this.publish(core, a, value);
    core.setSite(prev);
  }

  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  walkHeap(reader: MemoryReader): HeapWalk {
    return walkMakalu(this.mk, reader);
  }

  checkConsistency(reader: MemoryReader): ConsistencyReport {
    return checkMakalu(this.mk, reader);
  }
}

