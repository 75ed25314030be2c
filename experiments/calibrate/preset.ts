/**
 * The `host` preset: cost-model overrides over the `dram` preset, each derived from one
 * measurement of calibration.json (written by `nvlab calibrate`), each with its source.
 *
 * Model (how a measured figure becomes a field; ns -> cycles at the measured clock):
 * - clockMHz: the core clock measured by a chain of dependent 1-cycle adds (persist.core_mhz).
 * - dramWriteBackCycles = nvmWriteBackCycles: store + clwb + sfence on one line, minus what the
 *   simulator charges around the write-back in that sequence (rule 3 of nvram-model.md): the
 *   store (an L1 hit if the host keeps the line after clwb, else a sequential DRAM read) and
 *   the flush issue.
 * - flushPipelineCycles: 4096 (store + clwb) then one sfence, per line.
 * - sfenceCycles, mfenceCycles, casCycles: the loops of persist.c, per instruction.
 * - clwbRetainsLine: 1 if a dependent load of a line right after store + clwb + sfence costs
 *   less than the midpoint between a cached load and a load after clflush.
 * - mutexSpinCycles: the largest hold time at which a waiter slept in fewer than half of the
 *   acquisitions (0: a default glibc mutex sleeps at once).
 * - mutexWakeCycles: the futex wake-to-run latency of a waiter asleep in pthread_mutex_lock.
 * - mutexHandoffPerWaiterCycles: median over T of (contended - uncontended ns per acquisition)
 *   / (T - 1) waiters, T = 2..max threads.
 * - ipcMilli: 1000 x callgrind instructions / measured cycles of the libpmemobj alloc+free pair
 *   with PMEM_NO_FLUSH=1 (the glibc-derived figure is reported beside it, not used).
 * - dramReadRandCycles = nvmReadRandCycles: a dependent load of a line after clflush
 *   (persist.chase_evicted_ns, a random chain through 256 lines).
 * - The dram latencies not measured here (sequential reads, core-to-core transfer, ntstore
 *   issue) are published in ns: they keep their ns at the measured clock (cycles scaled by
 *   clockMHz / 2200), so every latency of the preset is in the same time base. Cache hit
 *   latencies are core cycles and stay as they are.
 *
 * Invariants: pure (no I/O); every cost field is a non-negative integer and has a source line;
 * a missing measurement is an error naming it; fields that cannot be derived (no valgrind)
 * are listed under `omitted` with the reason.
 */
import { PRESETS } from '../../sim/cost-model.ts';
import type { Summary } from './parse.ts';

export const CALIBRATION_FORMAT = 'nvlab-calibration/1';
export const HOST_PRESET_FORMAT = 'nvlab-host-preset/1';

export interface InstructionCount {
  /** Instructions per call, the wrapper's own call overhead subtracted. */
  readonly perCall: number;
  readonly calls: number;
}

export interface Calibration {
  readonly format: typeof CALIBRATION_FORMAT;
  readonly createdAt: string;
  readonly host: { readonly cpuModel: string; readonly cpuinfoMHz: number | null; readonly onlineCpus: number; readonly kernel: string };
  readonly toolchain: Readonly<Record<string, string>>;
  readonly commands: readonly { readonly name: string; readonly build: string; readonly run: string }[];
  /** "<program>.<measurement>", e.g. "alloc.glibc.pair_ns", "persist.store_wb_fence_ns". */
  readonly measurements: Readonly<Record<string, Summary>>;
  readonly info: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Callgrind counts, e.g. "glibc.malloc", "pmemobj.pmemobj_alloc"; null with a reason when not measured. */
  readonly instructions: { readonly status: 'measured'; readonly perCall: Readonly<Record<string, InstructionCount>> } | { readonly status: 'skipped'; readonly reason: string };
}

export interface HostPreset {
  readonly format: typeof HOST_PRESET_FORMAT;
  readonly name: 'host';
  /** The preset these overrides apply to. */
  readonly preset: 'dram';
  readonly cost: Readonly<Record<string, number>>;
  /** Per cost field: the measurement it comes from, with the figure and unit. */
  readonly sources: Readonly<Record<string, string>>;
  /** Fields left at the dram value, with the reason. */
  readonly omitted: Readonly<Record<string, string>>;
  /** Figures reported for comparison, not used by the model. */
  readonly derived: Readonly<Record<string, number>>;
  readonly calibration: string;
}

