/**
 * `nvlab replay <id>`: rebuild one crash state from its self-contained id, re-run
 * recovery and the oracles (experiments/crash), print the report. Exit 1 if invalid.
 */
import { replayState } from '../crash/api.ts';
import { UserError } from '../errors.ts';

export async function replayCommand(id: string, out: (s: string) => void): Promise<void> {
  let report;
  try {
    report = replayState(id);
  } catch (e) {
    // A bad or foreign id is the usual cause; the message says which part is wrong.
    throw new UserError(`cannot replay "${id.length > 40 ? `${id.slice(0, 37)}...` : id}": ${(e as Error).message}`);
  }
  out(`${report.text.trimEnd()}\n`);
  if (report.row.verdict === 'invalid') process.exitCode = 1;
}
