/**
 * Instruction path lengths of jemalloc, the allocator the transient model stands for
 * (method and path names: ../path-lengths.ts).
 *
 * Measured with callgrind on Debian libjemalloc-dev 5.3.0-1 (libjemalloc.a linked
 * statically into a gcc -O2 harness, so internal functions are named). Phases: 100,000
 * malloc(64)/free pairs (tcache hits); then two rounds of 1,000,000 malloc(64) kept
 * live and freed. Round 1 takes memory from the OS, round 2 from extents the arena
 * kept; both rounds allocate 15,625 slabs of 64 regions.
 *
 * | path             | instr | per              | source (inclusive Ir / count)                                                 |
 * |------------------|-------|------------------|-------------------------------------------------------------------------------|
 * | mallocFast       |    30 | call             | malloc 3,027,938 / 100,000 (fast phase)                                       |
 * | freeFast         |    37 | call             | free 3,730,566 / 100,000 (fast phase)                                         |
 * | refillPerObject  |    37 | object           | (je_arena_cache_bin_fill_small 72,199,918 - arena_slab_alloc 35,510,120) / 1,000,000 (round 2; round 1: 19.6) |
 * | slowPath         | 2,273 | slab             | arena_slab_alloc 35,510,120 / 15,624 (round 2; round 1 with OS growth: 2,762)  |
 * | flushPerObject   |    85 | object           | (je_tcache_bin_flush_small 93,671,525 - je_arena_slab_dalloc 9,076,199) / 1,000,000 (round 1; round 2: 94) |
 * | slabRelease      |   581 | slab             | je_arena_slab_dalloc 9,076,199 / 15,624                                        |
 * | logAppend, recovery* | - | -               | volatile: no log, nothing survives a crash                                     |
 *
 * For scale: a malloc(64) averaged over a refill-heavy round costs 97-118 instructions
 * and a free 132-142 (malloc/free inclusive / 1,000,000).
 */
import type { PathLengths } from '../path-lengths.ts';

const LIB = 'jemalloc 5.3.0 (Debian libjemalloc-dev 5.3.0-1, static libjemalloc.a)';
const FAST = `${LIB}; callgrind phase of 100,000 malloc(64)/free pairs after 1,000 warm-up pairs`;
const BULK = `${LIB}; callgrind phases of 1,000,000 malloc(64) kept live then freed, two rounds`;

export const PATH_LENGTHS: PathLengths = {
  reference: LIB,
  paths: {
    mallocFast: { instructions: 30, per: 'call', method: 'callgrind', source: `${FAST}: malloc inclusive 3,027,938 Ir / 100,000 (tcache hit; includes the amortised tcache event handling, 98 calls of je_malloc_default)` },
    freeFast: { instructions: 37, per: 'call', method: 'callgrind', source: `${FAST}: free inclusive 3,730,566 Ir / 100,000 (tcache hit)` },
    refillPerObject: { instructions: 37, per: 'object moved from a slab into the tcache', method: 'callgrind', source: `${BULK}: round 2, (je_arena_cache_bin_fill_small 72,199,918 - arena_slab_alloc 35,510,120) Ir / 1,000,000 objects; round 1 gives 19.6` },
    slowPath: { instructions: 2273, per: 'new slab (64 regions of 64 B)', method: 'callgrind', source: `${BULK}: round 2, arena_slab_alloc inclusive 35,510,120 Ir / 15,624 calls (extents recycled from the arena, some growth); round 1 (growth from the OS) 43,161,853 / 15,625 = 2,762` },
    logAppend: { notApplicable: 'jemalloc is volatile: no log' },
    recoveryPerObject: { notApplicable: 'jemalloc is volatile: nothing is recovered after a crash' },
    recoveryPerBlock: { notApplicable: 'jemalloc is volatile: nothing is recovered after a crash' },
    flushPerObject: { instructions: 85, per: 'object flushed from the tcache to its slab', method: 'callgrind', source: `${BULK}: round 1, (je_tcache_bin_flush_small 93,671,525 - je_arena_slab_dalloc 9,076,199) Ir / 1,000,000 objects; round 2 gives 94` },
    slabRelease: { instructions: 581, per: 'slab returned to the arena', method: 'callgrind', source: `${BULK}: je_arena_slab_dalloc inclusive 9,076,199 Ir / 15,624 calls` },
  },
};
