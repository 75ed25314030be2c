/**
 * Stable, self-contained crash-state ids (what `npx nvlab replay <id>` takes).
 *
 * Model: an id is `nv1.<job>.<state>`: <job> is base64url(deflateRaw(canonical JSON))
 * of the whole CrashJob (allocator, workload, params, idiom, threads, seed, preset,
 * overrides, sizes, persistency rule set, mode); <state> is base64url of varints: the
 * crash point (trace position), the number of deviations, then per deviation the
 * entity (line or word index, delta-coded) and how many pending units beyond the lower
 * bound are durable; optionally the same again for a crash inside recovery.
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


/** Canonical JSON of a job: keys sorted, so equal jobs encode identically. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const jobParts = new Map<string, string>();
/** Per job object (jobs are readonly JSON): skips re-serialising the job for every row. */
const jobPartByObject = new WeakMap<CrashJob, string>();

/** The job part of an id (compressed canonical JSON), cached per job. */
function jobPart(job: CrashJob): string {
  const known = jobPartByObject.get(job);
  if (known !== undefined) return known;
  const part = jobPartOf(canonicalJson(job));
  jobPartByObject.set(job, part);
  return part;
}

function jobPartOf(key: string): string {
  let part = jobParts.get(key);
  if (part === undefined) {
    part = deflateRawSync(Buffer.from(key)).toString('base64url');
    if (jobParts.size > 64) jobParts.clear();
    jobParts.set(key, part);
  }
  return part;
}

function pushVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** State part: varints [pos, count, (entity delta, extra)*] and optionally the same for the nested crash. */
function statePart(pos: number, devs: readonly Deviation[], out: number[]): void {
  pushVarint(out, pos);
  pushVarint(out, devs.length);
  let prev = 0;
  for (const [e, x] of devs) {
    pushVarint(out, e - prev);
    pushVarint(out, x);
    prev = e;
  }
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding of bytes 0..255 (what Buffer gives; no Buffer for a few bytes a row). */
export function base64url(bytes: readonly number[]): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64URL[n >>> 18] + B64URL[(n >>> 12) & 63] + B64URL[(n >>> 6) & 63] + B64URL[n & 63];
  }
  if (bytes.length - i === 1) {
    const n = bytes[i] << 16;
    out += B64URL[n >>> 18] + B64URL[(n >>> 12) & 63];
  } else if (bytes.length - i === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64URL[n >>> 18] + B64URL[(n >>> 12) & 63] + B64URL[(n >>> 6) & 63];
  }
  return out;
}

export function encodeStateId(ref: StateRef): string {
  const bytes: number[] = [];
  statePart(ref.pos, ref.devs, bytes);
  if (ref.nested !== undefined) statePart(ref.nested.pos, ref.nested.devs, bytes);
  return `${ID_PREFIX}${jobPart(ref.job)}.${base64url(bytes)}`;
}

class VarintReader {
  i = 0;
  constructor(private readonly b: Buffer) {}
  get done(): boolean {
    return this.i >= this.b.length;
  }
  next(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.i >= this.b.length) throw new CrashIdError('crash id: the state part is truncated');
      const byte = this.b[this.i++];
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 0x80;
      if (mul > 2 ** 49) throw new CrashIdError('crash id: a number in the state part is too large');
    }
  }
  state(): { pos: number; devs: Deviation[] } {
    const pos = this.next();
    const n = this.next();
    const devs: Deviation[] = [];
    let e = 0;
    for (let j = 0; j < n; j++) {
      e += this.next();
      devs.push([e, this.next()]);
    }
    return { pos, devs };
  }
}

export function decodeStateId(id: string): StateRef {
  if (!id.startsWith(ID_PREFIX)) throw new CrashIdError(`crash id: expected a string starting with "${ID_PREFIX}", found "${id.slice(0, 12)}..."`);
  const parts = id.slice(ID_PREFIX.length).split('.');
  if (parts.length !== 2) throw new CrashIdError('crash id: expected two dot-separated parts after the prefix (job and state)');
  let job: CrashJob;
  try {
    job = JSON.parse(inflateRawSync(Buffer.from(parts[0], 'base64url')).toString('utf8'));
  } catch {
    throw new CrashIdError('crash id: the job part is not valid (truncated or mistyped id?)');
  }
  if (typeof job !== 'object' || job === null) throw new CrashIdError('crash id: the job part is not an object');
  const r = new VarintReader(Buffer.from(parts[1], 'base64url'));
  const outer = r.state();
  const ref: { job: CrashJob; pos: number; devs: Deviation[]; nested?: { pos: number; devs: Deviation[] } } = { job, pos: outer.pos, devs: outer.devs };
  if (!r.done) ref.nested = r.state();
  if (!r.done) throw new CrashIdError('crash id: trailing bytes after the state part');
  return ref;
}
