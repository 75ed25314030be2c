import { describe, expect, it } from 'vitest';
import { siteId, TraceKind, type NvramImage } from '../../sim/api.ts';
import { makeCostModel } from '../../sim/cost-model.ts';
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import { PersistReplayer } from '../../sim/persistency/replay.ts';
import { checkCrashStates, type CrashJob } from '../../experiments/crash/api.ts';
import type { Allocator, AllocatorFactory } from '../contract.ts';
import { pmdk, pmdkBrokenEarlyApply } from './index.ts';
import { CLASS_SIZES, HDR, LOG_HEADER_BYTES, OBJ_HEADER_BYTES, chunkDataAddr, laneAddr, runGeometry } from './layout.ts';
import { PmdkHeap } from './heap.ts';

const MiB = 1 << 20;

function machine(cores = 1, image?: NvramImage, cost = makeCostModel('optane-adr')): SimMachine {
  return createMachine({ cores, cost, dramSizeBytes: 16 * MiB, nvramSizeBytes: 8 * MiB, image });
}

function fresh(factory: AllocatorFactory = pmdk, cores = 1, cost = makeCostModel('optane-adr')): { m: SimMachine; a: Allocator } {
  const m = machine(cores, undefined, cost);
  const a = factory.create(m);
  a.format(m.core(0));
  return { m, a };
}

function reopen(image: NvramImage, factory: AllocatorFactory = pmdk) {
  const m = machine(1, image);
  const a = factory.create(m);
  const stats = a.open(m.core(0));
  return { m, a, stats };
}

/**
 * flushes = clwb + clflushopt + clflush; ntLines = distinct lines of each run of
 * non-temporal stores (one 64 B write-combined line, as a movnt copy writes it);
 * fences = sfence + mfence (core 0).
 */
function cost(m: SimMachine, f: () => void): { flushes: number; ntLines: number; fences: number } {
  const before = m.counters(0);
  const from = m.trace!.length;
  f();
  const after = m.counters(0);
  const flushes = (k: typeof before) => k.clwbs + k.clflushopts + k.clflushes;
  let ntLines = 0;
  let line = -1;
  for (let i = from; i < m.trace!.length; i++) {
    if (m.trace!.kind(i) !== TraceKind.NTSTORE8) continue;
    const l = Math.floor(m.trace!.arg(i) / 64);
    if (l !== line) ntLines++;
    line = l;
  }
  return { flushes: flushes(after) - flushes(before), ntLines, fences: after.sfences + after.mfences - before.sfences - before.mfences };
}

/** The crash image (eADR: every executed store durable, in program order) just before trace event pos. */
function imageAt(m: SimMachine, pos: number): NvramImage {
  const r = new PersistReplayer(m.trace!, 'eadr');
  r.advanceTo(pos);
  return r.stateImage([]);
}

function traceIndices(m: SimMachine, from: number, site: string, kinds: readonly TraceKind[]): number[] {
  const t = m.trace!;
  const id = siteId(site);
  const out: number[] = [];
  for (let i = from; i < t.length; i++) if (t.site(i) === id && kinds.includes(t.kind(i))) out.push(i);
  return out;
}

function isAllocated(a: Allocator, m: SimMachine, p: number): boolean {
  return a.walkHeap(m).allocated.some((e) => e.addr === p);
}

