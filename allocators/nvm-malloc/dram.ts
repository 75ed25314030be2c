/**
 * nvm_malloc-style heap: the volatile state in simulated DRAM (after arena.h / types.h
 * arena_t, arena_bin_t, arena_run_t and the global chunk tree; our own code).
 *
 *   global      chunk lock, bump chunk index, activation-log counter, current version
 *   huge free   1 word per chunk: n_chunks when a free huge span starts there
 *   arenas      per core: lock, free page-run count, then up to FREE_CAP entries
 *               {page address, page count} (the original keeps a tree; we search the
 *               list best-fit and charge every entry read)
 *   bins        per arena, 31 bins (64..1984 B): lock, current run, free count, run list
 *   vheaders    64 B volatile run headers (arena_run_t) carved from DRAM slabs:
 *               bin, element size, free count, max count, 63-bit bitmap (two 4 B words,
 *               set = allocated or reserved), list link, NVRAM run address, in-list flag
 *
 * Invariants: the JS object holds addresses only; every access goes through a Core.
 * A free page run that does not fit the arena list stays free in NVRAM and is found
 * again at the next restart (a DRAM-only loss, counted in droppedFreeRuns).
 */
import type { Core, Machine } from '../../sim/api.ts';
import { BIN_COUNT, type Geometry } from './layout.ts';

export const FREE_CAP = 1024;
export const GL = { chunkLock: 0, nextChunk: 8, logNext: 16, version: 24, slabNext: 32, slabEnd: 40, droppedFreeRuns: 48 } as const;
export const AR = { lock: 0, nfree: 8, entries: 64 } as const;
export const BIN = { lock: 0, current: 8, nfree: 16, runs: 24 } as const;
export const VH = { bin: 0, elem: 8, nfree: 16, nmax: 24, bits: 32, next: 40, nvmRun: 48, inList: 56 } as const;
const VH_BYTES = 64;
const SLAB_BYTES = 16 * 1024;
const ARENA_BYTES = AR.entries + FREE_CAP * 16;

export class NvmDram {
  readonly global: number;
  readonly hugeFree: number;
  readonly arenas: number;
  readonly arenaBase: number;
  readonly binsBase: number;

  constructor(
    readonly machine: Machine,
    g: Geometry,
  ) {
    this.arenas = machine.cores.length;
    this.global = machine.reserveDram(64, 64);
    this.hugeFree = machine.reserveDram(g.chunkCount * 8, 64);
    this.arenaBase = machine.reserveDram(this.arenas * ARENA_BYTES, 64);
    this.binsBase = machine.reserveDram(this.arenas * BIN_COUNT * 64, 64);
  }

  arena(a: number): number {
    return this.arenaBase + a * ARENA_BYTES;
  }
  bin(a: number, binIdx: number): number {
    return this.binsBase + (a * BIN_COUNT + binIdx) * 64;
  }
  arenaOf(coreId: number): number {
    return coreId % this.arenas;
  }

  /** A fresh zeroed volatile run header from the DRAM slab (like the original's malloc). */
  newVHeader(core: Core): number {
    let next = core.load64(this.global + GL.slabNext);
    if (next === 0 || next + VH_BYTES > core.load64(this.global + GL.slabEnd)) {
      next = this.machine.reserveDram(SLAB_BYTES, 64);
      core.store64(this.global + GL.slabEnd, next + SLAB_BYTES);
    }
    core.store64(this.global + GL.slabNext, next + VH_BYTES);
    for (let o = 0; o < VH_BYTES; o += 8) core.store64(next + o, 0);
    return next;
  }
}
