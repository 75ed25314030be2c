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

/**
 * TypeScript's NodeNext style names a sibling `foo.ts` as './foo.js': when such a
 * specifier from a .ts module does not resolve, try the .ts file (users' allocator and
 * workload modules may be written that way; nvlab itself imports './foo.ts').
 */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    const fromTs = context.parentURL?.endsWith('.ts') === true;
    if (!fromTs || e?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.{1,2}\/.*\.js$/.test(specifier)) throw e;
    try {
      return await nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    } catch {
      throw e; // neither exists: report the name as written
    }
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !(url.endsWith('.ts') || url.endsWith('.mts'))) return nextLoad(url, context);
  const path = fileURLToPath(url);
  let code;
  try {
    ({ code } = transformSync(readFileSync(path, 'utf8'), { ...OPTIONS, sourcefile: path }));
  } catch (e) {
    throw syntaxError(e, path);
  }
  return { format: 'module', source: code, shortCircuit: true };
}

/**
 * esbuild's "Transform failed with 1 error:" puts the location on a later line, which a
 * one-line report drops: lead with `file:line:column: text` of its first error instead.
 */
export function syntaxError(e, path) {
  const first = e?.errors?.[0];
  if (!first) return e;
  const loc = first.location;
  const where = loc ? `${loc.file || path}:${loc.line}:${loc.column + 1}` : path;
  const more = e.errors.length > 1 ? ` (+${e.errors.length - 1} more)` : '';
  const err = new SyntaxError(`${where}: ${first.text}${more}${loc?.lineText ? ` in "${loc.lineText.trim().slice(0, 80)}"` : ''}`);
  err.cause = e;
  return err;
}
