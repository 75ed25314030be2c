import { describe, it } from 'vitest';
import { contractChecks } from '../contract-suite.ts';
import { pmdk } from './index.ts';

describe('pmdk: contract suite (1 and 4 cores)', () => {
  for (const c of contractChecks(pmdk)) it(c.name, c.run);
});
