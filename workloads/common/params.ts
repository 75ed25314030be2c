/**
 * Parameter validation shared by every workload.
 *
 * Model: a workload's params are a flat record of integers (and, rarely, strings). The
 * user passes a partial record; `completeParams` fills in the published defaults,
 * rejects unknown names and checks every field against its declared integer range.
 * Every failure is a WorkloadParamError naming the parameter, the accepted range and
 * the value found. No floats anywhere: fractions are integer percentages or divisors.
 *
 * Invariants: the returned record has exactly the keys of the defaults; every value is
 * a safe integer inside its range.
 */
import { WorkloadParamError } from '../contract.ts';

/** The largest machine the simulator builds (sim/machine.ts MAX_CORES). */
export const MAX_THREADS = 255;

/** Inclusive integer range of one parameter. */
export interface IntRange {
  readonly min: number;
  readonly max: number;
}

export type IntRanges<P> = { readonly [K in keyof P]: IntRange };

/** Merge defaults, reject unknown names, check ranges. */
export function completeParams<P extends Record<string, number>>(
  given: Partial<P>,
  defaults: P,
  ranges: IntRanges<P>,
): P {
  for (const name of Object.keys(given)) {
    if (!(name in defaults)) {
      throw new WorkloadParamError(name, `one of the parameters ${Object.keys(defaults).join(', ')}`, given[name as keyof P]);
    }
  }
  const out: Record<string, number> = {};
  for (const name of Object.keys(defaults) as (keyof P & string)[]) {
    const v = given[name] ?? defaults[name];
    checkInt(name, v, ranges[name]);
    out[name] = v as number;
  }
  return out as P;
}

export function checkInt(name: string, value: unknown, range: IntRange): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new WorkloadParamError(name, `an integer in [${range.min}, ${range.max}]`, value);
  }
}

/** Threads: 1..255 (the machine's core limit; the runner gives one core per thread). */
export function checkThreads(threads: number, min = 1): void {
  checkInt('threads', threads, { min, max: MAX_THREADS });
}

/** A size in bytes: at least 1, at most the heap. */
export function sizeRange(heapSizeBytes: number): IntRange {
  return { min: 1, max: Math.max(1, heapSizeBytes) };
}

/** `count / scale`, floored, at least `floor`. The common meaning of the `scale` divisor. */
export function scaled(count: number, scale: number, floor = 1): number {
  return Math.max(floor, Math.floor(count / scale));
}

/** The completed params of a run, read in setup (executeRun sets ctx.params). */
export function paramsOf<P>(ctx: { readonly params?: object }, workload: string): P {
  if (ctx.params === undefined) throw new Error(`${workload}: setup needs ctx.params (executeRun sets it)`);
  return ctx.params as P;
}
