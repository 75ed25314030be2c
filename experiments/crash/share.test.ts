/**
 * Soundness of sharing checks among a point's states (share.ts): on random small runs
 * of every registered allocator and canary (and the synthetic ones), in line and word
 * mode, every state's row (verdict, anomaly, detail, leaked bytes, recovery cycles,
 * nested states) equals the one-state-at-a-time check's; the read tracker's write masks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkCrashStates, type CrashJob, type CrashResolvers, type CrashRow } from './api.ts';
import { sharingPace } from './run.ts';
import { CACHE_ENTRIES, CheckCache, sharedChecking } from './share.ts';
import type { SharedCheck } from './check.ts';
import type { NvramImage } from '../../sim/api.ts';
import { ALLOCATORS } from '../../allocators/registry.ts';
import { synthAllocators } from './testing/synth-alloc.ts';
import { synthList } from './testing/synth-list.ts';
import { ReadTracker } from '../../sim/read-set.ts';
import { PagedMemory } from '../../sim/memory.ts';
import { CHECKPOINT_RATIO, CHECKPOINT_RETRY_EVERY, CHECKPOINT_TRIAL, countLookup, phaseCachesOf, phaseSharing, RETRY_EVERY, TRIAL_HIT_RATIO, TRIAL_LOOKUPS, worthCheckpointing, worthSharing } from './phase-cache.ts';
import type { JobContext } from './job.ts';
import { nestedReuse, recoveredRollback } from './check.ts';
import { withSwitchOff } from './testing/switch-off.ts';

afterEach(() => {
  sharedChecking.enabled = true;
});

/** Rows of the job, checked with sharing on or off (counterexamples aside: they re-check alone either way). */
function rows(job: CrashJob, shared: boolean, resolvers: CrashResolvers = {}): readonly CrashRow[] {
  sharedChecking.enabled = shared;
  try {
    return checkCrashStates({ ...job, maxCounterexamples: 0 }, { index: 0, count: 1 }, resolvers).rows;
  } finally {
    sharedChecking.enabled = true;
  }
}

const MB = 1 << 20;

