/**
 * Instruction path lengths of libpmemobj, the allocator the PMDK model stands for
 * (method and path names: ../path-lengths.ts).
 *
 * Measured with callgrind on Debian libpmemobj-dev / libpmem-dev 1.12.1-2 (libpmemobj.a
 * and libpmem.a linked statically into a gcc -O2 harness), PMEM_IS_PMEM_FORCE=1, a
 * 256 MiB pool in /dev/shm, pmemobj_alloc(pop, oidp, 64, 0, NULL, NULL) (80 B with the
 * header: the 128 B class, ~2,060 blocks per 256 KiB run). Phases: 100,000 alloc/free
 * pairs with the PMEMoid in the pool (redo log: destination + bitmap entries), 100,000
 * pairs with the PMEMoid on the stack (no log), 200,000 allocations kept live then
 * freed. Recovery: pmemobj_open plus the first allocation (zones are rebuilt lazily on
 * first use) on pools holding 50,000 and 200,000 live objects (25 and 98 runs).
 *
 * The *RunLocked paths are what palloc_exec_actions (palloc.c:526-580 at 1.12.1, commit
 * 786098a02) runs between util_mutex_lock and util_mutex_unlock of the run lock: the
 * callees palloc_heap_action_exec (the redo entries) + obj_norep_drain + operation_process
 * + palloc_heap_action_on_process (statistics, recycler counters). Measured with
 * experiments/calibrate/native/alloc.c --callgrind 20000 (PMEMoid on the stack), and the
 * same loop with the PMEMoid in the pool's root object, one callgrind run per function
 * (--toggle-collect=nv_alloc_one or nv_free_one), summing those callees' inclusive Ir
 * under palloc_exec_actions and dividing by the 20,000 calls.
 *
 * | path               | instr     | per              | source (inclusive Ir / count)                                        |
 * |--------------------|-----------|------------------|----------------------------------------------------------------------|
 * | mallocFast         |     2,642 | call             | pmemobj_alloc, oid in DRAM: 264,192,523 / 100,000                    |
 * | freeFast           |     2,317 | call             | pmemobj_free, oid in DRAM: 231,700,000 / 100,000                     |
 * | mallocToNvram      |     3,474 | call             | pmemobj_alloc, oid in the pool: 347,393,434 / 100,000                |
 * | freeFromNvram      |     3,147 | call             | pmemobj_free, oid in the pool: 314,700,000 / 100,000                 |
 * | refillPerObject    |         4 | object           | bucket refill callees of heap_get_bestfit_block 799,808 / 200,000    |
 * | slowPath           |     8,245 | new run          | the same 799,808 / 97 runs                                           |
 * | logAppend          |       476 | redo log commit  | ulog_store 95,200,000 / 200,000                                      |
 * | redoCommitLogged   |     1,155 | commit           | operation_process (store, apply, clobber) 231,100,000 / 200,000      |
 * | redoCommitInPlace  |       433 | commit           | operation_process, oid in DRAM 86,500,000 / 200,000                  |
 * | logEntryAdd        |       150 | redo entry       | operation_add_entry 89,900,000 / 600,000                             |
 * | reserveBlock       |       979 | call             | palloc_reservation_create 97,939,084 / 100,000                       |
 * | laneHoldRelease    |       176 | operation        | lane_hold 147 + lane_release 29 per call                             |
 * | allocRunLocked     |       709 | call             | under the run lock, oid in DRAM: 14,188,580 / 20,000 (see below)     |
 * | freeRunLocked      |       861 | call             | under the run lock, oid in DRAM: 17,220,000 / 20,000                 |
 * | allocRunLockedLogged |   1,507 | call             | under the run lock, oid in the pool: 30,140,950 / 20,000             |
 * | freeRunLockedLogged  |   1,613 | call             | under the run lock, oid in the pool: 32,260,000 / 20,000             |
 * | recoveryPerObject  |         1 | live object      | open slope (5,521,161 - 5,418,153) / 150,000 = 0.69                  |
 * | recoveryPerBlock   |     1,409 | run (chunk)      | heap_reclaim_zone_garbage (134,880 - 32,007) / (98 - 25)             |
 * | recoveryPerLane    |     1,353 | lane             | lane_recover_and_section_boot 1,385,129 / 1,024 lanes                |
 * | recoveryFixed      | 4,851,574 | open             | pmemobj_open inclusive (independent of N)                            |
 */
