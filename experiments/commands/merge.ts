/** `nvlab merge <dirs...> --out DIR`. */
import { relative, resolve } from 'node:path';
import { mergeDirs } from '../merge.ts';

export async function mergeCommand(dirs: string[], outDir: string, out: (s: string) => void): Promise<void> {
  const r = await mergeDirs(dirs, outDir);
  const rel = relative(process.cwd(), resolve(outDir));
  const where = rel === '' ? '.' : rel.startsWith('..') ? resolve(outDir) : rel;
  out(`nvlab: merged ${dirs.length} folders: ${r.runs} runs, ${r.crashJobs} crash jobs -> ${where}/ (${r.files.filter((f) => !f.startsWith('charts/')).join(', ')})\n`);
}
