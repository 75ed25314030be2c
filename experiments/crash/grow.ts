/**
 * Typed arrays that grow by doubling: the per-point columns that crash enumeration
 * fills one entry at a time (upper-log.ts).
 *
 * Invariant: `doubled(a)` has a's type, a's entries first, zeros after, and length
 * max(16, 2 x a.length).
 */
type Column = Int32Array | Uint32Array | Float64Array;

/** A copy of `a` with twice its length (at least 16). */
export function doubled<A extends Column>(a: A): A {
  const b = new (a.constructor as new (length: number) => A)(Math.max(16, a.length * 2));
  b.set(a);
  return b;
}