import type { PathLengths } from '../path-lengths.ts';
import { pathInstructions } from '../path-lengths.ts';

const LIB = 'libpmemobj 1.12.1 (Debian libpmemobj-dev 1.12.1-2, static libpmemobj.a + libpmem.a), PMEM_IS_PMEM_FORCE=1, pool in /dev/shm';
const FAST = `${LIB}; callgrind phase of 100,000 pmemobj_alloc(64)/pmemobj_free pairs after 1,000 warm-up pairs`;
const FAST_NV = `${FAST}, PMEMoid in the pool (redo log, 200,000 commits, 3 entries per operation)`;
const FAST_DRAM = `${FAST}, PMEMoid on the stack (no log, entries applied in place)`;
const BULK = `${LIB}; callgrind phase of 200,000 pmemobj_alloc(64) kept live (97 new runs)`;
const RUNLOCK = `${LIB}; instructions palloc_exec_actions (palloc.c:526-580, 1.12.1) runs while it holds the run lock, callgrind --toggle-collect of one function over 20,000 alloc/free pairs (experiments/calibrate/native/alloc.c --callgrind 20000, no warm-up)`;
const OPEN = `${LIB}; callgrind of pmemobj_open + first pmemobj_alloc on pools with 50,000 and 200,000 live 64 B objects (25 and 98 runs)`;

