/**
 * Instruction path lengths of the released nvm_malloc (method and path names:
 * ../path-lengths.ts).
 *
 * Source: IMCG/nvm-malloc, commit dbbd19c02204e193b2476711d23da3e72d9ab171, src/*.c built
 * with the Makefile's release flags (gcc 12.2 -O3 -fpic) plus -g, with its bundled
 * ulib-svn; two changes needed to run it: MAX_NVM_SPACE lowered from 100 GB to 4 GB in
 * src/types.h (valgrind cannot reserve 100 GB of address space; the value only sizes
 * that reservation), and the harness defines `error_and_exit`, which the released
 * sources call but do not define. Workspace in /dev/shm. Harness: 100,000
 * nvm_reserve(64) + nvm_activate(p, link, p) + nvm_free(p, link) triples with the link in
 * NVRAM; 200,000 nvm_reserve(64) (3,174 new 4 KB runs of 63 elements), then 200,000
 * nvm_activate, then 200,000 nvm_free. Recovery: crash images (exit without
 * nvm_teardown) with 50,000 and 200,000 activated objects (918 and 3,299 runs), then
 * nvm_initialize(dir, 1) and its background recovery thread.
 *
 * | path                 | instr   | per           | source (inclusive Ir / count)                                      |
 * |----------------------|---------|---------------|--------------------------------------------------------------------|
 * | mallocFast           |     166 | call          | nvm_malloc.c:nvm_reserve 16,600,000 / 100,000 (first bit free)     |
 * | freeFast             |     221 | call          | nvm_malloc.c:nvm_free 22,100,000 / 100,000 (one link)              |
 * | activate             |     153 | call          | nvm_malloc.c:nvm_activate 15,300,000 / 100,000 (one link)          |
 * | logAppend            |      27 | log slot      | nvm_malloc.c:log_activate 2,700,000 / 100,000                      |
 * | refillPerObject      |       - | -             | no cache: reserve takes a bit of the bin's current run             |
 * | runBitmapScanPerSlot |      14 | slot skipped  | arena.c:arena_allocate bulk excess 87,418,739 / 200,000 / 31       |
 * | slowPath             |     396 | new run       | arena.c:arena_create_run 1,257,935 / 3,174                         |
 * | recoveryPerObject    |       - | -             | no per-object work (runs are rebuilt from their bitmaps)           |
 * | recoveryPerBlock     |   1,045 | run (4 KB)    | nvm_recovery_thread (3,321,470 - 834,491) / (3,299 - 918)          |
 * | recoveryFixed        | 189,190 | restart       | nvm_initialize(dir, 1) in the foreground                           |
 */
import type { PathLengths } from '../path-lengths.ts';

const REF = 'nvm_malloc, IMCG/nvm-malloc commit dbbd19c02204e193b2476711d23da3e72d9ab171, src/*.c with release flags (gcc 12.2 -O3), MAX_NVM_SPACE 4 GB instead of 100 GB, workspace in /dev/shm';
const FAST = `${REF}; callgrind phase of 100,000 nvm_reserve(64) + nvm_activate + nvm_free triples (one link in NVRAM) after 1,000 warm-up triples`;
const BULK = `${REF}; callgrind phases of 200,000 nvm_reserve(64) (3,174 new runs), 200,000 nvm_activate, 200,000 nvm_free`;
const REC = `${REF}; callgrind of nvm_initialize(dir, 1) plus its recovery thread on crash images with 50,000 and 200,000 activated 64 B objects (918 and 3,299 runs)`;

export const PATH_LENGTHS: PathLengths = {
  reference: REF,
  paths: {
    mallocFast: { instructions: 166, per: 'call (nvm_reserve, first free bit at slot 0)', method: 'callgrind', source: `${FAST}: nvm_malloc.c:nvm_reserve inclusive 16,600,000 Ir / 100,000 (gettid syscall + thread hash map 44, arena.c:arena_allocate 122 with the bin mutex)` },
    freeFast: { instructions: 221, per: 'call (nvm_free with one link)', method: 'callgrind', source: `${FAST}: nvm_malloc.c:nvm_free inclusive 22,100,000 Ir / 100,000 (arena.c:arena_free 195)` },
    refillPerObject: { notApplicable: 'nvm_malloc has no thread cache: nvm_reserve takes a bit straight from the bin\'s current run (the scan cost is runBitmapScanPerSlot)' },
    slowPath: { instructions: 396, per: 'new 4 KB run', method: 'callgrind', source: `${BULK}: arena.c:arena_create_run inclusive 1,257,935 Ir / 3,174 calls` },
    logAppend: { instructions: 27, per: 'activation log slot written and persisted (instructions only)', method: 'callgrind', source: `${FAST}: nvm_malloc.c:log_activate inclusive 2,700,000 Ir / 100,000` },
    recoveryPerObject: { notApplicable: 'nvm_malloc recovery does no per-object work: runs are rebuilt from their bitmaps (recoveryPerBlock) and only the <= 127 logged pointers are visited (inside recoveryFixed)' },
    recoveryPerBlock: { instructions: 1045, per: 'run (4 KB) given a new DRAM header', method: 'callgrind', source: `${REC}: slope of nvm_malloc.c:nvm_recovery_thread (3,321,470 - 834,491) Ir / (3,299 - 918) runs (arena_create_run_header 931 per run)` },
    activate: { instructions: 153, per: 'call (nvm_activate with one link)', method: 'callgrind', source: `${FAST}: nvm_malloc.c:nvm_activate inclusive 15,300,000 Ir / 100,000 (includes log_activate 27); bulk phase gives the same 153` },
    runBitmapScanPerSlot: { instructions: 14, per: 'occupied slot skipped by the linear bitmap scan of arena_allocate', method: 'callgrind', source: `${BULK}: (arena.c:arena_allocate 113,076,674 - arena_create_run 1,257,935 - 200,000 x 122 fast-path) Ir = 87,418,739 / 200,000 calls = 437 extra per call, / 31 slots skipped on average when filling 63-slot runs = 14.1` },
    recoveryFixed: { instructions: 189190, per: 'restart (foreground part of nvm_initialize(dir, 1))', method: 'callgrind', source: `${REC}: nvm_initialize inclusive 189,190 Ir (50,000 objects) and 189,181 (200,000): chunk headers, log scan, 20 arenas` },
  },
};
