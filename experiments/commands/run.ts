/**
 * `nvlab run <spec>` and `nvlab crash <spec>`: validate, run, print where the outputs are.
 *
 * Exit status (cli.ts): 0 done, or a resumed folder that was already complete (nothing
 * touched); 3 done but some crash states are `unknown` (the checker could not decide:
 * not a pass); 1 bad input or failed tasks; 130/143 interrupted.
 */
import { availableParallelism } from 'node:os';
import { relative, resolve } from 'node:path';
import type { Shard } from '../plan.ts';
import { runExperiment } from '../runner.ts';
import { isModulePath, loadSpecFile, type ResolvedSpec } from '../spec/resolve.ts';

export interface RunCommandOptions {
  readonly out?: string;
  readonly workers: number;
  readonly shard?: Shard;
  readonly resume?: boolean;
  readonly quiet?: boolean;
  readonly modes?: string;
  readonly k?: number;
  readonly persistency?: string;
  readonly maxStates?: number;
  /** --task-budget, in ms. */
  readonly taskBudget?: number;
  /** List every distinct crash state in crash.csv (crash.listing "all"). */
  readonly allStates?: boolean;
}

/** Exit status of a run or crash command whose crash states include unknown ones. */
export const EXIT_UNKNOWN_STATES = 3;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Crash flags override the spec's crash settings (validated with the spec). */
function crashPatch(o: RunCommandOptions) {
  return (data: Record<string, unknown>) => {
    const given = list(o.modes) ?? list(o.persistency) ?? o.k ?? o.maxStates ?? (o.allStates ? true : undefined);
    if (given === undefined) return;
    const base = data.crash && typeof data.crash === 'object' ? (data.crash as Record<string, unknown>) : { modes: ['lower', 'upper'] };
    data.crash = {
      ...base,
      ...(o.modes !== undefined ? { modes: list(o.modes) } : {}),
      ...(o.k !== undefined ? { k: o.k } : {}),
      ...(o.persistency !== undefined ? { persistency: list(o.persistency) } : {}),
      ...(o.maxStates !== undefined ? { maxStates: o.maxStates } : {}),
      ...(o.allStates ? { listing: 'all' } : {}),
    };
  };
}

/** `run --all-states`: the spec's crash settings (if any) list every state. */
function allStatesPatch(data: Record<string, unknown>): void {
  if (data.crash && typeof data.crash === 'object') data.crash = { ...(data.crash as Record<string, unknown>), listing: 'all' };
}

/** A shell word: quoted only when needed. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line that resumes this invocation in the same folder. */
export function resumeCommand(specFile: string, o: RunCommandOptions, what: 'all' | 'crash', outDir: string): string {
  const words = ['nvlab', what === 'crash' ? 'crash' : 'run', specFile, '--out', outDir];
  if (o.shard) words.push('--shard', `${o.shard.index}/${o.shard.count}`);
  if (o.modes !== undefined) words.push('--modes', o.modes);
  if (o.k !== undefined) words.push('--k', String(o.k));
  if (o.persistency !== undefined) words.push('--persistency', o.persistency);
  if (o.maxStates !== undefined) words.push('--max-states', String(o.maxStates));
  if (o.allStates) words.push('--all-states');
  words.push('--workers', String(o.workers));
  if (o.taskBudget !== undefined) words.push('--task-budget', String(o.taskBudget / 1000));
  words.push('--resume');
  return words.map(shellWord).join(' ');
}

/** `nvlab replay <id>`, with --allocator / --workload when the spec loaded them by path. */
export function replayCommand(spec: ResolvedSpec, u: { stateId: string; allocator: string; workload: string }): string {
  const words = ['nvlab', 'replay', u.stateId];
  const allocRefs = spec.raw.crash && spec.raw.crash !== 'off' && spec.raw.crash.allocators ? spec.raw.crash.allocators : spec.raw.allocators;
  const a = spec.crashAllocators.findIndex((f) => f.name === u.allocator);
  if (a >= 0 && isModulePath(allocRefs[a])) words.push('--allocator', resolve(spec.baseDir, allocRefs[a]));
  const w = spec.workloads.find((x) => x.workload.name === u.workload);
  if (w && isModulePath(w.ref)) words.push('--workload', resolve(spec.baseDir, w.ref));
  return words.map(shellWord).join(' ');
}

export async function runCommand(specFile: string, o: RunCommandOptions, what: 'all' | 'crash', out: (s: string) => void): Promise<void> {
  const note = (line: string) => void process.stderr.write(`${line}\n`);
  const cores = availableParallelism();
  if (o.workers > cores) note(`nvlab: warning: --workers ${o.workers} is more than the ${cores} cores available; each worker thread takes about 1 s and 70 MB to start and they share the cores`);
  const spec = await loadSpecFile(specFile, what === 'crash' ? crashPatch(o) : o.allStates ? allStatesPatch : undefined);
  const outDir = o.out ?? `out/${spec.raw.name}`;
  const summary = await runExperiment(spec, {
    outDir, workers: o.workers, ...(o.shard ? { shard: o.shard } : {}), resume: !!o.resume, quiet: !!o.quiet, what, specFile,
    ...(o.taskBudget !== undefined ? { taskBudgetMs: o.taskBudget } : {}), resumeCommand: resumeCommand(specFile, o, what, outDir), note, started: (line) => out(`${line}\n`),
    say: (line) => out(`nvlab: ${line}\n`),
  });
  const rel = relative(process.cwd(), summary.outDir);
  const where = rel === '' ? '.' : rel.startsWith('..') ? summary.outDir : rel;
  const crash = summary.crashJobs > 0 ? `, ${summary.crashJobs} crash jobs (${summary.crashStates} distinct states, ${summary.invalidStates} invalid, ${summary.unknownStates} unknown)` : '';
  if (summary.alreadyComplete) {
    out(`nvlab: ${spec.raw.name}: ${where}/ is already complete (${summary.runs} runs${crash}); nothing to do\n`);
  } else {
    out(`nvlab: ${spec.raw.name}: ${summary.runs} runs (${summary.executedRuns} executed)${crash} in ${(summary.elapsedMs / 1000).toFixed(1)} s\n`);
    out(`nvlab: wrote ${summary.files.map((f) => `${where}/${f}`).filter((f) => !f.endsWith('.png') && !f.endsWith('.vl.json')).join(', ')}\n`);
    if (summary.files.includes('report.html')) out(`nvlab: open ${where}/report.html in a browser\n`);
  }
  if (summary.unknownStates > 0) {
    const u = summary.firstUnknown!;
    process.stderr.write(`nvlab: ${summary.unknownStates} crash state${summary.unknownStates === 1 ? ' is' : 's are'} unknown (the checker could not decide; not a pass), exit status ${EXIT_UNKNOWN_STATES}; first: ${u.job}: ${u.detail}\n  replay: ${replayCommand(spec, u)}\n`);
    process.exitCode = EXIT_UNKNOWN_STATES;
  }
}
