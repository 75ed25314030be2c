/**
 * nvm_malloc-style heap: arenas, bins and runs (after arena.c; our own code).
 *
 * Model: one arena per core. Small sizes (64..1984 B, multiples of 64) come from the
 * bin of their size: a 4 KB run whose volatile header (vheader) has a bitmap of
 * allocated-or-reserved elements; reserving sets the DRAM bit only (nvm_reserve
 * touches DRAM only). A bin with no free element creates a run: one page taken from
 * the end of the best-fitting free page run (its header persisted with the new page
 * count) or, when none, from a new arena chunk; the run header {RUN|INITIALIZED,
 * vdata, element size, version} is persisted. Large sizes take whole pages the same
 * way, with a {FREE|INITIALIZED, pages} header that activation turns into BLOCK.
 *
 * Invariants: a vheader's bitmap is a superset of the run's persistent bitmap; bin
 * free counts equal the sum of their runs' free counts; callers hold no locks.
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { BH, HEADER_BYTES, arenaOfWord0, encodeWord0, NO_BIT, PAGE_BYTES, State, Usage, chunkAddr, runElements, smallClassBytes, type Geometry } from './layout.ts';
import { AR, BIN, FREE_CAP, GL, VH, type NvmDram } from './dram.ts';
import { persist, type Chunks } from './chunks.ts';
import { NVM_MALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_RESERVE = siteId('nvm-malloc:reserve');
const S_RUN = siteId('nvm-malloc:new-run');

export class Arenas {
  constructor(
    readonly g: Geometry,
    readonly d: NvmDram,
    readonly chunks: Chunks,
  ) {}

  // ---- small ----

  reserveSmall(core: Core, sizeBytes: number): number {
    const elem = smallClassBytes(sizeBytes);
    const a = this.d.arenaOf(core.id);
    const bin = this.d.bin(a, elem / 64 - 1);
    const prev = core.setSite(S_RESERVE);
    core.lock(bin + BIN.lock);
    core.instructions(I.mallocFast);
    let run = core.load64(bin + BIN.current);
    if (core.load64(bin + BIN.nfree) === 0) {
      run = this.createRun(core, a, bin, elem);
      if (run !== 0) {
        core.store64(bin + BIN.current, run);
        core.store64(bin + BIN.nfree, runElements(elem));
      }
    } else if (run === 0 || core.load64(run + VH.nfree) === 0) {
      run = core.load64(bin + BIN.runs);
      core.store64(bin + BIN.runs, core.load64(run + VH.next));
      core.store64(run + VH.inList, 0);
      core.store64(bin + BIN.current, run);
    }
    let addr = 0;
    if (run !== 0) {
      addr = this.takeElement(core, run, elem);
      core.store64(bin + BIN.nfree, core.load64(bin + BIN.nfree) - 1);
    }
    core.unlock(bin + BIN.lock);
    core.setSite(prev);
    return addr;
  }

  private takeElement(core: Core, run: number, elem: number): number {
    const n = runElements(elem);
    for (let i = 0; i < n; i++) {
      const word = run + VH.bits + (i >> 5) * 4;
      const w = core.load(word, 4);
      const mask = (1 << (i & 31)) >>> 0; // 2 ** (i & 31), without a host pow per slot
      if ((w & mask) !== 0) continue;
      core.instructions(I.runBitmapScanPerSlot * i);
      core.store(word, 4, (w | mask) >>> 0);
      core.store64(run + VH.nfree, core.load64(run + VH.nfree) - 1);
      return core.load64(run + VH.nvmRun) + HEADER_BYTES + i * elem;
    }
    throw new Error('nvm-malloc: run counted free elements but has none');
  }

  private createRun(core: Core, a: number, bin: number, elem: number): number {
    const page = this.takePages(core, a, 1);
    if (page === 0) return 0;
    const prev = core.setSite(S_RUN);
    core.instructions(I.slowPath);
    const vh = this.d.newVHeader(core);
    const version = core.load64(this.d.global + GL.version);
    core.store64(vh + VH.bin, bin);
    core.store64(vh + VH.elem, elem);
    core.store64(vh + VH.nfree, runElements(elem));
    core.store64(vh + VH.nmax, runElements(elem));
    core.store64(vh + VH.nvmRun, page);
    core.storeAtomic64(page + BH.npages, 1);
    core.storeAtomic64(page + BH.bitmap, 0);
    core.store(page + BH.bitIdx, 2, NO_BIT);
    core.store(page + BH.elemSize, 2, elem);
    core.store(page + BH.version, 4, version);
    for (let o = BH.on0ptr; o <= BH.on1val; o += 8) core.storeAtomic64(page + o, 0);
    core.storeAtomic64(page + BH.state, encodeWord0(Usage.RUN | State.INITIALIZED, a, vh)); // last: one 8 B store makes it a run
    persist(core, page);
    core.setSite(prev);
    return vh;
  }

  /** Build the vheader of an existing run from its persistent header (restart); returns it. */
  adoptRun(core: Core, page: number, version: number): number {
    const stateWord = core.load64(page + BH.state);
    const a = arenaOfWord0(stateWord) % this.d.arenas;
    const elem = core.load(page + BH.elemSize, 2);
    const bin = this.d.bin(a, elem / 64 - 1);
    const vh = this.d.newVHeader(core);
    const lo = core.load(page + BH.bitmap, 4);
    const hi = core.load(page + BH.bitmap + 4, 4);
    let used = 0;
    for (let v = lo; v !== 0; v = (v & (v - 1)) >>> 0) used++;
    for (let v = hi; v !== 0; v = (v & (v - 1)) >>> 0) used++;
    const nfree = runElements(elem) - used;
    core.store64(vh + VH.bin, bin);
    core.store64(vh + VH.elem, elem);
    core.store64(vh + VH.nfree, nfree);
    core.store64(vh + VH.nmax, runElements(elem));
    core.store64(vh + VH.nvmRun, page);
    core.store(vh + VH.bits, 4, lo);
    core.store(vh + VH.bits + 4, 4, hi);
    if (nfree > 0) {
      core.store64(vh + VH.next, core.load64(bin + BIN.runs));
      core.store64(vh + VH.inList, 1);
      core.store64(bin + BIN.runs, vh);
      core.store64(bin + BIN.nfree, core.load64(bin + BIN.nfree) + nfree);
    }
    core.storeAtomic64(page + BH.state, encodeWord0(core.load(page + BH.state, 1), arenaOfWord0(stateWord), vh));
    core.sfence(); // vdata before version (arena.c)
    core.store(page + BH.version, 4, version);
    persist(core, page);
    return vh;
  }

  /** A freed element goes back to its run's vheader (and the run to its bin's list). */
  releaseElement(core: Core, vh: number, index: number): void {
    const bin = core.load64(vh + VH.bin);
    core.lock(bin + BIN.lock);
    const word = vh + VH.bits + (index >> 5) * 4;
    core.store(word, 4, (core.load(word, 4) & ~(2 ** (index & 31))) >>> 0);
    const nfree = core.load64(vh + VH.nfree) + 1;
    core.store64(vh + VH.nfree, nfree);
    core.store64(bin + BIN.nfree, core.load64(bin + BIN.nfree) + 1);
    if (vh !== core.load64(bin + BIN.current) && core.load64(vh + VH.inList) === 0) {
      core.store64(vh + VH.next, core.load64(bin + BIN.runs));
      core.store64(vh + VH.inList, 1);
      core.store64(bin + BIN.runs, vh);
    }
    core.unlock(bin + BIN.lock);
  }

  // ---- large ----

  reserveLarge(core: Core, sizeBytes: number): number {
    const pages = Math.ceil((sizeBytes + HEADER_BYTES) / PAGE_BYTES);
    const prev = core.setSite(S_RESERVE);
    const page = this.takePages(core, this.d.arenaOf(core.id), pages);
    core.setSite(prev);
    return page === 0 ? 0 : page + HEADER_BYTES;
  }

  /** Carve n pages from the end of the best-fitting free page run (or a new arena chunk). */
  takePages(core: Core, a: number, n: number): number {
    const ar = this.d.arena(a);
    core.lock(ar + AR.lock);
    let i = this.bestFit(core, ar, n);
    if (i < 0 && this.addChunk(core, a)) i = this.bestFit(core, ar, n);
    if (i < 0) {
      core.unlock(ar + AR.lock);
      return 0;
    }
    const entry = ar + AR.entries + i * 16;
    const free = core.load64(entry);
    const have = core.load64(entry + 8);
    let page = free;
    if (have > n) {
      page = free + (have - n) * PAGE_BYTES;
      this.writeBlockHeader(core, page, Usage.FREE | State.INITIALIZED, a, n);
      core.storeAtomic64(free + BH.npages, have - n);
      persist(core, free);
      core.store64(entry + 8, have - n);
    } else this.removeEntry(core, ar, i);
    core.unlock(ar + AR.lock);
    return page;
  }

  writeBlockHeader(core: Core, page: number, stateByte: number, a: number, pages: number): void {
    core.storeAtomic64(page + BH.npages, pages);
    for (let o = BH.on0ptr; o <= BH.on1val; o += 8) core.storeAtomic64(page + o, 0);
    core.storeAtomic64(page + BH.state, encodeWord0(stateByte, a, 0)); // last: the state makes the header valid
    persist(core, page);
  }

  private bestFit(core: Core, ar: number, n: number): number {
    const count = core.load64(ar + AR.nfree);
    let best = -1;
    let bestN = Infinity;
    for (let i = 0; i < count; i++) {
      const have = core.load64(ar + AR.entries + i * 16 + 8);
      if (have >= n && have < bestN) {
        best = i;
        bestN = have;
      }
    }
    return best;
  }

  private removeEntry(core: Core, ar: number, i: number): void {
    const last = core.load64(ar + AR.nfree) - 1;
    const e = ar + AR.entries;
    core.store64(e + i * 16, core.load64(e + last * 16));
    core.store64(e + i * 16 + 8, core.load64(e + last * 16 + 8));
    core.store64(ar + AR.nfree, last);
  }

  /** Add a free page run to arena a's list (caller need not hold the lock). */
  pushFree(core: Core, a: number, page: number, pages: number, locked = false): void {
    const ar = this.d.arena(a);
    if (!locked) core.lock(ar + AR.lock);
    const count = core.load64(ar + AR.nfree);
    if (count < FREE_CAP) {
      core.store64(ar + AR.entries + count * 16, page);
      core.store64(ar + AR.entries + count * 16 + 8, pages);
      core.store64(ar + AR.nfree, count + 1);
    } else core.store64(this.d.global + GL.droppedFreeRuns, core.load64(this.d.global + GL.droppedFreeRuns) + 1);
    if (!locked) core.unlock(ar + AR.lock);
  }

  /** arena_add_chunk: a new arena chunk whose pages 1.. form one free page run. */
  private addChunk(core: Core, a: number): boolean {
    core.lock(this.d.global + GL.chunkLock);
    const c = this.chunks.reserveSpan(core, 1);
    core.unlock(this.d.global + GL.chunkLock);
    if (c < 0) return false;
    const h = chunkAddr(this.g, c);
    core.storeAtomic64(h + BH.state, encodeWord0(Usage.ARENA | State.INITIALIZING, a, 0));
    persist(core, h);
    this.writeBlockHeader(core, h + PAGE_BYTES, Usage.FREE | State.INITIALIZED, a, this.g.pagesPerChunk - 1);
    core.storeAtomic64(h + BH.state, encodeWord0(Usage.ARENA | State.INITIALIZED, a, 0));
    persist(core, h);
    this.pushFree(core, a, h + PAGE_BYTES, this.g.pagesPerChunk - 1, true);
    return true;
  }
}

