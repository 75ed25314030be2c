/**
 * Contract suite: the harness that drives one allocator on one machine against a
 * naive reference model (a map of live blocks), with the checks every step shares.
 *
 * Model: the harness plays the user. Every block it allocates gets a tag; a few bytes
 * at its start and end are written with values derived from the tag (through a Core,
 * like a real user), so an overlapping or reused live block shows up as clobbered
 * contents. Destinations (mallocTo / freeFrom) are slots whose expected value the
 * reference keeps. Checks use uncharged peeks.
 *
 * Invariants: only the public Allocator / AllocatorFactory contract and the machine
 * API are used, so the suite runs on a user's allocator module as well.
 */
import type { Addr, Core, NvramImage } from '../sim/api.ts';
import { makeCostModel } from '../sim/cost-model.ts';
import { createMachine, type SimMachine } from '../sim/machine.ts';
import type { Allocator, AllocatorFactory, AllocatorMisuseKind, Extent, HeapWalk, InitFn } from './contract.ts';

export interface SuiteConfig {
  readonly cores: readonly number[];
  readonly numRuns: number;
  readonly heapSizeBytes: number;
  readonly dramSizeBytes: number;
  readonly seed: number;
  readonly maxOps: number;
}

export interface LiveBlock {
  readonly addr: Addr;
  readonly sizeBytes: number;
  /** Tag of the contents written into it; -1 = untagged (holds destination slots, or not filled). */
  readonly tag: number;
  /** Where the pointer is published (mallocTo), if anywhere. */
  dest?: Addr;
}

interface ContentWrite {
  readonly addr: Addr;
  readonly bytes: 1 | 8;
  readonly value: number;
}

export const hex = (a: number): string => `0x${a.toString(16)}`;

export function fail(message: string): never {
  throw new Error(message);
}

/** The bytes a user writes into a block with a given tag (first and last bytes/words). */
function contentWrites(addr: Addr, sizeBytes: number, tag: number): ContentWrite[] {
  if (sizeBytes < 8) {
    const w: ContentWrite[] = [{ addr, bytes: 1, value: tag % 251 }];
    if (sizeBytes > 1) w.push({ addr: addr + sizeBytes - 1, bytes: 1, value: (tag * 7 + 3) % 253 });
    return w;
  }
  const last = addr + Math.floor((sizeBytes - 8) / 8) * 8;
  const w: ContentWrite[] = [{ addr, bytes: 8, value: 0x5a5a_0000_0000 + tag }];
  if (last !== addr) w.push({ addr: last, bytes: 8, value: 0xa5a5_0000_0000 + tag });
  return w;
}

export class Harness {
  readonly live = new Map<Addr, LiveBlock>();
  /** Destination slot -> block address expected there (0 = empty). */
  readonly slots = new Map<Addr, Addr>();
  private nextTag = 1;

  private constructor(
    readonly factory: AllocatorFactory,
    readonly machine: SimMachine,
    readonly alloc: Allocator,
  ) {}

  /** A fresh machine with `cores` cores and a freshly formatted heap. */
  static fresh(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): Harness {
    const h = Harness.onMachine(factory, cfg, cores);
    h.alloc.format(h.core(0));
    return h;
  }

  /** A new machine (and a new allocator object) over an NVRAM image; not opened yet. */
  static onMachine(factory: AllocatorFactory, cfg: SuiteConfig, cores: number, image?: NvramImage): Harness {
    const machine = createMachine({ cores, cost: makeCostModel('optane-adr'), dramSizeBytes: cfg.dramSizeBytes, nvramSizeBytes: cfg.heapSizeBytes, trace: false, image });
    return new Harness(factory, machine, factory.create(machine));
  }

  core(i: number): Core {
    return this.machine.core(i % this.machine.cores.length);
  }

  /** Write a tagged pattern into a block (through `core`, optionally with clwb per line). */
  fill(core: Core, addr: Addr, sizeBytes: number, tag: number, flush = false): void {
    for (const w of contentWrites(addr, sizeBytes, tag)) {
      core.store(w.addr, w.bytes, w.value);
      if (flush) core.clwb(w.addr);
    }
  }