describe('pmdk: per-operation costs (1 core, 64 B, optane-adr)', () => {
  const { m, a } = fresh();
  const c = m.core(0);
  for (let i = 0; i < 8; i++) a.malloc(c, 64); // the run exists: steady state

  // Measured on libpmemobj 1.12.1 (gdb breakpoint counts over 1,000 pairs, see redo.ts):
  // PMEMoid in the pool: alloc 3 clwb + 4 movnt lines + 4 fences, free 3 clwb + 3 movnt
  // lines + 4 fences (3 entries; here 2, the destination being one word); PMEMoid in DRAM:
  // alloc 1 clwb + 1 movnt line + 2 fences, free 1 clwb + 2 fences.
  it('mallocTo into NVRAM: 2 flushes, 4 non-temporal lines, 4 fences, 2 redo entries (destination SET, bitmap OR)', () => {
    let p = 0;
    expect(cost(m, () => (p = a.mallocTo(c, 64, a.rootAddress(3))))).toEqual({ flushes: 2, ntLines: 4, fences: 4 });
    const lane = laneAddr((a as PmdkHeap).g, 0);
    for (let off = 0; off < LOG_HEADER_BYTES; off += 8) expect(m.peek64(lane + off)).toBe(0); // header clobbered whole
    // the data line keeps the 2 entries, then zeros (ulog_store pads past the last entry)
    expect([0, 16].map((o) => m.peek64(lane + LOG_HEADER_BYTES + o) % 4)).toEqual([1, 2]); // SET, OR
    expect(m.peek64(lane + LOG_HEADER_BYTES + 32)).toBe(0);
    expect(m.peek64(a.rootAddress(3))).toBe(p);
    expect(a.walkHeap(m).allocated.find((e) => e.addr === p)?.sizeBytes).toBe(128 - OBJ_HEADER_BYTES);
  });
  it('freeFrom with the destination in NVRAM: 2 flushes, 3 non-temporal lines, 4 fences', () => {
    const p = m.peek64(a.rootAddress(3));
    expect(cost(m, () => a.freeFrom(c, a.rootAddress(3)))).toEqual({ flushes: 2, ntLines: 3, fences: 4 });
    expect(m.peek64(a.rootAddress(3))).toBe(0);
    expect(isAllocated(a, m, p)).toBe(false);
  });
  it('plain malloc and mallocTo into DRAM take the log-free path: 1 flush, 1 non-temporal line, 2 fences', () => {
    expect(cost(m, () => a.malloc(c, 64))).toEqual({ flushes: 1, ntLines: 1, fences: 2 });
    const dest = m.reserveDram(64);
    expect(cost(m, () => a.mallocTo(c, 64, dest))).toEqual({ flushes: 1, ntLines: 1, fences: 2 });
    expect(isAllocated(a, m, m.peek64(dest))).toBe(true);
  });
  it('plain free: 1 flush, 2 fences', () => {
    const p = a.malloc(c, 64);
    expect(cost(m, () => a.free(c, p))).toEqual({ flushes: 1, ntLines: 0, fences: 2 });
  });
  it('a new run: run header and bitmap flushed, fence, then the chunk header FREE->RUN (1 line, 1 fence)', () => {
    const { m: m2, a: a2 } = fresh();
    const { dataOffset } = runGeometry(256 * 1024, CLASS_SIZES[0]);
    // the first malloc creates the run: its metadata lines + the remainder's FREE chunk header
    // + the commit (1 line, 1 fence) + the 2-line, 2-fence malloc
    expect(cost(m2, () => a2.malloc(m2.core(0), 64))).toEqual({ flushes: dataOffset / 64 + 1 + 1 + 1, ntLines: 1, fences: 1 + 1 + 2 });
    const commit = traceIndices(m2, 0, 'pmdk:new-run', [TraceKind.STORE8, TraceKind.CLWB, TraceKind.FENCE]).slice(-3);
    expect(commit.map((i) => m2.trace!.kind(i))).toEqual([TraceKind.STORE8, TraceKind.CLWB, TraceKind.FENCE]);
  });
});

