/**
 * The host preset built from a recorded calibration (fixtures/calibration.json, a real
 * `nvlab calibrate` run on the development host): every field follows its documented
 * formula from the fixture's measurements, carries a source, and is a non-negative integer;
 * missing measurements and missing instruction counts are reported.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COST_FIELDS, PRESETS } from '../../sim/cost-model.ts';
import type { Summary } from './parse.ts';
import { buildHostPreset, CalibrationError, handoffPerWaiterNs, KEPT_IN_NS, nsToCycles, spinWindowNs, type Calibration } from './preset.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(readFileSync(join(HERE, 'fixtures/calibration.json'), 'utf8')) as Calibration;
const committedPreset = JSON.parse(readFileSync(join(HERE, 'fixtures/host-preset.json'), 'utf8'));
const med = (cal: Calibration, key: string) => cal.measurements[key].median;
const one = (value: number, unit = 'ns'): Summary => ({ unit, median: value, min: value, max: value, spreadPct: 0, values: [value] });
const withMeasurements = (patch: Record<string, Summary | undefined>): Calibration => {
  const measurements = { ...fixture.measurements, ...patch } as Record<string, Summary>;
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete measurements[k];
  return { ...fixture, measurements };
};

/** Fields the lead adds to the cost model in main (issue 12 / 13); not yet in this branch's CostModel. */
const NEW_FIELDS = ['mutexSpinCycles', 'mutexWakeCycles', 'mutexHandoffPerWaiterCycles', 'ipcMilli'];

describe('buildHostPreset on the recorded calibration', () => {
  const preset = buildHostPreset(fixture);

  it('is the preset committed beside the fixture (the builder is deterministic)', () => {
    expect(preset).toEqual(committedPreset);
  });

  it('overrides dram with the measured fields, each a non-negative integer with a source naming its measurement', () => {
    expect(preset.preset).toBe('dram');
    expect(Object.keys(preset.cost).sort()).toEqual(
      ['clockMHz', 'clwbRetainsLine', 'dramWriteBackCycles', 'nvmWriteBackCycles', 'flushPipelineCycles', 'sfenceCycles', 'mfenceCycles', 'casCycles', 'dramReadRandCycles', 'nvmReadRandCycles', ...KEPT_IN_NS, ...NEW_FIELDS].sort(),
    );
    for (const [field, value] of Object.entries(preset.cost)) {
      expect(Number.isSafeInteger(value) && value >= 0, field).toBe(true);
      expect(preset.sources[field], field).toMatch(/\S/);
      expect(COST_FIELDS.includes(field) || NEW_FIELDS.includes(field), field).toBe(true);
    }
  });

  it('converts ns to cycles at the measured core clock', () => {
    const mhz = Math.round(med(fixture, 'persist.core_mhz'));
    expect(preset.cost.clockMHz).toBe(mhz);
    expect(preset.cost.mfenceCycles).toBe(nsToCycles(med(fixture, 'persist.mfence_ns'), mhz, 1));
    expect(preset.cost.casCycles).toBe(nsToCycles(med(fixture, 'persist.cas_ns'), mhz, 1));
    expect(preset.cost.flushPipelineCycles).toBe(nsToCycles(med(fixture, 'persist.flush4096_per_line_ns'), mhz, 1));
    expect(preset.cost.mutexWakeCycles).toBe(nsToCycles(med(fixture, 'mutex.mutex_wake_ns'), mhz, 1));
  });

  it('random reads are the measured load after clflush; unmeasured ns latencies keep their ns at the host clock; cache hits stay in cycles', () => {
    const mhz = preset.cost.clockMHz;
    expect(preset.cost.dramReadRandCycles).toBe(nsToCycles(med(fixture, 'persist.chase_evicted_ns'), mhz, 1));
    expect(preset.cost.nvmReadRandCycles).toBe(preset.cost.dramReadRandCycles);
    const d = PRESETS.dram;
    expect(preset.cost.coherenceTransferCycles / mhz).toBeCloseTo(d.coherenceTransferCycles / d.clockMHz, 3);
    expect(preset.cost.dramReadSeqCycles).toBeLessThanOrEqual(preset.cost.dramReadRandCycles);
    expect(preset.cost.l1HitCycles).toBeUndefined();
  });

  it('the write-back is store + clwb + sfence less the store and the flush issue the simulator charges around it', () => {
    const mhz = preset.cost.clockMHz;
    const store = preset.cost.clwbRetainsLine ? PRESETS.dram.l1HitCycles : PRESETS.dram.dramReadSeqCycles;
    const expected = nsToCycles(med(fixture, 'persist.store_wb_fence_ns'), mhz) - store - PRESETS.dram.flushIssueCycles;
    expect(preset.cost.dramWriteBackCycles).toBe(Math.max(1, expected));
    expect(preset.cost.nvmWriteBackCycles).toBe(preset.cost.dramWriteBackCycles);
  });

  it('ipcMilli is callgrind instructions over measured cycles of the pmemobj no-flush pair; the glibc figure is reported beside it', () => {
    if (fixture.instructions.status !== 'measured') throw new Error('fixture has instruction counts');
    const ins = fixture.instructions.perCall;
    const cycles = (med(fixture, 'alloc.pmemobj-noflush.pair_ns') * preset.cost.clockMHz) / 1000;
    expect(preset.cost.ipcMilli).toBe(Math.round((1000 * (ins['pmemobj-noflush.pmemobj_alloc'].perCall + ins['pmemobj-noflush.pmemobj_free'].perCall)) / cycles));
    const glibcCycles = (med(fixture, 'alloc.glibc.pair_ns') * preset.cost.clockMHz) / 1000;
    expect(preset.derived.ipcMilliGlibc).toBe(Math.round((1000 * (ins['glibc.malloc'].perCall + ins['glibc.free'].perCall)) / glibcCycles));
  });
});

