/**
 * Measure one run: execute it (execute.ts) and turn the machine's counters into a
 * RunRecord; where recovery is asked for, crash at the stop point and recover.
 *
 * Model: per-op figures cover the operations only: every core starts at the clock
 * where format + setup ended, and counters are taken as differences from that point.
 * The heap high-water mark is the highest byte (from the NVRAM base) the allocator
 * handed out, tracked by a thin wrapper that only watches returned addresses
 * (uncharged measurement, not allocator state). Recovery: a process crash at the stop
 * point (memory as it is, the `upper` image) opened on a fresh machine; then the
 * original heap is closed cleanly and opened again for the clean-restart figure.
 *
 * Invariants: deterministic; reads no host time.
 */
import type { Addr, Core, Counters } from '../sim/api.ts';
import type { Workload, WorkloadContext } from '../workloads/contract.ts';
import { fillHeapStopAfterOps, type FillHeapParams } from '../workloads/fill-heap.ts';
import { createMachine } from '../sim/machine.ts';
import type { Allocator, AllocatorFactory, InitFn } from '../allocators/contract.ts';
import { executeRun, sumClocks } from './execute.ts';
import type { RunPlan } from './plan.ts';
import type { RunRecord } from './record.ts';
import type { ResolvedSpec } from './spec/resolve.ts';

interface PeakTracker {
  peakBytes: number;
  /** malloc + mallocTo + free + freeFrom calls seen. */
  calls: number;
  /** `calls` when the workload's setup finished. */
  callsAtSetup: number;
}

/** The workload, with a note of the allocator calls its setup made. */
function watchedWorkload(w: Workload<any>, tracker: PeakTracker): Workload<any> {
  const watched: Workload<any> = Object.create(w);
  return Object.assign(watched, {
    setup(ctx: WorkloadContext, core: Core) {
      w.setup.call(w, ctx, core);
      tracker.callsAtSetup = tracker.calls;
    },
  });
}