describe('pmdk: synchronisation per call (libpmemobj 1.12.1, measured)', () => {
  // callgrind, 20,000 pmemobj_alloc/free pairs, PMEMoid on the stack: per alloc lane_hold and
  // lane_release lock cmpxchg, nresv lock add and lock sub, heap_run_allocated lock add, plus
  // 2 mutexes (bucket, run); per free the two lane CAS, heap_run_allocated lock sub, the
  // recycler's unaccounted_total and unaccounted_units[chunk] lock adds, plus 1 mutex (run).
  const locked = (m: SimMachine, f: () => void) => {
    const b = m.counters(0);
    f();
    const e = m.counters(0);
    return { atomics: e.cases - b.cases - (e.lockAcquires - b.lockAcquires), mutexes: e.lockAcquires - b.lockAcquires };
  };
  it('alloc: 5 locked read-modify-writes and 2 mutexes; free: 5 and 1', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    a.free(c, a.malloc(c, 64)); // the run exists
    let p = 0;
    expect(locked(m, () => (p = a.malloc(c, 64)))).toEqual({ atomics: 5, mutexes: 2 });
    expect(locked(m, () => a.free(c, p))).toEqual({ atomics: 5, mutexes: 1 });
  });
  it('two cores in their own arenas still share the statistics and recycler lines (coherence transfers every call)', () => {
    // Without hardware prefetch: its pair-line and stream prefetches add transfers of their own.
    const noPrefetch = makeCostModel('optane-adr', { prefetchInFlightLines: 0 });
    const { m, a } = fresh(pmdk, 2, noPrefetch);
    const cores = [m.core(0), m.core(1)];
    for (const c of cores) a.free(c, a.malloc(c, 64));
    const before = m.counters();
    for (let i = 0; i < 10; i++) for (const c of cores) a.free(c, a.malloc(c, 64));
    const transfers = m.counters().coherenceTransfers - before.coherenceTransfers;
    // each pair moves 4 lines from the other core: the statistics line, the class's
    // unaccounted_total, the run-lock line (the 48 B locks of chunks 0 and 1 share it) and
    // the unaccounted_units line (8 chunks a line)
    expect(transfers).toBe(20 * 4);
    const one = fresh(pmdk, 2, noPrefetch);
    const c0 = one.m.core(0);
    one.a.free(c0, one.a.malloc(c0, 64));
    const b1 = one.m.counters();
    for (let i = 0; i < 20; i++) one.a.free(c0, one.a.malloc(c0, 64));
    expect(one.m.counters().coherenceTransfers - b1.coherenceTransfers).toBe(0);
  });
});

describe('pmdk: free does not return blocks to the bucket; a dry bucket rescans its run', () => {
  it('reuses a freed block only after the run is exhausted', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    const { nbits } = runGeometry(256 * 1024, CLASS_SIZES[0]);
    const first = [a.malloc(c, 64), a.malloc(c, 64), a.malloc(c, 64)];
    a.free(c, first[1]);
    const rest: number[] = [];
    for (let i = 3; i < nbits; i++) rest.push(a.malloc(c, 64));
    expect(rest).not.toContain(first[1]);
    const data = chunkDataAddr((a as PmdkHeap).g, 0);
    expect(rest.every((p) => p > data && p < data + 256 * 1024)).toBe(true);
    expect(a.malloc(c, 64)).toBe(first[1]); // the rescan finds the freed block
    expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
  });
});

