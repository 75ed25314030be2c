/**
 * The allocator registry: every built-in allocator factory by name (correct ones,
 * the transient reference and the deliberately broken canaries). Each allocator
 * folder's index.ts exports its `factories`.
 */
import type { AllocatorFactory } from './contract.ts';
import { factories as transient } from './transient/index.ts';
import { factories as makalu } from './makalu/index.ts';
import { factories as pmdk } from './pmdk/index.ts';
import { factories as nvmMalloc } from './nvm-malloc/index.ts';
import { factories as ralloc } from './ralloc/index.ts';

export const ALLOCATORS: readonly AllocatorFactory[] = [...transient, ...makalu, ...pmdk, ...nvmMalloc, ...ralloc];

export function allocatorNames(): string[] {
  return ALLOCATORS.map((f) => f.name);
}

export function findAllocator(name: string): AllocatorFactory | undefined {
  return ALLOCATORS.find((f) => f.name === name);
}
