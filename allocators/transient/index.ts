/**
 * The transient reference allocator's factory (volatile: nothing survives a restart).
 * See transient.ts for the model.
 */
import type { AllocatorFactory } from '../contract.ts';
import { TransientAllocator } from './transient.ts';

export const transientFactory: AllocatorFactory = {
  name: 'transient',
  description: 'jemalloc/LRMalloc-like volatile allocator: size classes, per-core thread caches, slabs, page runs; no flushes, no fences; loses everything at a crash',
  idioms: ['malloc-then-link', 'alloc-into'],
  promisesNoLeak: () => false,
  volatile: true,
  create: (machine) => new TransientAllocator(machine),
};

export const factories: readonly AllocatorFactory[] = [transientFactory];
