/**
 * Factories exported by the Makalu allocator folder (see variants.ts): `makalu` (as
 * designed), `makalu-shipped` (the released code's unbraced-macro fences), and the
 * broken canaries `makalu-broken-nolog`, `makalu-broken-noflush-section`,
 * `makalu-broken-noflush-root`, `makalu-broken-skiplog`.
 */
import type { AllocatorFactory } from '../contract.ts';
import { makaluFactories } from './variants.ts';

export const factories: readonly AllocatorFactory[] = makaluFactories;
