/**
 * The shared allocator contract suite on the Ralloc-style allocator and its broken
 * twin (the twin breaks only crash persistence, so it must pass the functional suite).
 */
import { describe, it } from 'vitest';
import { contractChecks } from '../contract-suite.ts';
import { factories } from './index.ts';

for (const factory of factories) {
  describe(`contract suite: ${factory.name}`, () => {
    for (const c of contractChecks(factory, { cores: [1, 4], numRuns: factory.broken ? 10 : 30 })) it(c.name, c.run, 60_000);
  });
}
