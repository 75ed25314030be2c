/**
 * Model vs reality: published-data parsing, exact ratios and error factors on hand-made
 * records and published rows (figures worked out by hand), orderings, the native
 * calibration reference, validation.csv and the report section.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderReport, type ReportModel } from '../reports/html.ts';
import { formatRatio, ratio } from '../reports/number.ts';
import type { RunRecord } from './record.ts';
import { makeRecord } from './testing/records.ts';
import {
  citationSummary, errorChartInput, errorFactor, ordering, parseCalibration, parseDecimal, parsePublishedCsv, publishedTimes, ratioChartInput, validate,
  validationCsv, validationSection, ValidationDataError, withinMatch,
} from './validation.ts';

const HEADER = 'source,benchmark,allocator,threads,trial,metric,value,unit,citation';

function csv(rows: string[]): string {
  return [HEADER, ...rows].join('\n') + '\n';
}

/** threadtest at 10 threads: ralloc 2 s, jemalloc 2.5 s, makalu 20 s (mean of 19 and 21), pmdk 100 s; larson at 10 threads in ops/s. */
const PUBLISHED = csv([
  'paper,threadtest,ralloc,10,1,execTime,2,s,f/tt_r.csv',
  'paper,threadtest,jemalloc,10,1,execTime,2.5,s,f/tt_je.csv',
  'paper,threadtest,makalu,10,1,execTime,19,s,f/tt_mak.csv',
  'paper,threadtest,makalu,10,2,execTime,21,s,f/tt_mak.csv',
  'paper,threadtest,pmdk,10,1,execTime,100,s,f/tt_pmdk.csv',
  'paper,larson,ralloc,10,1,throughput,4000000,ops/s,f/l_r.csv',
  'paper,larson,makalu,10,1,throughput,1000000,ops/s,f/l_mak.csv',
  'paper,larson,jemalloc,10,1,throughput,5e6,ops/s,f/l_je.csv',
  'paper,larson,pmdk,10,1,throughput,125000,ops/s,f/l_pmdk.csv',
]);

/** cycles per op = cycles / 10 ops. */
function run(allocator: string, workload: string, threads: number, cycles: number, seed = 42): RunRecord {
  return makeRecord({ allocator, workload, threads, cycles, ops: 10, seed });
}

const RECORDS: RunRecord[] = [
  // threadtest, 10 threads: makalu 8x ralloc (published 10x), pmdk 2x makalu (published 5x), transient = ralloc (published 1.25x)
  run('ralloc', 'threadtest', 10, 1000),
  run('transient', 'threadtest', 10, 1000),
  run('makalu', 'threadtest', 10, 8000),
  run('pmdk', 'threadtest', 10, 16000),
  // seeds average: makalu (7000 + 9000) / 2 = 8000 over two seeds of the same configuration
  run('makalu', 'threadtest', 10, 7000, 43),
  run('makalu', 'threadtest', 10, 9000, 44),
  // larson, 10 threads: published time per op ralloc 1/4e6, makalu 1/1e6 -> makalu/ralloc 4; pmdk/makalu 8; jemalloc/ralloc 0.8
  run('ralloc', 'larson', 10, 1000),
  run('makalu', 'larson', 10, 3000),
  run('pmdk', 'larson', 10, 30000),
  run('transient', 'larson', 10, 1200),
  // threadtest at 16 threads: nothing published
  run('ralloc', 'threadtest', 16, 1000),
  run('makalu', 'threadtest', 16, 5000),
];

const find = (v: ReturnType<typeof validate>, benchmark: string, threads: number, pair: string) => v.rows.find((r) => r.benchmark === benchmark && r.threads === threads && r.pair === pair)!;
const text = (r: ReturnType<typeof ratio> | null) => (r === null ? null : formatRatio(r, 4));

describe('parseDecimal', () => {
  it('gives exact fractions of decimal literals, exponents included', () => {
    expect(parseDecimal('28.961677')).toEqual(ratio(28961677n, 1000000n));
    expect(parseDecimal('5e6')).toEqual(ratio(5000000n));
    expect(parseDecimal('3.25e-7')).toEqual(ratio(325n, 1000000000n));
    expect(parseDecimal('-0.5')).toEqual(ratio(-5n, 10n));
    for (const bad of ['', 'abc', '1,5', '0x10', '1e']) expect(parseDecimal(bad)).toBeNull();
  });

  it('reads back every decimal text of an integer fraction', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 9 }), (n, d) => {
      const r = ratio(n, 10n ** BigInt(d));
      const back = parseDecimal(formatRatio(r, d))!;
      expect(back.num * r.den).toBe(r.num * back.den);
    }));
  });
});