describe('shared checking gives every state its own check result', () => {
  for (const f of ALLOCATORS) {
    it(`${f.name}: random small list runs, line and word mode`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 1_000_000 }),
          fc.integer({ min: 3, max: 8 }),
          fc.constantFrom('line' as const, 'word' as const),
          fc.constantFrom(...f.idioms),
          (seed, ops, persistency, idiom) => {
            const job: CrashJob = {
              allocator: f.name, workload: 'list', params: { opsPerThread: ops, keyRange: 6 }, idiom, threads: 1, seed,
              nvramSizeBytes: 4 * MB, dramSizeBytes: 4 * MB, persistency, mode: 'k-subsets', k: 2, maxStatesPerPoint: 64, maxStates: 150,
            };
            const a = rows(job, true);
            const b = rows(job, false);
            expect(a.length).toBeGreaterThan(0);
            expect(a).toEqual(b);
          },
        ),
        { numRuns: 3 },
      );
    }, 120_000);
  }

  for (const a of synthAllocators) {
    it(`${a.name} (synthetic): random runs`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom('line' as const, 'word' as const), (seed, persistency) => {
          const job: CrashJob = {
            allocator: a.name, workload: 'synth-list', params: { ops: 8, removePercent: 25 }, idiom: 'malloc-then-link', threads: 1, seed,
            nvramSizeBytes: MB, dramSizeBytes: MB, persistency, mode: 'k-subsets', k: 2, maxStatesPerPoint: 64,
          };
          const r = { allocator: a, workload: synthList };
          expect(rows(job, true, r)).toEqual(rows(job, false, r));
        }),
        { numRuns: 4 },
      );
    }, 120_000);
  }

  // Longer runs, so that recovery classes, the recovered machine's reuse, the kept nested
  // machine's reuse and the phase caches (phase-cache.ts) are exercised across many
  // crash points.
  for (const allocator of ['pmdk', 'nvm-malloc', 'makalu', 'pmdk-broken-early-apply']) {
    it(`${allocator}: phase sharing and the recovered machine's reuse give every state its own result`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom('line' as const, 'word' as const), (seed, persistency) => {
          const job: CrashJob = {
            allocator, workload: 'list', params: { opsPerThread: 24, keyRange: 8 }, idiom: 'malloc-then-link', threads: 1, seed,
            nvramSizeBytes: 4 * MB, dramSizeBytes: 4 * MB, persistency, mode: 'k-subsets', k: 2, maxStatesPerPoint: 16, maxStates: 300,
          };
          const before = { ...phaseSharing };
          const rolled = recoveredRollback.rollbacks;
          const nestedBefore = nestedReuse.reuses;
          const a = rows(job, true);
          const hits = phaseSharing.probeHits - before.probeHits + phaseSharing.recoveryReuses - before.recoveryReuses;
          const rollbacks = recoveredRollback.rollbacks - rolled;
          const nestedReuses = nestedReuse.reuses - nestedBefore;
          const c = withSwitchOff(phaseSharing, () => rows(job, true));
          // Without rolling a recovered machine back after a probe (recovering again instead).
          const d = withSwitchOff(recoveredRollback, () => rows(job, true));
          // Every nested image recovered anew (no kept nested machine).
          const e = withSwitchOff(nestedReuse, () => rows(job, true));
          const b = rows(job, false);
          expect(a.length).toBeGreaterThan(0);
          expect(a).toEqual(b);
          expect(c).toEqual(b);
          expect(d).toEqual(b);
          expect(e).toEqual(b);
          if (allocator === 'nvm-malloc') expect(nestedReuses).toBeGreaterThan(0);
          if (allocator === 'pmdk') {
            expect(hits).toBeGreaterThan(0);
            expect(rollbacks).toBeGreaterThan(0);
          }
        }),
        { numRuns: 2 },
      );
    }, 120_000);
  }

  it('pmdk: recovery is reused and probes are shared on a longer run', () => {
    const job: CrashJob = {
      allocator: 'pmdk', workload: 'list', params: { opsPerThread: 40 }, idiom: 'malloc-then-link', threads: 1, seed: 42,
      nvramSizeBytes: 4 * MB, dramSizeBytes: 4 * MB, persistency: 'line', mode: 'k-subsets', k: 2,
    };
    const before = { ...phaseSharing };
    const rolled = recoveredRollback.rollbacks;
    const a = rows(job, true);
    expect(phaseSharing.recoveryReuses - before.recoveryReuses).toBeGreaterThan(a.length / 4);
    expect(phaseSharing.probeHits - before.probeHits).toBeGreaterThan(a.length / 4);
    // Probes that ran on the kept machine were rolled back, not followed by a new recovery.
    expect(recoveredRollback.rollbacks - rolled).toBeGreaterThan(0);
    expect(a).toEqual(rows(job, false));
  });

  it('shares: fewer recoveries than states on a lazily persisting allocator', () => {
    const job: CrashJob = {
      allocator: 'ralloc', workload: 'list', params: { opsPerThread: 10 }, idiom: 'malloc-then-link', threads: 1, seed: 7,
      nvramSizeBytes: 4 * MB, dramSizeBytes: 4 * MB, persistency: 'line', mode: 'k-subsets', k: 2, maxStates: 400,
    };
    const before = { ...sharedChecking };
    const n = rows(job, true).length;
    expect(sharedChecking.states - before.states).toBe(n);
    expect(sharedChecking.checks - before.checks).toBeLessThan(n / 4);
  });
});

describe('sharing pace', () => {
  it('checking states alone between trials of sharing gives every state and point tally its own check result', () => {
    const saved = { ...sharingPace };
    // Every trial of 4 states is judged not to pay: 5 states alone, then 4 shared, ...
    Object.assign(sharingPace, { trialStates: 4, minSavingRatio: 0, aloneBlockStates: 5 });
    try {
      for (const [allocator, mode] of [['makalu', 'lower'], ['pmdk', 'upper'], ['nvm-malloc', 'k-subsets']] as const) {
        const job: CrashJob = {
          allocator, workload: 'list', params: { opsPerThread: 12, keyRange: 6 }, idiom: 'malloc-then-link', threads: 1, seed: 3,
          nvramSizeBytes: 4 * MB, dramSizeBytes: 4 * MB, persistency: 'line', mode, k: 2, maxStatesPerPoint: 16, maxCounterexamples: 0,
        };
        const alone0 = sharingPace.aloneStates;
        const paced = checkCrashStates(job);
        expect(sharingPace.aloneStates - alone0, allocator).toBeGreaterThan(0);
        const ref = withSwitchOff(sharedChecking, () => checkCrashStates(job));
        expect(paced.rows.length).toBeGreaterThan(8);
        expect(paced.rows).toEqual(ref.rows);
        expect(paced.tallies).toEqual(ref.tallies);
      }
    } finally {
      Object.assign(sharingPace, saved);
    }
  });
});

