/**
 * Typed errors raised by the simulated machine.
 *
 * Model: misuse of the machine (an access outside the address space, a misaligned
 * access where failure atomicity is required, a read of NVRAM before it was formatted,
 * a value that is not a 64-bit-representable unsigned integer) is a programming error
 * of the allocator or workload. It raises a MisuseError naming the address and the core;
 * it never silently corrupts simulated state.
 */

export type MisuseKind =
  | 'out-of-bounds'
  | 'misaligned-atomic'
  | 'unformatted-read'
  | 'bad-value'
  | 'bad-size'
  | 'lock-misuse'
  | 'deadlock';

export class SimError extends Error {
  override name = 'SimError';
}

export class MisuseError extends SimError {
  override name = 'MisuseError';
  constructor(
    readonly kind: MisuseKind,
    readonly addr: number,
    readonly coreId: number,
    detail: string,
  ) {
    super(`${kind} at 0x${addr.toString(16)} on core ${coreId}: ${detail}`);
  }
}

/**
 * A core ran past the simulated-cycle limit set with SimCore.setCycleLimit: the code it
 * was running (typically a recovery over a corrupted image) does not terminate in
 * bounded time. Checkers report this as a hang, never as a pass.
 */
export class CycleBudgetError extends SimError {
  override name = 'CycleBudgetError';
  constructor(
    readonly coreId: number,
    readonly limitCycles: number,
  ) {
    super(`core ${coreId} ran past its limit of ${limitCycles} cycles (the code does not terminate in bounded time)`);
  }
}

/** An internal invariant of the simulator failed: a bug in nvlab, never switched off. */
export class InvariantError extends SimError {
  override name = 'InvariantError';
}

export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new InvariantError(message);
}
