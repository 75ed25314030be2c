#!/usr/bin/env node
// nvlab command-line entry: registers the TypeScript loader (bin/ts-hooks.mjs) so the
// sources run directly (no build step after `npm ci`), then hands over to experiments/cli.ts.
import './ts-register.mjs';
// `nvlab ... | head`: a closed pipe ends the output quietly, not with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../experiments/cli.ts');
process.exitCode = await main(process.argv.slice(2));
