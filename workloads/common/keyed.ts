/**
 * Keyed operation streams for the persistent data structures, and the durability
 * oracle's expected keys.
 *
 * Model: thread t of T owns the keys j*T + t + 1 for j in [0, keyRange), so no two
 * threads ever touch the same key and each thread's stream alone fixes the state of
 * its keys. The generator tracks which of its keys are present: an `insert` always
 * inserts an absent key, `remove` and `update` always hit a present key (falling back
 * to the other kind when there is no candidate), so the sequential meaning of a
 * stream is exact. The kind is drawn with integer percentages; keys uniformly among
 * the candidates; values uniformly in [0, 2^31).
 *
 * Oracle: after the ops `completed` (schedule order) a key is present iff its last
 * completed op was an insert or update. Keys an insert or remove in flight touches may
 * be either (an update in flight leaves its key present: its node is replaced by one
 * atomic pointer swing); every other key in the streams must be as computed.
 */
import type { SeedTree, Choice } from '../../sim/choice.ts';
import type { Op, OpRef, ThreadStreams } from '../contract.ts';

export interface KeyedMix {
  readonly opsPerThread: number;
  readonly keyRange: number;
  readonly insertPercent: number;
  /** Remove share; the rest (100 - insert - remove) are updates. */
  readonly removePercent: number;
}

const VALUE_RANGE = 2 ** 31;

export function keyOf(thread: number, threads: number, j: number): number {
  return j * threads + thread + 1;
}

/** Remove and return a uniformly chosen element (swap with the last). */
function takeAt(c: Choice, from: number[]): number {
  const i = c.index(from.length);
  const v = from[i];
  from[i] = from[from.length - 1];
  from.pop();
  return v;
}

function pickKind(c: Choice, mix: KeyedMix, present: number, absent: number): 'insert' | 'remove' | 'update' {
  const r = c.index(100);
  let kind: 'insert' | 'remove' | 'update' = r < mix.insertPercent ? 'insert' : r < mix.insertPercent + mix.removePercent ? 'remove' : 'update';
  if (kind === 'insert' && absent === 0) kind = mix.removePercent > 0 || mix.insertPercent + mix.removePercent === 100 ? 'remove' : 'update';
  if (kind !== 'insert' && present === 0) kind = 'insert';
  return kind;
}

export function generateThreadOps(c: Choice, mix: KeyedMix, thread: number, threads: number): Op[] {
  const absent: number[] = [];
  for (let j = mix.keyRange - 1; j >= 0; j--) absent.push(keyOf(thread, threads, j));
  const present: number[] = [];
  const ops: Op[] = [];
  for (let i = 0; i < mix.opsPerThread; i++) {
    const kind = pickKind(c, mix, present.length, absent.length);
    if (kind === 'insert') {
      const key = takeAt(c, absent);
      present.push(key);
      ops.push({ kind, key, value: c.index(VALUE_RANGE) });
    } else if (kind === 'remove') {
      const key = takeAt(c, present);
      absent.push(key);
      ops.push({ kind, key });
    } else {
      const key = present[c.index(present.length)];
      ops.push({ kind, key, value: c.index(VALUE_RANGE) });
    }
  }
  return ops;
}

export function generateKeyed(seed: SeedTree, mix: KeyedMix, threads: number): Op[][] {
  const streams: Op[][] = [];
  for (let t = 0; t < threads; t++) streams.push(generateThreadOps(seed.child(`thread-${t}`).choice(), mix, t, threads));
  return streams;
}

type ExpectedKeys = { mustContain: number[]; mustNotContain: number[] };

/** Every key of the streams, absent: the presence map before any op completed. */
function initialPresence(streams: ThreadStreams): Map<number, boolean> {
  const present = new Map<number, boolean>();
  for (const s of streams) for (const op of s) present.set(op.key as number, false);
  return present;
}

/** Record a completed op in a presence map. */
function applyOp(streams: ThreadStreams, present: Map<number, boolean>, r: OpRef): void {
  const op = streams[r.thread][r.opIndex];
  present.set(op.key as number, op.kind !== 'remove');
}

