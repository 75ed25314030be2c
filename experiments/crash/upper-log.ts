/**
 * The upper deviations of every crash point (each dirty line at its pending count),
 * recorded during the enumeration sweep of an upper-mode line job while they are few.
 *
 * Model: the states an upper-mode sweep keeps get their deviations after it, once the
 * sample is drawn (enumerate.ts, materializeUpper). When each point has few dirty lines
 * (PMDK, nvm_malloc, Makalu: a handful), the sweep's own replayer lists them at every
 * point into flat typed arrays, so no second replay of the trace is needed. With more
 * dirty lines a point, listing them at every point costs more than that replay (Makalu:
 * about one pair a trace event, measured), and a lazily persisting allocator (Ralloc:
 * hundreds of dirty lines a point) would make the list grow with points x dirty lines:
 * the log gives up as soon as its pairs exceed `upperLogBudget.pairsPerEvent` per trace
 * event swept so far (plus a slack for a run's first points), and the caller replays
 * instead. Host memory: at most 4 bytes a trace event (a trace takes 12).
 *
 * Invariants: while `complete`, devsAt(ord) equals the replayer's dirtyPairs() at point
 * ord (same lines ascending, same counts); a log that gave up stays empty.
 */
import type { Deviation, PersistReplayer } from '../../sim/persistency/replay.ts';
import { giveColumn, grownColumn, takeColumn } from './columns.ts';

/** Pairs the log may hold per trace event swept (PMDK 0.15, nvm_malloc 0.1 in 100,000-op lists; a test sets 0 to force the replay). */
export const upperLogBudget = { pairsPerEvent: 0.5, slackPairs: 4096 };

export class UpperLog {
  /** Point ord's pairs are [starts[ord], starts[ord + 1]) of lines and counts (pooled columns, columns.ts). */
  private starts = takeColumn(1024);
  private lines = takeColumn(1024);
  private counts = takeColumn(1024);
  private points = 0;
  private pairs = 0;
  complete = true;

  /** @param startPos the trace position the sweep starts at. */
  constructor(private readonly startPos: number) {
    this.starts[0] = 0;
  }

  /** Log the dirty lines of the replayer's position as the next point's. */
  record(r: PersistReplayer): void {
    if (!this.complete) return;
    const n = r.dirtyCount();
    if (this.pairs + n > upperLogBudget.pairsPerEvent * (r.pos - this.startPos) + upperLogBudget.slackPairs) {
      this.giveUp();
      return;
    }
    while (this.pairs + n > this.lines.length) {
      this.lines = grownColumn(this.lines, this.pairs);
      this.counts = grownColumn(this.counts, this.pairs);
    }
    for (let i = 0; i < n; i++) {
      this.lines[this.pairs + i] = r.dirtyLineAt(i);
      this.counts[this.pairs + i] = r.dirtyPendingAt(i);
    }
    this.pairs += n;
    if (this.points + 2 > this.starts.length) this.starts = grownColumn(this.starts, this.points + 1);
    this.starts[++this.points] = this.pairs;
  }

  /** The upper deviations of point ord (a new list; the log must be complete). */
  devsAt(ord: number): Deviation[] {
    if (!this.complete || ord >= this.points) throw new RangeError(`upper log: no point ${ord}`);
    const out: Deviation[] = [];
    for (let j = this.starts[ord]; j < this.starts[ord + 1]; j++) out.push([this.lines[j], this.counts[j]]);
    return out;
  }

  /** Give the columns back to the pool (columns.ts): the log is then empty. */
  release(): void {
    for (const c of [this.starts, this.lines, this.counts]) giveColumn(c);
    this.starts = this.lines = this.counts = new Int32Array(0);
    this.points = this.pairs = 0;
  }

  private giveUp(): void {
    this.complete = false;
    this.release();
  }
}
