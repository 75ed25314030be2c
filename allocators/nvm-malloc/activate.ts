/**
 * nvm_malloc-style heap: activation and free with link pointers (after nvm_malloc.c
 * nvm_activate / log_activate / nvm_free and arena.c arena_free; our own code).
 *
 * Model, activation of a small element with one link (3 lines, 11 fences):
 *   log the pointer in the next ring slot, PERSIST it;
 *   CAS the run header state INITIALIZED -> PREACTIVATE (a per-run spin lock), store bit_idx;
 *   store the link pair on[0] = {link, value}; sfence; state ACTIVATING; sfence
 *     (ordered by sfence only: the header line is not written back here);
 *   store the link; PERSIST(link);
 *   sfence; set the bitmap bit; sfence; state INITIALIZED; sfence; clear bit_idx and
 *     the link pairs; PERSIST(header).
 * Free mirrors it without the log (2 lines, 9 fences); without a link the link steps
 * are skipped. Large (page) blocks and huge (chunk) spans use their header's usage
 * instead of a bitmap bit: FREE -> BLOCK / HUGE on activation, back on free.
 *
 * Invariants: misuse (double free, foreign pointer) raises before any store.
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { AllocatorMisuseError } from '../contract.ts';
import { BH, HEADER_BYTES, arenaOfWord0, vdataOfWord0, LOG_SLOTS, NO_BIT, State, Usage, chunkAddr, chunkOf, logSlotAddr, pageOf, runElements, stateOf, usageOf, type Geometry } from './layout.ts';
import { GL, type NvmDram } from './dram.ts';
import { persist, type Chunks } from './chunks.ts';
import type { Arenas } from './arena.ts';
import { NVM_MALLOC_INSTRUCTIONS as I } from './path-lengths.ts';

const S_LOG = siteId('nvm-malloc:log-activate');
const S_ACTIVATE = siteId('nvm-malloc:activate');
const S_FREE = siteId('nvm-malloc:free');

export interface ActivatorVariant {
  /** Broken: the activation log slot is stored but never persisted. */
  readonly noLog?: boolean;
  /** Broken: the link is stored and persisted before the link pair and the ACTIVATING / FREEING state. */
  readonly linkFirst?: boolean;
  /**
   * Not in the published code: clwb the header after the committed state store, so the
   * existing sfence makes the link pair and state durable before the link (+1 line).
   */
  readonly flushHeaderBeforeLink?: boolean;
}

export interface Link {
  readonly addr: number;
  readonly value: number;
}

/** Where a pointer's metadata lives. */
export type Target = { kind: 'huge'; header: number; chunk: number } | { kind: 'page'; header: number; usage: number; index: number };

export class Activator {
  constructor(
    readonly g: Geometry,
    readonly d: NvmDram,
    readonly chunks: Chunks,
    readonly arenas: Arenas,
    readonly variant: ActivatorVariant = {},
  ) {}

  /** Classify ptr from the persistent headers; throws foreign-free when it is no block start. */
  locate(core: Core, ptr: number): Target {
    const c = chunkOf(this.g, ptr);
    if (c < 0 || ptr % 64 !== 0) throw new AllocatorMisuseError('foreign-free', ptr, 'nvm-malloc: not a block of this heap');
    const ch = chunkAddr(this.g, c);
    const chunkUsage = usageOf(core.load(ch + BH.state, 1));
    if (ptr === ch + HEADER_BYTES && chunkUsage !== Usage.ARENA) return { kind: 'huge', header: ch, chunk: c };
    const page = pageOf(ptr, this.g);
    if (chunkUsage !== Usage.ARENA || page === ch) throw new AllocatorMisuseError('foreign-free', ptr, 'nvm-malloc: not inside an arena page');
    const usage = usageOf(core.load(page + BH.state, 1));
    if (usage === Usage.RUN) {
      const elem = core.load(page + BH.elemSize, 2);
      const off = ptr - page - HEADER_BYTES;
      if (elem === 0 || off < 0 || off % elem !== 0 || off / elem >= runElements(elem)) throw new AllocatorMisuseError('foreign-free', ptr, `nvm-malloc: not an element start of a ${elem} B run`);
      return { kind: 'page', header: page, usage, index: off / elem };
    }
    if (ptr !== page + HEADER_BYTES || (usage !== Usage.BLOCK && usage !== Usage.FREE)) throw new AllocatorMisuseError('foreign-free', ptr, 'nvm-malloc: not the start of a block');
    return { kind: 'page', header: page, usage, index: 0 };
  }

  /** Activation-log slots written since create() (host-side statistic). */
  logEntries = 0;

  logActivate(core: Core, ptr: number): void {
    this.logEntries++;
    const prev = core.setSite(S_LOG);
    const counter = this.d.global + GL.logNext;
    let n = core.load64(counter);
    while (!core.cas64(counter, n, n + 1)) n = core.load64(counter); // __sync_fetch_and_add
    const slot = logSlotAddr(this.g, n % LOG_SLOTS);
    core.storeAtomic64(slot, ptr);
    if (this.variant.noLog !== true) persist(core, slot);
    core.setSite(prev);
  }

  activate(core: Core, ptr: number, link: Link | null): void {
    const prev = core.setSite(S_ACTIVATE);
    core.instructions(I.activate);
    const t = this.locate(core, ptr);
    this.logActivate(core, ptr);
    if (t.kind === 'page' && t.usage === Usage.RUN) this.activateElement(core, t.header, t.index, link);
    else {
      const usage = t.kind === 'huge' ? Usage.HUGE : Usage.BLOCK;
      this.transition(core, t.header, usage | State.ACTIVATING, usage | State.INITIALIZED, link);
    }
    core.setSite(prev);
  }

