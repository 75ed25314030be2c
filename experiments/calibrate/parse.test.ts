/**
 * Parsing of the native programs' output and of callgrind_annotate listings; summary
 * statistics (median, spread) checked against their definitions with fast-check.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BenchOutputError, median, parseBenchOutput, parseCallgrindInclusive, summarize } from './parse.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

describe('parseBenchOutput', () => {
  it('collects the repetitions of each RESULT in order, INFO facts, and ignores other lines', () => {
    const text = ['INFO flush_instruction clwb', 'RESULT store_wb_fence_ns 181.772 ns', 'warming up...', 'RESULT mfence_ns 22.5 ns', 'RESULT store_wb_fence_ns 190.25 ns', 'INFO jemalloc_version 5.3.0-0-g54ea', ''].join('\n');
    const out = parseBenchOutput(text);
    expect(out.results.store_wb_fence_ns).toEqual({ unit: 'ns', values: [181.772, 190.25] });
    expect(out.results.mfence_ns).toEqual({ unit: 'ns', values: [22.5] });
    expect(out.info).toEqual({ flush_instruction: 'clwb', jemalloc_version: '5.3.0-0-g54ea' });
  });

  it('rejects a malformed RESULT line, naming the program and the line', () => {
    expect(() => parseBenchOutput('RESULT pair_ns fast ns', 'alloc-glibc')).toThrow(/alloc-glibc output line 1: expected "RESULT <name> <number> <unit>"/);
    expect(() => parseBenchOutput('INFO x\nRESULT pair_ns 3', 'alloc-glibc')).toThrow(BenchOutputError);
  });

  it('rejects a measurement that changes unit', () => {
    expect(() => parseBenchOutput('RESULT core_mhz 3600 MHz\nRESULT core_mhz 3.6 GHz', 'persist')).toThrow(/line 2: core_mhz in GHz, earlier in MHz/);
  });
});

describe('median and summarize', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('the median lies between min and max, does not depend on order, and the spread is (max - min) / median', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 30 }), (xs) => {
        const s = summarize('ns', xs);
        expect(s.min).toBeLessThanOrEqual(s.median);
        expect(s.median).toBeLessThanOrEqual(s.max);
        expect(summarize('ns', [...xs].reverse()).median).toBe(s.median);
        expect(s.spreadPct).toBeCloseTo(((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100, 2);
        expect(s.values).toEqual(xs);
      }),
    );
  });
});

describe('parseCallgrindInclusive', () => {
  it('reads the inclusive Ir of the wrappers from a real callgrind_annotate listing (pmemobj, PMEM_NO_FLUSH=1, 5000 calls)', () => {
    const listing = readFileSync(join(HERE, 'fixtures/callgrind-pmemobj-noflush.txt'), 'utf8');
    const ir = parseCallgrindInclusive(listing, ['nv_alloc_one', 'nv_free_one', 'nv_empty', 'pmemobj_alloc', 'absent_fn']);
    expect(ir).toEqual({ nv_alloc_one: 13_785_124, nv_free_one: 11_645_741, nv_empty: 5_000, pmemobj_alloc: 13_719_418 });
  });

  it('takes the first (largest) listing of a function and ignores headers and totals', () => {
    const text = 'Ir\n1,000 (100.0%)  PROGRAM TOTALS\n  900 (90%)  ???:f [/x]\n  12 (1%)  file.c:f [/y]\n';
    expect(parseCallgrindInclusive(text, ['f', 'TOTALS'])).toEqual({ f: 900 });
  });
});
