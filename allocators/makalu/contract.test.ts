/** The shared allocator contract suite on every correct Makalu variant. */
import { describe, it } from 'vitest';
import { contractChecks } from '../contract-suite.ts';
import { factories } from './index.ts';

for (const factory of factories.filter((f) => f.broken !== true)) {
  describe(`contract suite: ${factory.name}`, () => {
    for (const c of contractChecks(factory, { numRuns: factory.name === 'makalu' ? 30 : 10 })) it(c.name, c.run, 30_000);
  });
}
