/**
 * Checkpoint and rollback of a recovered checking machine and its allocator (host
 * state only; check.ts keeps a recovered machine for the later images of its recovery
 * class, phase-cache.ts, and rolls it back here after the probe's mallocs changed it,
 * instead of recovering again).
 *
 * Model: `checkpointGraph(roots)` records every object reachable from the roots (the
 * machine and the allocator: caches, clocks, store buffers, prefetchers, lock table,
 * memories, trace, the allocator's own objects) and `restore()` writes the recorded
 * state back into the same objects, so that every object reachable at the checkpoint
 * holds what it held then (objects created since become unreachable from the roots):
 *   plain and class objects  own enumerable properties (values by reference; the
 *                            referenced objects are recorded in turn);
 *   arrays, Map, Set         their elements or entries;
 *   typed arrays             their contents (copied; at most MAX_TYPED_BYTES each);
 *   SetAssocCache            its checkpoint() (scalar fields and the entries filled
 *                            since its last reset, written back over what was filled
 *                            since): costs the entries used, not the 9 MB of LLC tags;
 *   PagedMemory              its checkpoint() (page table, owned pages' bytes);
 *   ReadTracker              its write masks (writeCheckpoint); its read set is
 *                            restarted by the caller;
 *   TraceRecorder            its fields, chunk list and valueHi side list, not the
 *                            chunks' contents: a trace is append-only, events below the
 *                            recorded length are never rewritten;
 *   opaque                   NVRAM images (immutable), frozen objects (cost models,
 *                            layouts), functions (by reference; the machine's closures
 *                            read its fields when called), and the cores' fast-path page
 *                            views (the elements of `hintWords`, views of memory pages,
 *                            restored by the memories' checkpoints; by reference).
 * Anything else that can hold state out of reach (WeakMap, WeakRef, Promise, accessor
 * properties, typed arrays above the cap, a cache past its used-entry tracking) makes
 * checkpointGraph return undefined: the caller then recovers again as before.
 *
 * Soundness: the simulation is a deterministic function of these objects' state (no
 * hidden module state changes what a machine or allocator does: module-level maps in
 * sim/ are host caches of immutable data), so a restored machine continues exactly as
 * the checkpointed one would have. The share.test.ts property tests compare every state's
 * row with the one-state-at-a-time check with rollback on and off.
 *
 * Host speed: restore writes a property only when its value changed (Object.is): a write
 * to a field never written since construction (a cache's geometry, a core's id), even of
 * the same value, makes V8 drop the field's constness and deoptimize the simulator's hot
 * code for good (nvm_malloc's checks ran ~25 % slower after a few rollbacks).
 *
 * Invariants: a checkpoint is restored only into the objects it recorded, while nothing
 * but the work to undo has used them (check.ts checks the machine's use count); restore
 * can be called any number of times.
 */
import { SetAssocCache } from '../../sim/cache.ts';
import { PagedMemory } from '../../sim/memory.ts';
import { ReadTracker } from '../../sim/read-set.ts';
import { TraceRecorder } from '../../sim/persistency/trace.ts';

/** Largest typed array copied by a checkpoint (bytes); a larger one makes the graph unsupported. */
export const MAX_TYPED_BYTES = 1 << 20;

/**
 * Properties holding arrays of views of memory pages (the cores' fast-path hints): the
 * array's elements are recorded by reference, the views themselves are not walked (the
 * memories' checkpoints restore the pages' bytes).
 */
const SHALLOW_ARRAY_PROPS: ReadonlySet<string> = new Set(['hintWords']);

export interface Checkpoint {
  restore(): void;
  /** Hand the copies' buffers to later checkpoints; restore() may not be called after. */
  release(): void;
  /** Objects and typed-array bytes recorded (tests, reports). */
  readonly objects: number;
  readonly typedBytes: number;
}

class Unsupported extends Error {}

/**
 * Copy buffers of released checkpoints by size, reused by later ones: a typed array costs
 * a host allocation (and external-memory GC pressure) that made a capture cost as much as
 * the recovery it saves. Chunks of CHUNK_BYTES, or a power of two for a larger copy.
 */
const CHUNK_BYTES = 1 << 16;
const POOL_PER_SIZE = 16;
const pool = new Map<number, ArrayBuffer[]>();

