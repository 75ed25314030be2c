/**
 * `nvlab bench [--json]`: how fast this machine simulates. Fields: accessesPerSec,
 * accessesPerSec4Cores, traceBytesPerStoreUnit (sim/bench.ts benchMachine) and
 * crashStatesPerSec (experiments/crash/bench.ts benchCrash). `--run-length` measures
 * instead the crash states/s of a long list run against a 200-op one (runLengthRates).
 * Host-dependent by nature, so it writes nothing to experiment outputs.
 */
import { benchMachine } from '../../sim/bench.ts';
import { benchCrash, runLengthRates, type RunLengthOptions } from '../crash/bench.ts';

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2);
}

export async function benchCommand(json: boolean, out: (s: string) => void): Promise<void> {
  const machine = benchMachine();
  const crash = benchCrash();
  const crashStatesPerSec = crash.crashStatesPerSec;
  const result = {
    accessesPerSec: machine.accessesPerSec,
    accessesPerSec4Cores: machine.accessesPerSec4Cores,
    traceBytesPerStoreUnit: machine.traceBytesPerStoreUnit,
    crashStatesPerSec,
    machine,
    crash,
  };
  if (json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  out(`simulated accesses/s (1 core):   ${fmt(result.accessesPerSec)}\n`);
  out(`simulated accesses/s (4 cores):  ${fmt(result.accessesPerSec4Cores)}\n`);
  out(`trace bytes per store unit:      ${fmt(result.traceBytesPerStoreUnit)}\n`);
  out(`bare typed-array LRU loop:       ${fmt(machine.bareAccessesPerSec)} (machine / bare: ${fmt(machine.ratioToBare)})\n`);
  const r = machine.hostDependentReadNs;
  out(`host random read, 1/4/16 MiB:    ${[r['1MiB'], r['4MiB'], r['16MiB']].map((ns) => ns.toFixed(1)).join(' / ')} ns (what a simulated miss waits for)\n`);
  out(`crash states checked/s:          ${fmt(crashStatesPerSec)}\n`);
  for (const [name, r] of Object.entries(crash.statesPerSecByAllocator)) {
    out(`crash states/s, ${name.padEnd(11)}      ${fmt(r.statesPerSec)} (${fmt(r.states)} states, ${fmt(r.checks)} full checks; list, k-subsets k=2)\n`);
  }
  out(`crash image cost, 256 MB / 4 MB: ${fmt(crash.imageCostRatio256MBvs4MB)}\n`);
  out(`crash enumeration, 2x ops:       ${fmt(crash.enumerationTimeRatio2x)}x time for ${fmt(crash.enumerationStates2x)} / ${fmt(crash.enumerationStates)} states (${fmt(crash.enumerationTimePerStateRatio2x)}x per state)\n`);
}

/** `nvlab bench --run-length`: per allocator and mode, the long run's states/s over the short run's. */
export async function benchRunLengthCommand(json: boolean, opts: RunLengthOptions, out: (s: string) => void): Promise<void> {
  const rates = runLengthRates(opts);
  if (json) {
    out(`${JSON.stringify({ runLengthRates: rates }, null, 2)}\n`);
    return;
  }
  out(`crash states/s of a ${fmt(opts.longOps ?? 100_000)}-op list (at most ${fmt(opts.maxStates ?? 5000)} states) over a ${fmt(opts.shortOps ?? 200)}-op list (whole job; issue 15 asks >= 0.5)\n`);
  for (const [name, byMode] of Object.entries(rates)) {
    for (const [mode, r] of Object.entries(byMode)) {
      out(`${name.padEnd(11)} ${mode.padEnd(6)} short ${fmt(r.short.statesPerSec).padStart(7)}/s (${fmt(r.short.states)} states)  long ${fmt(r.long.statesPerSec).padStart(7)}/s (${fmt(r.long.states)} states, ${r.long.seconds.toFixed(1)} s)  ratio ${r.ratio.toFixed(2)} (CPU time ${r.ratioCpu.toFixed(2)}; first long job ${fmt(r.long.firstStatesPerSec)}/s)\n`);
    }
  }
}
