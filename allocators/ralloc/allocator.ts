/**
 * The Ralloc-style allocator (Cai et al., ISMM 2020): the Allocator contract over the
 * modules of this folder.
 *
 * Model: format / open / close manage the dirty flag (Ralloc's robust mutex, held while
 * running) in the NVRAM header: set durably at format and open (1 line, 1 fence),
 * cleared at a clean close after every cache bin went back to its superblock and the
 * metadata that a clean restart trusts (header and list heads, descriptors below the
 * frontier, the link words of every superblock free chain) was flushed. open() on a
 * clean heap restores without GC; on a dirty heap it runs the recovery GC; either way
 * it then rebuilds the uncharged misuse shadow (shadow.ts) from the metadata. Roots are
 * 1024 NVRAM words; setting one is a store, one clwb and one sfence. Idiom: plain
 * malloc then link (mallocTo = malloc, init, fence if init, store the pointer, clwb,
 * sfence); leaks are reclaimed by the recovery GC, so no leak is promised.
 *
 * Invariants: every access goes through a Core; misuse raises AllocatorMisuseError
 * before anything changes.
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError, cleanStats, type Allocator, type AllocatorStats, type ConsistencyReport, type HeapWalk, type InitFn, type RecoveryStats, checkDestination, checkRootIndex, checkSize } from '../contract.ts';
import { RallocDram } from './dram.ts';
import { checkBlock, flushBin, freeSmall, mallocSmall, type BlockInfo } from './heap.ts';
import {
  CLASS_COUNT, D_ANCHOR, H_DIRTY, H_MAGIC, H_SB_COUNT, LARGE_CLASS, LINE_BYTES, MAGIC, MAX_SMALL_BYTES, ROOT_COUNT, SB_EMPTY,
  SB_PARTIAL, SB_SIZE_BYTES, T_FRONTIER, decodeAnchor, descTrusted, RallocLayout,
} from './layout.ts';
import { recoverHeap, restoreClean } from './recovery.ts';
import { allocLargeRun, freeLargeRun, loadDesc, type RallocCtx, type SkipDescFlush } from './superblocks.ts';
import { RallocShadow } from './shadow.ts';
import { checkConsistency, rebuildShadow, walkHeap } from './walk.ts';
import { RALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_MALLOC = siteId('ralloc:malloc');
const S_FREE = siteId('ralloc:free');
const S_ROOT = siteId('ralloc:set-root');
const S_OPEN = siteId('ralloc:open');
const S_CLOSE = siteId('ralloc:close');
const S_PUBLISH = siteId('ralloc:mallocTo');
const S_UNPUBLISH = siteId('ralloc:freeFrom');

export interface RallocOptions {
  readonly name: string;
  readonly skipDescFlush: SkipDescFlush;
  /** Entries of the recovery mark stack in DRAM (overflow is handled by rescanning). */
  readonly markStackEntries?: number;
}

export class RallocAllocator implements Allocator {
  readonly name: string;
  readonly rootCount = ROOT_COUNT;
  private readonly ctx: RallocCtx;

  constructor(private readonly machine: Machine, options: RallocOptions) {
    this.name = options.name;
    const layout = new RallocLayout(machine.layout.nvramBase, machine.layout.nvramSizeBytes);
    const stack = options.markStackEntries ?? Math.min(65536, Math.max(1024, layout.sbCount * 64));
    const dram = new RallocDram(machine, layout, machine.cores.length, stack);
    this.ctx = { layout, dram, shadow: new RallocShadow(layout.sbCount), skipDescFlush: options.skipDescFlush };
  }

  format(core: Core): void {
    this.machine.formatNvram();
    this.ctx.shadow.reset();
    const prev = core.setSite(S_OPEN);
    this.writeHeader(core);
    core.setSite(prev);
  }

  /** Header: magic, superblock count, dirty = 1; made durable (1 line, 1 fence). */
  private writeHeader(core: Core): void {
    const m = this.ctx.layout.metaBase;
    core.store64(m + H_MAGIC, MAGIC);
    core.store64(m + H_SB_COUNT, this.ctx.layout.sbCount);
    core.store64(m + H_DIRTY, 1);
    core.clwb(m);
    core.sfence();
  }

  open(core: Core): RecoveryStats {
    const prev = core.setSite(S_OPEN);
    const t0 = core.clockCycles;
    const m = this.ctx.layout.metaBase;
    const magic = core.load64(m + H_MAGIC);
    const count = core.load64(m + H_SB_COUNT);
    if (magic !== MAGIC && magic !== 0) throw new RangeError(`ralloc open: NVRAM header magic expected 0x${MAGIC.toString(16)}, found 0x${magic.toString(16)} (not a ralloc heap)`);
    if (magic === 0 || count === 0) {
      // A crash interrupted format before its header was durable: nothing was handed out.
      this.writeHeader(core);
      this.ctx.shadow.reset();
      core.setSite(prev);
      return { ...cleanStats(core.clockCycles - t0), kind: 'recovered' };
    }
    if (count !== this.ctx.layout.sbCount) throw new RangeError(`ralloc open: header superblock count ${count} differs from this machine's layout (${this.ctx.layout.sbCount})`);
    const dirty = core.load64(m + H_DIRTY) !== 0;
    let stats = dirty ? recoverHeap(this.ctx, core) : restoreClean();
    if (!dirty) {
      core.store64(m + H_DIRTY, 1);
      core.clwb(m);
      core.sfence();
      stats = { ...stats, cycles: core.clockCycles - t0 };
    }
    rebuildShadow(this.machine, this.ctx);
    core.setSite(prev);
    return stats;
  }

