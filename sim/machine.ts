/**
 * The simulated machine: address space, cores, costs, counters and the persistency trace.
 *
 * Model (first cut): DRAM at 0x1000_0000 (<= 512 MiB), NVRAM at 0x4000_0000 (<= 3 GiB),
 * both sparse (sim/memory.ts). Each access is charged to the issuing core; clwb and
 * clflushopt queue an asynchronous write-back completing at
 * max(issue, previous completion + flushPipelineCycles) + write-back latency (rule 3);
 * a fence waits for the latest completion (rule 5); clflush is synchronous (rule 4).
 * NVRAM stores are split into failure-atomic units (P1) and recorded in the trace.
 *
 * Invariants: misuse raises MisuseError (address + core); values are safe integers.
 */
import type { AccessSize, Addr, Core, Counters, Layout, Machine, MachineConfig, NvramImage, PersistTrace } from './api.ts';
import { TraceKind } from './api.ts';
import type { CostModel } from './cost-model.ts';
import { addCounters, zeroCounters } from './counters.ts';
import { MisuseError, invariant } from './errors.ts';
import { PagedMemory, emptyImage } from './memory.ts';
import { TraceRecorder } from './persistency/trace.ts';

export const DRAM_BASE = 0x1000_0000;
export const NVRAM_BASE = 0x4000_0000;
const MAX_DRAM_BYTES = 0x2000_0000;
const MAX_NVRAM_BYTES = 0xc000_0000 - 0x1000;
const TWO_32 = 0x1_0000_0000;
const MAX_CORES = 255;

export interface MachineOptions extends MachineConfig {
  /** Open over an existing NVRAM image (copy-on-write); the NVRAM counts as formatted. */
  readonly image?: NvramImage;
}

export function createMachine(options: MachineOptions): SimMachine {
  return new SimMachine(options);
}

