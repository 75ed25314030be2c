/**
 * nvm_malloc-style heap: chunks (after nvm_malloc.c nvm_reserve / nvm_reserve_huge and
 * chunk.c; our own code), and the PERSIST primitive.
 *
 * Model: chunks are handed out by a bump index (activate_more_chunks); freed huge
 * spans go to a DRAM best-fit structure (one word per chunk). A huge reservation
 * takes the smallest free span that fits, splitting from its end: the new span's
 * header {FREE|INITIALIZED, k} is persisted, then the remaining span's count (the
 * original leaves that second store unflushed; we persist it). A bump reservation
 * persists a {FREE|INITIALIZED, k} header, so an unactivated reservation is free after
 * a crash. `PERSIST(p)` is sfence, clwb(p), sfence, as in util.h with HAS_CLWB.
 *
 * Invariants: the caller holds the chunk lock for take/put; spans are described by
 * the header of their first chunk only.
 */
import type { Core } from '../../sim/api.ts';
import { BH, State, Usage, chunkAddr, type Geometry } from './layout.ts';
import { GL, type NvmDram } from './dram.ts';

export function persist(core: Core, addr: number): void {
  core.sfence();
  core.clwb(addr);
  core.sfence();
}

export class Chunks {
  constructor(
    readonly g: Geometry,
    readonly d: NvmDram,
  ) {}

  /** Reserve k chunks as a span whose header says FREE (activation makes it HUGE). Returns the chunk or -1. */
  reserveSpan(core: Core, k: number): number {
    const best = this.bestFreeSpan(core, k);
    if (best >= 0) return this.splitSpan(core, best, k);
    const next = core.load64(this.d.global + GL.nextChunk);
    if (next + k > this.g.chunkCount) return -1;
    core.store64(this.d.global + GL.nextChunk, next + k);
    this.writeSpanHeader(core, next, Usage.FREE | State.INITIALIZED, k);
    return next;
  }

  private bestFreeSpan(core: Core, k: number): number {
    let best = -1;
    let bestN = Infinity;
    const end = core.load64(this.d.global + GL.nextChunk);
    for (let c = 0; c < end; c++) {
      const n = core.load64(this.d.hugeFree + c * 8);
      if (n >= k && n < bestN) {
        best = c;
        bestN = n;
      }
    }
    return best;
  }

  private splitSpan(core: Core, c: number, k: number): number {
    const n = core.load64(this.d.hugeFree + c * 8);
    core.store64(this.d.hugeFree + c * 8, 0);
    if (n === k) return c;
    const tail = c + n - k;
    this.writeSpanHeader(core, tail, Usage.FREE | State.INITIALIZED, k);
    core.storeAtomic64(chunkAddr(this.g, c) + BH.npages, n - k);
    persist(core, chunkAddr(this.g, c));
    core.store64(this.d.hugeFree + c * 8, n - k);
    return tail;
  }

  writeSpanHeader(core: Core, c: number, stateByte: number, k: number): void {
    const h = chunkAddr(this.g, c);
    core.storeAtomic64(h + BH.npages, k);
    for (let o = BH.on0ptr; o <= BH.on1val; o += 8) core.storeAtomic64(h + o, 0);
    core.storeAtomic64(h + BH.state, stateByte); // last: the state makes the header valid
    persist(core, h);
  }

  /** Put a free span of k chunks at c into the DRAM best-fit structure. */
  putSpan(core: Core, c: number, k: number): void {
    core.store64(this.d.hugeFree + c * 8, k);
  }
}
