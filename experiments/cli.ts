/**
 * nvlab command-line interface (entry point: bin/nvlab.mjs -> main(argv) -> exit code).
 *
 * Model: commander parses; each command lives in experiments/commands/. Exit codes:
 * 0 done; 1 bad input (spec, module, folder, full disk, a failed or stopped task: a
 * UserError prints its message alone); 2 usage error (a bad flag, checked before
 * anything runs); 3 `run`/`crash` finished but some crash states are unknown; 130/143
 * interrupted by SIGINT/SIGTERM (completed work kept, resume command printed); 70 an
 * internal error (a bug in nvlab): one line, and the stack only with NVLAB_DEBUG=1.
 */
import { availableParallelism } from 'node:os';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UserError } from './errors.ts';
import type { Shard } from './plan.ts';
import { parsePartition, parseTime } from './slurm.ts';
import { CRASH_MODES } from './spec/schema.ts';

/**
 * Largest --workers: twice the cores, at least 64, at most 256 (each worker thread takes
 * about 1 s and 70 MB to start; beyond the cores they only share them).
 */
export const MAX_WORKERS = Math.min(256, Math.max(64, 2 * availableParallelism()));

function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer in 1..${max}, found "${value}"`);
    return n;
  };
}

export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new InvalidArgumentError(`--shard must be I/N with 1 <= I <= N (e.g. 2/8), found "${value}"`);
  return { index, count };
}

function nonEmpty(name: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`${name} must name a folder, found an empty string`);
    return value;
  };
}

function seconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 7 * 24 * 3600) throw new InvalidArgumentError(`${name} must be a number of seconds in (0, 604800], found "${value}"`);
    return Math.max(1, Math.round(n * 1000));
  };
}

function oneOf(name: string, valid: readonly string[]) {
  return (value: string): string => {
    const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = items.filter((m) => !valid.includes(m));
    if (items.length === 0 || bad.length > 0) throw new InvalidArgumentError(`${name}: expected a comma-separated list of ${valid.join(', ')}, found "${bad.join(',') || value}"`);
    return items.join(',');
  };
}

const BUDGET_HELP = 'host wall-clock budget per run / crash task in seconds; plug-in code past it is stopped (default: the spec\'s taskBudgetSeconds, else 600)';

function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

function runOptions(cmd: Command): Command {
  return cmd
    .option('-o, --out <dir>', 'output folder (default: out/<experiment name>)', nonEmpty('--out'))
    .option('-w, --workers <n>', `worker threads (default: ${defaultWorkers()}, the cores available, at most 8; at most ${MAX_WORKERS})`, positiveInt('--workers', MAX_WORKERS))
    .option('--task-budget <seconds>', BUDGET_HELP, seconds('--task-budget'))
    .option('--shard <I/N>', 'run only shard I of N (1-based); merge the N folders afterwards', parseShard)
    .option('--resume', 'keep the runs already completed in the output folder and run the rest')
    .option('-q, --quiet', 'no progress bar (also off when not a terminal or when CI is set)')
    .option('--all-states', 'crash.csv lists every distinct crash state, not only the invalid and unknown ones (spec: crash.listing "all")');
}

function buildProgram(out: (s: string) => void, err: (s: string) => void): Command {
  const program = new Command('nvlab')
    .description('Deterministic simulator and testbed for persistent-memory allocators.')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err })
    .showHelpAfterError('(run with --help for usage)');
  runOptions(program.command('run').argument('<spec.json>', 'experiment spec').description('Run an experiment: every run of the spec (and its crash jobs, if the spec has crash settings).'))
    .action(async (spec: string, o) => (await import('./commands/run.ts')).runCommand(spec, { ...o, workers: o.workers ?? defaultWorkers() }, 'all', out));
  runOptions(program.command('crash').argument('<spec.json>', 'experiment spec').description("Run only the spec's crash enumeration (its \"crash\" settings, or those given here)."))
    .option('--modes <list>', `comma-separated modes: ${CRASH_MODES.join(', ')}`, oneOf('--modes', CRASH_MODES))
    .option('--k <n>', 'deviating lines per state for k-subsets (1..3)', positiveInt('--k', 3))
    .option('--persistency <list>', 'comma-separated: line, word, eadr', oneOf('--persistency', ['line', 'word', 'eadr']))
    .option('--max-states <n>', 'cap on distinct states per job', positiveInt('--max-states', 1_000_000))
    .action(async (spec: string, o) => (await import('./commands/run.ts')).runCommand(spec, { ...o, workers: o.workers ?? defaultWorkers() }, 'crash', out));
  program.command('replay').argument('<id>', 'crash state id (from crash.csv or a report)').description('Rebuild one crash state, re-run recovery and the oracles, print the verdict.')
    .option('--allocator <module>', "the allocator module the state's run used, when it was loaded by path (not a built-in name)")
    .option('--workload <module>', "the workload module the state's run used, when it was loaded by path")
    .action(async (id: string, o) => (await import('./commands/replay.ts')).replayCommand(id, out, o));
  program.command('merge').argument('<dirs...>', 'shard output folders of one experiment').requiredOption('-o, --out <dir>', 'merged output folder', nonEmpty('--out'))
    .description('Merge the output folders of --shard runs into the outputs of one unsharded run.')
    .action(async (dirs: string[], o) => (await import('./commands/merge.ts')).mergeCommand(dirs, o.out, out));
  program.command('slurm').argument('<spec.json>', 'experiment spec').description('Write a Slurm array script (one task per shard) and a merge job; --submit submits both with sbatch.')
    .requiredOption('--shards <n>', 'array tasks, one shard each', positiveInt('--shards', 10_000))
    .option('--cpus-per-task <n>', 'CPUs per task, also the workers of each shard', positiveInt('--cpus-per-task', 256), 1)
    .option('--time <HH:MM:SS>', 'time limit of each task and of the merge (default: the partition\'s)', parseTime)
    .option('--partition <name>', 'Slurm partition (default: the cluster\'s)', parsePartition)
    .option('-o, --out <dir>', 'merged output folder (default: out/<experiment name>); scripts, logs and shards go to <dir>-slurm/', nonEmpty('--out'))
    .option('--submit', 'submit the array and the merge (afterok) with sbatch and print the job ids')
    .action(async (spec: string, o) => (await import('./commands/slurm.ts')).slurmCommand(spec, o, out));
  program.command('check-allocator').argument('<module>', 'path to a module whose default export is an AllocatorFactory')
    .option('--workload <name>', 'structure workload for the crash enumeration', 'list')
    .option('--task-budget <seconds>', 'host wall-clock budget of the contract suite and of each crash enumeration, in seconds (default 600)', seconds('--task-budget'))
    .description('Run the allocator contract suite and a small crash enumeration on your allocator.')
    .action(async (mod: string, o) => (await import('./commands/check-allocator.ts')).checkAllocatorCommand(mod, o.workload, out, { ...(o.taskBudget ? { budgetMs: o.taskBudget } : {}) }));
  program.command('bench').option('--json', 'print JSON').description('Benchmark this machine: simulated accesses/s, trace bytes per store unit, crash states/s.')
    .option('--run-length', 'instead: crash states/s of a long list run over a 200-op one, per allocator, lower and upper (issue 15; minutes)')
    .option('--long-ops <n>', 'with --run-length: ops of the long run (default 100000)', positiveInt('--long-ops', 10_000_000))
    .option('--short-ops <n>', 'with --run-length: ops of the short run (default 200; e.g. 2000 compares with a run whose list has reached its steady size)', positiveInt('--short-ops', 100_000))
    .option('--max-states <n>', 'with --run-length: states checked in the long run (default 5000)', positiveInt('--max-states', 10_000_000))
    .action(async (o) => (o.runLength ? (await import('./commands/bench.ts')).benchRunLengthCommand(!!o.json, { longOps: o.longOps, shortOps: o.shortOps, maxStates: o.maxStates }, out) : (await import('./commands/bench.ts')).benchCommand(!!o.json, out)));
  program.command('calibrate').option('-o, --out <dir>', 'output folder', nonEmpty('--out'), 'out/calibrate').option('--reps <n>', 'repetitions of each timing (default 11)', positiveInt('--reps', 1000))
    .description('Build and run native microbenchmarks on this host (needs cc, libjemalloc-dev, libpmemobj-dev; valgrind optional): writes calibration.json and the host preset.')
    .action(async (o) => (await import('./commands/calibrate.ts')).calibrateCommand(o.out, o.reps, out));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const out = (s: string) => void process.stdout.write(s);
  const err = (s: string) => void process.stderr.write(s);
  const program = buildProgram(out, err);
  if (argv.length === 0) {
    out(program.helpInformation());
    return 0;
  }
  process.exitCode = undefined; // a status set by a previous in-process call must not leak into this one
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e, err);
  }
}

export function reportError(e: unknown, err: (s: string) => void): number {
  if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
  if (e instanceof UserError) {
    err(`nvlab: ${e.message}\n`);
    return e.exitCode;
  }
  const error = e as Error;
  if (error?.name === 'WorkloadParamError' || error?.name === 'CrashJobError' || error?.name === 'AllocatorMisuseError') {
    err(`nvlab: ${error.message}\n`);
    return 1;
  }
  err(`nvlab: internal error: ${error?.message ?? String(e)}\n`);
  if (process.env.NVLAB_DEBUG) err(`${error?.stack ?? ''}\n`);
  else err('(set NVLAB_DEBUG=1 for the stack trace)\n');
  return 70;
}