export class SimMachine implements Machine {
  readonly cost: CostModel;
  readonly layout: Layout;
  readonly cores: SimCore[];
  nvramFormatted: boolean;
  trace: TraceRecorder | undefined;
  readonly dram: PagedMemory;
  nvram: PagedMemory;
  private dramBump = 0;
  /** lock word address -> [release time, releasing core] */
  readonly lockReleases = new Map<number, { timeCycles: number; coreId: number }>();

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
    this.dram = new PagedMemory(dramSizeBytes);
    this.nvram = new PagedMemory(nvramSizeBytes, config.image);
    this.nvramFormatted = config.image !== undefined;
    this.trace = config.trace === false ? undefined : new TraceRecorder(config.image ?? emptyImage(nvramSizeBytes));
    this.cores = [];
    for (let i = 0; i < cores; i++) this.cores.push(new SimCore(i, this));
  }

  core(id: number): SimCore {
    const c = this.cores[id];
    if (c === undefined) throw new RangeError(`no core ${id} (machine has ${this.cores.length})`);
    return c;
  }

  formatNvram(): void {
    this.nvram = new PagedMemory(this.layout.nvramSizeBytes);
    this.nvramFormatted = true;
    if (this.trace !== undefined) this.trace = new TraceRecorder(emptyImage(this.layout.nvramSizeBytes));
  }

  reserveDram(sizeBytes: number, alignBytes = 64): Addr {
    invariant(alignBytes > 0 && (alignBytes & (alignBytes - 1)) === 0, 'alignBytes must be a power of two');
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
    return sizeBytes === 8 ? this.readWord(addr, -1) : this.readSmall(addr, sizeBytes, -1);
  }

  // ---- functional memory access (bounds, format and value checks) ----

  region(addr: Addr, sizeBytes: number, coreId: number): PagedMemory {
    if (addr >= NVRAM_BASE && addr + sizeBytes <= NVRAM_BASE + this.layout.nvramSizeBytes) return this.nvram;
    if (addr >= DRAM_BASE && addr + sizeBytes <= DRAM_BASE + this.layout.dramSizeBytes) return this.dram;
    throw new MisuseError('out-of-bounds', addr, coreId, `${sizeBytes}-byte access outside DRAM and NVRAM`);
  }

  private checkReadable(mem: PagedMemory, addr: Addr, coreId: number): void {
    if (mem === this.nvram && !this.nvramFormatted) {
      throw new MisuseError('unformatted-read', addr, coreId, 'read of NVRAM before it was formatted');
    }
  }

  readWord(addr: Addr, coreId: number): number {
    const mem = this.region(addr, 8, coreId);
    this.checkReadable(mem, addr, coreId);
    const off = addr - (mem === this.nvram ? NVRAM_BASE : DRAM_BASE);
    let lo: number;
    let hi: number;
    if ((off & 7) === 0) {
      lo = mem.readLo(off);
      hi = mem.readHi(off);
    } else {
      lo = mem.readSmall(off, 4);
      hi = mem.readSmall(off + 4, 4);
    }
    if (hi >= 0x20_0000) throw new MisuseError('bad-value', addr, coreId, 'word value >= 2^53 cannot be loaded as a number');
    return hi * TWO_32 + lo;
  }

  readSmall(addr: Addr, sizeBytes: number, coreId: number): number {
    const mem = this.region(addr, sizeBytes, coreId);
    this.checkReadable(mem, addr, coreId);
    return mem.readSmall(addr - (mem === this.nvram ? NVRAM_BASE : DRAM_BASE), sizeBytes);
  }

  /** Write and record store units. Returns nothing; costs are charged by the core. */
  writeValue(addr: Addr, sizeBytes: number, value: number, core: SimCore, kind: 'store' | 'nt'): void {
    const maxValue = sizeBytes === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * sizeBytes) - 1;
    if (!Number.isSafeInteger(value) || value < 0 || value > maxValue) {
      throw new MisuseError('bad-value', addr, core.id, `value ${value} does not fit an unsigned ${sizeBytes}-byte store`);
    }
    const mem = this.region(addr, sizeBytes, core.id);
    const isNv = mem === this.nvram;
    if (isNv && !this.nvramFormatted) throw new MisuseError('unformatted-read', addr, core.id, 'store to NVRAM before it was formatted');
    const off = addr - (isNv ? NVRAM_BASE : DRAM_BASE);
    if ((off & (sizeBytes - 1)) === 0) {
      this.writeUnit(mem, off, sizeBytes, value, isNv, core, kind);
      return;
    }
    // Misaligned: one failure-atomic unit per byte (P1: a torn write is possible).
    let v = value;
    for (let i = 0; i < sizeBytes; i++) {
      this.writeUnit(mem, off + i, 1, v % 256, isNv, core, 'store');
      v = Math.floor(v / 256);
    }
  }

  private writeUnit(mem: PagedMemory, off: number, sizeBytes: number, value: number, isNv: boolean, core: SimCore, kind: 'store' | 'nt'): void {
    let lo: number;
    let hi = 0;
    if (sizeBytes === 8) {
      lo = value >>> 0;
      hi = Math.floor(value / TWO_32);
      mem.writeWord(off, lo, hi);
    } else {
      lo = value;
      mem.writeSmall(off, sizeBytes, value);
    }
    if (isNv && this.trace !== undefined) {
      const k = kind === 'nt' ? TraceKind.NTSTORE8 : sizeBytes === 8 ? TraceKind.STORE8 : sizeBytes === 4 ? TraceKind.STORE4 : sizeBytes === 2 ? TraceKind.STORE2 : TraceKind.STORE1;
      this.trace.push(k, core.id, core.site, off, lo, hi);
    }
  }

  recordFlush(kind: TraceKind, addr: Addr, core: SimCore): void {
    if (this.trace !== undefined && this.isNvram(addr)) this.trace.push(kind, core.id, core.site, (addr - NVRAM_BASE) >>> 6, 0, 0);
  }
  recordFence(core: SimCore): void {
    this.trace?.push(TraceKind.FENCE, core.id, core.site, 0, 0, 0);
  }

  get persistTrace(): PersistTrace | undefined {
    return this.trace;
  }
}

export class SimCore implements Core {
  clockCycles = 0;
  site = 0;
  readonly counters: Counters = zeroCounters();
  /** Completion time of the latest queued asynchronous write-back. */
  private lastWriteBackDoneCycles = 0;
  private pendingFlushes = 0;

  constructor(
    readonly id: number,
    readonly machine: SimMachine,
  ) {}

  private charge(addr: Addr): void {
    this.clockCycles += this.machine.cost.l1HitCycles;
    void addr;
  }