  /** Ralloc keeps no log. */
  stats(): AllocatorStats {
    return { logEntries: 0 };
  }

  close(core: Core): void {
    const prev = core.setSite(S_CLOSE);
    const { layout, dram } = this.ctx;
    for (let c = 0; c < dram.coreCount; c++) {
      for (let cls = 0; cls < CLASS_COUNT; cls++) flushBin(this.ctx, core, cls, dram.binAddr(c, cls));
    }
    for (let a = layout.metaBase; a < layout.rootsBase; a += LINE_BYTES) core.clwb(a);
    const frontier = core.load64(layout.metaBase + T_FRONTIER);
    for (let i = 0; i < frontier; i++) this.flushSuperblockMeta(core, i);
    core.sfence();
    core.store64(layout.metaBase + H_DIRTY, 0);
    core.clwb(layout.metaBase);
    core.sfence();
    core.setSite(prev);
  }

  /** Flush a descriptor and, for a small superblock with free blocks, every line of its free chain. */
  private flushSuperblockMeta(core: Core, i: number): void {
    const { layout } = this.ctx;
    core.clwb(layout.descAddr(i));
    const d = loadDesc(core, layout, i);
    if (!descTrusted(layout, i, d) || d.cls === LARGE_CLASS) return;
    const a = decodeAnchor(core.load64(layout.descAddr(i) + D_ANCHOR));
    if (a.state !== SB_PARTIAL && a.state !== SB_EMPTY) return;
    let addr = d.superblock + a.avail * d.blockSizeBytes;
    for (let n = 0; n < a.count && addr !== 0; n++) {
      core.clwb(addr);
      addr = core.load64(addr);
    }
  }

  malloc(core: Core, sizeBytes: number): Addr {
    checkSize(sizeBytes);
    const prev = core.setSite(S_MALLOC);
    core.instructions(I.mallocFast);
    let addr: Addr;
    if (sizeBytes <= MAX_SMALL_BYTES) addr = mallocSmall(this.ctx, core, sizeBytes);
    else {
      core.instructions(I.slowPath);
      const k = Math.ceil(sizeBytes / SB_SIZE_BYTES);
      addr = k > this.ctx.layout.sbCount ? 0 : allocLargeRun(this.ctx, core, k);
    }
    core.setSite(prev);
    return addr;
  }

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    const prev = core.setSite(S_FREE);
    core.instructions(I.freeFast);
    try {
      this.freeChecked(core, addr, checkBlock(this.ctx, core, addr));
    } finally {
      core.setSite(prev);
    }
  }

  private freeChecked(core: Core, addr: Addr, info: BlockInfo): void {
    if (info.cls < 0) freeLargeRun(this.ctx, core, info.sbIndex, info.runLength);
    else freeSmall(this.ctx, core, addr, info.cls);
  }

  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    checkDestination(this.machine, destAddr);
    const addr = this.malloc(core, sizeBytes);
    if (addr === 0) return 0;
    const prev = core.setSite(S_PUBLISH);
    const persistent = this.machine.isNvram(destAddr);
    if (init !== undefined) {
      init(core, addr);
      if (persistent) core.sfence();
    }
    core.storeAtomic64(destAddr, addr);
    if (persistent) {
      core.clwb(destAddr);
      core.sfence();
    }
    core.setSite(prev);
    return addr;
  }

  freeFrom(core: Core, destAddr: Addr): void {
    checkDestination(this.machine, destAddr);
    const prev = core.setSite(S_UNPUBLISH);
    try {
      const addr = core.load64(destAddr);
      if (addr === 0) return;
      const info = checkBlock(this.ctx, core, addr);
      core.storeAtomic64(destAddr, 0);
      if (this.machine.isNvram(destAddr)) {
        core.clwb(destAddr);
        core.sfence();
      }
      core.setSite(S_FREE);
      this.freeChecked(core, addr, info);
    } finally {
      core.setSite(prev);
    }
  }

  rootAddress(index: number): Addr {
    checkRootIndex(index, ROOT_COUNT);
    return this.ctx.layout.rootAddr(index);
  }

  setRoot(core: Core, index: number, value: Addr): void {
    const addr = this.rootAddress(index);
    const prev = core.setSite(S_ROOT);
    core.storeAtomic64(addr, value);
    core.clwb(addr);
    core.sfence();
    core.setSite(prev);
  }

  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  walkHeap(reader: MemoryReader): HeapWalk {
    return walkHeap(reader, this.ctx);
  }

  checkConsistency(reader: MemoryReader): ConsistencyReport {
    return checkConsistency(reader, this.ctx);
  }
}
