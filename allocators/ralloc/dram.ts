/**
 * Ralloc-style volatile state in simulated DRAM (lost at a crash).
 *
 * Model: per-core thread caches (LRMalloc TCacheBin: head block and block count per
 * size class; the chain itself runs through the first word of the free blocks, as in
 * Ralloc), an allocation bitmap (1 bit per 16 B granule of the superblock region; the
 * bit of a block's first granule is set while the block is handed out) used to detect
 * double and foreign frees and reused as the mark bitmap by recovery, a state byte
 * per superblock (never used / in use / retired / in use but not yet indexed after a
 * clean restart: its bits are built lazily on the first free or refill), a scratch byte per superblock for
 * the large-run slow path, the recovery mark stack, and the slow-path lock word.
 * The bitmap and state bytes are additions to Ralloc, which does not detect misuse.
 *
 * Invariants: every access goes through a Core (charged); checkers read with peeks.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { CLASS_COUNT, type RallocLayout } from './layout.ts';

export const SB_NEVER_USED = 0;
export const SB_IN_USE = 1;
export const SB_RETIRED = 2;
/** In use after a clean restart, allocation bits not built yet (built on first free or refill). */
export const SB_UNINDEXED = 3;

const BIN_BYTES = 16;

export class RallocDram {
  readonly binsBase: Addr;
  readonly bitsBase: Addr;
  readonly stateBase: Addr;
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
    this.binsBase = machine.reserveDram(coreCount * CLASS_COUNT * BIN_BYTES, 64);
    this.bitsBase = machine.reserveDram(sbCount * 512, 64);
    this.stateBase = machine.reserveDram(sbCount, 64);
    this.scratchBase = machine.reserveDram(sbCount, 64);
    this.markStackEntries = markStackEntries;
    this.markStackBase = machine.reserveDram(markStackEntries * 8, 64);
    this.slowLockAddr = machine.reserveDram(64, 64);
  }

  binAddr(coreId: number, cls: number): Addr {
    return this.binsBase + (coreId * CLASS_COUNT + cls) * BIN_BYTES;
  }

  // ---- allocation bitmap ----
  bitWord(addr: Addr): { wordAddr: Addr; mask: number } {
    const g = Math.floor((addr - this.layout.sbBase) / 16);
    return { wordAddr: this.bitsBase + (g >>> 5) * 4, mask: (1 << (g & 31)) >>> 0 };
  }
  testBit(core: Core, addr: Addr): boolean {
    const { wordAddr, mask } = this.bitWord(addr);
    return ((core.load(wordAddr, 4) & mask) >>> 0) !== 0;
  }
  setBit(core: Core, addr: Addr): void {
    const { wordAddr, mask } = this.bitWord(addr);
    core.store(wordAddr, 4, (core.load(wordAddr, 4) | mask) >>> 0);
  }
  clearBit(core: Core, addr: Addr): void {
    const { wordAddr, mask } = this.bitWord(addr);
    core.store(wordAddr, 4, (core.load(wordAddr, 4) & ~mask) >>> 0);
  }
  peekBit(reader: MemoryReader, addr: Addr): boolean {
    const { wordAddr, mask } = this.bitWord(addr);
    return ((reader.peek(wordAddr, 4) & mask) >>> 0) !== 0;
  }

  // ---- superblock state bytes and scratch ----
  sbState(core: Core, sbIndex: number): number {
    return core.load(this.stateBase + sbIndex, 1);
  }
  setSbState(core: Core, sbIndex: number, firstCount: number, state: number): void {
    for (let i = 0; i < firstCount; i++) core.store(this.stateBase + sbIndex + i, 1, state);
  }
  peekSbState(reader: MemoryReader, sbIndex: number): number {
    return reader.peek(this.stateBase + sbIndex, 1);
  }
  scratchAddr(sbIndex: number): Addr {
    return this.scratchBase + sbIndex;
  }
}
