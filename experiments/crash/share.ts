/**
 * Sharing one check among the crash states of a point that it cannot tell apart.
 *
 * Model: the states of one crash point are the lower image L plus deviations (a few
 * lines, or words, given more of their pending stores). Checking a state (recovery,
 * oracles, nested recoveries, probe: check.ts) is a deterministic computation over
 * the image; it observes the image only through the lines it reads. checkShared runs
 * it once on a representative image with every NVRAM line whose image content it
 * reads recorded (its read set R; sim/read-set.ts: lines the machine wrote in full
 * before reading are not counted, page-sized views count their whole page). Any
 * state that agrees with the representative on every line of R gets the same
 * run, read for read (induction over the reads: same addresses, same values, same
 * cycles), so the same recovery result, recovery cycles, oracle results, leaked bytes
 * and nested outcome; only the durability oracle, which depends on the crash points
 * where the image occurs and not on memory, is evaluated per state (SharedCheck.finish).
 *
 * Exploration (lazy, in the spirit of Jaaru's lazily explored persisted values): the
 * representative is first L itself (unless the point has at most two states, none of
 * them L: then the first state). A state agrees with a representative on R iff its
 * deviations restricted to the lines of R equal the representative's (a line's content
 * is fixed by which of its pending units are durable). States that agree take its
 * outcome; the rest are partitioned by their deviations on R, and each part is
 * explored the same way with its first state as representative (which agrees with
 * itself, so every round settles at least one state and the loop ends). States whose
 * deviating lines recovery and the oracles never read (Ralloc's lazily persisted
 * metadata that its recovery GC rebuilds without reading, data lines of unreachable
 * blocks) thus cost a set lookup per deviation instead of a recovery.
 *
 * Across points: the job keeps its last few checks with the bytes of their read lines; a
 * representative image holding the very same bytes on those lines takes that check (same
 * argument: a run is fixed by the values it reads). Checks whose recovery completed are
 * kept in their recovery class (phase-cache.ts: images on whose recovery lines the bytes
 * agree), keyed by the lines read after recovery, so PMDK's ~1,000 lane headers are
 * compared once per lookup (finding the class), not once per kept check; the others in
 * the job's CheckCache. When no kept check matches, checkShared still shares what it can
 * (phase-cache.ts): the recovered machine of the class, and the phases (consistency
 * check, heap walk, probe, nested checks) whose own read lines hold the same bytes.
 *
 * Soundness: every state gets exactly the outcome checking it alone gives (the
 * property test in share.test.ts compares against the one-state-at-a-time path,
 * `sharedChecking.enabled = false`, on random runs of every registered allocator).
 * Memos keyed by content (memo.ts) are not used on this path: a memo hit would skip
 * reads and leave them out of R.
 *
 * Invariants: the outcomes do not depend on the order of states or on grouping; the
 * replayer stays at the point while the callback runs (images are overlays of it).
 */
import type { NvramImage } from '../../sim/api.ts';
import type { PersistReplayer } from '../../sim/persistency/replay.ts';
import type { Deviation } from '../../sim/persistency/replay.ts';
import { checkShared, linesAfterRecovery, type CheckOutcome, type Expectation, type LineSet, type SharedCheck } from './check.ts';
import type { DistinctState } from './enumerate.ts';
import { LineCache } from './line-cache.ts';
import { phaseCachesOf, phaseSharing, type RecoveryClass } from './phase-cache.ts';
import type { JobContext } from './job.ts';

/** Set enabled to false to check each state alone (the reference path); counters for tests and reports. */
export const sharedChecking = { enabled: true, checks: 0, states: 0, reused: 0 };

/** Outcome of a state given its durability expectations. */
export type Finish = (exps: readonly Expectation[]) => CheckOutcome;

/**
 * Check the states of one point (the replayer at the point): `emit(state, finish)` once
 * per state, in an order that depends only on the states.
 */
