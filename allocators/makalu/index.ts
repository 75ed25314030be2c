/** Factories exported by the Makalu allocator folder (see variants.ts). */
import type { AllocatorFactory } from '../contract.ts';
import { makaluFactories } from './variants.ts';

export const factories: readonly AllocatorFactory[] = makaluFactories;