describe('ReadTracker', () => {
  it('counts a read of bytes not written in full since reset, by line', () => {
    const t = new ReadTracker(4096, new Set());
    t.write(0, 8);
    t.read(0, 8);
    expect([...t.lines]).toEqual([]);
    t.write(64, 4);
    t.read(64, 4);
    t.read(66, 4);
    expect([...t.lines]).toEqual([1]);
    t.read(130, 8);
    expect([...t.lines]).toEqual([1, 2]);
    const fresh = new Set<number>();
    t.reset(fresh);
    t.read(0, 1);
    expect([...fresh]).toEqual([0]);
    t.pageRead(4096 - 1);
    expect(fresh.size).toBe(64);
  });
});

describe('worthSharing', () => {
  it('sets aside a kind of part rarely hit after the trial, retrying one in RETRY_EVERY', () => {
    const c = phaseCachesOf({} as JobContext);
    for (let i = 0; i < TRIAL_LOOKUPS; i++) {
      expect(worthSharing(c, 'walk')).toBe(true);
      countLookup(c, 'walk', i % (2 * TRIAL_HIT_RATIO) === 0);
    }
    const taken = Array.from({ length: 4 * RETRY_EVERY }, () => worthSharing(c, 'walk'));
    expect(taken.filter((x) => x).length).toBe(4);
    expect(worthSharing(c, 'nested')).toBe(true);
    // A kind hit often enough stays shared.
    for (let i = 0; i < TRIAL_LOOKUPS; i++) countLookup(c, 'consistency', i % 2 === 0);
    expect(Array.from({ length: 8 }, () => worthSharing(c, 'consistency')).every((x) => x)).toBe(true);
  });
});

describe('worthCheckpointing', () => {
  it('keeps checkpointing while rollbacks follow, sets it aside otherwise (one in CHECKPOINT_RETRY_EVERY)', () => {
    const c = phaseCachesOf({} as JobContext);
    const r = c.rollback;
    for (let i = 0; i < CHECKPOINT_TRIAL; i++) {
      expect(worthCheckpointing(c)).toBe(true);
      r.captures++;
    }
    const taken = Array.from({ length: 4 * CHECKPOINT_RETRY_EVERY }, () => worthCheckpointing(c));
    expect(taken.filter((x) => x).length).toBe(4);
    r.rollbacks = Math.ceil(r.captures / CHECKPOINT_RATIO);
    expect(Array.from({ length: 8 }, () => worthCheckpointing(c)).every((x) => x)).toBe(true);
  });
});