describe('parsePublishedCsv', () => {
  it('parses rows with exact values, any column order, quoted cells', () => {
    const rows = parsePublishedCsv('value,unit,metric,threads,allocator,benchmark,source,citation\n0.25,s,execTime,4,ralloc,shbench,p,"a, b ""c"""\n', 'x.csv');
    expect(rows).toEqual([{ source: 'p', benchmark: 'shbench', allocator: 'ralloc', threads: 4, metric: 'execTime', value: ratio(25, 100), unit: 's', citation: 'a, b "c"' }]);
  });

  it.each([
    ['source,benchmark\n', 'x.csv:1: header: expected columns source, benchmark, allocator, threads, metric, value, unit, citation, missing allocator, threads, metric, value, unit, citation'],
    [csv(['p,tt,ralloc,0,1,execTime,2,s,c']), 'x.csv:2: column threads: expected a positive integer, found "0"'],
    [csv(['p,tt,ralloc,2,1,time,2,s,c']), 'x.csv:2: column metric: expected execTime or throughput, found "time"'],
    [csv(['p,tt,ralloc,2,1,throughput,2,s,c']), 'x.csv:2: column unit: expected ops/s for throughput, found "s"'],
    [csv(['p,tt,ralloc,2,1,execTime,-2,s,c']), 'x.csv:2: column value: expected a positive decimal number, found "-2"'],
    [csv(['p,tt,ralloc,2,1,execTime,2,s']), 'x.csv:2: expected 9 cells (as the header), found 8'],
    [csv(['p,tt,,2,1,execTime,2,s,c']), 'x.csv:2: column allocator: expected a non-empty text, found an empty cell'],
    [csv(['p,tt,ralloc,2,1,execTime,2,s,"c']), 'x.csv:2: expected a closing double quote, found the end of the line'],
    [HEADER + '\n', 'x.csv: expected at least one data row, found none'],
  ])('rejects bad data with file, line and column (%#)', (input, message) => {
    expect(() => parsePublishedCsv(input, 'x.csv')).toThrow(ValidationDataError);
    expect(() => parsePublishedCsv(input, 'x.csv')).toThrow(message);
  });

  it('reads the shipped published data: 3 trials of every benchmark, allocator and thread count', () => {
    const rows = parsePublishedCsv(readFileSync(join(import.meta.dirname, 'validation/published.csv'), 'utf8'), 'published.csv');
    const groups = new Map<string, number>();
    for (const r of rows) groups.set(`${r.benchmark} ${r.allocator} ${r.threads}`, (groups.get(`${r.benchmark} ${r.allocator} ${r.threads}`) ?? 0) + 1);
    expect([...groups.values()].every((n) => n === 3)).toBe(true);
    for (const b of ['threadtest', 'shbench', 'larson', 'prod-con']) {
      for (const a of ['makalu', 'ralloc', 'jemalloc', 'pmdk']) expect(groups.get(`${b} ${a} 10`)).toBe(3);
    }
    expect(rows.filter((r) => r.benchmark === 'larson').every((r) => r.metric === 'throughput')).toBe(true);
  });
});