  /** Check a returned block: non-zero, aligned, inside NVRAM, overlapping no live block. */
  checkNewBlock(addr: Addr, sizeBytes: number, what: string): void {
    if (addr === 0) fail(`${what} returned 0 (out of memory) with only ${this.liveBytes()} B live in a ${this.machine.layout.nvramSizeBytes} B heap`);
    if (!Number.isSafeInteger(addr) || addr % 16 !== 0) fail(`${what} returned ${hex(addr)}, not 16-byte aligned`);
    if (!this.machine.isNvram(addr) || !this.machine.isNvram(addr + sizeBytes - 1)) fail(`${what} returned ${hex(addr)}..+${sizeBytes}, not inside NVRAM`);
    for (const b of this.live.values()) {
      if (addr < b.addr + b.sizeBytes && b.addr < addr + sizeBytes) fail(`${what} returned ${hex(addr)} (${sizeBytes} B), overlapping live block ${hex(b.addr)} (${b.sizeBytes} B)`);
    }
    for (const [s, v] of this.slots) if (v !== 0 && s >= addr && s < addr + sizeBytes) fail(`${what} returned ${hex(addr)} (${sizeBytes} B), covering live destination slot ${hex(s)}`);
  }

  liveBytes(): number {
    let n = 0;
    for (const b of this.live.values()) n += b.sizeBytes;
    return n;
  }

  /** malloc through the allocator, check, fill and record. */
  malloc(coreIndex: number, sizeBytes: number): Addr {
    const core = this.core(coreIndex);
    const addr = this.alloc.malloc(core, sizeBytes);
    this.checkNewBlock(addr, sizeBytes, `malloc(${sizeBytes}) on core ${core.id}`);
    const tag = this.nextTag++;
    this.fill(core, addr, sizeBytes, tag);
    this.live.set(addr, { addr, sizeBytes, tag });
    return addr;
  }

  /** malloc a block that stays live but untagged (it holds destination slots). */
  mallocUntagged(coreIndex: number, sizeBytes: number): Addr {
    const core = this.core(coreIndex);
    const addr = this.alloc.malloc(core, sizeBytes);
    this.checkNewBlock(addr, sizeBytes, `malloc(${sizeBytes}) on core ${core.id}`);
    this.live.set(addr, { addr, sizeBytes, tag: -1 });
    return addr;
  }

  free(coreIndex: number, addr: Addr): void {
    this.alloc.free(this.core(coreIndex), addr);
    this.live.delete(addr);
  }

  /** Add an empty destination slot (8-byte aligned) to the reference, zeroing it. */
  addSlot(slot: Addr): void {
    this.core(0).store64(slot, 0);
    this.slots.set(slot, 0);
  }

  /** mallocTo into `dest`, checking init was called before publication and the pointer landed. */
  mallocTo(coreIndex: number, sizeBytes: number, dest: Addr): Addr {
    const core = this.core(coreIndex);
    const tag = this.nextTag++;
    const what = `mallocTo(${sizeBytes}, ${hex(dest)}) on core ${core.id}`;
    const calls: Addr[] = [];
    const init: InitFn = (c, a) => {
      if (c !== core) fail(`${what}: init ran on core ${c.id}, not the calling core`);
      if (this.machine.peek64(dest) !== 0) fail(`${what}: the destination was already published when init ran`);
      calls.push(a);
      this.fill(c, a, sizeBytes, tag, true);
    };
    const addr = this.alloc.mallocTo(core, sizeBytes, dest, init);
    this.checkNewBlock(addr, sizeBytes, what);
    if (calls.length !== 1 || calls[0] !== addr) fail(`${what}: init was called ${calls.length} time(s) with [${calls.map(hex).join(', ')}], expected once with ${hex(addr)}`);
    const published = this.machine.peek64(dest);
    if (published !== addr) fail(`${what}: destination holds ${hex(published)}, expected ${hex(addr)}`);
    this.live.set(addr, { addr, sizeBytes, tag, dest });
    this.slots.set(dest, addr);
    return addr;
  }

  freeFrom(coreIndex: number, dest: Addr): void {
    const addr = this.slots.get(dest) ?? 0;
    this.alloc.freeFrom(this.core(coreIndex), dest);
    const after = this.machine.peek64(dest);
    if (after !== 0) fail(`freeFrom(${hex(dest)}) on core ${coreIndex}: destination still holds ${hex(after)}`);
    this.slots.set(dest, 0);
    this.live.delete(addr);
  }

