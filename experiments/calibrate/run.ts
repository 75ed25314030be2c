/**
 * `nvlab calibrate`: build the native microbenchmarks of experiments/calibrate/native with
 * the host's C compiler, run them (and callgrind when valgrind is installed), and write
 * calibration.json and host-preset.json.
 *
 * Model: tools are checked first (cc on PATH, then a test build of every program, which
 * finds missing jemalloc / libpmemobj headers and libraries); any missing piece is one
 * UserError naming the Debian packages, before anything is written. Binaries and the
 * libpmemobj pool live in a temporary folder (the pool on /dev/shm when writable), removed
 * at the end. Progress goes to stderr.
 *
 * Invariants: the output folder is touched only after every measurement succeeded; both
 * files are written atomically. Timings are host measurements and vary run to run: each is
 * kept with all its repetitions, median, min, max and spread.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { arch, availableParallelism, release, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { writeAtomic } from '../output.ts';
import { parseBenchOutput, parseCallgrindInclusive, summarize, type Summary } from './parse.ts';
import { buildHostPreset, CALIBRATION_FORMAT, type Calibration, type InstructionCount } from './preset.ts';

export const NATIVE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'native');
export const INSTALL_HINT = 'sudo apt-get install -y build-essential libjemalloc-dev libpmemobj-dev (valgrind optional, for instruction counts)';

/** An executable of that name on the PATH given, or undefined. */
export function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}

interface Program {
  readonly name: string;
  readonly source: string;
  readonly flags: readonly string[];
  readonly libs: readonly string[];
  /** Debian package that provides the headers and library. */
  readonly pkg?: string;
}

const PROGRAMS: readonly Program[] = [
  { name: 'alloc-glibc', source: 'alloc.c', flags: ['-DALLOC_GLIBC'], libs: [] },
  { name: 'alloc-jemalloc', source: 'alloc.c', flags: ['-DALLOC_JEMALLOC'], libs: ['-ljemalloc'], pkg: 'libjemalloc-dev' },
  { name: 'alloc-pmemobj', source: 'alloc.c', flags: ['-DALLOC_PMEMOBJ'], libs: ['-lpmemobj'], pkg: 'libpmemobj-dev' },
  { name: 'persist', source: 'persist.c', flags: [], libs: [] },
  { name: 'mutex', source: 'mutex.c', flags: ['-pthread'], libs: [] },
];

export interface CalibrateOptions {
  readonly out: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (s: string) => void;
  /** Repetitions of each timing (default 11; mutex uses max(3, reps / 2)). */
  readonly reps?: number;
}

interface Step {
  readonly name: string;
  readonly build: string;
  readonly run: string;
}