describe('PagedMemory.rebaseKeepingWrites', () => {
  const PAGE = 4096;
  /** An image of 2 pages from a byte generator (page 1 absent when `hole`). */
  function image(bytes: number[], hole: boolean): NvramImage {
    const pages = [0, 1].map((p) => Uint8Array.from({ length: PAGE }, (_, i) => bytes[(p * PAGE + i) % bytes.length]));
    return { nvramSizeBytes: 2 * PAGE, page: (i) => (hole && i === 1 ? undefined : pages[i]), pageIndices: () => (hole ? [0] : [0, 1]) };
  }
  const byteOf = (img: NvramImage, off: number): number => img.page(off >>> 12)?.[off & 4095] ?? 0;

  it('shows the new image except the bytes written and the lines passed as the same', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 97 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 89 }),
        fc.boolean(),
        fc.array(fc.record({ off: fc.integer({ min: 0, max: 2 * PAGE - 8 }), size: fc.constantFrom(1, 2, 4, 8), v: fc.integer({ min: 0, max: 255 }) }), { maxLength: 40 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 127 }), { maxLength: 20 }),
        (a, b, hole, writes, sameLines) => {
          const from = image(a, false);
          const to = image(b, hole);
          const mem = new PagedMemory(2 * PAGE, from, 0, true);
          const t = new ReadTracker(2 * PAGE, new Set());
          mem.track = t;
          const written = new Map<number, number>();
          for (const w of writes) {
            const off = w.off - (w.off % w.size);
            if (w.size === 8) mem.writeWord(off, w.v, 0);
            else mem.writeSmall(off, w.size, w.v);
            for (let i = 0; i < w.size; i++) written.set(off + i, i === 0 ? w.v : 0);
          }
          // Lines passed as the same must hold the same bytes in both images: copy them into `to`'s view.
          const same = new Set(sameLines);
          const target: NvramImage = {
            nvramSizeBytes: 2 * PAGE,
            page: (i) => {
              const p = to.page(i)?.slice() ?? new Uint8Array(PAGE);
              for (const l of same) if (l >>> 6 === i) for (let k = 0; k < 64; k++) p[(l & 63) * 64 + k] = byteOf(from, l * 64 + k);
              return p;
            },
            pageIndices: () => [0, 1],
          };
          const fixed = [0, 1].map((i) => target.page(i)!);
          const view: NvramImage = { nvramSizeBytes: 2 * PAGE, page: (i) => fixed[i], pageIndices: () => [0, 1] };
          expect(mem.rebaseKeepingWrites(to, view, t, (l) => same.has(l))).toBe(false);
          expect(mem.rebaseKeepingWrites(from, view, t, (l) => same.has(l))).toBe(true);
          for (let off = 0; off < 2 * PAGE; off++) {
            const want = written.has(off) ? written.get(off)! : byteOf(view, off);
            if (mem.readSmall(off, 1) !== want) expect({ off, got: mem.readSmall(off, 1) }).toEqual({ off, got: want });
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('CheckCache', () => {
  /** An image of `pages` 4 KiB pages whose words come from `words` (page 0 absent when `hole`). */
  function image(pages: Uint8Array[], hole: boolean): NvramImage {
    return {
      nvramSizeBytes: pages.length * 4096,
      page: (i: number) => (hole && i === 0 ? undefined : pages[i]),
      pageIndices: () => pages.map((_, i) => i).filter((i) => !(hole && i === 0)),
    };
  }

  it('finds a kept check exactly when the image holds the same bytes on its read lines (buffers reused on eviction)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // Few distinct values, so equal and differing lines both occur.
            fill: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3 * 64, maxLength: 3 * 64 }),
            hole: fc.boolean(),
            read: fc.uniqueArray(fc.integer({ min: 0, max: 3 * 64 - 1 }), { minLength: 0, maxLength: 40 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (steps) => {
          const cache = new CheckCache();
          // Reference: the kept checks, most recent (or most recently found) first, with copies of their lines' bytes.
          const model: { sh: SharedCheck; bytes: Map<number, string> }[] = [];
          const lineBytes = (img: NvramImage, l: number): string => {
            const p = img.page(l >>> 6);
            return p === undefined ? new Array(64).fill(0).join(',') : [...p.subarray((l & 63) * 64, (l & 63) * 64 + 64)].join(',');
          };
          for (const st of steps) {
            const pages = [0, 1, 2].map((p) => {
              const u8 = new Uint8Array(4096);
              for (let l = 0; l < 64; l++) u8[l * 64 + (l % 7)] = st.fill[p * 64 + l];
              return u8;
            });
            const img = image(pages, st.hole);
            const expected = model.findIndex((m) => [...m.bytes].every(([l, b]) => lineBytes(img, l) === b));
            const got = cache.find(img);
            if (expected < 0) {
              expect(got).toBeUndefined();
              const sh: SharedCheck = { readLines: new Set(st.read), finish: () => { throw new Error('unused'); } };
              cache.add(img, sh);
              model.unshift({ sh, bytes: new Map(st.read.map((l) => [l, lineBytes(img, l)])) });
              if (model.length > CACHE_ENTRIES) model.pop();
            } else {
              expect(got).toBe(model[expected].sh);
              model.unshift(...model.splice(expected, 1));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
