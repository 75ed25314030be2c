/**
 * Contract suite: the deterministic checks (alignment, sizes, misuse, out of memory,
 * roots, mallocTo / freeFrom). Each function builds a fresh machine and heap, drives
 * the allocator through the Harness and throws an Error naming what went wrong.
 *
 * Invariants: only the public contract is used; every check ends by verifying that
 * the heap walk agrees with the reference and checkConsistency is ok.
 */
import type { Addr } from '../sim/api.ts';
import type { AllocatorFactory } from './contract.ts';
import { Harness, expectMisuse, fail, hex, type SuiteConfig } from './contract-suite-harness.ts';

const MiB = 1024 * 1024;

/** Sizes from 1 B to 1 MB around every power of two and some odd ones. */
export const SIZES_BYTES: readonly number[] = (() => {
  const s = new Set<number>([1, 2, 3, 5, 7, 24, 48, 100, 200, 300, 384, 385, 1000, 3000, 12000, 14336, 14337, 100_000, 1_000_000]);
  for (let p = 8; p <= MiB; p *= 2) for (const d of [-1, 0, 1]) if (p + d <= MiB) s.add(p + d);
  return [...s].sort((a, b) => a - b);
})();

/** 16-byte alignment for every size 1..512 B and every power of two to 1 MB, from every core. */
export function checkAlignment(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  const blocks: Addr[] = [];
  for (let size = 1; size <= 512; size++) blocks.push(h.malloc(size, size));
  for (let p = 1024; p <= MiB; p *= 2) blocks.push(h.malloc(p, p));
  h.verifyContents('after allocating every size');
  h.verifyHeap('after allocating every size');
  blocks.forEach((b, i) => h.free(i + 1, b));
  h.verifyHeap('after freeing every block');
}

/** Every size from 1 B to 1 MB twice (the second round reuses freed memory). */
export function checkSizes(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  for (let round = 0; round < 2; round++) {
    const blocks = SIZES_BYTES.map((size, i) => h.malloc(i, size));
    h.verifyContents(`round ${round}, all sizes live`);
    h.verifyHeap(`round ${round}, all sizes live`);
    // Free in an interleaved order, from other cores than the allocating one.
    for (let i = 0; i < blocks.length; i += 2) h.free(i + 1, blocks[i]);
    h.verifyContents(`round ${round}, half freed`);
    for (let i = 1; i < blocks.length; i += 2) h.free(i + 1, blocks[i]);
    h.verifyHeap(`round ${round}, all freed`);
  }
}

/** malloc(0), negative, fractional and non-number sizes are misuse ('bad-size'). */
export function checkBadSizes(factory: AllocatorFactory, cfg: SuiteConfig): void {
  const h = Harness.fresh(factory, cfg, 1);
  for (const size of [0, -1, 1.5, Number.NaN]) expectMisuse(() => h.alloc.malloc(h.core(0), size), undefined, ['bad-size'], `malloc(${size})`);
  h.malloc(0, 64);
  h.verifyHeap('after bad sizes');
}

/** free(0) changes nothing, on every core. */
export function checkFreeNull(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  for (let i = 0; i < 8; i++) h.malloc(i, 16 << i);
  const before = JSON.stringify(h.alloc.walkHeap(h.machine));
  const counted = h.machine.counters();
  for (let c = 0; c < cores; c++) h.alloc.free(h.core(c), 0);
  if (JSON.stringify(h.alloc.walkHeap(h.machine)) !== before) fail('free(0) changed the heap walk');
  const after = h.machine.counters();
  for (const k of ['stores', 'cases', 'clwbs', 'clflushes', 'clflushopts', 'ntstores', 'sfences', 'mfences', 'lockAcquires'] as const) {
    if (after[k] !== counted[k]) fail(`free(0) is not a no-op: it issued ${after[k] - counted[k]} ${k}`);
  }
  h.verifyContents('after free(0)');
  h.verifyHeap('after free(0)');
  h.malloc(0, 32);
}