  load(addr: Addr, sizeBytes: AccessSize): number {
    this.counters.loads++;
    this.charge(addr);
    return sizeBytes === 8 ? this.machine.readWord(addr, this.id) : this.machine.readSmall(addr, sizeBytes, this.id);
  }
  store(addr: Addr, sizeBytes: AccessSize, value: number): void {
    if (sizeBytes !== 1 && sizeBytes !== 2 && sizeBytes !== 4 && sizeBytes !== 8) throw new MisuseError('bad-size', addr, this.id, `store size ${sizeBytes}`);
    this.counters.stores++;
    this.charge(addr);
    this.machine.writeValue(addr, sizeBytes, value, this, 'store');
  }
  load64(addr: Addr): number {
    return this.load(addr, 8);
  }
  store64(addr: Addr, value: number): void {
    this.store(addr, 8, value);
  }
  storeAtomic64(addr: Addr, value: number): void {
    if ((addr & 7) !== 0) throw new MisuseError('misaligned-atomic', addr, this.id, 'failure-atomic store needs 8-byte alignment');
    this.store(addr, 8, value);
  }
  cas64(addr: Addr, expected: number, desired: number): boolean {
    if ((addr & 7) !== 0) throw new MisuseError('misaligned-atomic', addr, this.id, 'cas needs 8-byte alignment');
    this.counters.cases++;
    this.clockCycles += this.machine.cost.casCycles;
    this.drain(0);
    const cur = this.machine.readWord(addr, this.id);
    if (cur !== expected) return false;
    this.machine.writeValue(addr, 8, desired, this, 'store');
    return true;
  }
  ntstore64(addr: Addr, value: number): void {
    if ((addr & 7) !== 0) throw new MisuseError('misaligned-atomic', addr, this.id, 'ntstore needs 8-byte alignment');
    this.counters.ntstores++;
    this.clockCycles += this.machine.cost.flushIssueCycles;
    this.machine.writeValue(addr, 8, value, this, 'nt');
    this.queueWriteBack();
  }
  private writeBackCycles(): number {
    return this.machine.cost.nvmWriteBackCycles + this.machine.cost.extraFlushDelayCycles;
  }
  private queueWriteBack(): void {
    const c = this.machine.cost;
    const start = Math.max(this.clockCycles, this.pendingFlushes > 0 ? this.lastWriteBackDoneCycles - this.writeBackCycles() + c.flushPipelineCycles : 0);
    this.lastWriteBackDoneCycles = start + this.writeBackCycles();
    this.pendingFlushes++;
    this.counters.explicitWriteBacks++;
    this.counters.nvmBytesWritten += 64;
  }
  clflush(addr: Addr): void {
    this.machine.region(addr, 1, this.id);
    this.counters.clflushes++;
    this.counters.explicitWriteBacks++;
    this.counters.nvmBytesWritten += 64;
    this.clockCycles += this.writeBackCycles();
    this.machine.recordFlush(TraceKind.CLFLUSH, addr, this);
  }
  clflushopt(addr: Addr): void {
    this.machine.region(addr, 1, this.id);
    this.counters.clflushopts++;
    this.clockCycles += this.machine.cost.flushIssueCycles;
    this.queueWriteBack();
    this.machine.recordFlush(TraceKind.CLFLUSHOPT, addr, this);
  }
  clwb(addr: Addr): void {
    this.machine.region(addr, 1, this.id);
    this.counters.clwbs++;
    this.clockCycles += this.machine.cost.flushIssueCycles;
    this.queueWriteBack();
    this.machine.recordFlush(TraceKind.CLWB, addr, this);
  }
  private drain(baseCycles: number): void {
    const wait = this.pendingFlushes > 0 ? this.lastWriteBackDoneCycles - this.clockCycles : 0;
    this.clockCycles += Math.max(baseCycles, wait);
    this.pendingFlushes = 0;
    this.machine.recordFence(this);
  }
  sfence(): void {
    this.counters.sfences++;
    this.drain(this.machine.cost.sfenceCycles);
  }
  mfence(): void {
    this.counters.mfences++;
    this.drain(this.machine.cost.mfenceCycles);
  }
  lock(lockAddr: Addr): void {
    const rel = this.machine.lockReleases.get(lockAddr);
    this.counters.lockAcquires++;
    if (rel !== undefined && rel.coreId !== this.id && rel.timeCycles + this.machine.cost.coherenceTransferCycles > this.clockCycles) {
      const until = rel.timeCycles + this.machine.cost.coherenceTransferCycles;
      this.counters.lockWaitCycles += until - this.clockCycles;
      this.clockCycles = until;
    }
    if (!this.cas64(lockAddr, 0, this.id + 1)) {
      throw new MisuseError('lock-misuse', lockAddr, this.id, 'lock is held (ops must release their locks before they end)');
    }
  }
  unlock(lockAddr: Addr): void {
    const holder = this.machine.readWord(lockAddr, this.id);
    if (holder !== this.id + 1) throw new MisuseError('lock-misuse', lockAddr, this.id, `unlock by core ${this.id} of a lock held by ${holder - 1}`);
    this.store(lockAddr, 8, 0);
    this.machine.lockReleases.set(lockAddr, { timeCycles: this.clockCycles, coreId: this.id });
  }
  compute(cycles: number): void {
    invariant(Number.isSafeInteger(cycles) && cycles >= 0, `compute(${cycles}) needs a non-negative integer`);
    this.clockCycles += cycles;
  }
  waitUntil(cycles: number): void {
    if (cycles > this.clockCycles) this.clockCycles = cycles;
  }
  setSite(site: number): number {
    const prev = this.site;
    this.site = site;
    return prev;
  }
}