describe('buildHostPreset rules', () => {
  it('clwbRetainsLine follows where the post-clwb load falls between a cached and an evicted load', () => {
    const near = (v: number) => buildHostPreset(withMeasurements({ 'persist.chase_cached_ns': one(1), 'persist.chase_evicted_ns': one(100), 'persist.chase_after_wb_ns': one(v) })).cost.clwbRetainsLine;
    expect(near(10)).toBe(1);
    expect(near(90)).toBe(0);
    const noClwb = buildHostPreset({ ...fixture, info: { ...fixture.info, persist: { ...fixture.info.persist, flush_instruction: 'clflushopt' } } });
    expect(noClwb.cost.clwbRetainsLine).toBe(0);
    expect(noClwb.sources.clwbRetainsLine).toMatch(/no clwb/);
  });

  it('the spin window is the largest hold below which waiters mostly did not sleep', () => {
    const cal = (fractions: Record<number, number>) => {
      const base = Object.fromEntries(Object.keys(fixture.measurements).filter((k) => /hold\d+_sleep/.test(k)).map((k) => [k, undefined]));
      return withMeasurements({ ...base, ...Object.fromEntries(Object.entries(fractions).map(([h, f]) => [`mutex.hold${h}_sleep_fraction`, one(f, 'fraction')])) });
    };
    expect(spinWindowNs(cal({ 0: 0.1, 500: 0.2, 1000: 0.9, 2000: 0.1 })).ns).toBe(500);
    expect(spinWindowNs(cal({ 0: 0.6, 500: 0.9 })).ns).toBe(0);
  });

  it('the handoff cost per waiter is the median over thread counts of the contended excess per extra waiter, never negative', () => {
    const cal = withMeasurements({ 'mutex.uncontended_acq_ns': one(10), 'mutex.contended_t2_acq_ns': one(40), 'mutex.contended_t3_acq_ns': one(70), 'mutex.contended_t4_acq_ns': one(5) });
    for (const k of Object.keys(fixture.measurements).filter((k) => /contended_t([5-9]|\d\d)_acq/.test(k))) delete (cal.measurements as Record<string, Summary>)[k];
    // excess per waiter: t2 30/1, t3 60/2, t4 max(0, -5)/3 -> median 30
    expect(handoffPerWaiterNs(cal).ns).toBe(30);
  });

  it('without instruction counts ipcMilli is left out, with the reason', () => {
    const p = buildHostPreset({ ...fixture, instructions: { status: 'skipped', reason: 'valgrind / callgrind_annotate not on PATH' } });
    expect(p.cost.ipcMilli).toBeUndefined();
    expect(p.omitted.ipcMilli).toMatch(/valgrind/);
  });

  it('a missing measurement is an error naming it', () => {
    expect(() => buildHostPreset(withMeasurements({ 'persist.mfence_ns': undefined }))).toThrow(CalibrationError);
    expect(() => buildHostPreset(withMeasurements({ 'persist.mfence_ns': undefined }))).toThrow(/"persist.mfence_ns" is missing/);
    expect(() => buildHostPreset({ ...fixture, format: 'other' as never })).toThrow(/format "other"/);
  });
});