/** Double free and foreign frees raise AllocatorMisuseError with the address; the heap still works. */
export function checkMisuse(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  const small = h.malloc(0, 64);
  const large = h.malloc(1, 100_000);
  const tiny = h.malloc(0, 16);
  const mid = h.malloc(1, 3 * 4096);
  h.malloc(0, 200);
  h.free(0, small);
  h.free(1 % cores, large);
  const attempts: { addr: Addr; what: string; kinds: ('double-free' | 'foreign-free')[] }[] = [
    { addr: small, what: 'double free of a 64 B block', kinds: ['double-free', 'foreign-free'] },
    { addr: large, what: 'double free of a 100,000 B block', kinds: ['double-free', 'foreign-free'] },
    { addr: tiny + 8, what: 'free of a misaligned interior address', kinds: ['foreign-free'] },
    { addr: mid + 4096, what: 'free of an interior address of a 12 KiB block', kinds: ['foreign-free', 'double-free'] },
    { addr: h.machine.layout.dramBase + 64, what: 'free of a DRAM address', kinds: ['foreign-free'] },
    { addr: h.alloc.rootAddress(0), what: 'free of a root slot address', kinds: ['foreign-free', 'double-free'] },
    { addr: h.machine.layout.nvramBase + h.machine.layout.nvramSizeBytes - 4096, what: 'free of the never-allocated last NVRAM page', kinds: ['foreign-free', 'double-free'] },
    { addr: 0x1230, what: 'free of an address outside DRAM and NVRAM', kinds: ['foreign-free'] },
  ];
  for (const [i, a] of attempts.entries()) {
    if (h.live.has(a.addr)) continue; // an allocator may legitimately have put a live block there
    const before = JSON.stringify(h.alloc.walkHeap(h.machine));
    expectMisuse(() => h.alloc.free(h.core(i), a.addr), a.addr, a.kinds, `${a.what} (${hex(a.addr)}) on core ${i % cores}`);
    if (JSON.stringify(h.alloc.walkHeap(h.machine)) !== before) fail(`${a.what}: the rejected free changed the heap walk`);
    h.verifyHeap(`after ${a.what}`);
  }
  // The heap still works: allocate (possibly reusing the freed blocks), free everything.
  for (let i = 0; i < 16; i++) h.malloc(i, 64 + 1000 * i);
  h.verifyContents('after misuse');
  for (const [i, b] of [...h.live.keys()].entries()) h.free(i, b);
  h.verifyHeap('after misuse, everything freed');
}

/** Allocate until malloc returns 0; the heap stays consistent, and after frees malloc succeeds again. */
export function checkOutOfMemory(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  const stageSizes = [MiB, 64 * 1024, 4096, 256, 16];
  const byStage: Addr[][] = [];
  let calls = 0;
  for (const size of stageSizes) {
    const got: Addr[] = [];
    for (;;) {
      const core = h.core(calls++);
      const addr = h.alloc.malloc(core, size);
      if (addr === 0) break;
      h.checkNewBlock(addr, size, `malloc(${size}) while filling the heap`);
      h.live.set(addr, { addr, sizeBytes: size, tag: -1 });
      got.push(addr);
      if (got.length > cfg.heapSizeBytes / size + 1) fail(`malloc(${size}) keeps succeeding beyond the heap size (${got.length} blocks)`);
      if (size < 4096 && got.length >= 4096) break; // small stages need not exhaust the heap
    }
    byStage.push(got);
  }
  if (byStage[0].length === 0) fail('malloc(1 MB) returned 0 on an empty heap');
  if (h.alloc.malloc(h.core(0), MiB) !== 0) fail('malloc(1 MB) succeeded after it had returned 0 and nothing was freed');
  h.verifyHeap('heap full');
  for (const blocks of byStage) for (let i = 0; i < blocks.length; i += 2) h.free(i, blocks[i]);
  h.verifyHeap('heap full, every other block freed');
  for (const [s, size] of stageSizes.entries()) {
    if (byStage[s].length === 0) continue;
    const addr = h.alloc.malloc(h.core(s), size);
    h.checkNewBlock(addr, size, `malloc(${size}) after freeing every other ${size} B block of a full heap`);
    h.live.set(addr, { addr, sizeBytes: size, tag: -1 });
  }
  for (const [i, b] of [...h.live.keys()].entries()) h.free(i, b);
  h.verifyHeap('after emptying the heap');
  h.malloc(0, MiB);
}

