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
    const err = e as Error;
    if (err.name === 'CrashJobError' || /state id|replay id|malformed|not implemented/i.test(err.message)) throw new UserError(`cannot replay "${id}": ${err.message}`);
    throw e;
  }
  out(`${report.text.trimEnd()}\n`);
  out(`image sha256: ${report.imageHash}\n`);
  if (report.row.verdict === 'invalid') process.exitCode = 1;
}
