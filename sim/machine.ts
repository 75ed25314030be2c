/**
 * The simulated machine: address space, cores, cache hierarchy, costs, counters and the
 * persistency trace.
 *
 * Model: DRAM at 0x1000_0000 (<= 512 MiB) and NVRAM at 0x4000_0000 (<= 3 GiB), both
 * sparse (sim/memory.ts: host memory grows with the pages written). Cores (sim/core.ts)
 * charge every access through the hierarchy (sim/coherence.ts: private L1/L2 per core,
 * shared inclusive LLC, ownership transfers) and write-backs through the media model
 * (sim/xpbuffer.ts). NVRAM store units (P1), flushes and fences go to the trace.
 * Data lives only in memory; caches hold tags, so functional results never depend on
 * the cost model.
 *
 * Invariants: an address is an integer in [0, 2^32); misuse raises MisuseError naming the
 * address and the core (out-of-bounds, unformatted NVRAM, bad values, misaligned atomics).
 */
import type { AccessSize, Addr, Counters, Layout, Machine, MachineConfig, NvramImage, PersistTrace } from './api.ts';
import { TraceKind } from './api.ts';
import { Hierarchy } from './coherence.ts';
import { SimCore } from './core.ts';
import type { CostModel } from './cost-model.ts';
import { addCounters, zeroCounters } from './counters.ts';
import { MisuseError, invariant } from './errors.ts';
import { PagedMemory, emptyImage } from './memory.ts';
import { TraceRecorder } from './persistency/trace.ts';
import { MediaWriter } from './xpbuffer.ts';
import { LockTable } from './locks.ts';

export { SimCore };

export const DRAM_BASE = 0x1000_0000;
export const NVRAM_BASE = 0x4000_0000;
export const MAX_DRAM_BYTES = 0x2000_0000;
export const MAX_NVRAM_BYTES = 0xc000_0000 - 0x1000;
const TWO_32 = 0x1_0000_0000;
const MAX_CORES = 255;

export interface MachineOptions extends MachineConfig {
  /** Open over an existing NVRAM image (copy-on-write); the NVRAM counts as formatted. */
  readonly image?: NvramImage;
  /**
   * Execute without timing (SimCore's functional cores): memory, trace and locks as a
   * timed run gives them; no caches, and clocks are not cycles. One core only.
   */
  readonly functional?: boolean;
}

export function createMachine(options: MachineOptions): SimMachine {
  return new SimMachine(options);
}

export class SimMachine implements Machine {
  readonly cost: CostModel;
  readonly layout: Layout;
  readonly cores: SimCore[];
  trace: TraceRecorder | undefined;
  /** The last recorder this machine used, restarted by resetOverImage (no new buffers per state). */
  private spareTrace: TraceRecorder | undefined;
  readonly dram: PagedMemory;
  /** The NVRAM region; the same object for the machine's life (formatting resets it in place). */
  readonly nvram: PagedMemory;
  readonly hierarchy: Hierarchy;
  readonly media: MediaWriter;
  /** Lock words and their hold timelines (Core.lock; sim/locks.ts). */
  readonly locks: LockTable;
  private dramBump = 0;

  constructor(readonly config: MachineOptions) {
    const { cores, dramSizeBytes, nvramSizeBytes } = config;
    if (!Number.isInteger(cores) || cores < 1 || cores > MAX_CORES) throw new RangeError(`cores must be 1..${MAX_CORES}, got ${cores}`);
    if (!Number.isInteger(dramSizeBytes) || dramSizeBytes < 4096 || dramSizeBytes > MAX_DRAM_BYTES) {
      throw new RangeError(`dramSizeBytes must be 4096..${MAX_DRAM_BYTES}, got ${dramSizeBytes}`);
    }
    if (!Number.isInteger(nvramSizeBytes) || nvramSizeBytes < 4096 || nvramSizeBytes > MAX_NVRAM_BYTES || nvramSizeBytes % 4096 !== 0) {
      throw new RangeError(`nvramSizeBytes must be a multiple of 4096 in 4096..${MAX_NVRAM_BYTES}, got ${nvramSizeBytes}`);
    }
    this.cost = config.cost;
    this.layout = Object.freeze({ dramBase: DRAM_BASE, dramSizeBytes, nvramBase: NVRAM_BASE, nvramSizeBytes });
    this.dram = new PagedMemory(dramSizeBytes, undefined, DRAM_BASE, true);
    this.nvram = new PagedMemory(nvramSizeBytes, config.image, NVRAM_BASE, config.image !== undefined);
    this.trace = config.trace === false ? undefined : new TraceRecorder(config.image ?? emptyImage(nvramSizeBytes));
    this.hierarchy = new Hierarchy(this.cost, cores, NVRAM_BASE >>> 6);
    this.media = new MediaWriter(this.cost);
    this.locks = new LockTable(this.cost, (addr) => addr >= DRAM_BASE && addr + 8 <= DRAM_BASE + this.dramBump);
    if (config.functional === true && cores !== 1) throw new RangeError(`a functional machine has one core, got ${cores}`);
    this.cores = [];
    for (let i = 0; i < cores; i++) this.cores.push(new SimCore(i, this, config.functional === true));
    // A remapped page (copy-on-write, a new page, clear) invalidates the cores' fast-path pages.
    for (const mem of [this.nvram, this.dram]) {
      mem.onRemap = (off, sizeBytes) => {
        for (const c of this.cores) c.dropHints((mem.baseAddr + off) >>> 6, sizeBytes >>> 6);
      };
    }
  }

