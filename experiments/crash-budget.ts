/**
 * Crash jobs before they start: the states planned per job, a time estimate, and the
 * spec's state budget shared out over the jobs.
 *
 * Model: each job to run is planned first (a 'plan' task: re-execute the run,
 * enumerate its distinct states); then the largest ones (at most MAX_CALIBRATED_JOBS,
 * each over CALIBRATE_ABOVE_STATES states) are calibrated: on the same enumeration, a
 * check of the states of whole consecutive points from the middle of its list, at least
 * calibrationStates (8 to 64), checked as the job checks them (sharing recovery among a
 * point's states), is timed after an untimed check of warmUpStates (4 per sampled state,
 * at most 256) just before them (a fresh worker's first checks run 5-10x slower until
 * the JIT has compiled them),
 * giving a per-state time measured on this host for this job. A smaller job, or one whose
 * states cost less than the timing noise, assumes the median rate measured on its
 * allocator's jobs, else on any job, else DEFAULT_PER_STATE_MS (perStateTimes). A job's estimate is its planning time (paid again by every state shard)
 * plus states x that per-state time; the experiment's estimate is the larger of the sum
 * spread over the workers and the largest job spread over its shards. Estimates are
 * host time: printed and logged (run.log), never part of an output file.
 *
 * The budget (crash.budget.maxStatesTotal) is deterministic: the jobs' planned states
 * (after their own maxStates) are capped by water-filling, the largest cap L with
 * sum(min(states, L)) <= budget, the remainder given one state each to the first capped
 * jobs in plan order. It depends only on the spec (every job of the spec is planned,
 * whatever the shard), so shards, workers and --resume agree. A capped job checks a
 * seeded sample (its maxStates), reported before it starts, in its plan notes, the
 * report's coverage column and crash-summary.csv (distinctStates vs checkedStates).
 */
import type { CrashPlan } from './crash/api.ts';

/** Jobs with at most this many states are not calibrated (their time is small; see DEFAULT_PER_STATE_MS). */
export const CALIBRATE_ABOVE_STATES = 256;

/** At most this many jobs (the largest) are calibrated: the planning overhead stays bounded. */
export const MAX_CALIBRATED_JOBS = 8;

/**
 * Per-state time assumed for a job that was not calibrated, when no calibrated job
 * gives a rate: 5 ms (200 states/s), below the slowest rate measured so far (Ralloc,
 * k-subsets, about 440 states/s: issue 15), so the estimate errs long.
 */
export const DEFAULT_PER_STATE_MS = 5;

/** States checked to calibrate a job's per-state time: 8, or 1 in 50 of a larger job's states, at most 64. */
export function calibrationStates(states: number): number {
  return Math.min(states, Math.max(8, Math.min(64, Math.ceil(states / 50))));
}

/**
 * States checked, untimed, just before a calibration sample of `n` (the JIT's warm-up):
 * 4 per sampled state, at most 256. Measured on a fresh 100,000-op PMDK (Makalu upper)
 * job: 64 sampled states ran at 34-150 (88) states/s cold, 920 (985) after 64 warm-up
 * states, 2,300 (1,190) after 256, against ~3,800 (~1,700) over the job's own 5,000.
 */
export function warmUpStates(n: number): number {
  return Math.min(256, 4 * n);
}

export interface PlannedJob {
  readonly id: string;
  readonly label: string;
  readonly plan: CrashPlan;
  /** Host time of planning (run + enumeration), ms. */
  readonly planMs: number;
  /** States checked by the calibration and its host time beyond planning, ms. */
  readonly sampleStates: number;
  readonly sampleMs: number;
}

/** Caps per job (undefined: not capped) so that the planned states total at most `budget`. */
export function shareBudget(states: readonly number[], budget: number): (number | undefined)[] {
  const total = states.reduce((a, b) => a + b, 0);
  if (total <= budget) return states.map(() => undefined);
  // Largest level L with sum(min(s, L)) <= budget (binary search over 0..max).
  let lo = 0;
  let hi = Math.max(...states);
  const used = (l: number) => states.reduce((a, s) => a + Math.min(s, l), 0);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (used(mid) <= budget) lo = mid;
    else hi = mid - 1;
  }
  let spare = budget - used(lo);
  return states.map((s) => {
    if (s <= lo) return undefined;
    const extra = spare > 0 ? 1 : 0;
    spare -= extra;
    return lo + extra >= s ? undefined : lo + extra;
  });
}

/** Per-state host time measured for a job, ms (undefined when it was not calibrated). */
export function measuredPerStateMs(j: PlannedJob): number | undefined {
  return j.sampleStates > 0 ? Math.max(0, j.sampleMs) / j.sampleStates : undefined;
}