describe('pmdk: recovery', () => {
  it('replays a durable redo log and discards an incomplete one (eADR crash images inside mallocTo)', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    a.malloc(c, 64);
    const start = m.trace!.length;
    const p = a.mallocTo(c, 64, a.rootAddress(0));
    const logStores = traceIndices(m, start, 'pmdk:redo-log', [TraceKind.NTSTORE8]);
    expect(logStores.length).toBe(16); // header line + one data line (2 entries + padding)
    const lastStore = logStores[logStores.length - 1];
    // just after the last log store: the log is valid, nothing applied yet -> replay
    const replayed = reopen(imageAt(m, lastStore + 1));
    expect(replayed.stats.logEntriesReplayed).toBe(2);
    expect(replayed.a.getRoot(replayed.m.core(0), 0)).toBe(p);
    expect(isAllocated(replayed.a, replayed.m, p)).toBe(true);
    expect(replayed.a.checkConsistency(replayed.m).ok).toBe(true);
    // header (checksum) written, the entries not yet: the checksum does not match -> discard
    const discarded = reopen(imageAt(m, logStores[8]));
    expect(discarded.stats.logEntriesReplayed).toBe(0);
    expect(discarded.a.getRoot(discarded.m.core(0), 0)).toBe(0);
    expect(isAllocated(discarded.a, discarded.m, p)).toBe(false);
    expect(discarded.a.checkConsistency(discarded.m).ok).toBe(true);
  });

  it('rejects a log whose checksum does not match its entries', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    a.malloc(c, 64);
    const start = m.trace!.length;
    a.mallocTo(c, 64, a.rootAddress(0));
    const logStores = traceIndices(m, start, 'pmdk:redo-log', [TraceKind.NTSTORE8]);
    // crash after the whole log, then tear the entry's value in the image
    const img = imageAt(m, logStores[logStores.length - 1] + 1);
    const m2 = machine(1, img);
    const lane = laneAddr((a as PmdkHeap).g, 0);
    m2.core(0).store64(lane + LOG_HEADER_BYTES + 8, 0x4000_1230);
    const r = reopen(m2.snapshotNvram());
    expect(r.stats.logEntriesReplayed).toBe(0);
    expect(r.a.getRoot(r.m.core(0), 0)).toBe(0);
  });

  it('opens a mid-run snapshot consistently; alloc-into leaks nothing; new blocks avoid reachable ones', () => {
    const { m, a } = fresh(pmdk, 4);
    const live = new Set<number>();
    for (let i = 0; i < 120; i++) {
      const core = m.core(i % 4);
      const slot = (i * 7) % 40;
      if (core.load64(a.rootAddress(slot)) !== 0) a.freeFrom(core, a.rootAddress(slot));
      else a.mallocTo(core, [24, 64, 200, 3000, 300000][i % 5], a.rootAddress(slot));
    }
    for (let s = 0; s < 40; s++) if (m.peek64(a.rootAddress(s)) !== 0) live.add(m.peek64(a.rootAddress(s)));
    const r = reopen(m.snapshotNvram());
    expect(r.stats.kind).toBe('recovered');
    expect(r.a.checkConsistency(r.m)).toEqual({ ok: true, errors: [] });
    const allocated = r.a.walkHeap(r.m).allocated.map((e) => e.addr).sort((x, y) => x - y);
    expect(allocated).toEqual([...live].sort((x, y) => x - y));
    const core = r.m.core(0);
    for (let i = 0; i < 200; i++) expect(live.has(r.a.malloc(core, [64, 200, 3000][i % 3]))).toBe(false);
    expect(r.a.checkConsistency(r.m).ok).toBe(true);
  });

  it('a clean close reopens as clean; open defers the zone walk to first use', () => {
    const { m, a } = fresh();
    a.mallocTo(m.core(0), 64, a.rootAddress(0));
    a.close(m.core(0));
    const r = reopen(m.snapshotNvram());
    expect(r.stats.kind).toBe('clean');
    expect(r.stats.blocksScanned).toBe(0);
    expect(r.stats.extra?.lanesScanned).toBe(1024);
    expect(r.m.peek64(r.m.layout.nvramBase + HDR.dirty)).toBe(1);
    r.a.free(r.m.core(0), r.a.getRoot(r.m.core(0), 0));
    expect(r.a.checkConsistency(r.m).ok).toBe(true);
  });
});

describe('pmdk: zones are rebuilt lazily, one at a time', () => {
  it('open loads no zone; an allocation loads the zones it searches; a free loads only its own zone', () => {
    const opts = { name: 'pmdk', maxChunksPerZone: 8 };
    const m = machine();
    const a = new PmdkHeap(m, opts);
    a.format(m.core(0));
    expect(a.g.zoneCount).toBeGreaterThanOrEqual(3);
    const zones = [...a.g.zones.keys()];
    const big = 6 * 256 * 1024; // 7 chunks: one per zone
    const ptrs = [a.malloc(m.core(0), big), a.malloc(m.core(0), big), a.malloc(m.core(0), big)];
    expect(ptrs.map((p) => a.g.zones.findIndex((z) => p >= z.data && p < z.data + z.chunks * 256 * 1024))).toEqual([0, 1, 2]);
    a.close(m.core(0));
    const m2 = machine(1, m.snapshotNvram());
    const b = new PmdkHeap(m2, opts);
    b.open(m2.core(0));
    const loaded = () => zones.map((z) => m2.peek64((b as unknown as { d: { zoneLoaded: number } }).d.zoneLoaded + z * 8));
    expect(loaded()).toEqual(zones.map(() => 0));
    b.free(m2.core(0), ptrs[2]);
    expect(loaded()).toEqual(zones.map((z) => (z === 2 ? 1 : 0)));
    const p = b.malloc(m2.core(0), 64); // zone 0 is full of the huge block's span: takes a chunk from zone 0 if free
    expect(loaded()[0]).toBe(1);
    expect(b.walkHeap(m2).allocated.map((e) => e.addr)).toContain(p);
    expect(b.checkConsistency(m2)).toEqual({ ok: true, errors: [] });
  });
});

