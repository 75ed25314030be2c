/**
 * The output folder: atomic writes, the per-run record store, and the run log.
 *
 * Model: every file is written to a temporary name in the same folder and renamed into
 * place, so an interrupted run never leaves a torn file. Completed runs and crash jobs
 * are kept one JSON file each (runs/<id>.json, crash-jobs/<id>.json): `--resume` skips
 * what is there, `merge` unions shard folders, and the final CSVs are rebuilt from them.
 *
 * Large files (crash.csv with every state) are written a chunk at a time
 * (writeAtomicChunks), still to a temporary name first.
 *
 * Invariants: nothing is written before `prepareOutDir` succeeded; wall-clock times go
 * to run.log and manifest.json only.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from './errors.ts';

/** The writes this module makes; tests swap one to inject an error such as ENOSPC. */
export const fsOps = { writeFileSync, renameSync, appendFileSync };

let tmpCounter = 0;
const TEMP_NAME = /^\.\d+\.\d+\.tmp$/;

const WHY: Record<string, string> = {
  ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EACCES: 'permission denied', EPERM: 'operation not permitted',
  EROFS: 'read-only file system', EIO: 'input/output error', ENOTDIR: 'a path component is a file', EISDIR: 'is a folder', EMFILE: 'too many open files',
};

/** A failed write as one line naming the path and the cause (a UserError: exit 1); non-system errors pass through. */
export function writeError(path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string') return e;
  return new UserError(`cannot write ${path}: ${code}${WHY[code] ? ` (${WHY[code]})` : ''}`);
}

export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = join(dirname(file), `.${process.pid}.${tmpCounter++}.tmp`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    fsOps.writeFileSync(tmp, data);
    fsOps.renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeError(file, e);
  }
}

/** Remove temporary files an interrupted or killed run left behind (any process's). */
export function removeStaleTemps(outDir: string): void {
  for (const sub of ['', RUNS_DIR, CRASH_DIR, 'charts']) {
    const dir = join(outDir, sub);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (TEMP_NAME.test(name) || /^\.probe\.\d+$/.test(name)) rmSync(join(dir, name), { force: true });
  }
}

/**
 * Write a file from a sequence of chunks, one at a time (memory holds one chunk), to a
 * temporary name then renamed into place: atomic like writeAtomic. On an error the
 * temporary file is removed and nothing replaces `file`.
 */
export function writeAtomicChunks(file: string, chunks: Iterable<string>): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${process.pid}.${tmpCounter++}.tmp`);
  const fd = openSync(tmp, 'w');
  let written = false;
  try {
    for (const c of chunks) if (c !== '') writeSync(fd, c);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(tmp, { force: true });
  }
  renameSync(tmp, file);
}

/** Create (if needed) and probe the output folder; a clear UserError when unwritable. */
export function prepareOutDir(dir: string): void {
  try {
    makeDirs(dir);
    const probe = join(dir, `.probe.${process.pid}`);
    try {
      fsOps.writeFileSync(probe, '');
    } finally {
      rmSync(probe, { force: true });
    }
  } catch (e) {
    throw new UserError(`cannot write to output folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** mkdir -p one level at a time (Node's recursive mkdir can spin on pseudo file systems such as /proc). */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  while (!existsSync(p)) {
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  if (!statSync(p).isDirectory()) throw Object.assign(new Error('not a directory'), { code: `ENOTDIR (${p} is a file)` });
  for (const m of missing.reverse()) mkdirSync(m);
}

export const RUNS_DIR = 'runs';
export const CRASH_DIR = 'crash-jobs';

export function recordPath(outDir: string, sub: string, id: string): string {
  return join(outDir, sub, `${id}.json`);
}

export function readRecord<T>(outDir: string, sub: string, id: string): T | undefined {
  const file = recordPath(outDir, sub, id);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined; // a torn or foreign file counts as not done
  }
}

export function writeRecord(outDir: string, sub: string, id: string, value: unknown): void {
  writeAtomic(recordPath(outDir, sub, id), `${JSON.stringify(value)}\n`);
}

/** Ids with a record file in outDir/sub. */
export function listRecords(outDir: string, sub: string): string[] {
  const dir = join(outDir, sub);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
}

/** Remove stale record files (a fresh, non-resumed run). */
export function clearRecords(outDir: string): void {
  for (const sub of [RUNS_DIR, CRASH_DIR]) rmSync(join(outDir, sub), { recursive: true, force: true });
}

export class RunLog {
  constructor(private readonly file: string) {}
  line(text: string): void {
    try {
      fsOps.appendFileSync(this.file, `${new Date().toISOString()} ${text}\n`);
    } catch (e) {
      throw writeError(this.file, e);
    }
  }
}
