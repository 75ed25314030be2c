import { describe, expect, it } from 'vitest';
import { siteId, TraceKind, type NvramImage } from '../../sim/api.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import { PersistReplayer } from '../../sim/persistency/replay.ts';
import { checkCrashStates, type CrashJob, type PersistencyMode } from '../../experiments/crash/api.ts';
import type { Allocator, AllocatorFactory } from '../contract.ts';
import { nvmMalloc, nvmMallocBrokenLinkFirst, nvmMallocBrokenNoLog } from './index.ts';
import { NvmMallocHeap as Heap } from './heap.ts';
import { LOG_SLOTS, State, Usage, logSlotAddr, pageOf } from './layout.ts';
import type { NvmMallocHeap } from './heap.ts';

const MiB = 1 << 20;

function machine(cores = 1, image?: NvramImage): SimMachine {
  return createMachine({ cores, cost: makeCostModel('optane-adr'), dramSizeBytes: 16 * MiB, nvramSizeBytes: 8 * MiB, image });
}

function fresh(factory: AllocatorFactory = nvmMalloc, cores = 1): { m: SimMachine; a: NvmMallocHeap } {
  const m = machine(cores);
  const a = factory.create(m) as NvmMallocHeap;
  a.format(m.core(0));
  return { m, a };
}

function reopen(image: NvramImage) {
  const m = machine(1, image);
  const a = nvmMalloc.create(m);
  const stats = a.open(m.core(0));
  return { m, a, stats };
}

function cost(m: SimMachine, f: () => void): { lines: number; fences: number } {
  const before = m.counters(0);
  f();
  const after = m.counters(0);
  const lines = (k: typeof before) => k.clwbs + k.clflushopts + k.clflushes + k.ntstores;
  return { lines: lines(after) - lines(before), fences: after.sfences + after.mfences - before.sfences - before.mfences };
}

function imageAt(m: SimMachine, pos: number): NvramImage {
  const r = new PersistReplayer(m.trace!, 'eadr');
  r.advanceTo(pos);
  return r.stateImage([]);
}

/** First trace index at or after `from` of a store by `site` at addr (and with value, if given). */
function storeIndex(m: SimMachine, from: number, site: string, addr: number, value?: number): number {
  const t = m.trace!;
  const off = addr - m.layout.nvramBase;
  for (let i = from; i < t.length; i++) {
    const k = t.kind(i);
    if (k > TraceKind.NTSTORE8 || t.site(i) !== siteId(site) || t.arg(i) !== off) continue;
    if (value === undefined || t.valueLo(i) === value) return i;
  }
  throw new Error(`no store by ${site} at 0x${addr.toString(16)}`);
}

function isAllocated(a: Allocator, m: SimMachine, p: number): boolean {
  return a.walkHeap(m).allocated.some((e) => e.addr === p);
}

describe('nvm-malloc: per-operation costs (1 core, 64 B, optane-adr)', () => {
  const { m, a } = fresh();
  const c = m.core(0);
  for (let i = 0; i < 4; i++) a.malloc(c, 64); // the run exists: steady state

  it('reserve touches DRAM only', () => {
    const before = m.trace!.length;
    let p = 0;
    expect(cost(m, () => (p = a.reserve(c, 64)))).toEqual({ lines: 0, fences: 0 });
    const t = m.trace!;
    const persistent: number[] = [];
    for (let i = before; i < t.length; i++) if (t.kind(i) !== TraceKind.FENCE) persistent.push(i); // lock CAS = locked instruction
    expect(persistent).toEqual([]);
    expect(isAllocated(a, m, p)).toBe(false);
    a.activate(c, p, 0);
    expect(isAllocated(a, m, p)).toBe(true);
    expect(a.checkConsistency(m).ok).toBe(true);
  });
  it('mallocTo into NVRAM = reserve + activate with one link: 3 lines, 11 fences', () => {
    let p = 0;
    expect(cost(m, () => (p = a.mallocTo(c, 64, a.rootAddress(2))))).toEqual({ lines: 3, fences: 11 });
    expect(m.peek64(a.rootAddress(2))).toBe(p);
    expect(isAllocated(a, m, p)).toBe(true);
  });
  it('freeFrom with one link: 2 lines, 9 fences', () => {
    const p = m.peek64(a.rootAddress(2));
    expect(cost(m, () => a.freeFrom(c, a.rootAddress(2)))).toEqual({ lines: 2, fences: 9 });
    expect(m.peek64(a.rootAddress(2))).toBe(0);
    expect(isAllocated(a, m, p)).toBe(false);
  });
  it('plain malloc (activate without link): 2 lines, 7 fences; plain free: 1 line, 5 fences', () => {
    let p = 0;
    expect(cost(m, () => (p = a.malloc(c, 64)))).toEqual({ lines: 2, fences: 7 });
    expect(cost(m, () => a.free(c, p))).toEqual({ lines: 1, fences: 5 });
  });
  it('setRoot is store + PERSIST: 1 line, 2 fences', () => {
    expect(cost(m, () => a.setRoot(c, 7, 0x4000_0040))).toEqual({ lines: 1, fences: 2 });
  });
});

