/**
 * `nvlab calibrate` without the native tools: a clear message naming the Debian packages,
 * exit 1, nothing written (the compiler's absence is simulated with an empty PATH, so this
 * test needs no compiler). The native run itself is `npm run calibrate`, outside npm test.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../cli.ts';
import { UserError } from '../errors.ts';
import { calibrate, cpuInfo, findOnPath } from './run.ts';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), 'nvlab-calib-test-'));
}

describe('missing tools', () => {
  it('calibrate() throws a UserError naming build-essential, libjemalloc-dev and libpmemobj-dev, and writes nothing', () => {
    const out = join(emptyDir(), 'out');
    expect(() => calibrate({ out, env: { PATH: emptyDir() }, log: () => {} })).toThrow(UserError);
    expect(() => calibrate({ out, env: { PATH: emptyDir() }, log: () => {} })).toThrow(/no C compiler \("cc"\) on PATH.*build-essential.*libjemalloc-dev.*libpmemobj-dev/);
    expect(existsSync(out)).toBe(false);
  });

  it('the CLI prints one line and exits 1', async () => {
    const out = join(emptyDir(), 'out');
    process.env.PATH = emptyDir();
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => errors.push(String(s)) > 0) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['calibrate', '--out', out]);
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(1);
    const text = errors.join('');
    expect(text).toMatch(/^nvlab: calibrate: no C compiler/m);
    expect(text).toMatch(/apt-get install -y build-essential libjemalloc-dev libpmemobj-dev/);
    expect(text).not.toMatch(/at .*\.ts:\d+/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('missing libraries', () => {
  it.runIf(process.arch === 'x64')('a compiler that cannot find jemalloc and libpmemobj headers gives one error naming both packages, and writes nothing', () => {
    // A stand-in "cc" (shell builtins only): fails like gcc for the jemalloc and pmemobj builds, "builds" the others.
    const bin = emptyDir();
    const script = [
      '#!/bin/sh',
      'out=""; prev=""; for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done',
      'case " $* " in',
      '  *-DALLOC_JEMALLOC*) echo "alloc.c:33:10: fatal error: jemalloc/jemalloc.h: No such file or directory" >&2; exit 1;;',
      '  *-DALLOC_PMEMOBJ*) echo "alloc.c:23:10: fatal error: libpmemobj.h: No such file or directory" >&2; exit 1;;',
      'esac',
      ': > "$out"',
    ].join('\n');
    writeFileSync(join(bin, 'cc'), `${script}\n`);
    chmodSync(join(bin, 'cc'), 0o755);
    const out = join(emptyDir(), 'out');
    expect(() => calibrate({ out, env: { PATH: bin }, log: () => {} })).toThrow(/missing libjemalloc-dev and libpmemobj-dev .*apt-get install -y build-essential libjemalloc-dev libpmemobj-dev/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('helpers', () => {
  it('findOnPath finds an executable file and skips non-executables and empty entries', () => {
    const a = emptyDir();
    const b = emptyDir();
    writeFileSync(join(a, 'cc'), '');
    chmodSync(join(a, 'cc'), 0o644);
    writeFileSync(join(b, 'cc'), '#!/bin/sh\n');
    chmodSync(join(b, 'cc'), 0o755);
    mkdirSync(join(a, 'sub'));
    expect(findOnPath('cc', `:${a}:${b}`)).toBe(join(b, 'cc'));
    expect(findOnPath('cc', a)).toBeUndefined();
    expect(findOnPath('cc', undefined)).toBeUndefined();
  });

  it('cpuInfo reads the model name and MHz of /proc/cpuinfo text', () => {
    expect(cpuInfo('processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2096.010\n')).toEqual({ cpuModel: 'AMD EPYC', cpuinfoMHz: 2096.01 });
    expect(cpuInfo('')).toEqual({ cpuModel: 'unknown', cpuinfoMHz: null });
  });
});