describe('validate', () => {
  const v = validate(RECORDS, parsePublishedCsv(PUBLISHED, 'p.csv'));

  it('takes the published mean over trials, and inverts larson throughput into time per op', () => {
    const t = publishedTimes(parsePublishedCsv(PUBLISHED, 'p.csv'));
    expect(t.get(JSON.stringify(['threadtest', 'makalu', 10]))!.time).toEqual(ratio(20));
    expect(t.get(JSON.stringify(['larson', 'ralloc', 10]))!.time).toEqual(ratio(1, 4000000));
  });

  it('sets simulated ratios (means over seeds) beside published ones, with exact error factors', () => {
    const mr = find(v, 'threadtest', 10, 'makalu/ralloc');
    expect([text(mr.simRatio), text(mr.referenceRatio), text(mr.errorFactor), withinMatch(mr)]).toEqual(['8.0000', '10.0000', '1.2500', true]);
    const pm = find(v, 'threadtest', 10, 'pmdk/makalu');
    expect([text(pm.simRatio), text(pm.referenceRatio), text(pm.errorFactor), withinMatch(pm)]).toEqual(['2.0000', '5.0000', '2.5000', false]);
    const tr = find(v, 'threadtest', 10, 'transient/ralloc');
    expect([tr.referencePair, text(tr.simRatio), text(tr.referenceRatio), text(tr.errorFactor)]).toEqual(['jemalloc/ralloc', '1.0000', '1.2500', '1.2500']);
    expect(mr.citation).toBe('f/tt_mak.csv f/tt_r.csv');
  });

  it('compares larson as time per op (the inverse of throughput)', () => {
    const mr = find(v, 'larson', 10, 'makalu/ralloc');
    expect([text(mr.simRatio), text(mr.referenceRatio), text(mr.errorFactor)]).toEqual(['3.0000', '4.0000', '1.3333']);
    const pm = find(v, 'larson', 10, 'pmdk/makalu');
    expect([text(pm.simRatio), text(pm.referenceRatio), text(pm.errorFactor)]).toEqual(['10.0000', '8.0000', '1.2500']);
    const tr = find(v, 'larson', 10, 'transient/ralloc');
    expect([text(tr.simRatio), text(tr.referenceRatio), text(tr.errorFactor)]).toEqual(['1.2000', '0.8000', '1.5000']);
  });

  it('keeps thread counts without a measurement, with empty reference cells', () => {
    const mr = find(v, 'threadtest', 16, 'makalu/ralloc');
    expect([text(mr.simRatio), mr.referenceRatio, mr.errorFactor, withinMatch(mr)]).toEqual(['5.0000', null, null, null]);
    expect(find(v, 'threadtest', 16, 'pmdk/makalu').simRatio).toBeNull();
  });

  it('checks the ordering Ralloc ≈ jemalloc < Makalu < PMDK in both', () => {
    const tt = v.orderings.find((o) => o.benchmark === 'threadtest' && o.threads === 10)!;
    expect(tt).toMatchObject({ sim: 'ralloc 1.00 < transient 1.00 < makalu 8.00 < pmdk 16.00', simHolds: true, published: 'ralloc 1.00 < jemalloc 1.25 < makalu 10.00 < pmdk 50.00', publishedHolds: true });
    expect(v.orderings.find((o) => o.threads === 16)).toMatchObject({ sim: null, simHolds: null, published: null, publishedHolds: null });
  });

  it('errorFactor is symmetric and at least 1', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e6 }), (a, b, c, d) => {
      const x = errorFactor(ratio(a, b), ratio(c, d));
      const y = errorFactor(ratio(c, d), ratio(a, b));
      expect(x.num * y.den).toBe(y.num * x.den);
      expect(x.num >= x.den).toBe(true);
    }));
  });
});

describe('ordering', () => {
  const names = { ralloc: 'r', jemalloc: 'j', makalu: 'm', pmdk: 'p' };
  const times = (r: number, j: number, m: number, p: number) => new Map([['r', ratio(r)], ['j', ratio(j)], ['m', ratio(m)], ['p', ratio(p)]]);
  it('fails when jemalloc is more than 1.5x from Ralloc, or Makalu is not between', () => {
    expect(ordering(times(10, 15, 20, 30), names)!.holds).toBe(true);
    expect(ordering(times(10, 16, 20, 30), names)!.holds).toBe(false);
    expect(ordering(times(10, 12, 11, 30), names)!.holds).toBe(false);
    expect(ordering(times(10, 12, 40, 30), names)).toEqual({ text: 'r 1.00 < j 1.20 < p 3.00 < m 4.00', holds: false });
  });
});

describe('native references (calibration.json)', () => {
  it('turns measured ns per alloc+free pair into a 1-thread pmdk/transient reference', () => {
    const refs = parseCalibration({ host: 'epyc', allocFreePairNs: { glibc: 11, libpmemobj: 880 } }, '/x/calibration.json');
    expect(refs).toEqual([{ sim: ['pmdk', 'transient'], label: 'libpmemobj/glibc', ratio: ratio(880, 11), source: 'calibrate: 64 B alloc+free pair, 1 thread, host epyc (calibration.json)' }]);
    const v = validate([run('pmdk', 'threadtest', 1, 4000), run('transient', 'threadtest', 1, 100)], [], refs);
    const row = v.rows.find((r) => r.reference === 'native')!;
    expect([row.pair, text(row.simRatio), text(row.errorFactor)]).toEqual(['pmdk/transient', '40.0000', '2.0000']);
    const html = renderReport({ title: 't', facts: [], headlines: [], charts: [], tables: [], crashTables: [], counterexamples: [], notes: [], specJson: '{}', sections: [validationSection(v, [], 'p.csv')] });
    expect(html).toContain("<h3>Time ratios: simulated against this host's native measurements (1 thread)</h3>");
    expect(html).toContain('<tr class="good"><td>threadtest</td><td class="n">1</td><td class="n">40.00</td><td class="n">80.00</td><td class="n">2.00×</td><td class="n">1 / 1</td></tr>');
  });

  it('names the field of a malformed calibration', () => {
    expect(() => parseCalibration({}, 'c.json')).toThrow('c.json: allocFreePairNs: expected an object');
    expect(() => parseCalibration({ allocFreePairNs: { glibc: 'fast' } }, 'c.json')).toThrow('c.json: allocFreePairNs.glibc: expected a positive number of nanoseconds, found "fast"');
  });
});