/** Split a presence map into the keys that must be present / absent, given the ops in flight. */
function splitPresence(streams: ThreadStreams, present: ReadonlyMap<number, boolean>, inFlight: readonly OpRef[]): ExpectedKeys {
  // An update in flight never makes its key absent (both protocols replace the node
  // with one atomic pointer swing), so only inserts and removes in flight are unknown.
  const touched = new Set<number>();
  for (const r of inFlight) {
    const op = streams[r.thread][r.opIndex];
    if (op.kind !== 'update') touched.add(op.key as number);
  }
  const mustContain: number[] = [];
  const mustNotContain: number[] = [];
  for (const [key, isIn] of present) {
    if (touched.has(key)) continue;
    (isIn ? mustContain : mustNotContain).push(key);
  }
  mustContain.sort((a, b) => a - b);
  mustNotContain.sort((a, b) => a - b);
  return { mustContain, mustNotContain };
}

/** Keys that must be present / absent after `completed`, given the ops in flight. */
export function expectedKeysOf(streams: ThreadStreams, completed: readonly OpRef[], inFlight: readonly OpRef[]): ExpectedKeys {
  const present = initialPresence(streams);
  for (const r of completed) applyOp(streams, present, r);
  return splitPresence(streams, present, inFlight);
}

/** Completed ops between two saved presence maps of expectedKeysIndexOf. */
const CHECKPOINT_OPS = 256;

/**
 * expectedKeysOf for many prefixes of one completion order: the presence of every key
 * is saved every CHECKPOINT_OPS completed ops, so one query replays at most that many
 * ops over a copy of a saved map, O(keys + CHECKPOINT_OPS) whatever the prefix length
 * (equal to expectedKeysOf; a test compares them). A query equal to the one before it
 * (same count, same ops in flight) returns the same answer object: callers only read it.
 */
export function expectedKeysIndexOf(
  streams: ThreadStreams,
  completed: readonly OpRef[],
): (completedCount: number, inFlight: readonly OpRef[]) => ExpectedKeys {
  const saved: Map<number, boolean>[] = [];
  const present = initialPresence(streams);
  for (let i = 0; i <= completed.length; i++) {
    if (i % CHECKPOINT_OPS === 0) saved.push(new Map(present));
    if (i < completed.length) applyOp(streams, present, completed[i]);
  }
  // The last query's answer, and the split with no op in flight at the last count:
  // consecutive crash points mostly lie within one op (same completed count, same ops in
  // flight), and the answer depends on nothing else; at one count, the ops in flight
  // only take their keys out of the split.
  let last: { n: number; inFlight: OpRef[]; keys: ExpectedKeys } | undefined;
  let atCount: { n: number; keys: ExpectedKeys } | undefined;
  return (n, inFlight) => {
    if (last !== undefined && last.n === n && sameRefs(last.inFlight, inFlight)) return last.keys;
    if (atCount === undefined || atCount.n !== n) {
      const c = Math.floor(n / CHECKPOINT_OPS);
      const m = new Map(saved[c]);
      for (let i = c * CHECKPOINT_OPS; i < n; i++) applyOp(streams, m, completed[i]);
      atCount = { n, keys: splitPresence(streams, m, []) };
    }
    const keys = withoutInFlight(streams, atCount.keys, inFlight);
    last = { n, inFlight: inFlight.map((r) => ({ thread: r.thread, opIndex: r.opIndex })), keys };
    return keys;
  };
}

/** A split with no op in flight, less the keys of the inserts and removes in flight (as splitPresence leaves them out). */
function withoutInFlight(streams: ThreadStreams, all: ExpectedKeys, inFlight: readonly OpRef[]): ExpectedKeys {
  const touched = new Set<number>();
  for (const r of inFlight) {
    const op = streams[r.thread][r.opIndex];
    if (op.kind !== 'update') touched.add(op.key as number);
  }
  if (touched.size === 0) return all;
  return { mustContain: all.mustContain.filter((k) => !touched.has(k)), mustNotContain: all.mustNotContain.filter((k) => !touched.has(k)) };
}

function sameRefs(a: readonly OpRef[], b: readonly OpRef[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].thread !== b[i].thread || a[i].opIndex !== b[i].opIndex) return false;
  return true;
}

/** The value each present key holds after `completed` (for value checks in tests). */
export function expectedValuesOf(streams: ThreadStreams, completed: readonly OpRef[]): Map<number, number> {
  const values = new Map<number, number>();
  for (const r of completed) {
    const op = streams[r.thread][r.opIndex];
    if (op.kind === 'remove') values.delete(op.key as number);
    else values.set(op.key as number, op.value as number);
  }
  return values;
}