/** dram-preset latencies published in ns and not measured by calibrate: scaled to the host clock. */
export const KEPT_IN_NS = ['dramReadSeqCycles', 'nvmReadSeqCycles', 'coherenceTransferCycles', 'ntstoreIssueCycles'] as const;

export class CalibrationError extends Error {
  override name = 'CalibrationError';
}

function need(cal: Calibration, key: string): Summary {
  const m = cal.measurements[key];
  if (!m) throw new CalibrationError(`calibration: measurement "${key}" is missing`);
  return m;
}

const fmt = (s: Summary) => `median ${s.median} ${s.unit} (min ${s.min}, max ${s.max}, ${s.values.length} repetitions)`;

/** ns -> cycles at clockMHz, rounded, at least `floor`. */
export function nsToCycles(ns: number, clockMHz: number, floor = 0): number {
  return Math.max(floor, Math.round((ns * clockMHz) / 1000));
}

/** The largest hold (ns) with a median sleep fraction below 0.5, scanning holds upward; 0 if none. */
export function spinWindowNs(cal: Calibration): { ns: number; text: string } {
  const holds = Object.keys(cal.measurements)
    .map((k) => /^mutex\.hold(\d+)_sleep_fraction$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (holds.length === 0) throw new CalibrationError('calibration: no mutex.hold<ns>_sleep_fraction measurements');
  let ns = 0;
  for (const h of holds) {
    if (need(cal, `mutex.hold${h}_sleep_fraction`).median >= 0.5) break;
    ns = h;
  }
  const text = holds.map((h) => `${h} ns: ${cal.measurements[`mutex.hold${h}_sleep_fraction`].median}`).join(', ');
  return { ns, text };
}

export function handoffPerWaiterNs(cal: Calibration): { ns: number; text: string } {
  const un = need(cal, 'mutex.uncontended_acq_ns').median;
  const perT = Object.keys(cal.measurements)
    .map((k) => /^mutex\.contended_t(\d+)_acq_ns$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b)
    .map((t) => ({ t, ns: cal.measurements[`mutex.contended_t${t}_acq_ns`].median }));
  if (perT.length === 0) throw new CalibrationError('calibration: no mutex.contended_t<T>_acq_ns measurements');
  const slopes = perT.map(({ t, ns }) => Math.max(0, ns - un) / (t - 1));
  const sorted = [...slopes].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const med = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { ns: med, text: `uncontended ${un} ns; ${perT.map(({ t, ns }) => `${t} threads ${ns} ns`).join(', ')} per acquisition` };
}

export function ipcMilli(instructions: number, pairNs: number, clockMHz: number): number {
  return Math.round((1000 * instructions) / ((pairNs * clockMHz) / 1000));
}

export function buildHostPreset(cal: Calibration, calibrationPath = 'calibration.json'): HostPreset {
  if (cal.format !== CALIBRATION_FORMAT) throw new CalibrationError(`calibration: format "${String(cal.format)}", expected "${CALIBRATION_FORMAT}"`);
  const dram = PRESETS.dram;
  const cost: Record<string, number> = {};
  const sources: Record<string, string> = {};
  const omitted: Record<string, string> = {};
  const derived: Record<string, number> = {};
  const set = (field: string, value: number, source: string) => {
    cost[field] = value;
    sources[field] = source;
  };

  const clock = need(cal, 'persist.core_mhz');
  const mhz = Math.round(clock.median);
  set('clockMHz', mhz, `persist.core_mhz: dependent-add chain, ${fmt(clock)}`);
  const cyc = (ns: number, floor = 0) => nsToCycles(ns, mhz, floor);
  const flushInstr = cal.info.persist?.flush_instruction ?? 'clwb';

  const cached = need(cal, 'persist.chase_cached_ns');
  const afterWb = need(cal, 'persist.chase_after_wb_ns');
  const evicted = need(cal, 'persist.chase_evicted_ns');
  const retains = flushInstr === 'clwb' && afterWb.median < (cached.median + evicted.median) / 2 ? 1 : 0;
  set('clwbRetainsLine', retains, flushInstr === 'clwb'
    ? `persist.chase_*: a load after store+clwb+sfence ${afterWb.median} ns, cached ${cached.median} ns, after clflush ${evicted.median} ns (retained if below the midpoint)`
    : `no clwb on this host (cpuid); ${flushInstr} drops the line`);

  const wb = need(cal, 'persist.store_wb_fence_ns');
  const storeCycles = retains ? dram.l1HitCycles : dram.dramReadSeqCycles;
  const wbCycles = Math.max(1, cyc(wb.median) - storeCycles - dram.flushIssueCycles);
  const wbText = `persist.store_wb_fence_ns: store + ${flushInstr} + sfence on one line, ${fmt(wb)} = ${cyc(wb.median)} cycles, minus the store (${storeCycles}, ${retains ? 'L1 hit' : 'DRAM read'}) and the flush issue (${dram.flushIssueCycles})`;
  set('dramWriteBackCycles', wbCycles, wbText);
  set('nvmWriteBackCycles', wbCycles, `${wbText}; NVM = DRAM on this host`);

  const evictedCycles = cyc(evicted.median, 1);
  const evText = `persist.chase_evicted_ns: dependent load of a line after clflush + mfence (random chain of 256 lines), ${fmt(evicted)}`;
  set('dramReadRandCycles', evictedCycles, evText);
  set('nvmReadRandCycles', evictedCycles, `${evText}; NVM = DRAM on this host`);
  for (const field of KEPT_IN_NS) {
    const cycles = Math.round((dram[field] * mhz) / dram.clockMHz);
    const value = field.endsWith('ReadSeqCycles') ? Math.min(cycles, evictedCycles) : cycles;
    set(field, value, `dram preset ${dram[field]} cycles at ${dram.clockMHz} MHz (${Math.round((dram[field] * 10000) / dram.clockMHz) / 10} ns), kept in ns at the measured clock${value < cycles ? ', capped at the measured random read' : ''}`);
  }

  const many = need(cal, 'persist.flush4096_per_line_ns');
  set('flushPipelineCycles', cyc(many.median, 1), `persist.flush4096_per_line_ns: 4096 x (store + ${flushInstr}) then one sfence, per line, ${fmt(many)}`);
  const sf = need(cal, 'persist.sfence_ns');
  set('sfenceCycles', cyc(sf.median, 1), `persist.sfence_ns: sfence with nothing pending, ${fmt(sf)}`);
  const mf = need(cal, 'persist.mfence_ns');
  set('mfenceCycles', cyc(mf.median, 1), `persist.mfence_ns: mfence with nothing pending, ${fmt(mf)}`);
  const cas = need(cal, 'persist.cas_ns');
  set('casCycles', cyc(cas.median, 1), `persist.cas_ns: lock cmpxchg on a line this core holds, ${fmt(cas)}`);

  const spin = spinWindowNs(cal);
  set('mutexSpinCycles', cyc(spin.ns), `mutex.hold<ns>_sleep_fraction: largest hold at which a waiter slept in under half the acquisitions, ${spin.ns} ns (median sleep fractions ${spin.text})`);
  const wake = need(cal, 'mutex.mutex_wake_ns');
  set('mutexWakeCycles', cyc(wake.median, 1), `mutex.mutex_wake_ns: unlock to the sleeping waiter running, ${fmt(wake)}`);
  const handoff = handoffPerWaiterNs(cal);
  set('mutexHandoffPerWaiterCycles', cyc(handoff.ns), `mutex.contended_t<T>_acq_ns: median over T of (contended - uncontended) / (T - 1) = ${Math.round(handoff.ns * 1000) / 1000} ns (${handoff.text})`);

  if (cal.instructions.status === 'measured') {
    const ins = cal.instructions.perCall;
    const pairIns = (a: string, f: string) => {
      if (!ins[a] || !ins[f]) throw new CalibrationError(`calibration: instruction counts "${a}" and "${f}" are missing`);
      return ins[a].perCall + ins[f].perCall;
    };
    const pm = pairIns('pmemobj-noflush.pmemobj_alloc', 'pmemobj-noflush.pmemobj_free');
    const pmNs = need(cal, 'alloc.pmemobj-noflush.pair_ns');
    set('ipcMilli', ipcMilli(pm, pmNs.median, mhz), `callgrind: pmemobj_alloc + pmemobj_free (PMEM_NO_FLUSH=1) ${pm} instructions / alloc.pmemobj-noflush.pair_ns ${fmt(pmNs)} = ${cyc(pmNs.median)} cycles`);
    const gl = pairIns('glibc.malloc', 'glibc.free');
    derived.ipcMilliGlibc = ipcMilli(gl, need(cal, 'alloc.glibc.pair_ns').median, mhz);
  } else {
    omitted.ipcMilli = `no instruction counts: ${cal.instructions.reason}`;
  }
  return { format: HOST_PRESET_FORMAT, name: 'host', preset: 'dram', cost, sources, omitted, derived, calibration: calibrationPath };
}
