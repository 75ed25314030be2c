/**
 * nvlab command-line interface (entry point: bin/nvlab.mjs -> main(argv) -> exit code).
 *
 * Model: commander parses; each command lives in experiments/commands/. A UserError
 * (bad spec, bad flag, missing folder) prints its message alone and exits 1; a usage
 * error exits 2; anything else is an internal error: one line, exit 70, and the stack
 * only with NVLAB_DEBUG=1.
 */
import { availableParallelism } from 'node:os';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UserError } from './errors.ts';
import type { Shard } from './plan.ts';

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

function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

function runOptions(cmd: Command): Command {
  return cmd
    .option('-o, --out <dir>', 'output folder (default: out/<experiment name>)')
    .option('-w, --workers <n>', `worker threads (default: ${defaultWorkers()}, the cores available, at most 8)`, positiveInt('--workers', 256))
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
    .option('--modes <list>', 'comma-separated modes: lower, upper, k-subsets, prefixes, exhaustive, read-driven')
    .option('--k <n>', 'deviating lines per state for k-subsets (1..3)', positiveInt('--k', 3))
    .option('--persistency <list>', 'comma-separated: line, word, eadr')
    .option('--max-states <n>', 'cap on distinct states per job', positiveInt('--max-states', 1_000_000))
    .action(async (spec: string, o) => (await import('./commands/run.ts')).runCommand(spec, { ...o, workers: o.workers ?? defaultWorkers() }, 'crash', out));
  program.command('replay').argument('<id>', 'crash state id (from crash.csv or a report)').description('Rebuild one crash state, re-run recovery and the oracles, print the verdict.')
    .option('--allocator <module>', "the allocator module the state's run used, when it was loaded by path (not a built-in name)")
    .option('--workload <module>', "the workload module the state's run used, when it was loaded by path")
    .action(async (id: string, o) => (await import('./commands/replay.ts')).replayCommand(id, out, o));
  program.command('merge').argument('<dirs...>', 'shard output folders of one experiment').requiredOption('-o, --out <dir>', 'merged output folder')
    .description('Merge the output folders of --shard runs into the outputs of one unsharded run.')
    .action(async (dirs: string[], o) => (await import('./commands/merge.ts')).mergeCommand(dirs, o.out, out));
  program.command('check-allocator').argument('<module>', 'path to a module whose default export is an AllocatorFactory')
    .option('--workload <name>', 'structure workload for the crash enumeration', 'list')
    .description('Run the allocator contract suite and a small crash enumeration on your allocator.')
    .action(async (mod: string, o) => (await import('./commands/check-allocator.ts')).checkAllocatorCommand(mod, o.workload, out));
  program.command('bench').option('--json', 'print JSON').description('Benchmark this machine: simulated accesses/s, trace bytes per store unit, crash states/s.')
    .action(async (o) => (await import('./commands/bench.ts')).benchCommand(!!o.json, out));
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
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e, err);
  }
}

function reportError(e: unknown, err: (s: string) => void): number {
  if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
  if (e instanceof UserError) {
    err(`nvlab: ${e.message}\n`);
    return 1;
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