/** Bump allocation of a checkpoint's copies in pooled chunks. */
class Arena {
  private readonly chunks: ArrayBuffer[] = [];
  private cur: ArrayBuffer | undefined;
  private off = 0;

  private place(bytes: number): number {
    const n = (bytes + 7) & ~7;
    if (this.cur === undefined || this.off + n > this.cur.byteLength) {
      const size = n <= CHUNK_BYTES ? CHUNK_BYTES : 2 ** Math.ceil(Math.log2(n));
      this.cur = pool.get(size)?.pop() ?? new ArrayBuffer(size);
      this.chunks.push(this.cur);
      this.off = 0;
    }
    const at = this.off;
    this.off += n;
    return at;
  }

  bytes(n: number): Uint8Array {
    const at = this.place(n);
    return new Uint8Array(this.cur!, at, n);
  }

  int32(n: number): Int32Array {
    const at = this.place(4 * n);
    return new Int32Array(this.cur!, at, n);
  }

  release(): void {
    for (const c of this.chunks) {
      let free = pool.get(c.byteLength);
      if (free === undefined) pool.set(c.byteLength, (free = []));
      if (free.length < POOL_PER_SIZE) free.push(c);
    }
    this.chunks.length = 0;
    this.cur = undefined;
  }
}

/** Why the last checkpointGraph that returned undefined could not record the graph (diagnostics). */
export const checkpointRefusal = { reason: '' };

/** A checkpoint of everything reachable from `roots`, or undefined when some state there cannot be recorded. */
export function checkpointGraph(roots: readonly object[]): Checkpoint | undefined {
  try {
    return capture(roots);
  } catch (e) {
    if (e instanceof Unsupported) {
      checkpointRefusal.reason = e.message;
      return undefined;
    }
    throw e;
  }
}

type Restore = () => void;

function capture(roots: readonly object[]): Checkpoint {
  const arena = new Arena();
  try {
    return captureIn(roots, arena);
  } catch (e) {
    arena.release();
    throw e;
  }
}