  get nvramFormatted(): boolean {
    return this.nvram.readable;
  }
  set nvramFormatted(formatted: boolean) {
    this.nvram.readable = formatted;
  }

  core(id: number): SimCore {
    const c = this.cores[id];
    if (c === undefined) throw new RangeError(`no core ${id} (machine has ${this.cores.length})`);
    return c;
  }

  formatNvram(): void {
    this.nvram.reset();
    this.nvram.readable = true;
    if (this.trace !== undefined) this.trace = new TraceRecorder(emptyImage(this.layout.nvramSizeBytes));
  }

  /**
   * Return to the state of a fresh machine opened over `image` (same config): NVRAM a
   * copy-on-write view of the image, DRAM zero and unreserved, caches, XPBuffer, locks,
   * clocks and counters as new. Costs what the previous run touched, not the cache or
   * heap size; crash checking reuses one machine per worker this way (additive).
   */
  resetOverImage(image: NvramImage, trace = false): void {
    this.nvram.rebase(image);
    this.dram.clear();
    this.dramBump = 0;
    this.locks.clear();
    // The machine's previous recorder is restarted (its trace ends with the old state).
    if (this.trace !== undefined) this.spareTrace = this.trace;
    this.trace = trace ? (this.spareTrace?.restart(image) ?? new TraceRecorder(image)) : undefined;
    this.hierarchy.reset();
    this.media.reset();
    for (const c of this.cores) c.reset();
  }

  /**
   * The machine is done (its results taken): hand its trace buffers to later machines
   * (host memory reuse; nothing simulated changes). The machine must not be used after.
   */
  dispose(): void {
    this.releaseCaches();
    this.trace?.release();
    this.spareTrace?.release();
    this.trace = undefined;
    this.spareTrace = undefined;
  }

  /**
   * The machine's simulation is over (its trace, memory and counters are still read):
   * its large cache arrays go to later machines (host memory reuse, SetAssocCache.release).
   * No simulated access may follow.
   */
  releaseCaches(): void {
    this.hierarchy.release();
  }

  reserveDram(sizeBytes: number, alignBytes = 64): Addr {
    invariant(alignBytes > 0 && (alignBytes & (alignBytes - 1)) === 0, 'alignBytes must be a power of two');
    invariant(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, `reserveDram sizeBytes must be a non-negative integer, got ${sizeBytes}`);
    const start = Math.ceil(this.dramBump / alignBytes) * alignBytes;
    if (start + sizeBytes > this.layout.dramSizeBytes) {
      throw new RangeError(`DRAM exhausted: reserving ${sizeBytes} B at offset ${start} exceeds dramSizeBytes ${this.layout.dramSizeBytes}`);
    }
    this.dramBump = start + sizeBytes;
    return DRAM_BASE + start;
  }

  isNvram(addr: Addr): boolean {
    return addr >= NVRAM_BASE && addr < NVRAM_BASE + this.layout.nvramSizeBytes;
  }
  isDram(addr: Addr): boolean {
    return addr >= DRAM_BASE && addr < DRAM_BASE + this.layout.dramSizeBytes;
  }

  counters(coreId?: number): Counters {
    if (coreId !== undefined) return { ...this.core(coreId).counters };
    const total = zeroCounters();
    for (const c of this.cores) addCounters(total, c.counters);
    return total;
  }

  maxClockCycles(): number {
    let m = 0;
    for (const c of this.cores) if (c.clockCycles > m) m = c.clockCycles;
    return m;
  }

  snapshotNvram(): NvramImage {
    return this.nvram.snapshot();
  }

