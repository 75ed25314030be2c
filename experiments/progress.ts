/**
 * Progress on a terminal: runs done, crash states checked per second, time left.
 * Silent when stderr is not a TTY, when CI is set, or with --quiet.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** One task of `weight` units finished; `states` crash states were checked in it. */
  tick(states?: number): void;
  stop(): void;
}

export function progressEnabled(quiet: boolean): boolean {
  const ci = process.env.CI;
  return !quiet && process.stderr.isTTY === true && !(ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0');
}

export function createProgress(total: number, label: string, enabled: boolean): Progress {
  if (!enabled || total === 0) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {bar} {value}/{total} tasks | {rate} crash states/s | {eta_formatted} left`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const startMs = Date.now();
  let states = 0;
  bar.start(total, 0, { rate: '0' });
  return {
    tick(n = 0) {
      states += n;
      const secs = Math.max((Date.now() - startMs) / 1000, 0.001);
      bar.increment(1, { rate: String(Math.round(states / secs)) });
    },
    stop() {
      bar.stop();
    },
  };
}