describe('pmdk: a full heap after restart', () => {
  it('reuses blocks freed before the crash (recycled runs found by the zone load), no false out-of-memory', () => {
    const m = createMachine({ cores: 1, cost: makeCostModel('optane-adr'), dramSizeBytes: 16 * MiB, nvramSizeBytes: 2 * MiB, trace: false });
    const a = pmdk.create(m);
    const c = m.core(0);
    a.format(c);
    const ptrs: number[] = [];
    for (let p = a.malloc(c, 64); p !== 0; p = a.malloc(c, 64)) ptrs.push(p);
    expect(ptrs.length).toBeGreaterThan(5000);
    const freed = [ptrs[10], ptrs[2000], ptrs[ptrs.length - 1]];
    for (const p of freed) a.free(c, p);
    const m2 = createMachine({ cores: 1, cost: makeCostModel('optane-adr'), dramSizeBytes: 16 * MiB, nvramSizeBytes: 2 * MiB, trace: false, image: m.snapshotNvram() });
    const b = pmdk.create(m2);
    b.open(m2.core(0));
    const again = [b.malloc(m2.core(0), 64), b.malloc(m2.core(0), 64), b.malloc(m2.core(0), 64)];
    expect(again.sort((x, y) => x - y)).toEqual([...freed].sort((x, y) => x - y));
    expect(b.malloc(m2.core(0), 64)).toBe(0);
    expect(b.checkConsistency(m2).ok).toBe(true);
  });
});

describe('pmdk: leaks are measurable (no recovery GC)', () => {
  it('a plain malloc followed by a crash before linking stays allocated and unreachable', () => {
    const { m, a } = fresh();
    const c = m.core(0);
    const linked = a.mallocTo(c, 64, a.rootAddress(0));
    const leaked = a.malloc(c, 64); // crash before the caller links it
    const r = reopen(m.snapshotNvram());
    const walk = r.a.walkHeap(r.m);
    const reachable = new Set([r.a.getRoot(r.m.core(0), 0)]);
    const unreachable = walk.allocated.filter((e) => !reachable.has(e.addr));
    expect(reachable.has(linked)).toBe(true);
    expect(unreachable).toEqual([{ addr: leaked, sizeBytes: 112 }]);
  });
});

describe('pmdk: the crash checker (list workload, line-granular ADR, 1-line deviations)', () => {
  const job = (allocator: string): CrashJob => ({
    allocator, workload: 'list', params: { opsPerThread: 12, keyRange: 16, insertPercent: 70 }, idiom: 'alloc-into', threads: 1, seed: 1,
    nvramSizeBytes: 4 * MiB, dramSizeBytes: 16 * MiB, persistency: 'line', mode: 'k-subsets', k: 1, nestedPoints: 1, probeBlocks: 16,
  });
  it('finds every crash state of pmdk valid', () => {
    const rows = checkCrashStates(job(pmdk.name)).rows;
    expect(rows.length).toBeGreaterThan(50);
    expect(rows.filter((r) => r.verdict !== 'valid').map((r) => `${r.anomaly}: ${r.detail}`)).toEqual([]);
  });
  it('catches the broken twin applying the redo entries before the log is durable', () => {
    expect(pmdkBrokenEarlyApply.broken).toBe(true);
    const rows = checkCrashStates(job(pmdkBrokenEarlyApply.name)).rows;
    expect(rows.some((r) => r.verdict === 'invalid' && r.anomaly === 'double-allocation')).toBe(true);
  });
});
