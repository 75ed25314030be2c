/**
 * Stable, self-contained crash-state ids (what `npx nvlab replay <id>` takes).
 *
 * Model: an id is `nv1.` + base64url(deflateRaw(JSON)) of { job, pos, devs, nested? }:
 * the whole CrashJob (allocator, workload, params, idiom, threads, seed, preset,
 * overrides, sizes, persistency rule set, mode), the crash point (trace position), the
 * per-line (per-word) choices as flattened [entity, extra] pairs relative to the lower
 * bound at that point, and, for a crash inside recovery, the nested point and choices.
 * Re-executing the job deterministically and replaying the trace to `pos` rebuilds
 * the identical image.
 *
 * Invariants: encoding is deterministic (keys in a fixed order); decoding validates
 * the version and shape and raises CrashIdError naming what is wrong.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CrashJob } from './api.ts';
import type { Deviation } from '../../sim/persistency/replay.ts';

export const ID_PREFIX = 'nv1.';

export interface StateRef {
  readonly job: CrashJob;
  readonly pos: number;
  readonly devs: readonly Deviation[];
  /** A crash inside this state's recovery: its trace position and choices. */
  readonly nested?: { readonly pos: number; readonly devs: readonly Deviation[] };
}

export class CrashIdError extends Error {
  override name = 'CrashIdError';
}

function flat(devs: readonly Deviation[]): number[] {
  const out: number[] = [];
  for (const [e, x] of devs) out.push(e, x);
  return out;
}
function unflat(a: unknown, what: string): Deviation[] {
  if (!Array.isArray(a) || a.length % 2 !== 0 || !a.every((v) => Number.isSafeInteger(v) && v >= 0)) {
    throw new CrashIdError(`crash id: ${what} must be an even-length array of non-negative integers`);
  }
  const out: Deviation[] = [];
  for (let j = 0; j < a.length; j += 2) out.push([a[j], a[j + 1]]);
  return out;
}

/** Canonical JSON of a job: keys sorted, so equal jobs encode identically. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function encodeStateId(ref: StateRef): string {
  const body: Record<string, unknown> = { job: ref.job, pos: ref.pos, devs: flat(ref.devs) };
  if (ref.nested !== undefined) body.nested = { pos: ref.nested.pos, devs: flat(ref.nested.devs) };
  return ID_PREFIX + deflateRawSync(Buffer.from(canonicalJson(body))).toString('base64url');
}

export function decodeStateId(id: string): StateRef {
  if (!id.startsWith(ID_PREFIX)) throw new CrashIdError(`crash id: expected a string starting with "${ID_PREFIX}", found "${id.slice(0, 12)}..."`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(inflateRawSync(Buffer.from(id.slice(ID_PREFIX.length), 'base64url')).toString('utf8'));
  } catch {
    throw new CrashIdError('crash id: the payload is not valid (truncated or mistyped id?)');
  }
  if (typeof body.job !== 'object' || body.job === null) throw new CrashIdError('crash id: missing job');
  if (!Number.isSafeInteger(body.pos) || (body.pos as number) < 0) throw new CrashIdError('crash id: pos must be a non-negative integer');
  const ref: { job: CrashJob; pos: number; devs: Deviation[]; nested?: { pos: number; devs: Deviation[] } } = {
    job: body.job as CrashJob,
    pos: body.pos as number,
    devs: unflat(body.devs, 'devs'),
  };
  if (body.nested !== undefined) {
    const n = body.nested as Record<string, unknown>;
    if (!Number.isSafeInteger(n.pos)) throw new CrashIdError('crash id: nested.pos must be an integer');
    ref.nested = { pos: n.pos as number, devs: unflat(n.devs, 'nested.devs') };
  }
  return ref;
}
