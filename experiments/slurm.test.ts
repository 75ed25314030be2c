/**
 * `nvlab slurm` without Slurm: the scripts' content, running them with bash as Slurm
 * would (SLURM_ARRAY_TASK_ID / SLURM_CPUS_PER_TASK set) gives the outputs of one
 * unsharded run, bad input writes nothing, and --submit parses a fake sbatch's output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from './testing/main.ts';
import { runExperiment } from './runner.ts';
import { parseJobId, parsePartition, parseTime, shq } from './slurm.ts';
import { loadSpecFile } from './spec/resolve.ts';

let tmp: string;
let n = 0;

/** Two runs and two crash jobs per seed: small enough for a unit test, with every output file. */
const SPEC = {
  name: 'slurm-unit',
  seeds: [42, 43],
  allocators: ['transient', 'makalu'],
  workloads: [{ name: 'list', params: { opsPerThread: 8, keyRange: 4 } }],
  threads: [1],
  heapSizes: ['1MiB'],
  dramSize: '4MiB',
  crash: { allocators: ['makalu', 'pmdk'], modes: ['lower'], maxStates: 60 },
};

function specFile(spec: unknown = SPEC): string {
  const file = join(tmp, `spec${n++}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

const cli = runMain;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nvlab-slurm-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('flag parsers', () => {
  it('--time takes HH:MM:SS and D-HH:MM:SS only', () => {
    for (const ok of ['00:10:00', '1:00:00', '100:59:59', '2-00:00:00', '0-00:00:01']) expect(parseTime(ok)).toBe(ok);
    for (const bad of ['', '10', '10:00', '1:60:00', '1:00:60', '00:00:00', '0-00:00:00', 'a:b:c', '1:00:00 ', '-1:00:00']) expect(() => parseTime(bad), bad).toThrow(/--time must be HH:MM:SS or D-HH:MM:SS/);
  });

  it('--partition takes names and comma lists', () => {
    expect(parsePartition('debug,long')).toBe('debug,long');
    for (const bad of ['', 'a b', 'a;rm -rf /', 'a,', '$(x)']) expect(() => parsePartition(bad), bad).toThrow(/--partition must be/);
  });

  it('sbatch --parsable output: "<id>" or "<id>;<cluster>"', () => {
    expect(parseJobId('1234\n')).toBe('1234');
    expect(parseJobId('77;cluster-a\n')).toBe('77');
    expect(parseJobId('sbatch: warning: x\n78\n')).toBe('78');
    expect(parseJobId('Submitted batch job 12\n')).toBe(null);
    expect(parseJobId('')).toBe(null);
  });

  it('shq quotes any string so that bash gives it back unchanged', () => {
    const samples = fc.sample(fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !s.includes('\0')), { numRuns: 200, seed: 7 });
    samples.push("it's", '$HOME', '`x`', 'a b', '"q"', '\\', '!');
    const r = spawnSync('bash', ['-c', `printf '%s\\0' ${samples.map(shq).join(' ')}`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(samples);
  });
});

describe('nvlab slurm: the scripts', () => {
  it('one array task per shard with --resume, the pinned commit and workers from SLURM_CPUS_PER_TASK; the merge reads every shard', async () => {
    const out = join(tmp, 'gen', 'final');
    const r = await cli(['slurm', specFile(), '--shards', '3', '--cpus-per-task', '2', '--time', '0-02:00:00', '--partition', 'short', '--out', out], { NVLAB_GIT_COMMIT: 'c0ffee' });
    expect([r.code, r.err]).toEqual([0, '']);
    const array = readFileSync(join(`${out}-slurm`, 'array.sh'), 'utf8');
    const merge = readFileSync(join(`${out}-slurm`, 'merge.sh'), 'utf8');
    for (const line of ['#SBATCH --array=1-3', '#SBATCH --cpus-per-task=2', '#SBATCH --time=0-02:00:00', '#SBATCH --partition=short', '#SBATCH --job-name=nvlab-slurm-unit']) expect(array.split('\n')).toContain(line);
    expect(array).toContain('\nexport NVLAB_GIT_COMMIT=c0ffee   # the same commit string in every shard\n');
    expect(merge).toContain('\nexport NVLAB_GIT_COMMIT=c0ffee   # the same commit string in every shard\n');
    expect(array).toMatch(/ run \S+spec\d+\.json --quiet --resume \\\n {2}--workers "\$\{SLURM_CPUS_PER_TASK:-1\}" \\\n {2}--shard "\$\{SLURM_ARRAY_TASK_ID\}\/3" \\\n {2}--out \S+-slurm\/shards\/"\$\{SLURM_ARRAY_TASK_ID\}"\n/);
    for (const line of ['#SBATCH --kill-on-invalid-dep=yes', '#SBATCH --cpus-per-task=1', '#SBATCH --time=0-02:00:00']) expect(merge.split('\n')).toContain(line);
    expect(merge).toContain(` merge ${out}-slurm/shards/{1..3} \\\n  --out ${out}\n`);
    expect(existsSync(join(`${out}-slurm`, 'logs'))).toBe(true);
    expect(r.out).toContain(`jobid=$(sbatch --parsable ${out}-slurm/array.sh)`);
    expect(r.out).toContain(`sbatch --dependency=afterok:\${jobid%%;*} ${out}-slurm/merge.sh`);
  });

  it('run by bash as Slurm would, the shards and the merge give the outputs of one unsharded run', async () => {
    const file = specFile();
    const out = join(tmp, 'bash', 'final');
    expect((await cli(['slurm', file, '--shards', '2', '--out', out])).code).toBe(0);
    const env = { ...process.env, SLURM_CPUS_PER_TASK: '1', NVLAB_GIT_COMMIT: 'c0ffee' };
    for (const task of ['1', '2']) {
      const r = spawnSync('bash', [join(`${out}-slurm`, 'array.sh')], { env: { ...env, SLURM_ARRAY_TASK_ID: task }, encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([0, '']);
    }
    const m = spawnSync('bash', [join(`${out}-slurm`, 'merge.sh')], { env, encoding: 'utf8' });
    expect([m.status, m.stderr]).toEqual([0, '']);
    const ref = join(tmp, 'bash', 'ref');
    await runExperiment(await loadSpecFile(file), { outDir: ref, workers: 1, resume: false, quiet: true, what: 'all', specFile: file });
    for (const f of ['results.csv', 'summary.csv', 'crash.csv', 'crash-summary.csv']) expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join(ref, f), 'utf8'));
    expect(readFileSync(join(out, 'crash-summary.csv'), 'utf8').split('\n').length).toBeGreaterThan(10);
  });
});

describe('nvlab slurm: bad input writes nothing', () => {
  const cases: [string, (f: string) => string[], number, RegExp, unknown?][] = [
    ['--shards 0', (f) => [f, '--shards', '0'], 2, /--shards must be an integer in 1\.\.10000, found "0"/],
    ['--shards missing', (f) => [f], 2, /required option '--shards <n>' not specified/],
    ['malformed --time', (f) => [f, '--shards', '2', '--time', '90'], 2, /--time must be HH:MM:SS or D-HH:MM:SS .*found "90"/],
    ['--cpus-per-task 0', (f) => [f, '--shards', '2', '--cpus-per-task', '0'], 2, /--cpus-per-task must be an integer in 1\.\.256, found "0"/],
    ['a spec that does not validate', (f) => [f, '--shards', '2'], 1, /invalid experiment spec [^]*allocators\[0\]: expected an allocator name/, { ...SPEC, allocators: ['jemalloc'] }],
    ['more shards than runs and crash jobs', (f) => [f, '--shards', '9'], 1, /--shards: expected at most 8 \(the spec has 8 runs and crash jobs/],
    ['a missing spec file', () => [join(tmp, 'nope.json'), '--shards', '2'], 1, /cannot read experiment spec .*nope\.json: ENOENT/],
  ];
  for (const [name, args, code, message, spec] of cases) {
    it(name, async () => {
      const out = join(tmp, `bad${n++}`);
      const r = await cli(['slurm', ...args(specFile(spec)), '--out', out]);
      expect(r.code).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect([existsSync(out), existsSync(`${out}-slurm`)]).toEqual([false, false]);
    });
  }

  it('--submit without sbatch on PATH', async () => {
    const out = join(tmp, `bad${n++}`);
    const empty = join(tmp, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const r = await cli(['slurm', specFile(), '--shards', '2', '--out', out, '--submit'], { PATH: empty });
    expect([r.code, r.err]).toEqual([1, 'nvlab: --submit: sbatch not found on PATH (run on a Slurm login node, or drop --submit to only write the scripts)\n']);
    expect([existsSync(out), existsSync(`${out}-slurm`)]).toEqual([false, false]);
  });

  it('shard folders left by another spec', async () => {
    const out = join(tmp, `bad${n++}`);
    const shard = join(`${out}-slurm`, 'shards', '1');
    mkdirSync(shard, { recursive: true });
    writeFileSync(join(shard, 'manifest.json'), JSON.stringify({ specHash: 'f'.repeat(64) }));
    const r = await cli(['slurm', specFile(), '--shards', '2', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/shards\/1 holds a shard of a different spec \(hash ffffffffffff, this spec [0-9a-f]{12}\); use another --out or remove /);
    expect(existsSync(join(`${out}-slurm`, 'array.sh'))).toBe(false);
  });
});

describe('nvlab slurm --submit with a fake sbatch', () => {
  /** A fake sbatch: logs its arguments, prints the next id (or fails when FAKE_SBATCH_FAIL is set). */
  function fakeSbatch(dir: string): string {
    mkdirSync(dir, { recursive: true });
    const script = [
      '#!/bin/sh',
      `echo "$*" >> "${dir}/calls"`,
      'if [ -n "$FAKE_SBATCH_FAIL" ]; then echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1; fi',
      `count=$(wc -l < "${dir}/calls")`,
      'if [ "$count" -eq 1 ]; then echo 4711; else echo "4712;cluster-a"; fi',
    ].join('\n');
    writeFileSync(join(dir, 'sbatch'), `${script}\n`, { mode: 0o755 });
    return dir;
  }

  it('submits the array, then the merge with afterok on its id, and prints both ids', async () => {
    const bin = fakeSbatch(join(tmp, 'fake1'));
    const out = join(tmp, 'sub', 'final');
    const r = await cli(['slurm', specFile(), '--shards', '4', '--out', out, '--submit'], { PATH: `${bin}:${process.env.PATH}` });
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toContain('nvlab: submitted array job 4711 (tasks 1-4) and merge job 4712 (runs once every task succeeded)\n');
    expect(readFileSync(join(bin, 'calls'), 'utf8')).toBe(`--parsable ${out}-slurm/array.sh\n--parsable --dependency=afterok:4711 ${out}-slurm/merge.sh\n`);
  });

  it('a failing sbatch: its message, exit 1', async () => {
    const bin = fakeSbatch(join(tmp, 'fake2'));
    const out = join(tmp, 'sub2', 'final');
    const r = await cli(['slurm', specFile(), '--shards', '2', '--out', out, '--submit'], { PATH: `${bin}:${process.env.PATH}`, FAKE_SBATCH_FAIL: '1' });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`nvlab: sbatch ${out}-slurm/array.sh failed (exit 1): sbatch: error: Batch job submission failed: Invalid partition name specified\n`);
  });
});
