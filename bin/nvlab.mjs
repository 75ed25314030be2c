#!/usr/bin/env node
// nvlab command-line entry: registers the tsx loader so the TypeScript sources run
// directly (no build step after `npm ci`), then hands over to experiments/cli.ts.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../experiments/cli.ts');
process.exitCode = await main(process.argv.slice(2));
