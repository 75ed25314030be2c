/**
 * Instruction path lengths of the released Makalu (method and path names:
 * ../path-lengths.ts).
 *
 * Source: HewlettPackard/Atlas, branch `makalu`, commit
 * d4fd983322a4e247724aa636f380aa023b927e0b, makalu_alloc/src (the 12 files of its
 * Makefile) built with gcc 12.2 -O2 -g (the Makefile says -O0; -O2 is what a user
 * would measure in production) against Debian libatomic-ops-dev, with
 * makalu_alloc/region_manager on a file in /dev/shm. Harness: MAK_start, 100,000
 * MAK_malloc(64)/MAK_free pairs; 200,000 MAK_malloc(64) kept live then freed (3,124
 * blocks of 64 objects); 10,000 MAK_malloc(8192)/MAK_free pairs. Recovery: a crash image
 * (exit without MAK_close) with a list of N live 64 B objects from root 0 plus 1,000
 * leaked ones, then MAK_start_off + MAK_collect_off (the examples/fill-heap
 * fill-recover path), N = 50,000 and 200,000 (797 and 3,141 blocks). Marking runs in
 * Makalu's marker threads; their instructions are counted with the main thread's.
 *
 * | path                  | instr  | per               | source (inclusive Ir / count)                                         |
 * |-----------------------|--------|-------------------|-----------------------------------------------------------------------|
 * | mallocFast            |     37 | call              | MAK_malloc 3,700,000 / 100,000                                        |
 * | freeFast              |    126 | call              | MAK_free 12,600,000 / 100,000 (object zeroing 11, header cache 44)    |
 * | refillPerObject       |     18 | object            | (MAK_generic_malloc_many 13,133,505 - MAK_allochblk 9,433,692) / 200,000 |
 * | slowPath              |  3,003 | block (4 KB)      | makalu_block.c:MAK_allochblk 9,433,692 / 3,141 (global-lock section)  |
 * | logAppend             |     13 | undo log entry    | makalu_persistent.c:create_word_log_entry 81,666 / 6,282              |
 * | recoveryPerObject     |    144 | live object       | marker threads (28,298,880 - 6,654,575) / 150,000                     |
 * | recoveryPerBlock      |    281 | heap block        | main thread (1,010,251 - 350,757) / (3,141 - 797)                     |
 * | sectionOpenClose      |     70 | section           | start_nvm_atomic 4 + end_nvm_atomic 66                                |
 * | flushTableAdd         |     21 | flush-table entry | add_to_flush_table 996,968 / 46,991                                   |
 * | freeOverflowPerObject |     35 | object            | (makalu_reclaim.c:MAK_truncate_fast_fl 14,360,639 - MAK_freehblk 7,285,077) / 200,000  |
 * | blockRelease          |  2,332 | block             | MAK_freehblk 7,285,077 / 3,124 (global-lock section)                  |
 * | largeMalloc           | 12,110 | call (8 KB)       | MAK_malloc 121,100,004 / 10,000 (8,208 of it zeroing the object)      |
 * | largeFree             |  5,318 | call (8 KB)       | MAK_free 53,180,029 / 10,000 (MAK_prev_block 4,402)                   |
 *
 * Where each count is charged relative to the locks, as the released code runs it
 * (small.ts, makalu.ts): mallocFast and freeFast outside every lock; slowPath inside the
 * global lock (MAK_allochblk, makalu_malloc.c:430-435) and blockRelease inside it too
 * (MAK_freehblk sections, makalu_reclaim.c:609-613, makalu_malloc.c:330-336; both
 * inclusive counts already hold their sections' log appends, open/close and flush-table
 * adds, which are therefore not charged again); refillPerObject outside every lock for a thread-list refill
 * from a new or reclaimed block (the list is built after the unlock,
 * makalu_malloc.c:381-393,435-440), inside the size lock for a copy from a global list
 * (:401-418) and for a > 24-granule refill (MAK_allocobj runs under it, :163-182);
 * freeOverflowPerObject outside the lock for a thread list (the truncate table is
 * gathered unlocked, makalu_reclaim.c:700-727; only its per-block updates run locked,
 * and those are charged as memory accesses) and inside the size lock for a global list
 * (MAK_truncate_freelist, called with it held, makalu_malloc.c:320-328).
 */
import type { PathLengths } from '../path-lengths.ts';
import { pathInstructions } from '../path-lengths.ts';

