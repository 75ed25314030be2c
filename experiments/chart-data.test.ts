/**
 * Chart data from run records: means over seeds and the error-bar bounds each errorBars
 * choice asks for, checked against figures worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import { chartInput } from './chart-data.ts';
import type { RunRecord } from './record.ts';
import type { ChartSpec } from './spec/schema.ts';
import { makeRecord } from './testing/records.ts';

function record(seed: number, cycles: number): RunRecord {
  return makeRecord({ seed, cycles });
}

const RECORDS = [record(42, 1000), record(43, 1200), record(44, 1400)];
const CHART: ChartSpec = { name: 'c', metric: 'cyclesPerOp', x: 'threads' };

describe('chartInput', () => {
  it('gives min..max error bars by default', () => {
    const c = chartInput(CHART, RECORDS);
    expect(c.points).toEqual([{ x: 1, series: 'makalu', mean: 120, min: 100, max: 140, n: 3 }]);
    expect(c.subtitle).toBe('mean over 3 seeds; error bars: min to max');
    expect(c.errorBars).toBeUndefined();
  });

  it('gives the 95 % confidence interval of the mean with errorBars ci95', () => {
    // 100, 120, 140: sd 20, half-width t(2) * 20 / sqrt(3) = 4.303 * 11.547 = 49.69
    const c = chartInput({ ...CHART, errorBars: 'ci95' }, RECORDS);
    expect(c.points[0]).toMatchObject({ mean: 120, ciLow: 70.31, ciHigh: 169.69 });
    expect(c.subtitle).toBe('mean over 3 seeds; error bars: 95 % confidence interval of the mean');
    expect(c.errorBars).toBe('ci95');
  });

  it('draws no interval from one seed and says nothing of error bars with none', () => {
    expect(chartInput({ ...CHART, errorBars: 'ci95' }, RECORDS.slice(0, 1)).points[0]).toMatchObject({ mean: 100, ciLow: 100, ciHigh: 100 });
    expect(chartInput({ ...CHART, errorBars: 'none' }, RECORDS).subtitle).toBe('mean over 3 seeds');
  });
});
