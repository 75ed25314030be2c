/**
 * summary.csv: statistics over seeds per configuration, checked on hand-made records
 * against figures worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import type { RunRecord } from './record.ts';
import { SUMMARY_COLUMNS, summaryCsv } from './tables.ts';
import { makeRecord } from './testing/records.ts';

function record(allocator: string, seed: number, cycles: number): RunRecord {
  return makeRecord({ allocator, seed, cycles });
}

function rows(csv: string): Record<string, string>[] {
  const [head, ...lines] = csv.trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

describe('summaryCsv', () => {
  const records = [record('makalu', 42, 1000), record('pmdk', 42, 3000), record('makalu', 43, 1200), record('pmdk', 43, 3000), record('makalu', 44, 1400)];
  const out = rows(summaryCsv('demo', records));

  it('has one row per configuration and metric with a value, configurations in first-run order', () => {
    expect(summaryCsv('demo', records).split('\n')[0]).toBe(SUMMARY_COLUMNS.join(','));
    expect([...new Set(out.map((r) => r.allocator))]).toEqual(['makalu', 'pmdk']);
    // logEntries, recovery, restart and liveObjects are null for these records: no rows.
    expect(out.some((r) => r.metric === 'logEntriesPerOp' || r.metric === 'recoveryCycles')).toBe(false);
  });

  it('gives the exact mean, sample sd, 95 % half-width (Student t), min and max over seeds', () => {
    const makalu = out.find((r) => r.allocator === 'makalu' && r.metric === 'cyclesPerOp')!;
    // 100, 120, 140 cycles/op: mean 120, sd 20, ci = t(2) * 20 / sqrt(3) = 4.303 * 11.547 = 49.69
    expect(makalu).toMatchObject({ n: '3', mean: '120.00', sd: '20.00', ci95: '49.69', min: '100.00', max: '140.00', unit: 'cycles/op' });
    const pmdk = out.find((r) => r.allocator === 'pmdk' && r.metric === 'cyclesPerOp')!;
    expect(pmdk).toMatchObject({ n: '2', mean: '300.00', sd: '0.00', ci95: '0.00' });
    // An integer metric keeps two decimals in its mean (1000, 1200, 1400 -> 1200.00).
    expect(out.find((r) => r.allocator === 'makalu' && r.metric === 'cycles')).toMatchObject({ mean: '1200.00', sd: '200.00' });
  });

  it('leaves sd and ci95 empty for a single seed', () => {
    const one = rows(summaryCsv('demo', [record('makalu', 42, 1000)]));
    expect(one.find((r) => r.metric === 'cyclesPerOp')).toMatchObject({ n: '1', mean: '100.00', sd: '', ci95: '' });
  });
});