const REF = 'Makalu, HewlettPackard/Atlas branch makalu, commit d4fd983322a4e247724aa636f380aa023b927e0b, makalu_alloc/src built with gcc 12.2 -O2 (Makefile: -O0), heap file in /dev/shm';
const FAST = `${REF}; callgrind phase of 100,000 MAK_malloc(64)/MAK_free pairs after 1,000 warm-up pairs`;
const BULK = `${REF}; callgrind phases of 200,000 MAK_malloc(64) kept live (3,124 new 4 KB blocks), then freed`;
const LARGE = `${REF}; callgrind phase of 10,000 MAK_malloc(8192)/MAK_free pairs`;
const GC = `${REF}; callgrind of MAK_start_off + MAK_collect_off on crash images with 50,000 and 200,000 live 64 B objects (797 and 3,141 blocks)`;

export const PATH_LENGTHS: PathLengths = {
  reference: REF,
  paths: {
    mallocFast: { instructions: 37, per: 'call', method: 'callgrind', source: `${FAST}: makalu_local_heap.c:MAK_malloc inclusive 3,700,000 Ir / 100,000 (thread-local list hit)` },
    freeFast: { instructions: 126, per: 'call', method: 'callgrind', source: `${FAST}: makalu_local_heap.c:MAK_free inclusive 12,600,000 Ir / 100,000 (includes MAK_hc_base_with_hdr 44 and zeroing the 64 B object, memset 11)` },
    refillPerObject: { instructions: 18, per: 'object put on the thread-local list', method: 'callgrind', source: `${BULK}: (makalu_malloc.c:MAK_generic_malloc_many 13,133,505 - MAK_allochblk 9,433,692) Ir / 200,000 objects = 18.5 (free-list build makalu_reclaim.c:MAK_build_array_fl 971 per block)` },
    slowPath: { instructions: 3003, per: 'new 4 KB block (global-lock section with undo log)', method: 'callgrind', source: `${BULK}: makalu_block.c:MAK_allochblk inclusive 9,433,692 Ir / 3,141 calls` },
    logAppend: { instructions: 13, per: 'undo log entry (instructions only; its fences and flush are charged by the machine)', method: 'callgrind', source: `${BULK}: makalu_persistent.c:create_word_log_entry 81,666 Ir / 6,282 calls (create_addr_log_entry and create_char_log_entry: 13 each)` },
    recoveryPerObject: { instructions: 144, per: 'live object marked', method: 'callgrind', source: `${GC}: slope of the marker threads (start_thread; makalu_mark.c:MAK_mark_from) (28,298,880 - 6,654,575) Ir / 150,000 objects = 144.3 (MAK_mark_from alone: 132.6)` },
    recoveryPerBlock: { instructions: 281, per: 'heap block (rebuild header index, reclaim, clear marks)', method: 'callgrind', source: `${GC}: slope of the main thread (phase_recover) (1,010,251 - 350,757) Ir / (3,141 - 797) blocks` },
    sectionOpenClose: { instructions: 70, per: 'global-lock section', method: 'callgrind', source: `${BULK}: makalu_persistent.c:start_nvm_atomic 12,564 / 3,141 = 4 plus end_nvm_atomic 207,288 / 3,141 = 66` },
    flushTableAdd: { instructions: 21, per: 'flush-table entry', method: 'callgrind', source: `${BULK}: makalu_persistent.c:add_to_flush_table 996,968 Ir / 46,991 calls` },
    freeOverflowPerObject: { instructions: 35, per: 'object returned from an overflowing thread-local list', method: 'callgrind', source: `${BULK} (free phase): (makalu_reclaim.c:MAK_truncate_fast_fl 14,360,639 - MAK_freehblk 7,285,077) Ir / 200,000 objects = 35.4` },
    blockRelease: { instructions: 2332, per: 'emptied block returned (global-lock section)', method: 'callgrind', source: `${BULK} (free phase): makalu_block.c:MAK_freehblk 7,285,077 Ir / 3,124 calls` },
    largeMalloc: { instructions: 12110, per: 'call (8 KB)', method: 'callgrind', source: `${LARGE}: MAK_malloc inclusive 121,100,004 Ir / 10,000 (zeroing 8,208, MAK_alloc_large 3,741)` },
    largeFree: { instructions: 5318, per: 'call (8 KB)', method: 'callgrind', source: `${LARGE}: MAK_free inclusive 53,180,029 Ir / 10,000 (makalu_hdr.c:MAK_prev_block 4,402)` },
  },
};

/** Instructions per path for Core.instructions (0 where a path does not apply). */
export const MAKALU_INSTRUCTIONS = pathInstructions(PATH_LENGTHS);
