/**
 * `nvlab replay <id> [--allocator <module>] [--workload <module>]`: rebuild one crash
 * state from its self-contained id, re-run recovery and the oracles
 * (experiments/crash), print the report. Exit 1 if invalid. An id names its allocator
 * and workload; built-in ones are found in the registries, a user's own modules are
 * given by path with the options.
 */
import type { CrashResolvers } from '../crash/api.ts';
import { replayState } from '../crash/api.ts';
import { UserError } from '../errors.ts';
import { importDefault, isAllocatorFactory, isWorkload } from '../spec/resolve.ts';

export interface ReplayOptions {
  readonly allocator?: string;
  readonly workload?: string;
}

async function resolvers(o: ReplayOptions): Promise<CrashResolvers> {
  const r: { allocator?: CrashResolvers['allocator']; workload?: CrashResolvers['workload'] } = {};
  if (o.allocator !== undefined) {
    const f = await importDefault(o.allocator, process.cwd());
    if (!isAllocatorFactory(f)) throw new UserError(`--allocator ${o.allocator}: expected a module whose default export is an AllocatorFactory`);
    r.allocator = f;
  }
  if (o.workload !== undefined) {
    const w = await importDefault(o.workload, process.cwd());
    if (!isWorkload(w)) throw new UserError(`--workload ${o.workload}: expected a module whose default export is a Workload`);
    r.workload = w;
  }
  return r;
}

export async function replayCommand(id: string, out: (s: string) => void, o: ReplayOptions = {}): Promise<void> {
  const res = await resolvers(o);
  let report;
  try {
    report = replayState(id, res);
  } catch (e) {
    // A bad or foreign id is the usual cause; the message says which part is wrong.
    const msg = (e as Error).message;
    const hint = /field "(allocator|workload)"/.exec(msg);
    const more = hint !== null ? ` (if the run loaded its ${hint[1]} by path, pass --${hint[1]} <module>)` : '';
    throw new UserError(`cannot replay "${id.length > 40 ? `${id.slice(0, 37)}...` : id}": ${msg}${more}`);
  }
  out(`${report.text.trimEnd()}\n`);
  if (report.row.verdict === 'invalid') process.exitCode = 1;
}
