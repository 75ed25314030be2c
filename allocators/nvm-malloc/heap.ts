/**
 * nvm_malloc-style allocator (reserve / activate with link pointers): the Allocator.
 *
 * Model (Schwalb et al., ADMS'15; IMCG/nvm-malloc; our own code): `mallocTo` =
 * nvm_reserve (DRAM only) + the caller's init + nvm_activate(ptr, dest, ptr) with the
 * NVRAM destination as the link (a DRAM destination is stored after a link-less
 * activation). Plain `malloc` = reserve + activate with no link; `free` = nvm_free
 * with no link; `freeFrom` = nvm_free with the destination as link (value 0). Roots
 * are 512 NVRAM slots set with store + PERSIST. There is no recovery GC: a block
 * activated by plain malloc and not linked before a crash stays allocated (a leak the
 * heap walk reports).
 *
 * Note on the published protocol: the link pair and the ACTIVATING state are ordered
 * before the link store by sfence only; the header line is not written back until the
 * final PERSIST, so under Px86 ADR (line-granular persistence) a crash may leave the
 * link durable while the header still shows the old state. We model the protocol as
 * published; the crash checkers measure the consequence. The unregistered option
 * variant.flushHeaderBeforeLink adds the missing clwb of the header (+1 line) and
 * closes the window. Frees are not logged (as published): a crash during a free whose
 * pointer has left the 127-slot ring rolls the free back, leaking the block.
 *
 * Invariants: see activate.ts (activation / free), recovery.ts (restart).
 */
