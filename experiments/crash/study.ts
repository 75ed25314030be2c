/**
 * Larger crash studies behind an explicit command (not the default test run): every
 * registered allocator x {list, hashmap, cow-btree} x its idioms x modes, one thread,
 * small op counts, summarised per job (states, verdicts, anomalies, first
 * counterexample). The CLI can call `crashStudy` and print `formatStudy`.
 *
 * Invariants: deterministic (the same options give the same summary); a job that throws
 * is reported with its error, never dropped.
 */
import { ALLOCATORS } from '../../allocators/registry.ts';
import type { CrashJob, CrashStateMode, PersistencyMode } from './api.ts';
import { checkCrashStates } from './run.ts';
import { jobTotals, maxLeakedBytes } from './tally.ts';

export interface StudyOptions {
  readonly allocators?: readonly string[];
  readonly workloads?: readonly string[];
  readonly modes?: readonly CrashStateMode[];
  readonly persistency?: PersistencyMode;
  readonly opsPerThread?: number;
  readonly maxStatesPerPoint?: number;
  readonly seed?: number;
}

export interface StudyLine {
  readonly job: CrashJob;
  readonly states: number;
  readonly invalid: number;
  readonly unknown: number;
  readonly anomalies: readonly string[];
  readonly maxLeakedBytes: number;
  readonly firstCounterexample?: readonly string[];
  readonly error?: string;
}

export function crashStudy(o: StudyOptions = {}): StudyLine[] {
  const out: StudyLine[] = [];
  const allocs = ALLOCATORS.filter((a) => o.allocators === undefined || o.allocators.includes(a.name));
  for (const workload of o.workloads ?? ['list', 'hashmap', 'cow-btree']) {
    for (const a of allocs) {
      for (const idiom of a.idioms) {
        for (const mode of o.modes ?? (['lower', 'upper', 'k-subsets', 'read-driven'] as CrashStateMode[])) {
          const job: CrashJob = {
            allocator: a.name, workload, params: { opsPerThread: o.opsPerThread ?? 8 }, idiom, threads: 1, seed: o.seed ?? 1,
            nvramSizeBytes: 4 << 20, dramSizeBytes: 4 << 20, persistency: o.persistency ?? 'line', mode, k: 2,
            maxStatesPerPoint: o.maxStatesPerPoint ?? 128,
          };
          out.push(studyJob(job));
        }
      }
    }
  }
  return out;
}

function studyJob(job: CrashJob): StudyLine {
  try {
    // Counts from the per-point tallies; only the failing states are kept as rows.
    const res = checkCrashStates(job, { index: 0, count: 1 }, {}, { listing: 'failures' });
    const inv = res.rows.filter((r) => r.verdict === 'invalid');
    const t = jobTotals(res.tallies);
    return {
      job,
      states: t.states,
      invalid: t.invalid,
      unknown: t.unknown,
      anomalies: [...new Set(inv.map((r) => r.anomaly))].sort(),
      maxLeakedBytes: maxLeakedBytes(res.tallies),
      firstCounterexample: res.counterexamples[0] ? [res.counterexamples[0].detail, ...res.counterexamples[0].explanation, `replay: ${res.counterexamples[0].minimizedId}`] : undefined,
    };
  } catch (e) {
    return { job, states: 0, invalid: 0, unknown: 0, anomalies: [], maxLeakedBytes: 0, error: e instanceof Error ? e.message : String(e) };
  }
}

export function formatStudy(lines: readonly StudyLine[]): string {
  return lines.map((l) => {
    const j = l.job;
    const head = `${j.workload} ${j.allocator} ${j.idiom} ${j.persistency} ${j.mode}: `;
    if (l.error !== undefined) return `${head}ERROR ${l.error}`;
    const body = `${l.states} states, ${l.invalid} invalid${l.anomalies.length ? ` (${l.anomalies.join(', ')})` : ''}, ${l.unknown} unknown, max leak ${l.maxLeakedBytes} B`;
    return head + body + (l.firstCounterexample ? `\n    ${l.firstCounterexample.join('\n    ')}` : '');
  }).join('\n');
}
