/**
 * `nvlab bench [--json]`: how fast this machine simulates. Fields: accessesPerSec,
 * accessesPerSec4Cores, traceBytesPerStoreUnit (sim/bench.ts benchMachine) and
 * crashStatesPerSec (the crash module's benchmark). Host-dependent by nature, so it
 * writes nothing to experiment outputs.
 */
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { benchMachine } from '../../sim/bench.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The crash module's benchmark: an exported function named like bench* in experiments/crash/bench.ts or api.ts. */
async function crashBench(): Promise<Record<string, unknown> | { error: string }> {
  for (const name of ['bench.ts', 'api.ts']) {
    const file = join(HERE, '..', 'crash', name);
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const fn = (typeof mod.benchCrash === 'function' ? mod.benchCrash : Object.entries(mod).find(([n, v]) => typeof v === 'function' && /bench/i.test(n))?.[1]) as (() => unknown) | undefined;
    if (fn) return (await fn()) as Record<string, unknown>;
  }
  return { error: 'the crash module exports no benchmark yet (experiments/crash/bench.ts)' };
}

function fmt(n: unknown): string {
  return typeof n === 'number' ? (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2)) : String(n);
}

export async function benchCommand(json: boolean, out: (s: string) => void): Promise<void> {
  const machine = benchMachine();
  const crash = await crashBench();
  const crashStatesPerSec = 'crashStatesPerSec' in crash ? crash.crashStatesPerSec : null;
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
  out(`crash states checked/s:          ${crashStatesPerSec === null ? `n/a (${'error' in crash ? crash.error : 'no figure'})` : fmt(crashStatesPerSec)}\n`);
  if ('imageCostRatio256MBvs4MB' in crash) {
    const c = crash as Record<string, unknown>;
    out(`crash image cost, 256 MB / 4 MB: ${fmt(c.imageCostRatio256MBvs4MB)}\n`);
    out(`crash enumeration, 2x ops:       ${fmt(c.enumerationTimeRatio2x)}x time for ${fmt(c.enumerationStates2x)} / ${fmt(c.enumerationStates)} states (${fmt(c.enumerationTimePerStateRatio2x)}x per state)\n`);
  }
}