/** Forward every call; note the end of each returned block. */
function watchAllocator(inner: Allocator, nvramBase: Addr, tracker: PeakTracker, sizeOf: (size: number) => number): Allocator {
  const note = (addr: Addr, sizeBytes: number): Addr => {
    if (addr !== 0) tracker.peakBytes = Math.max(tracker.peakBytes, addr - nvramBase + sizeOf(sizeBytes));
    return addr;
  };
  type C = Parameters<Allocator['malloc']>[0];
  const malloc = (core: C, sizeBytes: number) => (tracker.calls++, note(inner.malloc(core, sizeBytes), sizeBytes));
  const mallocTo = (core: C, sizeBytes: number, dest: Addr, init?: InitFn) => (tracker.calls++, note(inner.mallocTo(core, sizeBytes, dest, init), sizeBytes));
  const free = (core: C, addr: Addr) => (tracker.calls++, inner.free(core, addr));
  const freeFrom = (core: C, dest: Addr) => (tracker.calls++, inner.freeFrom(core, dest));
  const wrapped: Record<PropertyKey, unknown> = { malloc, mallocTo, free, freeFrom };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop in wrapped) return wrapped[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function watchedFactory(f: AllocatorFactory, tracker: PeakTracker): AllocatorFactory {
  return { ...f, create: (m) => watchAllocator(f.create(m), m.layout.nvramBase, tracker, (s) => s) };
}

function diff(after: Counters, before: Counters, key: keyof Counters): number {
  return after[key] - before[key];
}

/**
 * Where a run stops for its crash (recovery workloads): fill-heap crashes at
 * crashPercent of its allocation volume; a user workload may offer the same as an
 * optional `stopAfterOps(params, threads)` method; the spec's stopAfterOps caps it.
 */
function stopPoint(spec: ResolvedSpec, w: Workload<any>, params: object, threads: number): number | undefined {
  const own = w.name === 'fill-heap' ? fillHeapStopAfterOps(params as FillHeapParams, threads)
    : typeof (w as { stopAfterOps?: unknown }).stopAfterOps === 'function' ? (w as unknown as { stopAfterOps(p: object, t: number): number }).stopAfterOps(params, threads)
    : undefined;
  const cap = spec.raw.stopAfterOps;
  return own === undefined ? cap : cap === undefined ? own : Math.min(own, cap);
}

export function measureRun(spec: ResolvedSpec, run: RunPlan): RunRecord {
  const tracker: PeakTracker = { peakBytes: 0, calls: 0, callsAtSetup: 0 };
  const params = run.rw.workload.validate({ ...run.paramValues }, run.threads, run.heapSizeBytes);
  const stop = stopPoint(spec, run.rw.workload, params, run.threads);
  const out = executeRun({
    allocator: watchedFactory(run.factory, tracker), workload: watchedWorkload(run.rw.workload, tracker), params, idiom: run.idiomValue,
    threads: run.threads, seed: run.seed, cost: run.platform.cost, nvramSizeBytes: run.heapSizeBytes,
    dramSizeBytes: spec.dramSizeBytes, trace: false, barrierAfterSetup: true,
    ...(stop !== undefined ? { stopAfterOps: stop } : {}),
  });
  const before = out.setupCounters;
  const after = out.machine.counters();
  const d = (k: keyof Counters) => diff(after, before, k);
  const logEntries = out.allocator.stats ? out.allocator.stats().logEntries : null;
  const wantsRecovery = spec.raw.recovery === true || run.rw.workload.kind === 'recovery';
  const recovery = wantsRecovery ? measureRecovery(run, spec, out.machine, out.allocator) : null;
  const coreEnd = sumClocks(out.machine);
  out.machine.dispose();
  const { index, id, allocator, workload, params: paramText, idiom, threads, seed, preset, heapSizeBytes } = run;
  return {
    index, id, allocator, workload, params: paramText, idiom, threads, seed, preset, heapSizeBytes,
    ops: out.opsTotal,
    allocatorCalls: tracker.calls - tracker.callsAtSetup,
    cycles: out.cycles - out.setupEndCycles,
    clockMHz: run.platform.cost.clockMHz,
    flushes: d('clflushes') + d('clflushopts') + d('clwbs'),
    fences: d('sfences') + d('mfences'),
    ntstores: d('ntstores'),
    logEntries: logEntries === null ? null : logEntries - (out.setupStats?.logEntries ?? 0),
    nvmBytesWritten: d('nvmBytesWritten'),
    coherenceTransfers: d('coherenceTransfers'),
    lockWaitCycles: d('lockWaitCycles'),
    ...cycleSplit(coreEnd - out.opsStartCoreCycles, d),
    instructions: d('instructions'),
    heapPeakBytes: tracker.peakBytes,
    recoveryCycles: recovery?.recoveryCycles ?? null,
    restartCycles: recovery?.restartCycles ?? null,
    liveObjects: recovery?.liveObjects ?? null,
  };
}

/** The operations' core cycles split by cause; memory is the rest, so the parts add up exactly. */
function cycleSplit(coreCycles: number, d: (k: keyof Counters) => number) {
  const computeCycles = d('computeCycles');
  const persistCycles = d('persistCycles');
  const idleCycles = d('idleCycles');
  const memoryCycles = coreCycles - computeCycles - persistCycles - d('lockWaitCycles') - idleCycles;
  if (memoryCycles < 0) throw new Error(`internal: cycle split negative (core ${coreCycles}, compute ${computeCycles}, persist ${persistCycles}, idle ${idleCycles})`);
  return { coreCycles, computeCycles, memoryCycles, persistCycles, idleCycles };
}

interface RecoveryFigures {
  readonly recoveryCycles: number;
  readonly restartCycles: number;
  readonly liveObjects: number;
}

function openOver(run: RunPlan, spec: ResolvedSpec, image: ReturnType<ReturnType<typeof createMachine>['snapshotNvram']>) {
  const m = createMachine({ cores: 1, cost: run.platform.cost, dramSizeBytes: spec.dramSizeBytes, nvramSizeBytes: run.heapSizeBytes, trace: false, image });
  return run.factory.create(m).open(m.core(0));
}

function measureRecovery(run: RunPlan, spec: ResolvedSpec, machine: ReturnType<typeof createMachine>, allocator: Allocator): RecoveryFigures {
  const crashed = openOver(run, spec, machine.snapshotNvram());
  allocator.close(machine.core(0));
  const clean = openOver(run, spec, machine.snapshotNvram());
  return { recoveryCycles: crashed.cycles, restartCycles: clean.cycles, liveObjects: crashed.objectsMarked };
}
