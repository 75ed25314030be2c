/**
 * nvm_malloc-style allocators: the faithful model and its broken canary.
 *
 * Model: see heap.ts. 'nvm-malloc' publishes a mallocTo destination in NVRAM as the
 * activation link, so with alloc-into it leaks nothing; plain malloc followed by a
 * crash before linking leaks the block (no recovery GC). 'nvm-malloc-broken-nolog'
 * stores the activation-log slot but never persists it; 'nvm-malloc-broken-link-first'
 * publishes the link before the header records the transition.
 */
import type { AllocatorFactory, Idiom } from '../contract.ts';
import { NvmMallocHeap } from './heap.ts';

const IDIOMS: readonly Idiom[] = ['alloc-into', 'malloc-then-link'];

export const nvmMalloc: AllocatorFactory = {
  name: 'nvm-malloc',
  description: 'nvm_malloc-style (Schwalb et al., ADMS 2015): 4 MB chunks, 4 KB runs with 64 B headers (state, bitmap, link pairs, version), reserve/activate with link pointers, a 127-slot activation log; PERSIST = sfence, clwb, sfence',
  idioms: IDIOMS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc' }),
};

export const nvmMallocBrokenNoLog: AllocatorFactory = {
  name: 'nvm-malloc-broken-nolog',
  description: 'BROKEN canary of nvm-malloc: omits persisting the activation log slot (no sfence-clwb-sfence), so recovery may never see a block whose header was left ACTIVATING and rolls it back while its link survives',
  idioms: IDIOMS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  broken: true,
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc-broken-nolog', variant: { noLog: true } }),
};

export const nvmMallocBrokenLinkFirst: AllocatorFactory = {
  name: 'nvm-malloc-broken-link-first',
  description: 'BROKEN canary of nvm-malloc: stores and persists the link before writing the link pair and the ACTIVATING / FREEING state of a run element, so a crash in between leaves a durable link to a block recovery rolls back (visible even under eADR)',
  idioms: IDIOMS,
  promisesNoLeak: (idiom) => idiom === 'alloc-into',
  broken: true,
  create: (machine) => new NvmMallocHeap(machine, { name: 'nvm-malloc-broken-link-first', variant: { linkFirst: true } }),
};

export const factories: readonly AllocatorFactory[] = [nvmMalloc, nvmMallocBrokenNoLog, nvmMallocBrokenLinkFirst];
