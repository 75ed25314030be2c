/**
 * Progress off a terminal: lines for run.log with the crash states checked, the share
 * of the plan, states/s overall and per running job (from the shared counters).
 */
import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.ts';

describe('progress (no terminal)', () => {
  it('logs states checked, the planned share and each running job with its states/s', () => {
    const lines: string[] = [];
    const p = createProgress(3, 'x', { bars: false, log: (l) => lines.push(l), logEveryMs: 0 });
    p.planned(200);
    const c = new Int32Array(new SharedArrayBuffer(4));
    p.jobStarted('list.ralloc.k', 150, c);
    Atomics.add(c, 0, 30);
    p.poll();
    p.stop();
    expect(lines.at(-1)).toMatch(/^progress: 0\/3 tasks, 30\/200 \(15\.0 %\) crash states, \d+ states\/s; running: list\.ralloc\.k 30\/150 \(\d+ states\/s\)$/);
  });

  it('writes nothing while no crash job runs, and say() goes to the given writer without bars', () => {
    const lines: string[] = [];
    const said: string[] = [];
    const p = createProgress(1, 'x', { bars: false, log: (l) => lines.push(l), logEveryMs: 0, say: (l) => said.push(l) });
    p.poll();
    p.say('crash plan: 1 job');
    p.tick();
    p.stop();
    expect(lines).toEqual([]);
    expect(said).toEqual(['crash plan: 1 job']);
  });
});
