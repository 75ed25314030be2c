/**
 * The Makalu factories: the model as designed, the released code's fences, and the
 * deliberately broken canaries the crash checkers must catch.
 */
import type { Machine } from '../../sim/api.ts';
import type { AllocatorFactory } from '../contract.ts';
import type { Variant } from './context.ts';
import { MakaluAllocator } from './makalu.ts';
import { PATH_LENGTHS } from './path-lengths.ts';

const BASE: Variant = { name: 'makalu', shippedMacro: false, omitSplitLog: false, omitRootFlush: false, omitSectionFlush: false, skipLogReplay: false };

function factory(variant: Variant, description: string, broken = false): AllocatorFactory {
  return {
    name: variant.name,
    description,
    idioms: ['malloc-then-link', 'alloc-into'],
    pathLengths: PATH_LENGTHS,
    promisesNoLeak: () => true,
    ...(broken ? { broken: true } : {}),
    create: (machine: Machine) => new MakaluAllocator(machine, variant),
  };
}

export const makaluFactories: readonly AllocatorFactory[] = [
  factory(BASE, 'Makalu (OOPSLA 2016) as designed: core block headers under one global lock and undo log, lazily flushed allocation bits, DRAM free lists, recovery-time GC'),
  factory({ ...BASE, name: 'makalu-shipped', shippedMacro: true },
    'Makalu as released: the unbraced MAK_STORE_NVM_SYNC makes the conditional mfence-clflush-mfence run on every block free-list bucket probed and every block free'),
  factory({ ...BASE, name: 'makalu-broken-nolog', omitSplitLog: true },
    'BROKEN canary: when a free run is taken (and split), the size and free-flag of its header are changed without their undo-log entries; a crash inside that section leaves the header changed while the rest is undone (runs no longer tile the heap)', true),
  factory({ ...BASE, name: 'makalu-broken-noflush-section', omitSectionFlush: true },
    'BROKEN canary: closing a failure-atomic section bumps the log version without writing back the section\'s dirty header and bookkeeping lines (the clflushes between the two fences are dropped), so after a crash a handed-out block can still look free', true),
  factory({ ...BASE, name: 'makalu-broken-noflush-root', omitRootFlush: true },
    'BROKEN canary: setRoot, mallocTo and freeFrom store the pointer but omit its clwb and sfence, so a completed publication can be lost at a crash (observable by workloads that publish through setRoot/mallocTo after setup)', true),
  factory({ ...BASE, name: 'makalu-broken-skiplog', skipLogReplay: true },
    'BROKEN canary: crash recovery skips the undo-log replay (step 1), so a section interrupted by a crash is never rolled back', true),
];