  beginOp(coreId: number, thread: number, opIndex: number): void {
    this.trace?.push(TraceKind.OP_BEGIN, coreId, 0, opIndex, thread, 0);
  }
  endOp(coreId: number, thread: number, opIndex: number): void {
    this.trace?.push(TraceKind.OP_END, coreId, 0, opIndex, thread, 0);
  }

  /** Uncharged read of an aligned or unaligned word. */
  peek64(addr: Addr): number {
    return this.readWord(addr, -1);
  }
  peek(addr: Addr, sizeBytes: AccessSize): number {
    if (sizeBytes === 8) return this.readWord(addr, -1);
    const mem = this.regionFor(addr, sizeBytes, -1);
    this.checkReadable(mem, addr, -1);
    return mem.readSmall(addr - mem.baseAddr, sizeBytes);
  }

  get persistTrace(): PersistTrace | undefined {
    return this.trace;
  }

  // ---- functional memory access (used by cores; bounds, format and value checks) ----

  /** The region holding [addr, addr + sizeBytes), or a MisuseError naming addr and core. */
  regionFor(addr: Addr, sizeBytes: number, coreId: number): PagedMemory {
    if ((addr >>> 0) === addr) {
      const nv = this.nvram;
      const nvOff = addr - NVRAM_BASE;
      if (nvOff >= 0 && nvOff <= nv.sizeBytes - sizeBytes) return nv;
      const dOff = addr - DRAM_BASE;
      if (dOff >= 0 && dOff <= this.dram.sizeBytes - sizeBytes) return this.dram;
    }
    const shown = typeof addr === 'number' && Number.isFinite(addr) ? addr : 0;
    throw new MisuseError('out-of-bounds', shown, coreId, `${sizeBytes}-byte access at ${String(addr)} outside DRAM and NVRAM`);
  }

  private checkReadable(mem: PagedMemory, addr: Addr, coreId: number): void {
    if (!mem.readable) throw new MisuseError('unformatted-read', addr, coreId, 'read of NVRAM before it was formatted');
  }

  /** Checked uncharged word read (peek, unlock): any alignment. */
  readWord(addr: Addr, coreId: number): number {
    const mem = this.regionFor(addr, 8, coreId);
    this.checkReadable(mem, addr, coreId);
    const off = addr - mem.baseAddr;
    const v = (off & 7) === 0 ? mem.readWord(off) : this.readUnaligned64(mem, off);
    if (v < 0) throw new MisuseError('bad-value', addr, coreId, 'word value >= 2^53 cannot be loaded as a number');
    return v;
  }

  /** A misaligned 8-byte read as a number, or -1 when >= 2^53. */
  readUnaligned64(mem: PagedMemory, off: number): number {
    const lo = mem.readSmall(off, 4);
    const hi = mem.readSmall(off + 4, 4);
    return hi >= 0x20_0000 ? -1 : hi * TWO_32 + lo;
  }

  /**
   * Write `sizeBytes` of value at region offset off and record the store units (P1): one
   * unit when aligned to its size, else one unit per byte (a torn write is possible).
   */
  writeBytes(mem: PagedMemory, off: number, sizeBytes: number, value: number, core: SimCore): void {
    const trace = mem === this.nvram ? this.trace : undefined;
    if ((off & (sizeBytes - 1)) === 0) {
      if (sizeBytes === 8) {
        const lo = value >>> 0;
        const hi = (value - lo) / TWO_32;
        mem.writeWord(off, lo, hi);
        trace?.push(TraceKind.STORE8, core.id, core.site, off, lo, hi);
        return;
      }
      mem.writeSmall(off, sizeBytes, value);
      trace?.push(sizeBytes === 4 ? TraceKind.STORE4 : sizeBytes === 2 ? TraceKind.STORE2 : TraceKind.STORE1, core.id, core.site, off, value >>> 0, 0);
      return;
    }
    let v = value;
    for (let i = 0; i < sizeBytes; i++) {
      const b = v % 256;
      mem.writeByte(off + i, b);
      trace?.push(TraceKind.STORE1, core.id, core.site, off + i, b, 0);
      v = (v - b) / 256;
    }
  }

  recordFlush(kind: TraceKind, addr: Addr, core: SimCore): void {
    if (this.trace !== undefined && this.isNvram(addr)) this.trace.push(kind, core.id, core.site, (addr - NVRAM_BASE) >>> 6, 0, 0);
  }
  recordFence(core: SimCore): void {
    this.trace?.push(TraceKind.FENCE, core.id, core.site, 0, 0, 0);
  }
}
