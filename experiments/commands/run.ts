/**
 * `nvlab run <spec>` and `nvlab crash <spec>`: validate, run, print where the outputs are.
 */
import { relative } from 'node:path';
import { UserError } from '../errors.ts';
import type { Shard } from '../plan.ts';
import { runExperiment } from '../runner.ts';
import { CRASH_MODES } from '../spec/schema.ts';
import { loadSpecFile } from '../spec/resolve.ts';

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
  /** List every distinct crash state in crash.csv (crash.listing "all"). */
  readonly allStates?: boolean;
}

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

export async function runCommand(specFile: string, o: RunCommandOptions, what: 'all' | 'crash', out: (s: string) => void): Promise<void> {
  const unknown = (list(o.modes) ?? []).filter((m) => !(CRASH_MODES as readonly string[]).includes(m));
  if (unknown.length > 0) throw new UserError(`--modes: expected a comma-separated list of ${CRASH_MODES.join(', ')}, found ${unknown.join(', ')}`);
  const spec = await loadSpecFile(specFile, what === 'crash' ? crashPatch(o) : o.allStates ? allStatesPatch : undefined);
  const outDir = o.out ?? `out/${spec.raw.name}`;
  const summary = await runExperiment(spec, {
    outDir, workers: o.workers, ...(o.shard ? { shard: o.shard } : {}), resume: !!o.resume, quiet: !!o.quiet, what, specFile,
    say: (line) => out(`nvlab: ${line}\n`),
  });
  const rel = relative(process.cwd(), summary.outDir);
  const where = rel === '' ? '.' : rel.startsWith('..') ? summary.outDir : rel;
  const crash = summary.crashJobs > 0 ? `, ${summary.crashJobs} crash jobs (${summary.crashStates} distinct states, ${summary.invalidStates} invalid)` : '';
  out(`nvlab: ${spec.raw.name}: ${summary.runs} runs (${summary.executedRuns} executed)${crash} in ${(summary.elapsedMs / 1000).toFixed(1)} s\n`);
  out(`nvlab: wrote ${summary.files.map((f) => `${where}/${f}`).filter((f) => !f.endsWith('.png') && !f.endsWith('.vl.json')).join(', ')}\n`);
  if (summary.files.includes('report.html')) out(`nvlab: open ${where}/report.html in a browser\n`);
}
