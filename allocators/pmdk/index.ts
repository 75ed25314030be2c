/**
 * PMDK libpmemobj-style allocators: the faithful model and its broken canary.
 *
 * Model: see heap.ts. 'pmdk' publishes mallocTo destinations in NVRAM atomically with
 * the bitmap change through a checksummed redo log, so with the alloc-into idiom it
 * leaks nothing; with malloc-then-link a crash between malloc and the link leaks the
 * block (no recovery GC). 'pmdk-broken-early-apply' applies the redo entries before
 * the log is durable.
 */
import type { AllocatorFactory, Idiom } from '../contract.ts';
import { PmdkHeap } from './heap.ts';
import { PATH_LENGTHS } from './path-lengths.ts';

const IDIOMS: readonly Idiom[] = ['alloc-into', 'malloc-then-link'];

export const pmdk: AllocatorFactory = {
  name: 'pmdk',
  description: 'PMDK libpmemobj-style: 256 KB chunks in zones, runs with persistent bitmaps, 16 B object headers, per-core arenas, 1024 checksummed redo-log lanes; mallocTo publishes atomically through the redo log',
  idioms: IDIOMS,
  pathLengths: PATH_LENGTHS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  create: (machine) => new PmdkHeap(machine, { name: 'pmdk' }),
};

export const pmdkBrokenEarlyApply: AllocatorFactory = {
  name: 'pmdk-broken-early-apply',
  description: 'BROKEN canary of pmdk: omits persisting the redo log before applying it; the destination and the bitmap word are stored and flushed together with the log under one fence, so a crash can persist the destination without the bitmap bit or a valid log',
  idioms: IDIOMS,
  pathLengths: PATH_LENGTHS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  broken: true,
  create: (machine) => new PmdkHeap(machine, { name: 'pmdk-broken-early-apply', brokenEarlyApply: true }),
};

export const factories: readonly AllocatorFactory[] = [pmdk, pmdkBrokenEarlyApply];