/** rootCount >= 512; every root slot is an NVRAM word outside the heap's blocks, set and read back. */
export function checkRoots(factory: AllocatorFactory, cfg: SuiteConfig): void {
  const h = Harness.fresh(factory, cfg, 1);
  const a = h.alloc;
  const core = h.core(0);
  if (!Number.isInteger(a.rootCount) || a.rootCount < 512) fail(`rootCount is ${a.rootCount}, expected an integer >= 512`);
  const addrs = new Set<Addr>();
  for (let i = 0; i < a.rootCount; i++) {
    const r = a.rootAddress(i);
    if (!h.machine.isNvram(r) || r % 8 !== 0) fail(`rootAddress(${i}) = ${hex(r)} is not an 8-byte aligned NVRAM address`);
    if (addrs.has(r)) fail(`rootAddress(${i}) = ${hex(r)} repeats an earlier root slot`);
    addrs.add(r);
    if (a.getRoot(core, i) !== 0) fail(`root ${i} of a fresh heap is ${hex(a.getRoot(core, i))}, expected 0`);
  }
  const blocks: Addr[] = [];
  for (let i = 0; i < a.rootCount; i++) blocks.push(h.malloc(0, 16 + (i % 8) * 16));
  for (const b of blocks) for (let k = 0; k < 8; k += 8) if (addrs.has(b + k)) fail(`block ${hex(b)} overlaps a root slot`);
  blocks.forEach((b, i) => a.setRoot(core, i, b));
  blocks.forEach((b, i) => {
    if (a.getRoot(core, i) !== b) fail(`getRoot(${i}) = ${hex(a.getRoot(core, i))} after setRoot(${i}, ${hex(b)})`);
    if (h.machine.peek64(a.rootAddress(i)) !== b) fail(`root slot ${i} at ${hex(a.rootAddress(i))} holds ${hex(h.machine.peek64(a.rootAddress(i)))}, expected ${hex(b)}`);
  });
  h.verifyContents('after setting every root');
  h.verifyHeap('after setting every root');
  for (let i = 0; i < a.rootCount; i++) a.setRoot(core, i, 0);
  for (let i = 0; i < a.rootCount; i++) if (a.getRoot(core, i) !== 0) fail(`getRoot(${i}) is not 0 after clearing it`);
  for (const bad of [-1, a.rootCount, 1.5]) {
    expectMisuse(() => a.setRoot(core, bad, 0), undefined, ['bad-root'], `setRoot(${bad})`);
    expectMisuse(() => a.getRoot(core, bad), undefined, ['bad-root'], `getRoot(${bad})`);
  }
}

/** mallocTo calls init before publishing and publishes; freeFrom clears the slot and frees. */
export function checkMallocTo(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const h = Harness.fresh(factory, cfg, cores);
  const holder = h.mallocUntagged(0, 64);
  const dests: { dest: Addr; what: string }[] = [
    { dest: holder + 8, what: 'an NVRAM block' },
    { dest: h.alloc.rootAddress(3), what: 'root slot 3' },
    { dest: h.machine.reserveDram(64) + 8, what: 'a DRAM word' },
  ];
  for (const d of dests) h.addSlot(d.dest);
  for (const [i, d] of dests.entries()) {
    for (const size of [24, 4000, 70_000]) {
      const addr = h.mallocTo(i, size, d.dest);
      h.verifyContents(`mallocTo(${size}) into ${d.what}`);
      h.verifyHeap(`mallocTo(${size}) into ${d.what}`);
      h.freeFrom(i + 1, d.dest);
      expectMisuse(() => h.alloc.free(h.core(i), addr), addr, ['double-free', 'foreign-free'], `free(${hex(addr)}) after freeFrom(${d.what}) freed it`);
    }
  }
  const plain = h.alloc.mallocTo(h.core(0), 48, dests[0].dest);
  if (plain === 0 || h.machine.peek64(dests[0].dest) !== plain) fail('mallocTo without init did not publish the block');
  h.alloc.freeFrom(h.core(0), dests[0].dest);
  h.verifyContents('after mallocTo / freeFrom');
  h.verifyHeap('after mallocTo / freeFrom');
}
