/**
 * Choice: the single source of decisions, and the seed tree.
 *
 * Model: every random decision in nvlab goes through a Choice. A SeededChoice draws
 * from seedrandom (integer draws only: `int32()`), an EnumeratingChoice walks every
 * decision sequence depth-first, so the same code can sample or enumerate.
 * Probabilities are integer ratios (`chance(num, den)`), never floats.
 *
 * Seed tree: one root seed per run; `SeedTree.child(name)` derives an independent seed
 * by hashing the parent seed with the child's name (SHA-256, deterministic), so adding
 * randomness in one component never shifts another component's stream.
 *
 * Invariants: no Math.random, no Date.now; draws are unbiased (rejection sampling).
 */
import { createHash } from 'node:crypto';
import seedrandom from 'seedrandom';
import { invariant } from './errors.ts';

export interface Choice {
  /** A uniformly chosen integer in [lo, hi]. */
  intInclusive(lo: number, hi: number): number;
  /** A uniformly chosen index in [0, n). */
  index(n: number): number;
  /** True with probability num/den (integers, 0 <= num <= den, den > 0). */
  chance(num: number, den: number): boolean;
}

const TWO_32 = 0x1_0000_0000;

/**
 * A seeded pseudo-random Choice (seedrandom's ARC4 generator underneath). seedrandom
 * derives the ARC4 state from the seed (key schedule and its discarded first 256 bytes);
 * the draws then run here on a byte array, the same ARC4 output step as seedrandom's
 * `int32()` (4 bytes, big-endian) without its closure calls: a long run's op streams
 * draw millions of words. A test compares the draws with seedrandom's own.
 */
export class SeededChoice implements Choice {
  /** The ARC4 permutation and its two indices. */
  private readonly s: Uint8Array;
  private i: number;
  private j: number;
  constructor(readonly seed: string) {
    const state = seedrandom(seed, { state: true }).state();
    this.s = Uint8Array.from(state.S);
    this.i = state.i;
    this.j = state.j;
  }
  /** The next 4 ARC4 output bytes as an unsigned 32-bit word (seedrandom's int32() >>> 0). */
  private u32(): number {
    const s = this.s;
    let i = this.i;
    let j = this.j;
    let r = 0;
    for (let k = 0; k < 4; k++) {
      i = (i + 1) & 255;
      const t = s[i];
      j = (j + t) & 255;
      const u = s[j];
      s[i] = u;
      s[j] = t;
      r = (r << 8) | s[(u + t) & 255];
    }
    this.i = i;
    this.j = j;
    return r >>> 0;
  }
  index(n: number): number {
    if (!(Number.isSafeInteger(n) && n > 0)) invariant(false, `index(n) needs a positive integer, got ${n}`);
    if (n <= TWO_32) {
      // Accept x when its whole bucket [x - x % n, x - x % n + n) lies below 2^32, i.e.
      // x < 2^32 - 2^32 % n (the largest multiple of n): one modulo a draw, not two.
      for (;;) {
        const x = this.u32();
        const r = x % n;
        if (x - r <= TWO_32 - n) return r;
      }
    }
    // n > 2^32: combine two draws (53-bit range), rejection on the top part.
    const hiN = Math.ceil(n / TWO_32);
    for (;;) {
      const x = this.index(hiN) * TWO_32 + this.u32();
      if (x < n) return x;
    }
  }
  intInclusive(lo: number, hi: number): number {
    invariant(hi >= lo, `intInclusive(${lo}, ${hi}): empty range`);
    return lo + this.index(hi - lo + 1);
  }
  chance(num: number, den: number): boolean {
    invariant(den > 0 && num >= 0 && num <= den, `chance(${num}/${den}) is not a probability`);
    return this.index(den) < num;
  }
}

/**
 * Enumerates every decision sequence of a deterministic program depth-first.
 * Usage: `const e = new EnumeratingChoice(); do { program(e); } while (e.next());`
 */
export class EnumeratingChoice implements Choice {
  private readonly picks: number[] = [];
  private readonly bounds: number[] = [];
  private cursor = 0;
  private exhausted = false;

  index(n: number): number {
    invariant(Number.isSafeInteger(n) && n > 0, `index(n) needs a positive integer, got ${n}`);
    if (this.cursor < this.picks.length) {
      invariant(this.bounds[this.cursor] === n, 'program is not deterministic under enumeration');
      return this.picks[this.cursor++];
    }
    this.picks.push(0);
    this.bounds.push(n);
    this.cursor++;
    return 0;
  }
  intInclusive(lo: number, hi: number): number {
    invariant(hi >= lo, `intInclusive(${lo}, ${hi}): empty range`);
    return lo + this.index(hi - lo + 1);
  }
  chance(num: number, den: number): boolean {
    invariant(den > 0 && num >= 0 && num <= den, `chance(${num}/${den}) is not a probability`);
    if (num === 0) return false;
    if (num === den) return true;
    return this.index(2) === 1;
  }
  /** Advance to the next unexplored sequence; false when every sequence was visited. */
  next(): boolean {
    this.picks.length = this.cursor;
    this.bounds.length = this.cursor;
    while (this.picks.length > 0) {
      const last = this.picks.length - 1;
      if (this.picks[last] + 1 < this.bounds[last]) {
        this.picks[last]++;
        this.cursor = 0;
        return true;
      }
      this.picks.pop();
      this.bounds.pop();
    }
    this.exhausted = true;
    this.cursor = 0;
    return false;
  }
  done(): boolean {
    return this.exhausted;
  }
}

/** Derives one seed per component from a root seed by name. */
export class SeedTree {
  constructor(readonly seed: string) {}
  static root(seed: number | string): SeedTree {
    return new SeedTree(`nvlab:${seed}`);
  }
  child(name: string): SeedTree {
    const h = createHash('sha256').update(this.seed).update('\u0000').update(name).digest('hex');
    return new SeedTree(h.slice(0, 32));
  }
  choice(): SeededChoice {
    return new SeededChoice(this.seed);
  }
}
