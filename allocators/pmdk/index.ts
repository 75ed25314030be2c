/** Factories exported by this allocator folder (filled in as the allocator lands). */
import type { AllocatorFactory } from '../contract.ts';

export const factories: readonly AllocatorFactory[] = [];