  /** Every live block's contents and every destination slot are as the reference says. */
  verifyContents(context: string): void {
    for (const b of this.live.values()) {
      if (b.tag < 0) continue;
      for (const w of contentWrites(b.addr, b.sizeBytes, b.tag)) {
        const got = this.machine.peek(w.addr, w.bytes);
        if (got !== w.value) fail(`${context}: live block ${hex(b.addr)} (${b.sizeBytes} B) was clobbered at ${hex(w.addr)}: found ${hex(got)}, wrote ${hex(w.value)}`);
      }
    }
    for (const [slot, expected] of this.slots) {
      const got = this.machine.peek64(slot);
      if (got !== expected) fail(`${context}: destination ${hex(slot)} holds ${hex(got)}, expected ${hex(expected)}`);
    }
  }

  /** The heap walk agrees with the reference map, and checkConsistency is ok. */
  verifyHeap(context: string): void {
    const report = this.alloc.checkConsistency(this.machine);
    if (!report.ok) fail(`${context}: checkConsistency failed: ${report.errors.slice(0, 5).join('; ')}${report.errors.length > 5 ? ` (+${report.errors.length - 5} more)` : ''}`);
    verifyWalk(this.alloc.walkHeap(this.machine), [...this.live.values()], this.machine, context);
  }
}

function sorted(extents: readonly Extent[]): Extent[] {
  return [...extents].sort((a, b) => a.addr - b.addr);
}

/** The last extent starting at or before addr (extents sorted by addr), or undefined. */
function lastAtOrBefore(extents: readonly Extent[], addr: Addr): Extent | undefined {
  let lo = 0;
  let hi = extents.length - 1;
  let found: Extent | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (extents[mid].addr <= addr) {
      found = extents[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export function verifyWalk(walk: HeapWalk, live: readonly Extent[], machine: SimMachine, context: string): void {
  const allocated = sorted(walk.allocated);
  for (const e of [...allocated, ...walk.free]) {
    if (e.sizeBytes < 1 || !machine.isNvram(e.addr) || !machine.isNvram(e.addr + e.sizeBytes - 1)) fail(`${context}: heap walk extent ${hex(e.addr)} (${e.sizeBytes} B) is not inside NVRAM`);
  }
  for (let i = 1; i < allocated.length; i++) {
    const p = allocated[i - 1];
    if (p.addr + p.sizeBytes > allocated[i].addr) fail(`${context}: heap walk reports overlapping allocated extents ${hex(p.addr)} (${p.sizeBytes} B) and ${hex(allocated[i].addr)}`);
  }
  const liveSorted = sorted(live);
  for (const b of liveSorted) {
    const e = lastAtOrBefore(allocated, b.addr);
    if (e === undefined || e.addr + e.sizeBytes < b.addr + b.sizeBytes) fail(`${context}: live block ${hex(b.addr)} (${b.sizeBytes} B) is not inside any allocated extent of the heap walk`);
  }
  for (const f of walk.free) {
    const b = lastAtOrBefore(liveSorted, f.addr + f.sizeBytes - 1);
    if (b !== undefined && b.addr + b.sizeBytes > f.addr) fail(`${context}: heap walk reports free extent ${hex(f.addr)} (${f.sizeBytes} B) overlapping live block ${hex(b.addr)} (${b.sizeBytes} B)`);
  }
}

/** Run fn and require an AllocatorMisuseError naming addr (unless undefined), kind among `kinds`. */
export function expectMisuse(fn: () => void, addr: Addr | undefined, kinds: readonly AllocatorMisuseKind[], what: string): void {
  try {
    fn();
  } catch (e) {
    const err = e as { name?: string; kind?: string; addr?: number; message?: string };
    if (err?.name !== 'AllocatorMisuseError') fail(`${what}: expected AllocatorMisuseError, got ${err?.name ?? typeof e}: ${err?.message ?? String(e)}`);
    if (addr !== undefined && err.addr !== addr) fail(`${what}: AllocatorMisuseError names ${hex(err.addr ?? -1)}, expected ${hex(addr)}`);
    if (!kinds.includes(err.kind as AllocatorMisuseKind)) fail(`${what}: AllocatorMisuseError kind '${err.kind}', expected ${kinds.map((k) => `'${k}'`).join(' or ')}`);
    return;
  }
  fail(`${what}: no error was raised (expected AllocatorMisuseError${addr === undefined ? '' : ` at ${hex(addr)}`})`);
}
