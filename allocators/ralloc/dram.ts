/**
 * Ralloc-style volatile state in simulated DRAM (lost at a crash).
 *
 * Model: per-core thread caches (LRMalloc TCacheBin: head block and block count per
 * size class; the chain itself runs through the first word of the free blocks, as in
 * Ralloc), the recovery mark bitmap (1 bit per 16 B granule of the superblock region;
 * the bit of a block's first granule is set when recovery marks it: Ralloc's
 * GarbageCollection::marked_blk, BaseMeta.hpp:302), a scratch byte per superblock for
 * the large-run slow path, the recovery mark stack, and the slow-path lock word.
 * Misuse detection (which blocks are handed out) is not here: it is the uncharged
 * host-side shadow of shadow.ts, since the released Ralloc keeps no such state.
 *
 * Invariants: every access goes through a Core (charged); checkers read with peeks;
 * the mark bitmap is all zero outside recovery (the sweep clears what it reads).
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { CLASS_COUNT, type RallocLayout } from './layout.ts';

const BIN_BYTES = 16;
/**
 * One core's bins, padded to whole lines: Ralloc's TCaches are thread_local
 * (TCache.hpp:67-79, TCache.cpp:17), in each thread's own TLS block, so no two threads'
 * cache bins share a line.
 */
const CORE_BINS_BYTES = Math.ceil((CLASS_COUNT * BIN_BYTES) / 64) * 64;

export class RallocDram {
  readonly binsBase: Addr;
  readonly bitsBase: Addr;
  readonly scratchBase: Addr;
  readonly markStackBase: Addr;
  readonly markStackEntries: number;
  readonly slowLockAddr: Addr;

  constructor(
    machine: Machine,
    private readonly layout: RallocLayout,
    readonly coreCount: number,
    markStackEntries: number,
  ) {
    const sbCount = layout.sbCount;
    this.binsBase = machine.reserveDram(coreCount * CORE_BINS_BYTES, 64);
    this.bitsBase = machine.reserveDram(sbCount * 512, 64);
    this.scratchBase = machine.reserveDram(sbCount, 64);
    this.markStackEntries = markStackEntries;
    this.markStackBase = machine.reserveDram(markStackEntries * 8, 64);
    this.slowLockAddr = machine.reserveDram(64, 64);
  }

  binAddr(coreId: number, cls: number): Addr {
    return this.binsBase + coreId * CORE_BINS_BYTES + cls * BIN_BYTES;
  }

  // ---- recovery mark bitmap ----
  bitWord(addr: Addr): { wordAddr: Addr; mask: number } {
    const g = Math.floor((addr - this.layout.sbBase) / 16);
    return { wordAddr: this.bitsBase + (g >>> 5) * 4, mask: (1 << (g & 31)) >>> 0 };
  }
  testMark(core: Core, addr: Addr): boolean {
    const { wordAddr, mask } = this.bitWord(addr);
    return ((core.load(wordAddr, 4) & mask) >>> 0) !== 0;
  }
  setMark(core: Core, addr: Addr): void {
    const { wordAddr, mask } = this.bitWord(addr);
    core.store(wordAddr, 4, (core.load(wordAddr, 4) | mask) >>> 0);
  }
  clearMark(core: Core, addr: Addr): void {
    const { wordAddr, mask } = this.bitWord(addr);
    core.store(wordAddr, 4, (core.load(wordAddr, 4) & ~mask) >>> 0);
  }
  peekMark(reader: MemoryReader, addr: Addr): boolean {
    const { wordAddr, mask } = this.bitWord(addr);
    return ((reader.peek(wordAddr, 4) & mask) >>> 0) !== 0;
  }

  // ---- scratch ----
  scratchAddr(sbIndex: number): Addr {
    return this.scratchBase + sbIndex;
  }
}