describe('nvm-malloc: the 127-slot activation ring', () => {
  it('logs each activation in the next slot, wrapping after 127', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    const ptrs: number[] = [];
    for (let i = 0; i < 130; i++) ptrs.push(a.malloc(c, 64 * (1 + (i % 3))));
    expect(m.peek64(logSlotAddr(a.g, 129 % LOG_SLOTS))).toBe(ptrs[129]);
    expect(m.peek64(logSlotAddr(a.g, 3))).toBe(ptrs[3]);
    expect(m.peek64(logSlotAddr(a.g, 0))).toBe(ptrs[127]);
  });
});

describe('nvm-malloc: recovery completes or rolls back headers named by the log', () => {
  function activation() {
    const { m, a } = fresh();
    const c = m.core(0);
    a.malloc(c, 64);
    const start = m.trace!.length;
    const p = a.mallocTo(c, 64, a.rootAddress(0));
    const header = pageOf(p, a.g);
    const activating = storeIndex(m, start, 'nvm-malloc:activate', header, Usage.RUN | State.ACTIVATING);
    const link = storeIndex(m, start, 'nvm-malloc:activate', a.rootAddress(0));
    return { m, a, p, activating, link };
  }
  it('ACTIVATING with the link durable: the bitmap bit is set from the header', () => {
    const { m, p, link } = activation();
    const r = reopen(imageAt(m, link + 1));
    expect(r.stats.logEntriesReplayed).toBe(1);
    expect(r.a.getRoot(r.m.core(0), 0)).toBe(p);
    expect(isAllocated(r.a, r.m, p)).toBe(true);
    expect(r.a.checkConsistency(r.m)).toEqual({ ok: true, errors: [] });
  });
  it('ACTIVATING before the link store: the link is replayed from the link pair', () => {
    const { m, p, link } = activation();
    const r = reopen(imageAt(m, link));
    expect(r.a.getRoot(r.m.core(0), 0)).toBe(p);
    expect(isAllocated(r.a, r.m, p)).toBe(true);
    expect(r.a.checkConsistency(r.m).ok).toBe(true);
  });
  it('PREACTIVATE (not yet committed): rolled back, the block stays free', () => {
    const { m, p, activating } = activation();
    const r = reopen(imageAt(m, activating));
    expect(r.stats.logEntriesReplayed).toBe(0);
    expect(r.a.getRoot(r.m.core(0), 0)).toBe(0);
    expect(isAllocated(r.a, r.m, p)).toBe(false);
    expect(r.a.checkConsistency(r.m).ok).toBe(true);
  });
  it('FREEING with the cleared link durable: the free is completed', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    const p = a.mallocTo(c, 64, a.rootAddress(0));
    const start = m.trace!.length;
    a.freeFrom(c, a.rootAddress(0));
    const r = reopen(imageAt(m, storeIndex(m, start, 'nvm-malloc:free', a.rootAddress(0)) + 1));
    expect(r.a.getRoot(r.m.core(0), 0)).toBe(0);
    expect(isAllocated(r.a, r.m, p)).toBe(false);
    expect(r.a.checkConsistency(r.m).ok).toBe(true);
  });
});