function captureIn(roots: readonly object[], arena: Arena): Checkpoint {
  const seen = new Set<object>();
  const stack: unknown[] = [...roots];
  const special: Restore[] = [];
  const objs: object[] = [];
  const keys: string[][] = [];
  const vals: unknown[][] = [];
  const arrays: unknown[][] = [];
  const arrayVals: unknown[][] = [];
  const maps: Map<unknown, unknown>[] = [];
  const mapVals: [unknown, unknown][][] = [];
  const sets: Set<unknown>[] = [];
  const setVals: unknown[][] = [];
  const typed: ArrayBufferView[] = [];
  /** Typed arrays recorded by a special handler (a cache's tags), or owned by one: not copied. */
  const skipTyped = new Set<unknown>();
  const push = (v: unknown): void => {
    if (v !== null && typeof v === 'object' && !seen.has(v)) stack.push(v);
  };
  while (stack.length > 0) {
    const o = stack.pop() as object;
    if (seen.has(o)) continue;
    seen.add(o);
    if (isOpaque(o)) continue;
    if (ArrayBuffer.isView(o)) {
      typed.push(o);
      continue;
    }
    if (o instanceof SetAssocCache) {
      const cp = o.checkpoint((n) => arena.int32(n), MAX_TYPED_BYTES);
      if (cp === undefined) throw new Unsupported(`cache ${o.name} past its used-entry tracking`);
      for (const a of cp.arrays) skipTyped.add(a);
      special.push(cp.restore);
      continue;
    }
    if (o instanceof PagedMemory) {
      special.push(o.checkpoint((n) => arena.bytes(n)));
      push(o.track);
      continue;
    }
    if (o instanceof ReadTracker) {
      special.push(o.writeCheckpoint());
      continue;
    }
    if (o instanceof TraceRecorder) {
      special.push(shallowCheckpoint(o));
      continue;
    }
    if (Array.isArray(o)) {
      const copy = o.slice();
      arrays.push(o);
      arrayVals.push(copy);
      for (const v of copy) push(v);
      continue;
    }
    if (o instanceof Map) {
      const entries = [...o.entries()];
      maps.push(o);
      mapVals.push(entries);
      for (const [k, v] of entries) {
        push(k);
        push(v);
      }
      continue;
    }
    if (o instanceof Set) {
      const values = [...o];
      sets.push(o);
      setVals.push(values);
      for (const v of values) push(v);
      continue;
    }
    if (o instanceof WeakMap || o instanceof WeakSet || o instanceof WeakRef || o instanceof Promise || o instanceof ArrayBuffer || o instanceof SharedArrayBuffer) throw new Unsupported(`a ${o.constructor.name}`);
    const ks: string[] = [];
    const vs: unknown[] = [];
    for (const k of Object.keys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      if (d.get !== undefined || d.set !== undefined) throw new Unsupported(`accessor property ${k} of a ${o.constructor?.name}`);
      if (!d.writable) {
        // Cannot change: nothing to restore, but what it references may.
        push(d.value);
        continue;
      }
      ks.push(k);
      vs.push(d.value);
      if (!SHALLOW_ARRAY_PROPS.has(k) || !Array.isArray(d.value)) push(d.value);
      else if (!seen.has(d.value)) {
        seen.add(d.value);
        arrays.push(d.value);
        arrayVals.push(d.value.slice());
      }
    }
    objs.push(o);
    keys.push(ks);
    vals.push(vs);
  }
  const typedArrays: Uint8Array[] = [];
  const typedCopies: Uint8Array[] = [];
  let typedBytes = 0;
  for (const t of typed) {
    if (skipTyped.has(t)) continue;
    if (t.byteLength > MAX_TYPED_BYTES) throw new Unsupported(`a ${t.constructor.name} of ${t.byteLength} bytes`);
    // The bytes of the array, viewed once here (a view per array per restore was an allocation each).
    typedArrays.push(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    const copy = arena.bytes(t.byteLength);
    copy.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    typedCopies.push(copy);
    typedBytes += t.byteLength;
  }
  let released = false;
  const restore = (): void => {
    if (released) throw new Error('checkpoint restored after release');
    for (const r of special) r();
    for (let i = 0; i < objs.length; i++) {
      const o = objs[i] as Record<string, unknown>;
      const ks = keys[i];
      const vs = vals[i];
      for (let j = 0; j < ks.length; j++) if (!Object.is(o[ks[j]], vs[j])) o[ks[j]] = vs[j];
    }
    for (let i = 0; i < arrays.length; i++) {
      const a = arrays[i];
      const c = arrayVals[i];
      // Elements written only where they changed (a core's 4,096 fast-path page views,
      // mostly unchanged: a read costs the host less than a write and its barrier).
      if (a.length !== c.length) a.length = c.length;
      for (let j = 0; j < c.length; j++) if (a[j] !== c[j]) a[j] = c[j];
    }
    for (let i = 0; i < maps.length; i++) {
      const m = maps[i];
      m.clear();
      for (const [k, v] of mapVals[i]) m.set(k, v);
    }
    for (let i = 0; i < sets.length; i++) {
      const s = sets[i];
      s.clear();
      for (const v of setVals[i]) s.add(v);
    }
    for (let i = 0; i < typedArrays.length; i++) {
      typedArrays[i].set(typedCopies[i]);
    }
  };
  const release = (): void => {
    released = true;
    arena.release();
  };
  return { restore, release, objects: seen.size, typedBytes };
}

/** Never recorded: immutable NVRAM images (duck-typed), frozen objects. */
function isOpaque(o: object): boolean {
  if (Object.isFrozen(o)) return true;
  const x = o as { page?: unknown; pageIndices?: unknown };
  return typeof x.page === 'function' && typeof x.pageIndices === 'function';
}

/** An object's own properties (values by reference, arrays among them copied one level). */
function shallowCheckpoint(o: object): Restore {
  const rec = o as Record<string, unknown>;
  const ks = Object.keys(o);
  const vs = ks.map((k) => rec[k]);
  const arrays = vs.filter((v): v is unknown[] => Array.isArray(v)).map((a) => [a, a.slice()] as const);
  return () => {
    for (let j = 0; j < ks.length; j++) if (!Object.is(rec[ks[j]], vs[j])) rec[ks[j]] = vs[j];
    for (const [a, c] of arrays) {
      a.length = c.length;
      for (let j = 0; j < c.length; j++) a[j] = c[j];
    }
  };
}