import type { Addr, Core, Machine, MemoryReader } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError, type Allocator, type ConsistencyReport, type HeapWalk, type InitFn, type RecoveryStats, type AllocatorStats, checkDestination, checkRootIndex, checkSize } from '../contract.ts';
import { BIN_COUNT, HDR, ROOTS_OFFSET, ROOT_COUNT, SIGNATURE, SMALL_MAX_BYTES, computeGeometry, type Geometry } from './layout.ts';
import { AR, BIN, GL, NvmDram } from './dram.ts';
import { Chunks, persist } from './chunks.ts';
import { Arenas } from './arena.ts';
import { Activator, type ActivatorVariant } from './activate.ts';
import { Recovery } from './recovery.ts';
import { checkNvmHeap, walkNvmHeap } from './walk.ts';
import { NVM_MALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_OPEN = siteId('nvm-malloc:open');
const S_ROOT = siteId('nvm-malloc:root');

export interface NvmMallocOptions {
  readonly name: string;
  /** Broken canaries and the header-flush fix (see activate.ts ActivatorVariant). */
  readonly variant?: ActivatorVariant;
}

export class NvmMallocHeap implements Allocator {
  readonly name: string;
  readonly rootCount = ROOT_COUNT;
  readonly g: Geometry;
  private readonly d: NvmDram;
  private readonly chunks: Chunks;
  private readonly arenas: Arenas;
  private readonly activator: Activator;

  constructor(
    readonly machine: Machine,
    opts: NvmMallocOptions,
  ) {
    this.name = opts.name;
    this.g = computeGeometry(machine.layout.nvramBase, machine.layout.nvramSizeBytes);
    this.d = new NvmDram(machine, this.g);
    this.chunks = new Chunks(this.g, this.d);
    this.arenas = new Arenas(this.g, this.d, this.chunks);
    this.activator = new Activator(this.g, this.d, this.chunks, this.arenas, opts.variant ?? {});
  }

  // ---- lifecycle ----

  format(core: Core): void {
    this.machine.formatNvram();
    const prev = core.setSite(S_OPEN);
    const b = this.g.base;
    const fields: [number, number][] = [
      [HDR.signature, SIGNATURE], [HDR.nvramSize, this.g.nvramSizeBytes], [HDR.chunkSize, this.g.chunkSizeBytes],
      [HDR.chunkCount, this.g.chunkCount], [HDR.version, 1], [HDR.dirty, 1],
    ];
    for (const [off, v] of fields) core.store64(b + off, v);
    persist(core, b);
    this.resetDram(core, 0);
    core.setSite(prev);
  }

  open(core: Core): RecoveryStats {
    const start = core.clockCycles;
    const prev = core.setSite(S_OPEN);
    const b = this.g.base;
    const sig = core.load64(b + HDR.signature);
    if (sig !== SIGNATURE) throw new Error(`nvm-malloc: NVRAM at 0x${b.toString(16)} holds no nvm-malloc heap (signature 0x${sig.toString(16)}, expected 0x${SIGNATURE.toString(16)})`);
    const chunkSize = core.load64(b + HDR.chunkSize);
    if (chunkSize !== this.g.chunkSizeBytes) throw new Error(`nvm-malloc: heap header field chunkSize is ${chunkSize}, expected ${this.g.chunkSizeBytes} for this machine`);
    const version = core.load64(b + HDR.version);
    const dirty = core.load64(b + HDR.dirty);
    core.storeAtomic64(b + HDR.version, version + 1);
    core.storeAtomic64(b + HDR.dirty, 1);
    persist(core, b);
    this.resetDram(core, version);
    core.instructions(I.recoveryFixed);
    const counts = new Recovery(this.g, this.d, this.chunks, this.arenas).run(core, version);
    core.setSite(prev);
    return {
      kind: dirty === 0 ? 'clean' : 'recovered',
      cycles: core.clockCycles - start,
      logEntriesReplayed: counts.completed,
      objectsMarked: 0,
      blocksScanned: counts.headersScanned,
      blocksFreed: 0,
      extra: { logSlotsUsed: counts.logSlotsUsed, logPhaseCycles: counts.logCycles, scanPhaseCycles: counts.scanCycles },
    };
  }

  close(core: Core): void {
    const prev = core.setSite(S_OPEN);
    core.storeAtomic64(this.g.base + HDR.dirty, 0);
    persist(core, this.g.base);
    core.setSite(prev);
  }

  private resetDram(core: Core, version: number): void {
    const gl = this.d.global;
    core.store64(gl + GL.nextChunk, 0);
    core.store64(gl + GL.logNext, 0);
    core.store64(gl + GL.version, version);
    for (let c = 0; c < this.g.chunkCount; c++) core.store64(this.d.hugeFree + c * 8, 0);
    for (let a = 0; a < this.d.arenas; a++) {
      core.store64(this.d.arena(a) + AR.nfree, 0);
      for (let i = 0; i < BIN_COUNT; i++) {
        const bin = this.d.bin(a, i);
        core.store64(bin + BIN.current, 0);
        core.store64(bin + BIN.nfree, 0);
        core.store64(bin + BIN.runs, 0);
      }
    }
  }

  // ---- allocation ----

  /** nvm_reserve: DRAM only (new runs and page carving persist their headers). Returns 0 when full. */
  reserve(core: Core, sizeBytes: number): Addr {
    checkSize(sizeBytes);
    if (sizeBytes <= SMALL_MAX_BYTES) return this.arenas.reserveSmall(core, sizeBytes);
    if (sizeBytes <= this.g.largeMaxBytes) return this.arenas.reserveLarge(core, sizeBytes);
    const k = Math.ceil((sizeBytes + 64) / this.g.chunkSizeBytes);
    core.lock(this.d.global + GL.chunkLock);
    const c = k <= this.g.chunkCount ? this.chunks.reserveSpan(core, k) : -1;
    core.unlock(this.d.global + GL.chunkLock);
    return c < 0 ? 0 : this.g.chunksBase + c * this.g.chunkSizeBytes + 64;
  }

  /** nvm_activate(ptr, link, ptr): make a reserved block allocated, publishing it at linkAddr (NVRAM) when non-zero. */
  activate(core: Core, ptr: Addr, linkAddr: Addr): void {
    if (linkAddr !== 0 && (linkAddr % 8 !== 0 || !this.machine.isNvram(linkAddr))) throw new AllocatorMisuseError('bad-destination', linkAddr, 'a link must be an 8-byte aligned NVRAM address');
    this.activator.activate(core, ptr, linkAddr === 0 ? null : { addr: linkAddr, value: ptr });
  }

  malloc(core: Core, sizeBytes: number): Addr {
    const p = this.reserve(core, sizeBytes);
    if (p !== 0) this.activator.activate(core, p, null);
    return p;
  }

  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    checkDestination(this.machine, destAddr);
    const p = this.reserve(core, sizeBytes);
    if (p === 0) return 0;
    if (init !== undefined) init(core, p);
    if (this.machine.isNvram(destAddr)) this.activator.activate(core, p, { addr: destAddr, value: p });
    else {
      this.activator.activate(core, p, null);
      core.store64(destAddr, p);
    }
    return p;
  }

  free(core: Core, addr: Addr): void {
    if (addr === 0) return;
    this.activator.free(core, addr, null);
  }

  freeFrom(core: Core, destAddr: Addr): void {
    checkDestination(this.machine, destAddr);
    const p = core.load64(destAddr);
    if (p === 0) return;
    if (this.machine.isNvram(destAddr)) this.activator.free(core, p, { addr: destAddr, value: 0 });
    else {
      this.activator.locate(core, p);
      core.store64(destAddr, 0);
      this.activator.free(core, p, null);
    }
  }

  /** Activation-log slots written since create(). */
  stats(): AllocatorStats {
    return { logEntries: this.activator.logEntries };
  }

  // ---- roots ----

  rootAddress(index: number): Addr {
    checkRootIndex(index, ROOT_COUNT);
    return this.g.base + ROOTS_OFFSET + index * 8;
  }
  setRoot(core: Core, index: number, value: Addr): void {
    const a = this.rootAddress(index);
    const prev = core.setSite(S_ROOT);
    core.storeAtomic64(a, value);
    persist(core, a);
    core.setSite(prev);
  }
  getRoot(core: Core, index: number): Addr {
    return core.load64(this.rootAddress(index));
  }

  // ---- checkers ----

  walkHeap(reader: MemoryReader): HeapWalk {
    return walkNvmHeap(reader, this.g);
  }
  checkConsistency(reader: MemoryReader): ConsistencyReport {
    return checkNvmHeap(reader, this.g);
  }
}
