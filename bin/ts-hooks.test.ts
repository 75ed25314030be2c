/**
 * The TypeScript module hook (bin/ts-hooks.mjs) as users meet it: a .ts module runs with
 * its types erased, NodeNext-style './x.js' specifiers find the sibling x.ts, and a
 * module that exists under neither name is reported by the name as written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REGISTER = join(resolve(dirname(fileURLToPath(import.meta.url))), 'ts-register.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'nvlab-hooks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(file: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', REGISTER, file], { encoding: 'utf8' });
}

describe('TypeScript module hook', () => {
  it('runs a .ts module importing a sibling through a .js specifier', () => {
    writeFileSync(join(tmp, 'helper.ts'), 'export const answer: number = 6 * 7;\n');
    writeFileSync(join(tmp, 'main.ts'), "import { answer } from './helper.js';\ninterface T { x: number }\nconst t: T = { x: answer };\nconsole.log(`answer ${t.x}`);\n");
    const r = run(join(tmp, 'main.ts'));
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('answer 42');
  });

  it('reports a syntax error with its file, line and column on the first line', () => {
    writeFileSync(join(tmp, 'syntax.ts'), 'export const a = 1;\nexport const b = (;\n');
    const r = run(join(tmp, 'syntax.ts'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/SyntaxError.*: .*syntax\.ts:2:19: Unexpected ";"/);
  });

  it('names a missing module as it was written', () => {
    writeFileSync(join(tmp, 'bad.ts'), "import './missing.js';\n");
    const r = run(join(tmp, 'bad.ts'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find module '.*missing\.js'/);
  });
});
