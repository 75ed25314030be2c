/**
 * Tests of crash checking compare a shortcut (machine reuse, memos, shared checks,
 * rollback) with the path it replaces by turning the shortcut's switch off for one call.
 *
 * Invariant: the switch is back on when withSwitchOff returns or throws.
 */

/** f() with a switch off (back on afterwards, whatever happens). */
export function withSwitchOff<T>(flag: { enabled: boolean }, f: () => T): T {
  flag.enabled = false;
  try {
    return f();
  } finally {
    flag.enabled = true;
  }
}
