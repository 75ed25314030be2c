/**
 * nvm_malloc-style heap: restart and crash recovery (after nvm_malloc.c
 * nvm_initialize_recovered and nvm_recovery_thread; our own code).
 *
 * Model: bump the persistent version (runs with an older version get a new volatile
 * header), then
 *   1. the log phase: for each of the 127 activation-log slots naming a block, complete
 *      a header in ACTIVATING / FREEING from its link pairs (store + PERSIST each link,
 *      set / clear the bitmap bit or the usage) and roll back PREACTIVATE / PREFREE;
 *      then reset the header (links cleared, INITIALIZED) and clear the slot;
 *   2. the scan phase (the original's background thread, charged here to the opening
 *      core and reported separately): walk every chunk and page header, rebuild the
 *      free page runs, the free huge spans and the runs' volatile headers. A header
 *      still in a transitional state that no log slot named is rolled back (the
 *      original leaves it, and the next CAS on it would spin forever).
 * The log phase is bounded (127 slots); the scan grows with the heap.
 *
 * Invariants: recovery is idempotent (a crash during it and a second recovery give the
 * same heap); nothing here trusts DRAM.
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { BH, HEADER_BYTES, arenaOfWord0, LOG_SLOTS, SMALL_MAX_BYTES, NO_BIT, PAGE_BYTES, State, Usage, chunkAddr, chunkOf, logSlotAddr, pageOf, runElements, stateOf, usageOf, type Geometry } from './layout.ts';
import { GL, type NvmDram } from './dram.ts';
import { persist, type Chunks } from './chunks.ts';
import type { Arenas } from './arena.ts';
import { NVM_MALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_LOGREC = siteId('nvm-malloc:recover-log');
const S_SCAN = siteId('nvm-malloc:recover-scan');

export interface RecoveryCounts {
  logSlotsUsed: number;
  completed: number;
  headersScanned: number;
  logCycles: number;
  scanCycles: number;
}

export class Recovery {
  constructor(
    readonly g: Geometry,
    readonly d: NvmDram,
    readonly chunks: Chunks,
    readonly arenas: Arenas,
  ) {}

  run(core: Core, version: number): RecoveryCounts {
    const counts: RecoveryCounts = { logSlotsUsed: 0, completed: 0, headersScanned: 0, logCycles: 0, scanCycles: 0 };
    let t = core.clockCycles;
    const prev = core.setSite(S_LOGREC);
    for (let i = 0; i < LOG_SLOTS; i++) {
      const ptr = core.load64(logSlotAddr(this.g, i));
      if (ptr === 0) continue;
      counts.logSlotsUsed++;
      if (this.recoverLogged(core, ptr, version)) counts.completed++;
      core.storeAtomic64(logSlotAddr(this.g, i), 0);
    }
    counts.logCycles = core.clockCycles - t;
    t = core.clockCycles;
    core.setSite(S_SCAN);
    this.scan(core, version, counts);
    counts.scanCycles = core.clockCycles - t;
    core.setSite(prev);
    return counts;
  }

  /** Complete or roll back the header of one logged pointer; true when links were replayed. */
  private recoverLogged(core: Core, ptr: number, version: number): boolean {
    const c = chunkOf(this.g, ptr);
    if (c < 0) return false;
    const ch = chunkAddr(this.g, c);
    const chunkUsage = usageOf(core.load(ch + BH.state, 1));
    if (chunkUsage !== Usage.ARENA) return ptr === ch + HEADER_BYTES ? this.recoverSpan(core, ch, Usage.HUGE, true) : false;
    const page = pageOf(ptr, this.g);
    if (page === ch) return false;
    const usage = usageOf(core.load(page + BH.state, 1));
    if (usage === Usage.BLOCK) return this.recoverSpan(core, page, Usage.BLOCK, true);
    if (usage !== Usage.RUN || !validElem(core.load(page + BH.elemSize, 2))) return false;
    const replayed = this.recoverRun(core, page, true);
    if (core.load(page + BH.version, 4) < version) this.arenas.adoptRun(core, page, version);
    return replayed;
  }

  /** Large block or huge span header h: replay (committed) or roll back (not committed). */
  private recoverSpan(core: Core, h: number, usage: Usage, logged: boolean): boolean {
    const s = core.load(h + BH.state, 1);
    const st = stateOf(s);
    if (st === State.INITIALIZED || st === State.INITIALIZING) return false;
    const committed = logged && (st === State.ACTIVATING || st === State.FREEING);
    if (committed) this.replayLinks(core, h);
    const allocated = committed ? st === State.ACTIVATING : st === State.FREEING || st === State.PREFREE;
    core.store(h + BH.state, 1, (allocated ? usage : Usage.FREE) | State.INITIALIZED);
    this.clearLinks(core, h);
    persist(core, h);
    return committed;
  }

  /** Run header h: replay the bit change if committed and logged, then reset the header. */
  private recoverRun(core: Core, h: number, logged: boolean): boolean {
    core.instructions(I.recoveryPerBlock);
    const st = stateOf(core.load(h + BH.state, 1));
    if (st === State.INITIALIZED) return false;
    const bit = core.load(h + BH.bitIdx, 2);
    const elem = core.load(h + BH.elemSize, 2);
    const committed = logged && (st === State.ACTIVATING || st === State.FREEING) && elem > 0 && bit < runElements(elem);
    if (committed) {
      this.replayLinks(core, h);
      const byte = h + BH.bitmap + (bit >> 3);
      const old = core.load(byte, 1);
      core.store(byte, 1, st === State.ACTIVATING ? old | (1 << (bit & 7)) : old & ~(1 << (bit & 7)) & 255);
    }
    core.store(h + BH.bitIdx, 2, NO_BIT);
    this.clearLinks(core, h);
    core.store(h + BH.state, 1, Usage.RUN | State.INITIALIZED);
    persist(core, h);
    return committed;
  }

  private replayLinks(core: Core, h: number): void {
    for (const o of [BH.on0ptr, BH.on1ptr]) {
      const link = core.load64(h + o);
      if (link === 0 || link % 8 !== 0 || link < this.g.base || link >= this.g.base + this.g.nvramSizeBytes) continue;
      core.storeAtomic64(link, core.load64(h + o + 8));
      persist(core, link);
    }
  }

  private clearLinks(core: Core, h: number): void {
    for (let o = BH.on0ptr; o <= BH.on1val; o += 8) core.storeAtomic64(h + o, 0);
  }

  /** The background scan: rebuild free structures and vheaders from every header. */
  private scan(core: Core, version: number, counts: RecoveryCounts): void {
    let c = 0;
    while (c < this.g.chunkCount) {
      const h = chunkAddr(this.g, c);
      const s = core.load(h + BH.state, 1);
      counts.headersScanned++;
      if (s === 0) break;
      if (usageOf(s) === Usage.ARENA) {
        if (stateOf(s) !== State.INITIALIZED) this.resetChunk(core, c);
        else this.scanArenaChunk(core, c, version, counts);
        c++;
        continue;
      }
      const raw = core.load64(h + BH.npages);
      const n = Math.max(1, Math.min(raw, this.g.chunkCount - c));
      if (raw !== n && usageOf(s) === Usage.FREE) {
        // a bump reservation whose state word persisted before its count (word-granular crash)
        this.chunks.writeSpanHeader(core, c, Usage.FREE | State.INITIALIZED, n);
      }
      this.recoverSpan(core, h, Usage.HUGE, false);
      if (usageOf(core.load(h + BH.state, 1)) === Usage.FREE) this.chunks.putSpan(core, c, n);
      c += n;
    }
    core.store64(this.d.global + GL.nextChunk, c);
  }

  /** An arena chunk caught half-initialised becomes a free one-chunk span. */
  private resetChunk(core: Core, c: number): void {
    this.chunks.writeSpanHeader(core, c, Usage.FREE | State.INITIALIZED, 1);
    this.chunks.putSpan(core, c, 1);
  }

  private scanArenaChunk(core: Core, c: number, version: number, counts: RecoveryCounts): void {
    const ch = chunkAddr(this.g, c);
    let p = 1;
    while (p < this.g.pagesPerChunk) {
      const page = ch + p * PAGE_BYTES;
      const w = core.load64(page + BH.state);
      counts.headersScanned++;
      const usage = usageOf(w % 256);
      const a = arenaOfWord0(w) % this.d.arenas;
      if (usage === Usage.RUN && !validElem(core.load(page + BH.elemSize, 2))) {
        // a run header torn before its first PERSIST completed (word-granular crash): no element was ever activated
        this.arenas.writeBlockHeader(core, page, Usage.FREE | State.INITIALIZED, a, 1);
        this.arenas.pushFree(core, a, page, 1);
        p++;
        continue;
      }
      if (usage === Usage.RUN) {
        this.recoverRun(core, page, false);
        if (core.load(page + BH.version, 4) < version) this.arenas.adoptRun(core, page, version);
        p++;
        continue;
      }
      const n = Math.max(1, Math.min(core.load64(page + BH.npages), this.g.pagesPerChunk - p));
      if (usage === Usage.BLOCK || usage === Usage.FREE) this.recoverSpan(core, page, Usage.BLOCK, false);
      if (usageOf(core.load(page + BH.state, 1)) === Usage.FREE) this.arenas.pushFree(core, a, page, n);
      p += n;
    }
  }
}

function validElem(elem: number): boolean {
  return elem >= 64 && elem <= SMALL_MAX_BYTES && elem % 64 === 0;
}