describe('citationSummary', () => {
  it('groups repository files by folder', () => {
    expect(citationSummary(['o/r@abc1234:data/t/t_r.csv', 'o/r@abc1234:data/t/t_mak.csv', 'o/r@abc1234:data/l/l_r.csv', 'a paper, table 2'])).toBe('o/r@abc1234: data/t/*, data/l/*; a paper, table 2');
  });
});

describe('outputs', () => {
  const v = validate(RECORDS, parsePublishedCsv(PUBLISHED, 'p.csv'));

  it('writes validation.csv with one row per compared ratio', () => {
    const lines = validationCsv('exp', v).trimEnd().split('\n');
    expect(lines[0]).toBe('experiment,benchmark,params,preset,threads,pair,simRatio,reference,referencePair,referenceRatio,errorFactor,within2x,citation');
    expect(lines).toContain('exp,threadtest,,optane-adr,10,pmdk/makalu,2.0000,paper,pmdk/makalu,5.0000,2.5000,no,f/tt_pmdk.csv f/tt_mak.csv');
    expect(lines).toHaveLength(1 + v.rows.length);
  });

  it('charts sim and published ratios and the error factors per benchmark', () => {
    const r = ratioChartInput(v);
    expect(r.points.filter((p) => p.facet === 'larson' && p.x === 10).map((p) => [p.series, p.dash, p.mean])).toEqual([
      ['makalu/ralloc', 'simulated', 3], ['makalu/ralloc', 'published', 4], ['pmdk/makalu', 'simulated', 10], ['pmdk/makalu', 'published', 8],
      ['transient (jemalloc)/ralloc', 'simulated', 1.2], ['transient (jemalloc)/ralloc', 'published', 0.8],
    ]);
    expect(errorChartInput(v).points.map((p) => p.mean)).toEqual([1.25, 2.5, 1.25, 1.3333, 1.25, 1.5]);
  });

  it('renders the "Model vs reality" section with every row, openly marking the misses', () => {
    const section = validationSection(v, [], 'validation/published.csv');
    const model: ReportModel = { title: 't', facts: [], headlines: [], charts: [], tables: [], crashTables: [], counterexamples: [], notes: [], specJson: '{}', sections: [section] };
    const html = renderReport(model);
    expect(html).toContain('<h2>Model vs reality</h2>');
    expect(html).toContain('5 of 6 compared ratios are within 2x. The largest error is 2.50× (pmdk/makalu on threadtest at 10 threads: simulated 2.00, measured 5.00).');
    const cells = (xs: string[]) => xs.map((x, i) => `<td${i === 0 ? '' : ' class="n"'}>${x}</td>`).join('');
    expect(html).toContain(`<tr class="warn">${cells(['threadtest', '10', '8.00', '10.00', '1.25×', '2.00', '5.00', '2.50×', '1.00', '1.25', '1.25×', '2 / 3'])}</tr>`);
    expect(html).toContain(`<tr class="good">${cells(['larson', '10', '3.00', '4.00', '1.33×', '10.00', '8.00', '1.25×', '1.20', '0.80', '1.50×', '3 / 3'])}</tr>`);
    expect(html).toContain(`<tr>${cells(['threadtest', '16', '5.00', '', '', '', '', '', '', '', '', ''])}</tr>`);
    expect(html).not.toContain('native measurements');
    expect(html).toContain('<td>ralloc 1.00 &lt; jemalloc 1.25 &lt; makalu 10.00 &lt; pmdk 50.00</td>');
    expect(html).toMatch(/<tr class="warn"><td class="n">10<\/td><td class="n">5 \/ 6<\/td><td class="n">3 \/ 4<\/td><td class="n">2 \/ 2<\/td><td class="n">2 \/ 2<\/td><\/tr>/);
  });
});
