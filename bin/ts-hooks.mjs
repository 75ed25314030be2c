// Node module hooks that load nvlab's TypeScript sources as ES modules, transpiled by
// esbuild on the fly (no build step after `npm ci`). Types are erased only; checking
// is `tsc --noEmit`. Unlike tsx, names of functions are not re-applied at run time
// (tsx's keepNames wraps every named closure in a defineProperty call, which made the
// simulator's hot paths about 30 % slower); nothing in nvlab reads Function.name.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const OPTIONS = {
  loader: 'ts',
  format: 'esm',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  // The semantics tsconfig.json asks of tsc: ES2022 class fields, imports kept as written.
  tsconfigRaw: { compilerOptions: { target: 'ES2022', useDefineForClassFields: true, verbatimModuleSyntax: true } },
};

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !(url.endsWith('.ts') || url.endsWith('.mts'))) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { code } = transformSync(readFileSync(path, 'utf8'), { ...OPTIONS, sourcefile: path });
  return { format: 'module', source: code, shortCircuit: true };
}