/** Check cc, then build every program into `dir`; a UserError naming the packages when something is missing. */
export function buildPrograms(dir: string, env: NodeJS.ProcessEnv): { cc: string; builds: Record<string, string> } {
  const cc = findOnPath('cc', env.PATH);
  if (!cc) throw new UserError(`calibrate: no C compiler ("cc") on PATH; install the Debian packages build-essential, libjemalloc-dev and libpmemobj-dev: ${INSTALL_HINT}`);
  if (arch() !== 'x64') throw new UserError(`calibrate: the persistence microbenchmark uses x86-64 instructions (clwb, clflushopt); this host is ${arch()}`);
  const missing: string[] = [];
  const builds: Record<string, string> = {};
  for (const p of PROGRAMS) {
    const args = ['-O2', '-Wall', ...p.flags, '-o', join(dir, p.name), join(NATIVE_DIR, p.source), ...p.libs];
    builds[p.name] = `cc ${args.map((a) => a.replace(dir, '$BUILD').replace(NATIVE_DIR, 'experiments/calibrate/native')).join(' ')}`;
    try {
      execFileSync(cc, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const stderr = String((e as { stderr?: Buffer }).stderr ?? '');
      if (p.pkg && /No such file|cannot find -l|not found/.test(stderr)) missing.push(p.pkg);
      else throw new UserError(`calibrate: building ${p.name} failed: ${stderr.split('\n').find((l) => /error/.test(l)) ?? stderr.split('\n')[0]}`);
    }
  }
  if (missing.length > 0) throw new UserError(`calibrate: missing ${missing.join(' and ')} (headers or library not found by cc); install the Debian packages build-essential, libjemalloc-dev and libpmemobj-dev: ${INSTALL_HINT}`);
  return { cc, builds };
}

function runProgram(file: string, args: readonly string[], env: NodeJS.ProcessEnv, label: string): string {
  try {
    return execFileSync(file, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; status?: number };
    throw new UserError(`calibrate: ${label} failed (exit ${err.status ?? '?'}): ${String(err.stderr ?? '').trim().split('\n')[0]}`);
  }
}

function firstLine(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

function debVersion(pkg: string, env: NodeJS.ProcessEnv): string {
  const v = firstLine('dpkg-query', ['-W', '-f=${Version}', pkg], env);
  return v === '' ? 'unknown' : v;
}

export function cpuInfo(text: string): { cpuModel: string; cpuinfoMHz: number | null } {
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1];
  return { cpuModel: model, cpuinfoMHz: mhz ? Number(mhz) : null };
}

function poolDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** Run everything and write the two files; returns their paths. */
export function calibrate(opts: CalibrateOptions): string[] {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((s: string) => void process.stderr.write(s));
  const reps = opts.reps ?? 11;
  const build = mkdtempSync(join(tmpdir(), 'nvlab-calibrate-'));
  const pool = join(poolDir(), `nvlab-calibrate-${process.pid}.pool`);
  try {
    log('calibrate: building the native programs (cc -O2)\n');
    const { cc, builds } = buildPrograms(build, env);
    const valgrind = findOnPath('valgrind', env.PATH);
    const annotate = findOnPath('callgrind_annotate', env.PATH);
    const measurements: Record<string, Summary> = {};
    const info: Record<string, Record<string, string>> = {};
    const steps: Step[] = [];
    const cpus = availableParallelism();
    const pmemEnv = { ...env, PMEM_IS_PMEM_FORCE: '1' };
    const noFlushEnv = { ...pmemEnv, PMEM_NO_FLUSH: '1' };
    const allocRuns: [string, string, NodeJS.ProcessEnv, string, string[]][] = [
      ['glibc', 'alloc-glibc', env, '', ['1000000', String(reps)]],
      ['jemalloc', 'alloc-jemalloc', env, '', ['1000000', String(reps)]],
      ['pmemobj', 'alloc-pmemobj', pmemEnv, 'PMEM_IS_PMEM_FORCE=1 ', ['20000', String(reps), pool]],
      ['pmemobj-noflush', 'alloc-pmemobj', noFlushEnv, 'PMEM_IS_PMEM_FORCE=1 PMEM_NO_FLUSH=1 ', ['20000', String(reps), pool]],
    ];
    const mutexArgs = [String(Math.max(4, cpus)), '200', '200', String(Math.max(3, reps >> 1))];
    const total = allocRuns.length + 2 + (valgrind && annotate ? allocRuns.length : 0);
    let n = 0;
    const progress = (what: string) => log(`calibrate: [${++n}/${total}] ${what}\n`);
    const collect = (prefix: string, program: string, text: string) => {
      const out = parseBenchOutput(text, program);
      for (const [name, r] of Object.entries(out.results)) measurements[`${prefix}.${name}`] = summarize(r.unit, r.values);
      info[prefix] = { ...(info[prefix] ?? {}), ...out.info };
    };
    for (const [variant, prog, e, envText, args] of allocRuns) {
      progress(`64 B alloc+free pairs, ${variant}`);
      collect(`alloc.${variant}`, prog, runProgram(join(build, prog), args, e, prog));
      steps.push({ name: `alloc.${variant}`, build: builds[prog], run: `${envText}$BUILD/${prog} ${args.join(' ').replace(pool, '$POOL')}` });
    }
    progress('store + clwb + sfence, flush pipeline, fences, CAS, clwb retention');
    collect('persist', 'persist', runProgram(join(build, 'persist'), ['100000', String(reps)], env, 'persist'));
    steps.push({ name: 'persist', build: builds.persist, run: `$BUILD/persist 100000 ${reps}` });
    progress(`pthread mutex: contended handoff (2..${mutexArgs[0]} threads), spin window, wake-to-run latency`);
    collect('mutex', 'mutex', runProgram(join(build, 'mutex'), mutexArgs, env, 'mutex'));
    steps.push({ name: 'mutex', build: builds.mutex, run: `$BUILD/mutex ${mutexArgs.join(' ')}` });

    let instructions: Calibration['instructions'];
    if (valgrind && annotate) {
      const perCall: Record<string, InstructionCount> = {};
      for (const [variant, prog, e, envText] of allocRuns) {
        progress(`instruction counts under callgrind, ${variant}`);
        const calls = variant.startsWith('pmemobj') ? 5000 : 20000;
        const outFile = join(build, `callgrind.${variant}.out`);
        const args = ['--tool=callgrind', `--callgrind-out-file=${outFile}`, join(build, prog), '--callgrind', String(calls), ...(variant.startsWith('pmemobj') ? [pool] : [])];
        runProgram(valgrind, args, e, `valgrind ${prog}`);
        const listing = runProgram(annotate, ['--inclusive=yes', '--threshold=100', outFile], env, 'callgrind_annotate');
        const ir = parseCallgrindInclusive(listing, ['nv_alloc_one', 'nv_free_one', 'nv_empty']);
        if (ir.nv_alloc_one === undefined || ir.nv_free_one === undefined) throw new UserError(`calibrate: callgrind_annotate listed no nv_alloc_one / nv_free_one for ${variant}`);
        const overhead = ir.nv_empty ?? 0;
        const [a, f] = variant.startsWith('pmemobj') ? ['pmemobj_alloc', 'pmemobj_free'] : ['malloc', 'free'];
        perCall[`${variant}.${a}`] = { perCall: Math.round((ir.nv_alloc_one - overhead) / calls), calls };
        perCall[`${variant}.${f}`] = { perCall: Math.round((ir.nv_free_one - overhead) / calls), calls };
        steps.push({ name: `callgrind.${variant}`, build: builds[prog], run: `${envText}valgrind --tool=callgrind --callgrind-out-file=OUT $BUILD/${prog} --callgrind ${calls}${variant.startsWith('pmemobj') ? ' $POOL' : ''} && callgrind_annotate --inclusive=yes --threshold=100 OUT: (Ir(nv_alloc_one|nv_free_one) - Ir(nv_empty)) / ${calls}` });
      }
      instructions = { status: 'measured', perCall };
    } else {
      log('calibrate: valgrind not found: no instruction counts (install the Debian package valgrind), ipcMilli left out\n');
      instructions = { status: 'skipped', reason: 'valgrind / callgrind_annotate not on PATH' };
    }

    const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const calibration: Calibration = {
      format: CALIBRATION_FORMAT,
      createdAt: new Date().toISOString(),
      host: { ...cpuInfo(cpuinfo), onlineCpus: cpus, kernel: release() },
      toolchain: {
        compiler: firstLine(cc, ['--version'], env),
        glibc: firstLine('ldd', ['--version'], env),
        jemalloc: info['alloc.jemalloc']?.jemalloc_version ?? debVersion('libjemalloc-dev', env),
        'libjemalloc-dev': debVersion('libjemalloc-dev', env),
        'libpmemobj-dev': debVersion('libpmemobj-dev', env),
        valgrind: valgrind ? firstLine(valgrind, ['--version'], env) : 'not installed',
      },
      commands: [...steps, { name: 'notes', build: '$BUILD is a temporary folder; $POOL a pool file on /dev/shm (else the temp folder)', run: `${reps} repetitions per timing; nvlab calibrate --out ${opts.out}` }],
      measurements,
      info,
      instructions,
    };
    const preset = buildHostPreset(calibration, 'calibration.json');
    const outDir = resolve(opts.out);
    const files = [join(outDir, 'calibration.json'), join(outDir, 'host-preset.json')];
    writeAtomic(files[0], `${JSON.stringify(calibration, null, 2)}\n`);
    writeAtomic(files[1], `${JSON.stringify(preset, null, 2)}\n`);
    return files;
  } finally {
    rmSync(build, { recursive: true, force: true });
    rmSync(pool, { force: true });
  }
}
