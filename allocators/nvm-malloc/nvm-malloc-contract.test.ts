import { describe, it } from 'vitest';
import { contractChecks } from '../contract-suite.ts';
import { nvmMalloc } from './index.ts';

describe('nvm-malloc: contract suite (1 and 4 cores)', () => {
  for (const c of contractChecks(nvmMalloc)) it(c.name, c.run);
});