  private activateElement(core: Core, h: number, index: number, link: Link | null): void {
    this.lockRun(core, h, State.PREACTIVATE);
    core.store(h + BH.bitIdx, 2, index);
    if (link !== null) this.publishLink(core, h, State.ACTIVATING, link);
    core.sfence();
    const byte = h + BH.bitmap + (index >> 3);
    core.store(byte, 1, core.load(byte, 1) | (1 << (index & 7)));
    this.finishRun(core, h);
  }

  free(core: Core, ptr: number, link: Link | null): void {
    const prev = core.setSite(S_FREE);
    core.instructions(I.freeFast);
    const t = this.locate(core, ptr);
    if (t.kind === 'huge') {
      if (usageOf(core.load(t.header + BH.state, 1)) !== Usage.HUGE) throw new AllocatorMisuseError('double-free', ptr, 'nvm-malloc: huge span is not allocated');
      this.transition(core, t.header, Usage.HUGE | State.FREEING, Usage.FREE | State.INITIALIZED, link);
      core.lock(this.d.global + GL.chunkLock);
      this.chunks.putSpan(core, t.chunk, core.load64(t.header + BH.npages));
      core.unlock(this.d.global + GL.chunkLock);
    } else if (t.usage === Usage.BLOCK) {
      this.transition(core, t.header, Usage.BLOCK | State.FREEING, Usage.FREE | State.INITIALIZED, link);
      const a = arenaOfWord0(core.load64(t.header + BH.state)) % this.d.arenas;
      this.arenas.pushFree(core, a, t.header, core.load64(t.header + BH.npages));
    } else if (t.usage === Usage.RUN) this.freeElement(core, ptr, t.header, t.index, link);
    else throw new AllocatorMisuseError('double-free', ptr, 'nvm-malloc: block is not allocated');
    core.setSite(prev);
  }

  private freeElement(core: Core, ptr: number, h: number, index: number, link: Link | null): void {
    const byte = h + BH.bitmap + (index >> 3);
    if ((core.load(byte, 1) & (1 << (index & 7))) === 0) throw new AllocatorMisuseError('double-free', ptr, 'nvm-malloc: element is not allocated');
    this.lockRun(core, h, State.PREFREE);
    let vh = vdataOfWord0(core.load64(h + BH.state));
    const current = core.load64(this.d.global + GL.version);
    if (core.load(h + BH.version, 4) < current) vh = this.arenas.adoptRun(core, h, current);
    core.store(h + BH.bitIdx, 2, index);
    if (link !== null) this.publishLink(core, h, State.FREEING, link);
    core.sfence();
    core.store(byte, 1, core.load(byte, 1) & ~(1 << (index & 7)) & 255);
    this.finishRun(core, h);
    this.arenas.releaseElement(core, vh, index);
  }

  /** CAS the run state INITIALIZED -> to (the original spins; a stuck header is a model error). */
  private lockRun(core: Core, h: number, to: State): void {
    const w = core.load64(h + BH.state);
    const expected = w - stateOf(w % 256) + State.INITIALIZED;
    if (!core.cas64(h + BH.state, expected, expected - State.INITIALIZED + to)) {
      throw new Error(`nvm-malloc: run header 0x${h.toString(16)} is in state ${stateOf(w % 256)}, not INITIALIZED (the original would spin forever)`);
    }
  }

  /** Store the link pair, mark the transition committed (sfence-ordered), then store and persist the link. */
  private publishLink(core: Core, h: number, committed: State, link: Link): void {
    if (this.variant.linkFirst === true) {
      core.storeAtomic64(link.addr, link.value);
      persist(core, link.addr);
    }
    core.storeAtomic64(h + BH.on0ptr, link.addr);
    core.storeAtomic64(h + BH.on0val, link.value);
    core.sfence();
    const usage = usageOf(core.load(h + BH.state, 1));
    core.store(h + BH.state, 1, usage | committed);
    if (this.variant.flushHeaderBeforeLink === true) core.clwb(h);
    core.sfence();
    if (this.variant.linkFirst === true) return;
    core.storeAtomic64(link.addr, link.value);
    persist(core, link.addr);
  }

  private finishRun(core: Core, h: number): void {
    core.sfence();
    core.store(h + BH.state, 1, Usage.RUN | State.INITIALIZED);
    core.sfence();
    core.store(h + BH.bitIdx, 2, NO_BIT);
    this.clearLinks(core, h);
    persist(core, h);
  }

  /** Large / huge: optional link step, then the final state, sfence, links cleared, PERSIST. */
  private transition(core: Core, h: number, committed: number, final: number, link: Link | null): void {
    if (link !== null) {
      core.storeAtomic64(h + BH.on0ptr, link.addr);
      core.storeAtomic64(h + BH.on0val, link.value);
      core.sfence();
      core.store(h + BH.state, 1, committed);
      if (this.variant.flushHeaderBeforeLink === true) core.clwb(h);
      core.sfence();
      core.storeAtomic64(link.addr, link.value);
      persist(core, link.addr);
    }
    // (the link-first canary breaks only the small-element path, the common 64 B case)
    core.store(h + BH.state, 1, final);
    core.sfence();
    this.clearLinks(core, h);
    persist(core, h);
  }

  clearLinks(core: Core, h: number): void {
    for (let o = BH.on0ptr; o <= BH.on1val; o += 8) core.storeAtomic64(h + o, 0);
  }
}

