/**
 * Longer Makalu study (not part of `npm test`): prints the per-operation flush/fence
 * figures and the recovery figures next to the published ones.
 *   node --import ./bin/ts-register.mjs allocators/makalu/study.ts [allocations]
 *
 * Model: threadtest 1 thread (N x malloc(64), then free all) for `makalu` and
 * `makalu-shipped`; fill-heap (64 B nodes kept with probability 1/2 under the roots)
 * crashed and recovered under the `optane-adr` and `dram` presets.
 */
import { SeededChoice } from '../../sim/choice.ts';
import { makeCostModel, type PresetName } from '../../sim/cost-model.ts';
import { createMachine } from '../../sim/machine.ts';
import type { Addr } from '../../sim/api.ts';
import { factories } from './index.ts';
import { MiB, NODE_BYTES, counts, diff, newMachine } from './test-helpers.ts';
import { SB_HEAP_SIZE } from './layout.ts';
import type { MakaluAllocator } from './makalu.ts';

const N = Number(process.argv[2] ?? 100_000);

function perOp(name: string): void {
  const m = newMachine(64 * MiB);
  const a = factories.find((f) => f.name === name)!.create(m);
  const core = m.core(0);
  a.format(core);
  const ptrs: Addr[] = [];
  const c0 = counts(m);
  for (let i = 0; i < N; i++) ptrs.push(a.malloc(core, 64));
  const c1 = counts(m);
  for (const p of ptrs) a.free(core, p);
  const c2 = counts(m);
  const ma = diff(c0, c1);
  const fr = diff(c1, c2);
  console.log(`${name}: malloc(64) ${(ma.flushes / N).toFixed(3)} flushes ${(ma.fences / N).toFixed(3)} fences; free ${(fr.flushes / N).toFixed(3)} / ${(fr.fences / N).toFixed(3)}   (published ~0.16/0.19 and ~0.20/0.25)`);
}

function recovery(preset: PresetName, n: number): void {
  const cost = makeCostModel(preset);
  const m = createMachine({ cores: 1, cost, dramSizeBytes: 64 * MiB, nvramSizeBytes: 128 * MiB, trace: false });
  const f = factories[0];
  const a = f.create(m) as MakaluAllocator;
  const core = m.core(0);
  a.format(core);
  const choice = new SeededChoice(`study:${n}`);
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const p = a.malloc(core, NODE_BYTES);
    const keep = choice.chance(1, 2);
    const r = i % a.rootCount;
    core.store64(p, keep ? a.getRoot(core, r) : 0);
    core.store64(p + 8, i);
    core.clwb(p);
    core.sfence();
    if (keep) { a.setRoot(core, r, p); kept++; }
  }
  const heapBytes = m.peek64(a.mk.nv.superblock + SB_HEAP_SIZE);
  const m2 = createMachine({ cores: 1, cost, dramSizeBytes: 64 * MiB, nvramSizeBytes: 128 * MiB, trace: false, image: m.snapshotNvram() });
  const s = f.create(m2).open(m2.core(0));
  const ns = (cycles: number): number => (cycles * 1000) / cost.clockMHz;
  const x = s.extra!;
  console.log(`${preset} fill ${n}: live ${kept}, heap ${(heapBytes / MiB).toFixed(1)} MiB: recovery ${(ns(s.cycles) / 1e6).toFixed(2)} ms = ${(ns(s.cycles) / heapBytes).toFixed(2)} s/GB; mark ${(ns(x.markCycles) / kept).toFixed(0)} ns/live object; replay ${x.logReplayCycles} scan ${x.headerScanCycles} mark ${x.markCycles} sweep ${x.sweepCycles} cycles; freed ${s.blocksFreed}`);
}

perOp('makalu');
perOp('makalu-shipped');
for (const preset of ['optane-adr', 'dram'] as const) for (const n of [50_000, 100_000, 200_000]) recovery(preset, n);
