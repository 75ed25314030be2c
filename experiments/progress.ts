/**
 * Progress of a run: on a terminal, bars (tasks done; one bar per running crash job
 * with its states checked and states/s); everywhere, a line in run.log about every
 * 10 s while crash jobs run (so a long run off a terminal, in CI or redirected, is
 * never silent).
 *
 * Model: a crash job's shards add each checked state to a shared counter
 * (SharedArrayBuffer, Atomics) that `poll` reads: from a timer when tasks run in
 * worker threads, and from the task itself every 64 states when it runs in this thread
 * (task.ts setInProcessTick). Host time only: nothing here reaches an output file but
 * run.log. The bars are off when stderr is not a TTY, when CI is set, or with --quiet.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** One task finished. */
  tick(): void;
  /** A crash job starts: `planned` states, its shards count into `counter[0]`. */
  jobStarted(id: string, planned: number, counter: Int32Array): void;
  jobDone(id: string): void;
  /** Read the counters; redraw; write run.log when due. */
  poll(): void;
  /** Crash states planned over all jobs of this run (for the log's percentage). */
  planned(states: number): void;
  /** A line for the user: above the bars when they are drawn, else through ProgressOptions.say. */
  say(line: string): void;
  stop(): void;
}

export function progressEnabled(quiet: boolean): boolean {
  const ci = process.env.CI;
  return !quiet && process.stderr.isTTY === true && !(ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0');
}

export interface ProgressOptions {
  /** Draw bars on stderr. */
  readonly bars: boolean;
  /** Where periodic lines go (run.log). */
  readonly log?: (line: string) => void;
  readonly logEveryMs?: number;
  /** Where say() lines go when no bar is drawn (the CLI: stdout). */
  readonly say?: (line: string) => void;
}

interface RunningJob {
  readonly id: string;
  readonly planned: number;
  readonly counter: Int32Array;
  readonly startMs: number;
  bar?: cliProgress.SingleBar;
}

function rate(states: number, ms: number): number {
  return Math.round(states / Math.max(ms / 1000, 0.001));
}

export function createProgress(total: number, label: string, o: ProgressOptions): Progress {
  const startMs = Date.now();
  const running = new Map<string, RunningJob>();
  let done = 0;
  const counters: Int32Array[] = []; // every started job's (states checked so far)
  let lastLog = startMs;
  let plannedStates = 0;
  const logEvery = o.logEveryMs ?? 10_000;
  const multi = o.bars && total > 0
    ? new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, etaBuffer: 20, clearOnComplete: false, format: '{label} {bar} {value}/{total} {unit} | {rate} states/s | {eta_formatted} left' }, cliProgress.Presets.shades_classic)
    : undefined;
  const main = multi?.create(total, 0, { label, unit: 'tasks', rate: '0' });
  const checkedStates = () => counters.reduce((a, c) => a + Atomics.load(c, 0), 0);
  const logLine = (now: number) => {
    const checked = checkedStates();
    const plan = plannedStates > 0 ? `/${plannedStates} (${((100 * checked) / plannedStates).toFixed(1)} %)` : '';
    const jobs = [...running.values()].map((j) => `${j.id} ${Atomics.load(j.counter, 0)}/${j.planned} (${rate(Atomics.load(j.counter, 0), now - j.startMs)} states/s)`);
    o.log!(`progress: ${done}/${total} tasks, ${checked}${plan} crash states, ${rate(checked, now - startMs)} states/s${jobs.length ? `; running: ${jobs.join('; ')}` : ''}`);
  };
  const poll = () => {
    const now = Date.now();
    for (const j of running.values()) j.bar?.update(Math.min(Atomics.load(j.counter, 0), j.planned), { rate: String(rate(Atomics.load(j.counter, 0), now - j.startMs)) });
    main?.update(done, { rate: String(rate(checkedStates(), now - startMs)) });
    if (o.log && running.size > 0 && now - lastLog >= logEvery) {
      lastLog = now;
      logLine(now);
    }
  };
  const timer = setInterval(poll, 250);
  timer.unref();
  return {
    tick() {
      done++;
      poll();
    },
    jobStarted(id, planned, counter) {
      const job: RunningJob = { id, planned, counter, startMs: Date.now() };
      if (multi && planned > 0) job.bar = multi.create(planned, 0, { label: `  ${id}`, unit: 'states', rate: '0' });
      running.set(id, job);
      counters.push(counter);
    },
    jobDone(id) {
      const j = running.get(id);
      if (j?.bar) multi!.remove(j.bar);
      running.delete(id);
    },
    poll,
    planned(n) {
      plannedStates = n;
    },
    say(line) {
      if (multi) multi.log(`nvlab: ${line}\n`);
      else o.say?.(line);
    },
    stop() {
      clearInterval(timer);
      multi?.stop();
    },
  };
}
