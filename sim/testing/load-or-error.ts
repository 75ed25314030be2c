/**
 * Test helper shared by the machine's differential tests: run a load (or CAS) and turn
 * the one error a random program may legitimately raise into a value, so that two
 * machines can be compared access by access.
 */
import { MisuseError } from '../errors.ts';

/** A load's value, or -1 when it raised the bad-value MisuseError (a word >= 2^53). */
export function loadOrError(f: () => number): number {
  try {
    return f();
  } catch (e) {
    if (e instanceof MisuseError && e.kind === 'bad-value') return -1;
    throw e;
  }
}
