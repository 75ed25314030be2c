/**
 * Parsing of the native calibration programs' output (experiments/calibrate/native/*.c)
 * and of callgrind_annotate listings, and the summary statistics of repeated measurements.
 *
 * Model: a program prints `RESULT <name> <value> <unit>` once per repetition and
 * `INFO <key> <value...>` for facts; other lines are ignored. A measurement is the list of
 * its repetitions, summarised by median, min, max and spread ((max - min) / median, %).
 *
 * Invariants: a name keeps one unit (a second unit is an error); values are finite numbers.
 */

export interface BenchOutput {
  /** Repetitions of each measurement, in output order. */
  readonly results: Record<string, { readonly unit: string; readonly values: number[] }>;
  readonly info: Record<string, string>;
}

export class BenchOutputError extends Error {
  override name = 'BenchOutputError';
}

export function parseBenchOutput(text: string, program = 'program'): BenchOutput {
  const results: Record<string, { unit: string; values: number[] }> = {};
  const info: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('RESULT ')) {
      const parts = line.split(/\s+/);
      const value = Number(parts[2]);
      if (parts.length !== 4 || !Number.isFinite(value)) throw new BenchOutputError(`${program} output line ${i + 1}: expected "RESULT <name> <number> <unit>", found "${line}"`);
      const [, name, , unit] = parts;
      const entry = (results[name] ??= { unit, values: [] });
      if (entry.unit !== unit) throw new BenchOutputError(`${program} output line ${i + 1}: ${name} in ${unit}, earlier in ${entry.unit}`);
      entry.values.push(value);
    } else if (line.startsWith('INFO ')) {
      const m = /^INFO\s+(\S+)\s*(.*)$/.exec(line);
      if (m) info[m[1]] = m[2];
    }
  });
  return { results, info };
}

export interface Summary {
  readonly unit: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median in percent, 0 when the median is 0. */
  readonly spreadPct: number;
  readonly values: readonly number[];
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(unit: string, values: readonly number[]): Summary {
  const med = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { unit, median: round3(med), min: round3(min), max: round3(max), spreadPct: med === 0 ? 0 : round3(((max - min) / med) * 100), values: values.map(round3) };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Inclusive instruction counts (Ir) of the named functions in a
 * `callgrind_annotate --inclusive=yes --threshold=100` listing, e.g.
 * `13,785,124 (36.70%)  ???:nv_alloc_one [/tmp/alloc]`. Functions not listed are absent.
 */
export function parseCallgrindInclusive(text: string, functions: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:?([A-Za-z_][\w.]*)(?:\s+\[.*\])?\s*$/.exec(line);
    if (!m) continue;
    const fn = m[2];
    if (functions.includes(fn) && out[fn] === undefined) out[fn] = Number(m[1].replace(/,/g, ''));
  }
  return out;
}
