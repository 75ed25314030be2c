/**
 * The transient reference allocator's factory (volatile: nothing survives a restart).
 * See transient.ts for the model.
 */
import type { AllocatorFactory } from '../contract.ts';
import { TransientAllocator } from './transient.ts';

export const transientFactory: AllocatorFactory = {
  name: 'transient',
  description: 'jemalloc 5.3-like volatile allocator: 4 arenas per core, per-thread caches sized as jemalloc (fill and flush half), remote frees back to the owning arena, slabs and page runs; no flushes, no fences; loses everything at a crash',
  idioms: ['malloc-then-link', 'alloc-into'],
  promisesNoLeak: () => false,
  volatile: true,
  create: (machine) => new TransientAllocator(machine),
};

export const factories: readonly AllocatorFactory[] = [transientFactory];