/** The upper median of the measured per-state times of `xs` (undefined when none was measured). */
function medianMeasured(xs: readonly PlannedJob[]): number | undefined {
  const v = xs.map(measuredPerStateMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  return v.length > 0 ? v[Math.floor(v.length / 2)] : undefined;
}

/**
 * Per-state time for every job: its own measurement, else the (upper) median measured
 * on jobs of the same allocator, else on any job, else DEFAULT_PER_STATE_MS.
 */
export function perStateTimes(jobs: readonly (PlannedJob & { readonly allocator: string })[]): number[] {
  const any = medianMeasured(jobs);
  const byAllocator = new Map<string, number | undefined>();
  for (const j of jobs) if (!byAllocator.has(j.allocator)) byAllocator.set(j.allocator, medianMeasured(jobs.filter((x) => x.allocator === j.allocator)));
  return jobs.map((j) => measuredPerStateMs(j) ?? byAllocator.get(j.allocator) ?? any ?? DEFAULT_PER_STATE_MS);
}

/** Estimated host time of a job, ms, with `states` to check in `shards` shards at `perStateMs`. */
export function jobEstimateMs(j: PlannedJob, states: number, shards: number, perStateMs: number): number {
  return j.planMs * shards + states * perStateMs;
}

export function experimentEstimateMs(jobs: readonly { readonly ms: number }[], workers: number, shards: number): number {
  const sum = jobs.reduce((a, j) => a + j.ms, 0);
  const largest = jobs.reduce((a, j) => Math.max(a, j.ms), 0);
  return Math.max(sum / Math.max(1, workers), largest / Math.max(1, Math.min(shards, workers)));
}

export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 1) return '< 1 s';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export interface JobLine {
  readonly id: string;
  /** Distinct states found (before any cap). */
  readonly found: number;
  /** States that will be checked (after the job's maxStates and the budget). */
  readonly states: number;
  /** 'maxStates' or 'budget' when a cap leaves states out. */
  readonly cappedBy?: 'maxStates' | 'budget';
  readonly estimateMs: number;
  readonly perStateMs: number;
  /** The rate was measured on this job (else assumed: perStateTimes). */
  readonly measured: boolean;
}

function jobLine(j: JobLine): string {
  const r = j.perStateMs > 0 ? `${Math.round(1000 / j.perStateMs)} states/s` : 'states/s not measurable';
  const rateText = j.measured ? `${r} measured` : `${r} assumed`;
  const cut = j.cappedBy ? `; ${j.found} distinct states > ${j.cappedBy === 'budget' ? 'its share of crash.budget.maxStatesTotal' : 'maxStates'}: checks a seeded sample of ${j.states} (${((100 * j.states) / j.found).toFixed(1)} %)` : '';
  return `${j.id}: ${j.states} states, about ${formatDuration(j.estimateMs)} (${rateText})${cut}`;
}

/**
 * What is printed before the crash jobs start (`show` lines: the total, the largest
 * jobs and every capped one) and logged (`log` lines: every job).
 */
export function planLines(jobs: readonly JobLine[], workers: number, shards: number, budget: number | undefined): { show: string[]; log: string[] } {
  const states = jobs.reduce((a, j) => a + j.states, 0);
  const found = jobs.reduce((a, j) => a + j.found, 0);
  const est = experimentEstimateMs(jobs.map((j) => ({ ms: j.estimateMs })), workers, shards);
  const head = `crash plan: ${jobs.length} job${jobs.length === 1 ? '' : 's'}, ${states} distinct states to check${found > states ? ` of ${found} found` : ''}, about ${formatDuration(est)} on ${workers} worker${workers === 1 ? '' : 's'} (rates measured on the states of a few consecutive crash points (at least 8 to 64) of the ${MAX_CALIBRATED_JOBS} largest jobs over ${CALIBRATE_ABOVE_STATES} states; other jobs assume the median measured rate)`;
  const budgetLine = budget !== undefined ? [`crash budget: maxStatesTotal ${budget}${found > budget ? `: ${states} of ${found} distinct states checked (${((100 * states) / found).toFixed(1)} %), ${jobs.filter((j) => j.cappedBy === 'budget').length} jobs sampled` : ': every distinct state fits'}`] : [];
  const largest = [...jobs].sort((a, b) => b.estimateMs - a.estimateMs || a.id.localeCompare(b.id)).slice(0, 5);
  const capped = jobs.filter((j) => j.cappedBy !== undefined);
  const shown = new Set([...largest, ...capped.slice(0, 10)]);
  const show = [head, ...budgetLine, ...jobs.filter((j) => shown.has(j)).map((j) => `  ${jobLine(j)}`)];
  const hidden = jobs.length - shown.size;
  const hiddenCapped = capped.filter((j) => !shown.has(j)).length;
  if (hidden > 0) show.push(`  (${hidden} more job${hidden === 1 ? '' : 's'}${hiddenCapped > 0 ? `, ${hiddenCapped} of them sampled by a cap` : ''}: every job is in run.log)`);
  return { show, log: [head, ...budgetLine, ...jobs.map((j) => `plan ${jobLine(j)}`)] };
}
