/**
 * `nvlab calibrate [--out DIR]`: measure this host natively (experiments/calibrate/run.ts)
 * and print the headline figures and the host preset's fields. Host-dependent by nature.
 */
import { relative } from 'node:path';
import { calibrate } from '../calibrate/run.ts';
import type { Calibration, HostPreset } from '../calibrate/preset.ts';
import { readFileSync } from 'node:fs';

export function calibrateCommand(out: string, reps: number | undefined, write: (s: string) => void): void {
  const files = calibrate({ out, ...(reps !== undefined ? { reps } : {}) });
  const cal = JSON.parse(readFileSync(files[0], 'utf8')) as Calibration;
  const preset = JSON.parse(readFileSync(files[1], 'utf8')) as HostPreset;
  write(summaryText(cal, preset));
  write(`wrote ${files.map((f) => relative(process.cwd(), f)).join(', ')}\n`);
}

export function summaryText(cal: Calibration, preset: HostPreset): string {
  const m = cal.measurements;
  const row = (label: string, key: string) => (m[key] ? `  ${label.padEnd(34)} ${m[key].median} ${m[key].unit} (min ${m[key].min}, max ${m[key].max})\n` : '');
  let text = `host: ${cal.host.cpuModel}, ${cal.host.onlineCpus} cpus, flush instruction ${cal.info.persist?.flush_instruction ?? '?'}\n`;
  text += row('64 B alloc+free, glibc', 'alloc.glibc.pair_ns');
  text += row('64 B alloc+free, jemalloc', 'alloc.jemalloc.pair_ns');
  text += row('64 B alloc+free, pmemobj', 'alloc.pmemobj.pair_ns');
  text += row('64 B alloc+free, pmemobj no flush', 'alloc.pmemobj-noflush.pair_ns');
  text += row('store + flush + sfence', 'persist.store_wb_fence_ns');
  text += row('mutex uncontended acquisition', 'mutex.uncontended_acq_ns');
  text += row('mutex 2-thread acquisition', 'mutex.contended_t2_acq_ns');
  text += row('mutex wake-to-run', 'mutex.mutex_wake_ns');
  if (cal.instructions.status === 'measured') {
    text += `  instructions per call: ${Object.entries(cal.instructions.perCall).map(([k, v]) => `${k} ${v.perCall}`).join(', ')}\n`;
  }
  text += `host preset (over ${preset.preset}): ${Object.entries(preset.cost).map(([k, v]) => `${k}=${v}`).join(' ')}\n`;
  for (const [k, why] of Object.entries(preset.omitted)) text += `  ${k} left at the ${preset.preset} value: ${why}\n`;
  return text;
}
