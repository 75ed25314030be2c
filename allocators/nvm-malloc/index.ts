/**
 * nvm_malloc-style allocators: the faithful model and its broken canary.
 *
 * Model: see heap.ts. 'nvm-malloc' publishes a mallocTo destination in NVRAM as the
 * activation link, so with alloc-into it leaks nothing; plain malloc followed by a
 * crash before linking leaks the block (no recovery GC). 'nvm-malloc-broken-nolog'
 * stores the activation-log slot but never persists it; 'nvm-malloc-broken-link-first'
 * publishes the link before the header records the transition. 'nvm-malloc-header-flush'
 * is a named model-level fix of a crash window in the published protocol (see below).
 */
import type { AllocatorFactory, Idiom } from '../contract.ts';
import { NvmMallocHeap } from './heap.ts';
import { PATH_LENGTHS } from './path-lengths.ts';

const IDIOMS: readonly Idiom[] = ['alloc-into', 'malloc-then-link'];

export const nvmMalloc: AllocatorFactory = {
  name: 'nvm-malloc',
  description: 'nvm_malloc-style (Schwalb et al., ADMS 2015): 4 MB chunks, 4 KB runs with 64 B headers (state, bitmap, link pairs, version), reserve/activate with link pointers, a 127-slot activation log; PERSIST = sfence, clwb, sfence',
  idioms: IDIOMS,
  pathLengths: PATH_LENGTHS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc' }),
};

export const nvmMallocBrokenNoLog: AllocatorFactory = {
  name: 'nvm-malloc-broken-nolog',
  description: 'BROKEN canary of nvm-malloc: omits persisting the activation log slot (no sfence-clwb-sfence), so recovery may never see a block whose header was left ACTIVATING and rolls it back while its link survives',
  idioms: IDIOMS,
  pathLengths: PATH_LENGTHS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  broken: true,
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc-broken-nolog', variant: { noLog: true } }),
};

export const nvmMallocBrokenLinkFirst: AllocatorFactory = {
  name: 'nvm-malloc-broken-link-first',
  description: 'BROKEN canary of nvm-malloc: stores and persists the link before writing the link pair and the ACTIVATING / FREEING state of a run element, so a crash in between leaves a durable link to a block recovery rolls back (visible even under eADR)',
  idioms: IDIOMS,
  pathLengths: PATH_LENGTHS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  broken: true,
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc-broken-link-first', variant: { linkFirst: true } }),
};

/**
 * A named model-level fix, not the published design: the published activate orders the
 * header's link pairs and ACTIVATING state before the link only with sfence, never
 * flushing the header line, so under ADR (Px86) the link can be durable while the
 * header is not, and recovery rolls back a reachable block. This variant adds the one
 * missing clwb of the header before the link is persisted (4 lines, 11 fences).
 */
export const nvmMallocHeaderFlush: AllocatorFactory = {
  name: 'nvm-malloc-header-flush',
  description: 'nvm-malloc with a model-level fix (not the published design): clwb of the run/span header before the link is persisted, closing the ADR window in which the link is durable but the ACTIVATING header is not',
  idioms: IDIOMS,
  pathLengths: PATH_LENGTHS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc-header-flush', variant: { flushHeaderBeforeLink: true } }),
};

export const factories: readonly AllocatorFactory[] = [nvmMalloc, nvmMallocHeaderFlush, nvmMallocBrokenNoLog, nvmMallocBrokenLinkFirst];