export function checkPointShared(
  ctx: JobContext,
  r: PersistReplayer,
  states: readonly DistinctState[],
  emit: (s: DistinctState, finish: Finish) => void,
  nestedPoints: number,
  probeBlocks: number,
): void {
  // The lower image first when it is one of the states or there are several to split
  // (one or two states: check them, no extra check of the lower image).
  const first = states.length > 2 || states.some((s) => s.devs.length === 0) ? NONE : states[0].devs;
  const work: { rep: readonly Deviation[]; states: readonly DistinctState[] }[] = [{ rep: first, states }];
  while (work.length > 0) {
    const { rep, states: group } = work.pop()!;
    const image = r.stateImage(rep);
    // The image's recovery class (phase-cache.ts) holds the checks of images that
    // recover alike, keyed by the lines read after recovery; checks without a class
    // (recovery failed, or phase sharing off) are in the job's cache.
    const cls = phaseSharing.enabled ? phaseCachesOf(ctx).classes.find(image) : undefined;
    const cache = cacheOf(ctx);
    let sh = cls !== undefined ? cls.checks.find(image) : cache.find(image);
    if (sh === undefined) {
      sh = checkShared(ctx, image, nestedPoints, probeBlocks, cls);
      sharedChecking.checks++;
      if (sh.cls !== undefined) addToClass(image, sh, sh.cls);
      else cache.add(image, sh);
    } else sharedChecking.reused++;
    const read = sh.readLines;
    const repKey = restrictedKey(r, rep, read);
    const done = sh;
    const finish: Finish = (exps) => done.finish(exps);
    const parts = new Map<string, DistinctState[]>();
    for (const s of group) {
      const key = restrictedKey(r, s.devs, read);
      if (key === repKey) {
        sharedChecking.states++;
        emit(s, finish);
        continue;
      }
      let part = parts.get(key);
      if (part === undefined) parts.set(key, (part = []));
      part.push(s);
    }
    // Later parts are pushed first, so parts are explored in first-seen order.
    const ordered = [...parts.values()];
    for (let i = ordered.length - 1; i >= 0; i--) work.push({ rep: ordered[i][0].devs, states: ordered[i] });
  }
}

const NONE: readonly Deviation[] = [];

/** Keep a check in its recovery class, keyed by the lines it read after recovery's (its first `openLines`). */
function addToClass(image: NvramImage, sh: SharedCheck, cls: RecoveryClass): void {
  const after = linesAfterRecovery(sh);
  cls.checks.add(image, after, after.length, sh);
}

/** The deviations of `devs` on lines in `read`, as a key ("" when none). */
function restrictedKey(r: PersistReplayer, devs: readonly Deviation[], read: LineSet): string {
  let key = '';
  for (let i = 0; i < devs.length; i++) {
    const d = devs[i];
    if (read.has(r.entityLine(d[0]))) key += `${d[0]}:${d[1]},`;
  }
  return key;
}

/** Recent checks kept per job (the most recent first). */
export const CACHE_ENTRIES = 8;

/**
 * The job's recent shared checks with the content of their read lines: an image whose
 * every read line holds the same bytes gets the same check (compared byte for byte, no
 * hash; line-cache.ts). Consecutive crash points differ mostly in lines a check never
 * reads (stores to blocks not yet linked, metadata rebuilt by recovery), so checks
 * carry over.
 */
export class CheckCache {
  private readonly lines = new LineCache<SharedCheck>(CACHE_ENTRIES);

  find(image: NvramImage): SharedCheck | undefined {
    return this.lines.find(image);
  }

  add(image: NvramImage, sh: SharedCheck): void {
    this.lines.add(image, sh.readLines, sh.readLines.size, sh);
  }
}

const caches = new WeakMap<JobContext, CheckCache>();

function cacheOf(ctx: JobContext): CheckCache {
  let c = caches.get(ctx);
  if (c === undefined) caches.set(ctx, (c = new CheckCache()));
  return c;
}
