/**
 * Reliability under faults, interrupts and hostile plug-ins (issue 16), one block per
 * case: a resumed complete folder is a no-op; `unknown` crash states are not a pass;
 * the watchdog stops plug-in code that loops in plain JavaScript (malloc and recovery,
 * in `run` and in `check-allocator`) while the rest of the study goes on; SIGINT and
 * SIGTERM keep completed work and print the resume command; a full disk is one line
 * and leaves no temporary file; bad flags and bounds are refused up front.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WORKERS } from './cli.ts';
import { runMain } from './testing/main.ts';
import { fsOps } from './output.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin/nvlab.mjs');
const FIX = join(ROOT, 'experiments/fixtures');
const HOSTILE = join(FIX, 'hostile');
const ENV = { ...process.env, NVLAB_GIT_COMMIT: 'reliability-test', CI: 'true' };
let tmp: string;
let n = 0;

const TINY = {
  seeds: [42],
  workloads: [{ name: 'list', params: { opsPerThread: 8 } }],
  heapSizes: ['1MiB'],
  dramSize: '4MiB',
};

function specFile(spec: object): string {
  const file = join(tmp, `spec${n++}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

function nvlab(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: ENV });
}

/** `main` in-process with stdout and stderr captured. */
const inProcess = (args: string[]) => runMain(args);

/** Every file under dir (relative path -> bytes). */
function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(p.slice(dir.length + 1), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

function temps(dir: string): string[] {
  return [...snapshot(dir).keys()].filter((f) => /(^|\/)\.\d+\.\d+\.tmp$/.test(f));
}

const NO_TRACE = /\n\s+at .*:\d+:\d+/;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nvlab-reliability-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--resume of a complete folder', () => {
  it('is a no-op that says so and exits 0, three times over, leaving every byte as it was', async () => {
    const spec = specFile({ name: 'resume-done', ...TINY, allocators: ['transient', 'makalu'], crash: { modes: ['lower'] } });
    const out = join(tmp, 'resume-done');
    const first = await inProcess(['run', spec, '--out', out, '--workers', '2']);
    expect(first.err).not.toMatch(NO_TRACE);
    expect(first.code).toBe(0);
    const before = snapshot(out);
    for (let i = 0; i < 3; i++) {
      const again = await inProcess(['run', spec, '--out', out, '--workers', '2', '--resume']);
      expect(again.err).toBe('');
      expect(again.code).toBe(0);
      expect(again.out).toMatch(/is already complete .*nothing to do/);
      const after = snapshot(out);
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [f, bytes] of before) expect(after.get(f)!.equals(bytes), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).status).toBe('complete');
  });
});

describe('a crash record of an older nvlab', () => {
  it('(point tallies as a list of objects) is checked again by --resume, to the bytes of a fresh run; merge refuses it', async () => {
    const spec = specFile({ name: 'old-record', ...TINY, allocators: ['makalu'], crash: { modes: ['lower'] } });
    const out = join(tmp, 'old-record');
    expect((await inProcess(['run', spec, '--out', out, '--workers', '1', '--quiet'])).code).toBe(0);
    const before = snapshot(out);
    const [name] = readdirSync(join(out, 'crash-jobs'));
    const file = join(out, 'crash-jobs', name);
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    const { tallies, ...rest } = rec;
    // The older format: a list of point tallies (a job without a cap checks every point).
    expect(tallies.checked.length).toBe(tallies.crashPoints.length);
    writeFileSync(file, JSON.stringify({ ...rest, points: tallies.checked }));
    const merged = await inProcess(['merge', out, '--out', join(tmp, 'old-record-merged')]);
    expect(merged.code).toBe(1);
    expect(merged.err).toMatch(/has no per-point tallies of this format \(written by an older nvlab\); rerun that shard with --resume/);
    const again = await inProcess(['run', spec, '--out', out, '--workers', '1', '--quiet', '--resume']);
    expect(again.code).toBe(0);
    const after = snapshot(out);
    for (const [f, bytes] of before) if (!/^(manifest\.json|run\.log|report\.html)$/.test(f)) expect(after.get(f)!.equals(bytes), f).toBe(true);
  });
});

describe('unknown crash states are not a pass', () => {
  const THROWING = join(HOSTILE, 'throwing-recovery.ts');

  it('check-allocator fails and shows the first recovery error (the plug-in\'s own class) with its replay command', async () => {
    const r = await inProcess(['check-allocator', THROWING]);
    expect(r.err).toBe('');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/crash list malloc-then-link line lower: \d+ states, 0 invalid, [1-9]\d* unknown/);
    expect(r.out).toMatch(/first unknown state .*: RecoveryFailed: log header unreadable\n {4}replay: npx nvlab replay nv1\.\S+ --allocator \S*throwing-recovery\.ts/);
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('FAIL');
  });

  it('a spec run reports them and exits 3', async () => {
    const spec = specFile({ name: 'unknown', ...TINY, allocators: [THROWING], crash: { modes: ['lower'] } });
    const out = join(tmp, 'unknown');
    const r = await inProcess(['run', spec, '--out', out, '--workers', '1', '--quiet']);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/0 invalid, [1-9]\d* unknown\)/);
    expect(r.err).toMatch(/crash states are unknown \(the checker could not decide; not a pass\), exit status 3; first: throwing-recovery list .*RecoveryFailed: log header unreadable\n {2}replay: nvlab replay nv1\.\S+ --allocator \S+throwing-recovery\.ts\n/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/unknown \d+\/\d+/);
  });
});

