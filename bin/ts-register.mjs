// Registers bin/ts-hooks.mjs in this thread (the CLI and every worker thread call it
// before importing TypeScript). Stack traces map back to the .ts lines with NVLAB_DEBUG=1.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
if (process.env.NVLAB_DEBUG) process.setSourceMapsEnabled(true);