export const PATH_LENGTHS: PathLengths = {
  reference: LIB,
  paths: {
    mallocFast: { instructions: 2642, per: 'call', method: 'callgrind', source: `${FAST_DRAM}: pmemobj_alloc inclusive 264,192,523 Ir / 100,000` },
    freeFast: { instructions: 2317, per: 'call', method: 'callgrind', source: `${FAST_DRAM}: pmemobj_free inclusive 231,700,000 Ir / 100,000` },
    refillPerObject: { instructions: 4, per: 'object (bucket refill from a run, amortised)', method: 'callgrind', source: `${BULK}: refill callees of heap_get_bestfit_block (bucket_attach_run 331,546 + heap_reuse_from_recycler 170,007 + heap_discard_run 123,112 + heap_get_bestfit_block recursion 87,591 + memblock_run_init 36,800 + bucket_detach_run 30,576 + heap_bucket_acquire/release 16,684 + heap_populate_bucket 3,492 = 799,808 Ir) / 200,000 objects = 4.0` },
    slowPath: { instructions: 8245, per: 'new run (bucket empty: chunk taken, run initialised, attached)', method: 'callgrind', source: `${BULK}: the same 799,808 Ir / 97 new runs` },
    logAppend: { instructions: 476, per: 'redo log commit (entries + checksum written and persisted)', method: 'callgrind', source: `${FAST_NV}: ulog_store inclusive 95,200,000 Ir / 200,000` },
    recoveryPerObject: { instructions: 1, per: 'live object', method: 'callgrind', source: `${OPEN}: slope of the whole phase (5,521,161 - 5,418,153) Ir / 150,000 objects = 0.69, rounded up to 1 (bitmap scanning is per run, see recoveryPerBlock)` },
    recoveryPerBlock: { instructions: 1409, per: 'run (256 KiB chunk) rebuilt', method: 'callgrind', source: `${OPEN}: heap_reclaim_zone_garbage inclusive (134,880 - 32,007) Ir / (98 - 25) runs` },
    mallocToNvram: { instructions: 3474, per: 'call', method: 'callgrind', source: `${FAST_NV}: pmemobj_alloc inclusive 347,393,434 Ir / 100,000` },
    freeFromNvram: { instructions: 3147, per: 'call', method: 'callgrind', source: `${FAST_NV}: pmemobj_free inclusive 314,700,000 Ir / 100,000` },
    redoCommitLogged: { instructions: 1155, per: 'commit through the redo log (store, apply, clobber)', method: 'callgrind', source: `${FAST_NV}: operation_process inclusive 231,100,000 Ir / 200,000 (ulog_store 476 + ulog_process 477 + ulog_clobber 165 + rest)` },
    redoCommitInPlace: { instructions: 433, per: 'commit applied in place (one persistent update, no log)', method: 'callgrind', source: `${FAST_DRAM}: operation_process inclusive 86,500,000 Ir / 200,000` },
    logEntryAdd: { instructions: 150, per: 'redo entry queued', method: 'callgrind', source: `${FAST_NV}: operation_add_entry inclusive 89,900,000 Ir / 600,000` },
    reserveBlock: { instructions: 979, per: 'call (bucket best-fit + object header write)', method: 'callgrind', source: `${FAST_NV}: palloc_reservation_create inclusive 97,939,084 Ir / 100,000 (heap_get_bestfit_block 229, alloc_prep_block 471)` },
    laneHoldRelease: { instructions: 176, per: 'operation', method: 'callgrind', source: `${FAST_NV}: lane_hold 29,400,000 / 200,000 = 147 plus lane_release 5,800,000 / 200,000 = 29` },
    recoveryPerLane: { instructions: 1353, per: 'lane', method: 'callgrind', source: `${OPEN}: lane_recover_and_section_boot inclusive 1,385,129 Ir / 1,024 lanes (same for both pools)` },
    allocRunLocked: { instructions: 709, per: 'call (pmemobj_alloc, destination not in the pool)', method: 'callgrind', source: `${RUNLOCK}, PMEMoid on the stack, nv_alloc_one: palloc_heap_action_exec 4,068,580 + obj_norep_drain 280,000 + operation_process 8,620,000 + palloc_heap_action_on_process 1,220,000 = 14,188,580 Ir / 20,000` },
    freeRunLocked: { instructions: 861, per: 'call (pmemobj_free, destination not in the pool)', method: 'callgrind', source: `${RUNLOCK}, PMEMoid on the stack, nv_free_one: palloc_heap_action_exec 4,000,000 + obj_norep_drain 280,000 + operation_process 8,680,000 + palloc_heap_action_on_process 4,260,000 = 17,220,000 Ir / 20,000` },
    allocRunLockedLogged: { instructions: 1507, per: 'call (pmemobj_alloc, destination in the pool: redo log)', method: 'callgrind', source: `${RUNLOCK}, PMEMoid in the root object, nv_alloc_one: palloc_heap_action_exec 5,540,950 + obj_norep_drain 280,000 + operation_process 23,100,000 + palloc_heap_action_on_process 1,220,000 = 30,140,950 Ir / 20,000` },
    freeRunLockedLogged: { instructions: 1613, per: 'call (pmemobj_free, destination in the pool: redo log)', method: 'callgrind', source: `${RUNLOCK}, PMEMoid in the root object, nv_free_one: palloc_heap_action_exec 4,600,000 + obj_norep_drain 280,000 + operation_process 23,120,000 + palloc_heap_action_on_process 4,260,000 = 32,260,000 Ir / 20,000` },
    recoveryFixed: { instructions: 4851574, per: 'pmemobj_open', method: 'callgrind', source: `${OPEN}: pmemobj_open inclusive 4,851,574 Ir with 50,000 objects, 4,852,450 with 200,000 (includes lane recovery, heap_boot, ndctl probing)` },
  },
};

/** Instructions per path for Core.instructions (0 where a path does not apply). */
export const PMDK_INSTRUCTIONS = pathInstructions(PATH_LENGTHS);
