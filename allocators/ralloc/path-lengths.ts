/**
 * Instruction path lengths of the released Ralloc (method and path names:
 * ../path-lengths.ts).
 *
 * Source: urcs-sync/ralloc, commit 6b9d7a1af75ba75232107bfaeb6a034799d5b182, built with
 * its own test/Makefile (`make libralloc.a ALLOC=r`, flags -O3 -ftrapv ... plus
 * -DSHM_SIMULATING so the heap files live in /dev/shm), g++ 12.2. Harness (g++ -O2):
 * RP_init with an 8 GiB heap, 100,000 RP_malloc(64)/RP_free pairs; 200,000 RP_malloc(64)
 * kept live (195 new superblocks of 1,024 blocks) then freed. Recovery: a crash image
 * (exit without RP_close) with a list of N live 64 B nodes (pptr links) from root 0 plus
 * 1,000 leaked blocks, then RP_init + RP_get_root<Node>(0) + RP_recover (conservative
 * default filter), N = 0, 50,000 and 200,000. The sweep visits every superblock of the
 * initial 1 GiB superblock region (16,383), used or not.
 *
 * | path              | instr | per                     | source (inclusive Ir / count)                                     |
 * |-------------------|-------|-------------------------|-------------------------------------------------------------------|
 * | mallocFast        |    68 | call                    | ralloc.cpp:RP_malloc 6,800,000 / 100,000                          |
 * | freeFast          |    98 | call                    | ralloc.cpp:RP_free 9,800,000 / 100,000                            |
 * | refillPerObject   |    16 | block                   | BaseMeta.cpp:malloc_from_newsb block-list loop 3,199,170 / (195 x 1,023) |
 * | slowPath          |   182 | new superblock          | BaseMeta.cpp:fill_cache 16,588 per call minus the loop 16,406     |
 * | flushPerObject    |    25 | block flushed           | (BaseMeta.cpp:flush_cache 5,071,013 - 390 x 91) / 200,000         |
 * | descriptorCas     |    91 | anchor update           | flush_cache anchor-update lines + compute_idx, 35,494 / 390       |
 *
 * refillPerObject applies to a new superblock only: a refill from a partial superblock
 * is constant time (BaseMeta.cpp:450-507 malloc_from_partial: pop, anchor CAS, push_list)
 * and is charged descriptorCas, the nearest measured path (heap.ts fillFromPartial).
 * | logAppend         |     - | -                       | Ralloc has no log                                                 |
 * | recoveryPerObject | 1,748 | live object             | RP_recover slope (414,019,480 - 151,843,510) / 150,000            |
 * | recoveryPerBlock  | 4,184 | superblock swept        | GarbageCollection::operator() with no live object 68,545,696 / 16,383 |
 */
import type { PathLengths } from '../path-lengths.ts';
import { pathInstructions } from '../path-lengths.ts';

const REF = 'Ralloc, urcs-sync/ralloc commit 6b9d7a1af75ba75232107bfaeb6a034799d5b182, test/Makefile libralloc.a (g++ 12.2 -O3 -ftrapv) with -DSHM_SIMULATING';
const FAST = `${REF}; callgrind phase of 100,000 RP_malloc(64)/RP_free pairs after 1,000 warm-up pairs`;
const BULK = `${REF}; callgrind phases of 200,000 RP_malloc(64) kept live (195 new superblocks), then freed`;
const GC = `${REF}; callgrind of RP_init + RP_get_root<Node>(0) + RP_recover on crash images with 0, 50,000 and 200,000 live 64 B nodes`;

export const PATH_LENGTHS: PathLengths = {
  reference: REF,
  paths: {
    mallocFast: { instructions: 68, per: 'call', method: 'callgrind', source: `${FAST}: ralloc.cpp:RP_malloc inclusive 6,800,000 Ir / 100,000 (BaseMeta::do_malloc 61, TCacheBin::pop_block 23)` },
    freeFast: { instructions: 98, per: 'call', method: 'callgrind', source: `${FAST}: ralloc.cpp:RP_free inclusive 9,800,000 Ir / 100,000 (BaseMeta::do_free 91, desc lookup and TCacheBin::push_block 12)` },
    refillPerObject: { instructions: 16, per: 'block chained into a new superblock and handed to the cache', method: 'callgrind', source: `${BULK}: BaseMeta.cpp:BaseMeta::malloc_from_newsb inclusive 3,220,425 Ir minus its non-loop lines 6,825 and callees 14,430 = 3,199,170 Ir (line-level annotation, pptr stores inlined) / (195 superblocks x 1,023 links) = 16.04` },
    slowPath: { instructions: 182, per: 'new superblock (fill_cache miss on the partial list, small_sb_alloc, descriptor init, anchor store, flush)', method: 'callgrind', source: `${BULK}: BaseMeta.cpp:BaseMeta::fill_cache inclusive 3,234,660 Ir / 195 = 16,588 minus the block-list loop 3,199,170 / 195 = 16,406` },
    logAppend: { notApplicable: 'Ralloc has no log: the descriptor is flushed when a superblock is created or emptied, anchors are never flushed' },
    recoveryPerObject: { instructions: 1748, per: 'live object marked (conservative filter: a pptr read at every byte offset, std::set insert)', method: 'callgrind', source: `${GC}: slope of RP_recover between 50,000 and 200,000 objects (414,019,480 - 151,843,510) Ir / 150,000` },
    recoveryPerBlock: { instructions: 4184, per: 'superblock swept (descriptor rebuilt)', method: 'callgrind', source: `${GC}: BaseMeta.cpp:GarbageCollection::operator() with no live object 68,545,696 Ir / 16,383 superblocks of the initial 1 GiB region` },
    flushPerObject: { instructions: 25, per: 'block flushed from the thread cache to its superblock', method: 'callgrind', source: `${BULK} (free phase): (BaseMeta.cpp:BaseMeta::flush_cache inclusive 5,071,013 Ir - 390 anchor updates x 91) / 200,000 blocks = 25.2` },
    descriptorCas: { instructions: 91, per: 'anchor update (one CAS loop iteration per run of blocks of one superblock)', method: 'callgrind', source: `${BULK} (free phase): line-level annotation of BaseMeta::flush_cache, anchor load/compute/CAS lines 18,334 Ir + compute_idx 17,160 Ir over 390 updates (the cmpxchg inlined from <atomic> is not included)` },
  },
};

/** Instructions per path for Core.instructions (0 where a path does not apply). */
export const RALLOC_INSTRUCTIONS = pathInstructions(PATH_LENGTHS);
