/**
 * Ralloc-style allocator factories: the faithful model and its broken twin.
 *
 * Model: see allocator.ts. 'ralloc' promises no leak after recovery (its recovery GC
 * frees every unreachable block). 'ralloc-broken-desc' hands out blocks of a new
 * superblock (or a large run) before the superblock's descriptor is durable: the
 * descriptor store is neither flushed nor fenced, so a crash image can hold a
 * reachable object in a superblock the recovery does not know (swept as free).
 * 'ralloc-shipped' reproduces a bug of the released Ralloc code: only large blocks
 * are handed out before their descriptor is durable (caught only by workloads that
 * link objects larger than 14,336 B).
 */
import type { Machine } from '../../sim/api.ts';
import type { AllocatorFactory } from '../contract.ts';
import { RallocAllocator } from './allocator.ts';
import type { SkipDescFlush } from './superblocks.ts';
import { PATH_LENGTHS } from './path-lengths.ts';

export interface RallocFactoryOptions {
  readonly markStackEntries?: number;
}

/** One Ralloc variant: the model with its descriptor-flush behaviour (see allocator.ts). */
function variant(name: string, description: string, skipDescFlush: SkipDescFlush, options: RallocFactoryOptions): AllocatorFactory {
  return {
    name,
    description,
    idioms: ['malloc-then-link', 'alloc-into'],
    pathLengths: PATH_LENGTHS,
    promisesNoLeak: () => true,
    ...(skipDescFlush === 'never' ? {} : { broken: true }),
    create: (machine: Machine) => new RallocAllocator(machine, { name, skipDescFlush, ...options }),
  };
}

export function rallocFactory(options: RallocFactoryOptions = {}): AllocatorFactory {
  return variant(
    'ralloc',
    'Ralloc-style (Cai et al., ISMM 2020): LRMalloc thread caches, lock-free 64 KB superblocks, persistent descriptor fields only, dirty flag, recovery GC (conservative mark from 1024 roots, sweep of every superblock)',
    'never',
    options,
  );
}

export function rallocBrokenDescFactory(options: RallocFactoryOptions = {}): AllocatorFactory {
  return variant(
    'ralloc-broken-desc',
    'BROKEN Ralloc-style: omits the clwb + sfence of a new superblock descriptor, so blocks are handed out before the descriptor is durable (recovery may sweep a reachable object as free)',
    'all',
    options,
  );
}

export function rallocShippedFactory(options: RallocFactoryOptions = {}): AllocatorFactory {
  return variant(
    'ralloc-shipped',
    'Ralloc-style as released (urcs-sync/ralloc BaseMeta.cpp do_malloc): the large-allocation path flushes &desc (the local pointer) instead of the descriptor, so a large block (> 14,336 B) is handed out before its descriptor is durable; small sizes are as designed',
    'large',
    options,
  );
}

export const factories: readonly AllocatorFactory[] = [rallocFactory(), rallocBrokenDescFactory(), rallocShippedFactory()];