describe('nvm-malloc: restart', () => {
  it('opens a mid-run snapshot consistently; alloc-into leaks nothing; new blocks avoid reachable ones', () => {
    const { m, a } = fresh(nvmMalloc, 4);
    let activations = 0;
    for (let i = 0; i < 120; i++) {
      const core = m.core(i % 4);
      const slot = (i * 7) % 40;
      if (core.load64(a.rootAddress(slot)) !== 0) a.freeFrom(core, a.rootAddress(slot));
      else if (a.mallocTo(core, [24, 64, 200, 3000, 300000][i % 5], a.rootAddress(slot)) !== 0) activations++;
    }
    const live = new Set<number>();
    for (let s = 0; s < 40; s++) if (m.peek64(a.rootAddress(s)) !== 0) live.add(m.peek64(a.rootAddress(s)));
    const r = reopen(m.snapshotNvram());
    expect(r.stats.kind).toBe('recovered');
    expect(r.stats.extra?.logSlotsUsed).toBe(Math.min(LOG_SLOTS, activations));
    expect(r.a.checkConsistency(r.m)).toEqual({ ok: true, errors: [] });
    const allocated = r.a.walkHeap(r.m).allocated.map((e) => e.addr).sort((x, y) => x - y);
    expect(allocated).toEqual([...live].sort((x, y) => x - y));
    const core = r.m.core(0);
    for (let i = 0; i < 200; i++) expect(live.has(r.a.malloc(core, [64, 200, 3000][i % 3]))).toBe(false);
    for (const p of live) r.a.free(core, p);
    expect(r.a.walkHeap(r.m).allocated.filter((e) => live.has(e.addr))).toEqual([]);
    expect(r.a.checkConsistency(r.m).ok).toBe(true);
  });

  it('a plain malloc followed by a crash before linking leaks a measurable block (no recovery GC)', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    a.mallocTo(c, 64, a.rootAddress(0));
    const leaked = a.malloc(c, 100);
    const r = reopen(m.snapshotNvram());
    const root = r.a.getRoot(r.m.core(0), 0);
    const unreachable = r.a.walkHeap(r.m).allocated.filter((e) => e.addr !== root);
    expect(unreachable).toEqual([{ addr: leaked, sizeBytes: 128 }]);
  });
});

describe('nvm-malloc: the crash checker (list workload, alloc-into, 1-line deviations)', () => {
  const job = (allocator: string, persistency: PersistencyMode): CrashJob => ({
    allocator, workload: 'list', params: { opsPerThread: 12, keyRange: 16, insertPercent: 70 }, idiom: 'alloc-into', threads: 1, seed: 1,
    nvramSizeBytes: 4 * MiB, dramSizeBytes: 16 * MiB, persistency, mode: 'k-subsets', k: 1, nestedPoints: 1, probeBlocks: 16,
  });
  const invalid = (allocator: string, p: PersistencyMode) => checkCrashStates(job(allocator, p)).rows.filter((r) => r.verdict !== 'valid');
  it('finds every crash state valid under eADR', () => {
    expect(invalid(nvmMalloc.name, 'eadr').map((r) => `${r.anomaly}: ${r.detail}`)).toEqual([]);
  });
  it('catches the link-first canary under eADR, where the faithful model passes', () => {
    expect(nvmMallocBrokenLinkFirst.broken).toBe(true);
    expect(invalid(nvmMallocBrokenLinkFirst.name, 'eadr').some((r) => r.anomaly === 'double-allocation')).toBe(true);
  });
  it('under line-granular ADR finds the published protocol unsafe (header line unflushed before the link), and the no-log canary worse', () => {
    const faithful = invalid(nvmMalloc.name, 'line');
    const broken = invalid(nvmMallocBrokenNoLog.name, 'line');
    expect(nvmMallocBrokenNoLog.broken).toBe(true);
    expect(faithful.some((r) => r.anomaly === 'double-allocation')).toBe(true);
    expect(broken.some((r) => r.anomaly === 'double-allocation')).toBe(true);
    expect(broken.length).toBeGreaterThan(faithful.length);
  });
  it('flushing the header before the link (not in the published code) closes the window: +1 line, all states valid', () => {
    const fixed: AllocatorFactory = { ...nvmMalloc, name: 'nvm-malloc-header-flush', create: (mm) => new Heap(mm, { name: 'nvm-malloc-header-flush', variant: { flushHeaderBeforeLink: true } }) };
    const rows = checkCrashStates({ ...job(fixed.name, 'line') }, { index: 0, count: 1 }, { allocator: fixed }).rows;
    expect(rows.filter((r) => r.verdict !== 'valid').map((r) => `${r.anomaly}: ${r.detail}`)).toEqual([]);
    const m = machine();
    const a = fixed.create(m);
    a.format(m.core(0));
    a.malloc(m.core(0), 64);
    expect(cost(m, () => a.mallocTo(m.core(0), 64, a.rootAddress(0)))).toEqual({ lines: 4, fences: 11 });
  });
});