describe('the watchdog', () => {
  it('stops a looping malloc and a looping recovery in a run with --workers 1; the other jobs complete', async () => {
    const spec = specFile({
      name: 'loops', ...TINY, allocators: ['transient', join(HOSTILE, 'loop-malloc.ts'), join(HOSTILE, 'loop-recovery.ts')], crash: { modes: ['lower'] },
    });
    const out = join(tmp, 'loops');
    const t0 = performance.now();
    const r = await inProcess(['run', spec, '--out', out, '--workers', '1', '--quiet', '--task-budget', '2']);
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(NO_TRACE);
    expect(r.err).toMatch(/nvlab: 3 tasks failed; the other 2 runs and 1 crash jobs completed/);
    expect(r.err).toMatch(/- run \S+loop-malloc\S+ \(allocator loop-malloc, workload list\): stopped by the watchdog in malloc in op #\d+ \(thread 0\): still running after its 2 s budget/);
    expect(r.err).toMatch(/- crash job \S+ \(allocator loop-malloc, workload list, malloc-then-link, line, lower\): stopped by the watchdog in malloc/);
    expect(r.err).toMatch(/- crash job \S+ \(allocator loop-recovery, workload list, malloc-then-link, line, lower\): stopped by the watchdog in recovery \(open\) of recovered image #1/);
    expect(r.err).toMatch(/rerun with:\n {2}nvlab run \S+ --out \S+ --workers 1 --task-budget 2 --resume/);
    expect(readdirSync(join(out, 'runs')).length).toBe(2);
    expect(readdirSync(join(out, 'crash-jobs')).length).toBe(1);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.status).toBe('failed');
    expect(manifest.failures).toHaveLength(3);
    expect(seconds).toBeLessThan(60); // a few seconds on an idle machine; generous for a shared one
  });

  it('stops a looping malloc and a looping recovery in check-allocator', async () => {
    for (const [mod, phase] of [['loop-malloc.ts', /malloc in op #\d+ \(thread 0\)/], ['loop-recovery.ts', /recovery \(open\) of recovered image #1/]] as const) {
      const r = await inProcess(['check-allocator', join(HOSTILE, mod), '--task-budget', '2']);
      expect(r.err).toBe('');
      expect(r.code).toBe(1);
      const lines = r.out.split('\n');
      expect(lines.filter((l) => l.includes('STOPPED by the watchdog')).length).toBeGreaterThanOrEqual(2);
      expect(r.out).toMatch(new RegExp(`crash list malloc-then-link line upper: STOPPED by the watchdog in ${phase.source}: still running after 2 s`));
      expect(lines.filter((l) => l !== '').at(-1)).toBe('FAIL');
    }
  });

  it('a plug-in that posts stray messages and ends its worker thread is one failure line; the study goes on', async () => {
    const spec = specFile({ name: 'rogue', ...TINY, allocators: ['transient', join(HOSTILE, 'rogue-exit.ts')] });
    const out = join(tmp, 'rogue');
    const r = await inProcess(['run', spec, '--out', out, '--workers', '2', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(NO_TRACE);
    expect(r.err).not.toMatch(/Unexpected message/);
    expect(r.err).toMatch(/- run \S+ \(allocator rogue-exit, workload list\): its worker thread stopped unexpectedly \(exit code 7\) in malloc in op #\d+ \(thread 0\)/);
    expect(readdirSync(join(out, 'runs'))).toHaveLength(1);
  });

  it('budgets: the flag, else the spec field; bad values are usage errors', async () => {
    const bad = await inProcess(['run', 'x.json', '--task-budget', '0']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--task-budget must be a number of seconds/);
    const spec = specFile({ name: 'budget', ...TINY, allocators: ['transient'], taskBudgetSeconds: -1 });
    const r = await inProcess(['run', spec, '--out', join(tmp, 'budget'), '--quiet']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/taskBudgetSeconds: expected a number > 0, found -1/);
  });
});

describe('interrupts', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} keeps the completed runs, marks the manifest interrupted and prints the resume command`, async () => {
      // transient completes at once; loop-malloc hangs (a long budget) until the signal.
      const spec = specFile({ name: `interrupt-${signal}`, ...TINY, allocators: ['transient', join(HOSTILE, 'loop-malloc.ts')] });
      const out = join(tmp, `interrupt-${signal}`);
      const child = spawn(process.execPath, [BIN, 'run', spec, '--out', out, '--workers', '1', '--task-budget', '600'], { env: ENV });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const done = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      const log = join(out, 'run.log');
      for (let i = 0; i < 1200 && !(existsSync(log) && readFileSync(log, 'utf8').includes('run list.')); i++) await new Promise((r) => setTimeout(r, 50));
      child.kill(signal);
      expect(await done).toBe(code);
      expect(stderr).not.toMatch(NO_TRACE);
      expect(stderr).toMatch(new RegExp(`interrupted by ${signal}: kept 1 of 2 runs and 0 of 0 crash jobs in \\S+ \\(completed ones only, no partial file\\); continue with:\\n {2}nvlab run \\S+ --out \\S+ --workers 1 --task-budget 600 --resume`));
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
      expect([manifest.status, manifest.interruptedBy, manifest.counts.keptRuns]).toEqual(['interrupted', signal, 1]);
      expect(temps(out)).toEqual([]);
    });
  }

  it('stale temporary files are removed on start', async () => {
    const out = join(tmp, 'stale');
    mkdirSync(join(out, 'runs'), { recursive: true });
    writeFileSync(join(out, '.999.1.tmp'), '');
    writeFileSync(join(out, 'runs', '.999.2.tmp'), 'torn');
    const spec = specFile({ name: 'stale', ...TINY, allocators: ['transient'] });
    const r = await inProcess(['run', spec, '--out', out, '--workers', '1', '--quiet', '--resume']);
    expect(r.code).toBe(0);
    expect(temps(out)).toEqual([]);
  });
});

describe('a full disk', () => {
  it('exits 1 with one line naming the path, and leaves no temporary file', async () => {
    const spec = specFile({ name: 'full', ...TINY, allocators: ['transient', 'makalu'] });
    const out = join(tmp, 'full');
    const real = fsOps.writeFileSync;
    let writes = 0;
    // The third file written (a run record) runs out of space half-way: the file exists, then ENOSPC.
    fsOps.writeFileSync = ((file: string, data: string | Uint8Array) => {
      if (String(file).endsWith('.tmp') && ++writes === 3) {
        real(file, '');
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
      }
      return real(file, data);
    }) as typeof fsOps.writeFileSync;
    try {
      const r = await inProcess(['run', spec, '--out', out, '--workers', '1', '--quiet']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^nvlab: cannot write \S+full\/\S+\.json: ENOSPC \(no space left on device\)\n$/);
      expect(temps(out)).toEqual([]);
    } finally {
      fsOps.writeFileSync = real;
    }
  });
});

describe('flags and bounds refused up front', () => {
  it("--out '' is a usage error", async () => {
    const r = await inProcess(['run', specFile({ name: 'x', ...TINY, allocators: ['transient'] }), '--out', '']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out must name a folder, found an empty string/);
  });

  it('heap sizes beyond the simulated machine give a field error, no trace', async () => {
    for (const size of ['8GiB', '3GiB']) {
      const r = await inProcess(['run', specFile({ name: 'big', ...TINY, allocators: ['transient'], heapSizes: [size] }), '--out', join(tmp, 'big')]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`heapSizes\\[0\\]: expected a multiple of 4 KiB from 64 KiB to 3221221376 B .*, found "${size}"`));
      expect(r.err).not.toMatch(NO_TRACE);
      expect(existsSync(join(tmp, 'big'))).toBe(false);
    }
  });

  it('--workers above the maximum is a usage error; above the core count a warning', async () => {
    const r = await inProcess(['run', 'x.json', '--workers', String(MAX_WORKERS + 1)]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`--workers must be an integer in 1\\.\\.${MAX_WORKERS}, found "${MAX_WORKERS + 1}"`));
    expect(MAX_WORKERS).toBe(Math.min(256, Math.max(64, 2 * availableParallelism())));
    const cores = availableParallelism();
    if (cores < 64) {
      const w = await inProcess(['run', join(tmp, 'missing.json'), '--workers', String(cores + 1)]);
      expect(w.err).toMatch(new RegExp(`warning: --workers ${cores + 1} is more than the ${cores} cores available`));
      expect(w.code).toBe(1);
    }
  });

  it('--modes bogus and --persistency bogus are usage errors naming the flag', async () => {
    const spec = specFile({ name: 'flags', ...TINY, allocators: ['transient'] });
    const m = await inProcess(['crash', spec, '--modes', 'lower,bogus']);
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/--modes: expected a comma-separated list of lower, .*, found "bogus"/);
    const p = await inProcess(['crash', spec, '--persistency', 'bogus']);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/--persistency: expected a comma-separated list of line, word, eadr, found "bogus"/);
    expect(p.err).not.toMatch(/crash/);
  });

  it('check-allocator --workload bogus is refused before the suite runs', async () => {
    const r = await inProcess(['check-allocator', join(FIX, 'bump-allocator.ts'), '--workload', 'bogus']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--workload: expected one of .*list.*, found "bogus"/);
    expect(r.out).toBe('');
  });

  it('a plug-in with a syntax error is reported with its line and column (through the bin, whose loader is bin/ts-hooks.mjs)', () => {
    const mod = join(tmp, 'broken-alloc.ts');
    writeFileSync(mod, 'export default {\n  name: "broken",\n  idioms: [,\n');
    const r = nvlab(['run', specFile({ name: 'syntax', ...TINY, allocators: [mod] }), '--out', join(tmp, 'syntax')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/allocators\[0\]: .*broken-alloc\.ts:4:1: Unexpected end of file/);
  });
});

