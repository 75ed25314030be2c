/**
 * A simulated core: executes loads, stores, CAS, flushes and fences and charges its clock.
 *
 * Model (nvram-model.md): every access goes through the cache hierarchy (sim/coherence.ts);
 * the fast path is a repeat access to the line this core touched last in L1 (a hit, and a
 * store needs the line owned and dirty already). A plain store that misses (or needs
 * ownership) is posted to the store buffer (sim/store-buffer.ts): the core pays
 * l1HitCycles and goes on unless every fill buffer is busy; a load of that line waits for
 * the fill, a flush of it starts its write-back after the fill, and fences, CAS and
 * unlock drain the buffer (a refinement of rule 2, which charges the read-for-ownership
 * to the core; fillBufferEntries 0 restores it). Write-backs (rules 3-5, 8) go through the
 * core's queue (sim/writeback-queue.ts: when each completes, how long a fence waits):
 * - the issue time of clwb / clflushopt is the instruction's start, of ntstore its end;
 * - clwb / clflushopt cost flushIssueCycles and queue a write-back if the line is dirty
 *   (a clean or uncached line writes nothing); they drop the line from every cache
 *   (Cascade Lake) unless cost.clwbRetainsLine (clwb only); flushing a line dirty in
 *   another core's cache adds one coherence transfer before its write-back;
 * - clflush waits for its own write-back (synchronous, no fence needed); on a clean line
 *   it costs flushIssueCycles;
 * - sfence / mfence cost max(base, latest outstanding explicit completion - now); a CAS
 *   drains the same way (locked instructions are fences);
 * - ntstore64 bypasses the cache (no read-for-ownership; a cached copy is dropped), costs
 *   ntstoreIssueCycles and queues a 64 B write-back; further ntstores to the same line
 *   merge in the write-combining buffer (l1HitCycles) until a fence or another line;
 * - an eviction write-back (LLC capacity) takes a slot of the queue (bandwidth) but the
 *   core does not wait for it and fences do not either; it does not make anything durable
 *   in the trace (only flushes and fences raise persistency lower bounds, P4-P7).
 * An L1 miss (load, store or CAS) is an L2 request: it trains the core's L2 hardware
 * prefetchers (sim/prefetcher.ts), which bring lines into L2 at the request's time; a
 * later miss that finds such a line in L2 waits for what remains of its fill, then pays
 * an L2 hit. Prefetches change cache contents and time only (cost.prefetch* fields).
 * eADR (rule 6) changes durability only (sim/persistency); costs are the same.
 * Every NVRAM store unit, flush and fence is pushed to the persistency trace (12 B an event).
 * Speed: load64/store64 first try a small direct-mapped table of lines known to be in L1
 * with their host pages (see hints); its result, counters, LRU order and trace are
 * those of the slow path (a differential test checks). A store to a line in L1 that is
 * not yet owned and dirty takes a short path (store64L1: ownership, page copy) instead.
 *
 * Functional cores (MachineOptions.functional, for runs whose only product is their
 * persistency trace: one-thread crash runs): the same accesses, checks, memory writes,
 * trace events and lock table, without charging anything (no cache, store buffer,
 * prefetcher or write-back state; no fast path). The clock counts instructions() and
 * compute() cycles plus one step per lock and unlock (so lock holds stay ordered and
 * are pruned), not the run's cycles. With one thread the trace does not depend on time
 * (it records no evictions and no cycles): a property test runs every registered
 * allocator and canary on every workload both ways and compares the traces, completion
 * histories and final NVRAM.
 *
 * Invariants: misuse raises MisuseError naming the address and core; the clock only grows.
 */
import type { AccessSize, Addr, Core, Counters } from './api.ts';
import { TraceKind } from './api.ts';
import type { SetAssocCache } from './cache.ts';
import { FLUSH_DIRTY, FLUSH_REMOTE, SERVED_L1, SERVED_L2, type Hierarchy, type PrivateCaches } from './coherence.ts';
import type { CostModel } from './cost-model.ts';
import { zeroCounters } from './counters.ts';
import { CycleBudgetError, MisuseError, invariant } from './errors.ts';
import type { SimMachine } from './machine.ts';
import type { PagedMemory } from './memory.ts';
import { WriteBackQueue } from './writeback-queue.ts';
import { PostedStores } from './store-buffer.ts';
import { L2Prefetcher, prefetchOff, type PrefetchTarget } from './prefetcher.ts';
import { IpStridePrefetcher } from './l1-prefetcher.ts';
import type { LockKind } from './locks.ts';

const TWO_32 = 0x1_0000_0000;
const NVRAM_BASE = 0x4000_0000;
const DRAM_BASE = 0x1000_0000;
const NVRAM_FIRST_LINE = NVRAM_BASE >>> 6;
/** Fast-path slots per core (a power of two; see hints). */
const HINT_SLOTS = 4096;
const HINT_MASK = HINT_SLOTS - 1;
/** Filled slots remembered individually before dropping all hints falls back to a fill. */
const USED_SLOTS_CAP = 512;
const NO_WORDS = new Uint32Array(2);

export class SimCore implements Core {
  clockCycles = 0;
  site = 0;
  /** Instructions x 1000 not yet turned into a whole cycle (Core.instructions), < ipcMilli. */
  private instructionRemainder = 0;
  /** Clock value past which any access or compute throws CycleBudgetError (see setCycleLimit). */
  private cycleLimit = Number.MAX_SAFE_INTEGER;
  /** Computes the true limit when cycleLimit is only a lower bound of it (see overBudget). */
  private cycleLimitRaise: (() => number) | undefined = undefined;
  readonly counters: Counters = zeroCounters();
  private readonly pc: PrivateCaches;
  private readonly h: Hierarchy;
  private readonly cost: CostModel;
  private readonly l1HitCycles: number;
  private readonly writeBacks: WriteBackQueue;
  /** Store misses in flight (sim/store-buffer.ts). */
  private readonly posted: PostedStores;
  /** The L2 hardware prefetchers, or undefined when the cost model turns them off. */
  private readonly prefetcher: L2Prefetcher | undefined;
  /** The L1 IP-stride prefetcher (sim/l1-prefetcher.ts); undefined when cost.l1StridePrefetchMaxBytes is 0. */
  private readonly strider: IpStridePrefetcher | undefined;
  private readonly prefetchTarget: PrefetchTarget;
  /**
   * Per fast-path slot, when the latest store fill posted to a line of that slot completes:
   * until the clock reaches it, a load of such a line leaves the fast path, so that it
   * waits for the fill (the slow path asks `posted` exactly). Entries only go stale low
   * (the clock grows), except across reset(), which clears them if any was set.
   */
  private readonly fillUntilCycles = new Float64Array(HINT_SLOTS);
  private fillUntilSet = false;
  /** Line of the open write-combining buffer (ntstore), or -1. */
  private ntOpenLine = -1;
  private readonly nv: PagedMemory;
  private readonly dram: PagedMemory;
  private readonly nvLast8: number;
  private readonly dramLast8: number;
  /** Out-value of region8 (avoids allocating a pair per access). */
  private regionOff = 0;
  /**
   * Fast path: a direct-mapped table of lines this core recently reached in L1, slot
   * line & HINT_MASK. `hints` holds two Int32 a slot (one host cache line): the line (or
   * -1), then its L1 entry * 2, plus 1 if the host page holding it is owned (writable);
   * `hintWords` holds the words of that page. A slot is only a hint: it is used when its
   * L1 entry still holds the line (one typed-array probe of the tag; a store also needs
   * FLAG_MD there), so any change of the caches makes it miss, never lie. Page words stay
   * valid until the page is remapped (PagedMemory.onRemap drops the slots of its lines).
   * Slots are filled by the slow path after a successful aligned access whose line lies
   * wholly in its region, so the bounds and format checks, the cache outcome (an L1 hit,
   * with the LRU touch) and the counters of a fast access are those of the slow path.
   */
  private readonly hints = new Int32Array(2 * HINT_SLOTS).fill(-1);
  private readonly hintWords: Uint32Array[] = new Array<Uint32Array>(HINT_SLOTS).fill(NO_WORDS);
  private readonly l1: SetAssocCache;
  private readonly l1Data: Int32Array;
  private readonly l1FlagOff: number;
  private fastPathEnabled: boolean;
  /** L1 entry of the line charged last by charge() (its first line). */
  private chargedIdx = 0;
  /**
   * Slots filled since every slot was last emptied, in order (up to USED_SLOTS_CAP; then
   * usedCount = -1 and emptying them all is a fill): dropping all hints costs the slots
   * used, not the table (a crash checker resets its machine for every state).
   */
  private readonly usedSlots = new Int32Array(USED_SLOTS_CAP);
  private usedCount = 0;

  constructor(
    readonly id: number,
    readonly machine: SimMachine,
    /** Untimed (see the header): no charge, no write-back, no fast path. */
    readonly functional = false,
  ) {
    this.fastPathEnabled = !functional;
    this.h = machine.hierarchy;
    this.pc = this.h.priv[id];
    this.cost = machine.cost;
    this.l1HitCycles = machine.cost.l1HitCycles;
    this.nv = machine.nvram;
    this.dram = machine.dram;
    this.nvLast8 = machine.nvram.sizeBytes - 8;
    this.dramLast8 = machine.dram.sizeBytes - 8;
    this.l1 = this.pc.l1;
    this.l1Data = this.pc.l1.data;
    this.l1FlagOff = this.pc.l1.flagOff;
    this.writeBacks = new WriteBackQueue(machine.cost, machine.media, this.counters, NVRAM_FIRST_LINE);
    this.posted = new PostedStores(machine.cost.fillBufferEntries);
    const c = machine.cost;
    const params = { streams: c.prefetchStreams, distanceLines: c.prefetchDistanceLines, perTrigger: c.prefetchesPerTrigger, adjacentLine: c.prefetchAdjacentLine, inFlightLines: c.prefetchInFlightLines, triggerStepLines: c.prefetchTriggerStepLines };
    this.prefetcher = prefetchOff(params) ? undefined : new L2Prefetcher(params);
    this.strider = c.l1StridePrefetchMaxBytes > 0 ? new IpStridePrefetcher(c.l1StridePrefetchMaxBytes) : undefined;
    this.prefetchTarget = new CorePrefetchTarget(this.h, id, this.counters, this.writeBacks, machine.nvram.sizeBytes, machine.dram.sizeBytes);
  }

  /** Forget the fast-path slots of lines [firstLine, firstLine + lines) (pages remapped). */
  dropHints(firstLine = 0, lines = HINT_SLOTS): void {
    if (this.usedCount === 0) return;
    if (lines >= HINT_SLOTS) {
      this.dropAllHints();
      return;
    }
    const hl = this.hints;
    for (let line = firstLine, end = firstLine + lines; line < end; line++) {
      const slot = line & HINT_MASK;
      if (hl[2 * slot] === line) {
        hl[2 * slot] = -1;
        this.hintWords[slot] = NO_WORDS;
      }
    }
  }

  private dropAllHints(): void {
    const n = this.usedCount;
    if (n < 0) {
      this.hints.fill(-1);
      this.hintWords.fill(NO_WORDS);
    } else {
      for (let k = 0; k < n; k++) {
        const slot = this.usedSlots[k];
        this.hints[2 * slot] = -1;
        this.hintWords[slot] = NO_WORDS;
      }
    }
    this.usedCount = 0;
  }

  /**
   * After a successful slow aligned 8-byte access at addr (region mem, offset off): remember
   * its line for the fast path when the line is wholly in the region (and in L1).
   */
  private rememberLine(addr: Addr, mem: PagedMemory, off: number, written: boolean): void {
    const line = addr >>> 6;
    if (!this.fastPathEnabled || (off & ~63) + 64 > mem.sizeBytes) return;
    // A read-tracked region (sim/read-set.ts): only a line its tracker has counted already
    // (fast accesses are not seen by the tracker; later reads and writes of a counted
    // line change nothing it records). Hints are dropped whenever a tracker is attached
    // or reset (setFastPath), so a hint never outlives the count it relies on.
    const track = mem.track;
    if (track !== undefined && !track.has(off >>> 6)) return;
    const idx = this.chargedIdx;
    if (this.l1Data[idx] !== line + 1) return;
    const slot = line & HINT_MASK;
    const page = track === undefined ? mem.pageWords(off) : mem.lineWords(off);
    if (this.hints[2 * slot] === -1) {
      const n = this.usedCount;
      if (n >= 0) {
        if (n < USED_SLOTS_CAP) this.usedSlots[n] = slot;
        this.usedCount = n < USED_SLOTS_CAP ? n + 1 : -1;
      }
    }
    this.hints[2 * slot] = line;
    this.hintWords[slot] = page.u32;
    this.hints[2 * slot + 1] = 2 * idx + (written || !page.shared ? 1 : 0);
  }

  // ---- loads and stores ----
  // The hot paths check NVRAM, then DRAM bounds inline ((off >>> 0) === off rejects
  // negative, fractional and too-large offsets); anything else goes to regionFor, which
  // throws the out-of-bounds MisuseError.

  /** The region holding [addr, addr + 8), with regionOff set to addr's offset in it. */
  private region8(addr: Addr): PagedMemory {
    let off = addr - NVRAM_BASE;
    if ((off >>> 0) === off && off <= this.nvLast8) {
      this.regionOff = off;
      return this.nv;
    }
    off = addr - DRAM_BASE;
    if ((off >>> 0) === off && off <= this.dramLast8) {
      this.regionOff = off;
      return this.dram;
    }
    const mem = this.machine.regionFor(addr, 8, this.id);
    this.regionOff = addr - mem.baseAddr;
    return mem;
  }

  load64(addr: Addr): number {
    const idx = this.hintedL1Entry(addr, 7);
    if (idx >= 0) {
      const w = this.hintWords[(addr >>> 6) & HINT_MASK];
      const i = (addr & 4095) >>> 2;
      const hi = w[i + 1];
      if (hi <= 0x1f_ffff) {
        this.fastLoadHit(idx);
        return hi === 0 ? w[i] : hi * TWO_32 + w[i];
      }
    }
    return this.load64Slow(addr);
  }

  /**
   * The L1 entry of addr's line when a load of `alignMask + 1` bytes at addr may take the
   * fast path (aligned, hinted, still in L1, no store fill pending on its slot), or -1.
   */
  private hintedL1Entry(addr: Addr, alignMask: number): number {
    const line = addr >>> 6;
    const slot = line & HINT_MASK;
    const hints = this.hints;
    if (hints[2 * slot] !== line || (addr & alignMask) !== 0 || (addr >>> 0) !== addr || this.clockCycles < this.fillUntilCycles[slot]) return -1;
    const idx = hints[2 * slot + 1] >> 1;
    return this.l1Data[idx] === line + 1 ? idx : -1;
  }

  /** A fast-path load's L1 hit: the counts, cycles and LRU touch of the slow path's. */
  private fastLoadHit(idx: number): void {
    const cnt = this.counters;
    cnt.loads++;
    cnt.l1Hits++;
    if ((this.clockCycles += this.l1HitCycles) > this.cycleLimit) this.overBudget();
    this.l1.touch(idx);
  }

  private load64Slow(addr: Addr): number {
    this.counters.loads++;
    const mem = this.region8(addr);
    const off = this.regionOff;
    if (!mem.readable) this.unformatted(addr);
    const v = (off & 7) === 0 ? mem.readWord(off) : this.machine.readUnaligned64(mem, off);
    if (!this.functional) this.charge(addr, 8, false);
    if (v < 0) throw new MisuseError('bad-value', addr, this.id, 'word value >= 2^53 cannot be loaded as a number');
    if ((addr & 7) === 0) this.rememberLine(addr, mem, off, false);
    return v;
  }

  load(addr: Addr, sizeBytes: AccessSize): number {
    if (sizeBytes === 8) return this.load64(addr);
    if (sizeBytes === 4) {
      // An aligned 4-byte load of a hinted line: load64's fast path, one 32-bit word.
      const idx = this.hintedL1Entry(addr, 3);
      if (idx >= 0) {
        this.fastLoadHit(idx);
        return this.hintWords[(addr >>> 6) & HINT_MASK][(addr & 4095) >>> 2];
      }
    }
    this.checkSize(addr, sizeBytes);
    this.counters.loads++;
    const mem = this.machine.regionFor(addr, sizeBytes, this.id);
    if (!mem.readable) this.unformatted(addr);
    if (!this.functional) this.charge(addr, sizeBytes, false);
    return mem.readSmall(addr - mem.baseAddr, sizeBytes);
  }

  store64(addr: Addr, value: number): void {
    const line = addr >>> 6;
    const slot = line & HINT_MASK;
    const hints = this.hints;
    const iw = hints[2 * slot + 1];
    if (hints[2 * slot] === line && (addr & 7) === 0 && (addr >>> 0) === addr && (value >>> 0) === value) {
      const idx = iw >> 1;
      const d = this.l1Data;
      if (d[idx] !== line + 1) return this.store64Slow(addr, value);
      if ((iw & 1) === 0 || d[idx + this.l1FlagOff] === 0) return this.store64L1(addr, value, idx);
      const cnt = this.counters;
      cnt.stores++;
      cnt.l1Hits++;
      if ((this.clockCycles += this.l1HitCycles) > this.cycleLimit) this.overBudget();
      this.l1.touch(idx);
      const w = this.hintWords[slot];
      const i = (addr & 4095) >>> 2;
      w[i] = value;
      w[i + 1] = 0;
      if (line >= NVRAM_FIRST_LINE) {
        const trace = this.machine.trace;
        if (trace !== undefined) trace.push(TraceKind.STORE8, this.id, this.site, addr - NVRAM_BASE, value, 0);
      }
      return;
    }
    this.store64Slow(addr, value);
  }

  /**
   * A store of a 32-bit value to an aligned word of a line this core holds in L1 (entry
   * idx) that is not yet owned and dirty, or whose host page is still shared: what the
   * slow path does for an L1 hit (take ownership, mark dirty, copy the page on write),
   * without the region lookup and the miss path.
   */
  private store64L1(addr: Addr, value: number, idx: number): void {
    this.counters.stores++;
    const nv = addr >= NVRAM_BASE;
    const mem = nv ? this.nv : this.dram;
    const off = nv ? addr - NVRAM_BASE : addr - DRAM_BASE;
    if (this.clockCycles > this.cycleLimit) this.overBudget();
    this.postOrStall(addr >>> 6, this.h.storeHitL1(this.id, idx, addr >>> 6, this.counters));
    this.chargedIdx = idx;
    this.writeAligned8(addr, mem, off, value, 0);
  }

  /** After a charged aligned 8-byte store: write the word, trace it (NVRAM), remember its line for the fast path. */
  private writeAligned8(addr: Addr, mem: PagedMemory, off: number, lo: number, hi: number): void {
    mem.writeWord(off, lo, hi);
    if (mem === this.nv) {
      const trace = this.machine.trace;
      if (trace !== undefined) trace.push(TraceKind.STORE8, this.id, this.site, off, lo, hi);
    }
    this.rememberLine(addr, mem, off, true);
  }

  private store64Slow(addr: Addr, value: number): void {
    let lo: number;
    let hi: number;
    if ((value >>> 0) === value) {
      lo = value;
      hi = 0;
    } else {
      if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Math.floor(value) === value)) this.badValue(addr, 8, value);
      lo = value >>> 0;
      hi = (value - lo) / TWO_32;
    }
    this.counters.stores++;
    const mem = this.region8(addr);
    const off = this.regionOff;
    if (!mem.readable) this.unformatted(addr);
    if (!this.functional) this.chargeStore(addr, 8);
    if ((off & 7) !== 0) {
      this.machine.writeBytes(mem, off, 8, value, this);
      return;
    }
    this.writeAligned8(addr, mem, off, lo, hi);
  }

  store(addr: Addr, sizeBytes: AccessSize, value: number): void {
    if (sizeBytes === 8) return this.store64(addr, value);
    this.checkSize(addr, sizeBytes);
    // An unsigned integer below 2^(8 * sizeBytes) (sizeBytes is 1, 2 or 4 here).
    if ((value >>> 0) !== value || (sizeBytes < 4 && value >>> (8 * sizeBytes) !== 0)) this.badValue(addr, sizeBytes, value);
    this.counters.stores++;
    const mem = this.machine.regionFor(addr, sizeBytes, this.id);
    if (!mem.readable) this.unformatted(addr);
    if (!this.functional) this.chargeStore(addr, sizeBytes);
    this.machine.writeBytes(mem, addr - mem.baseAddr, sizeBytes, value, this);
  }

  storeAtomic64(addr: Addr, value: number): void {
    if ((addr & 7) !== 0) throw new MisuseError('misaligned-atomic', addr, this.id, 'failure-atomic store needs 8-byte alignment');
    this.store64(addr, value);
  }

  cas64(addr: Addr, expected: number, desired: number): boolean {
    if ((addr & 7) !== 0) throw new MisuseError('misaligned-atomic', addr, this.id, 'cas needs 8-byte alignment');
    if (!(desired >= 0 && desired <= Number.MAX_SAFE_INTEGER && Math.floor(desired) === desired)) this.badValue(addr, 8, desired);
    this.counters.cases++;
    const mem = this.machine.regionFor(addr, 8, this.id);
    if (!mem.readable) this.unformatted(addr);
    if (!this.functional) {
      this.drainStores();
      const before = this.clockCycles;
      this.charge(addr, 8, true);
      // A locked RMW costs casCycles on an owned line plus whatever the access cost beyond an L1 hit.
      this.clockCycles = before + this.cost.casCycles + (this.clockCycles - before - this.l1HitCycles);
    }
    this.drain(0);
    const off = addr - mem.baseAddr;
    const cur = mem.readWord(off);
    if (cur < 0) throw new MisuseError('bad-value', addr, this.id, 'word value >= 2^53 cannot be compared as a number');
    if (cur !== expected) return false;
    const lo = desired >>> 0;
    const hi = (desired - lo) / TWO_32;
    mem.writeWord(off, lo, hi);
    const trace = this.machine.trace;
    if (trace !== undefined && mem === this.machine.nvram) trace.push(TraceKind.STORE8, this.id, this.site, off, lo, hi);
    return true;
  }

  ntstore64(addr: Addr, value: number): void {
    if ((addr & 7) !== 0) throw new MisuseError('misaligned-atomic', addr, this.id, 'ntstore needs 8-byte alignment');
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Math.floor(value) === value)) this.badValue(addr, 8, value);
    this.counters.ntstores++;
    const mem = this.machine.regionFor(addr, 8, this.id);
    if (!mem.readable) this.unformatted(addr);
    if (!this.functional) this.chargeNtstore(addr >>> 6);
    const off = addr - mem.baseAddr;
    const lo = value >>> 0;
    const hi = (value - lo) / TWO_32;
    mem.writeWord(off, lo, hi);
    const trace = this.machine.trace;
    if (trace !== undefined && mem === this.machine.nvram) trace.push(TraceKind.NTSTORE8, this.id, this.site, off, lo, hi);
  }

  /** An ntstore's issue: write-combining, the cached copy dropped, a 64 B write-back queued. */
  private chargeNtstore(line: number): void {
    if (this.posted.count !== 0) this.waitForFill(line);
    const t0 = this.clockCycles;
    if (line === this.ntOpenLine && this.h.llc.find(line) < 0) {
      this.clockCycles += this.l1HitCycles;
    } else {
      const r = this.h.flushLine(this.id, line, false);
      if ((r & FLUSH_REMOTE) !== 0) this.counters.coherenceTransfers++;
      this.clockCycles += this.cost.ntstoreIssueCycles;
      this.writeBacks.queueExplicit(line, this.clockCycles + ((r & FLUSH_REMOTE) !== 0 ? this.cost.coherenceTransferCycles : 0));
      this.ntOpenLine = line;
    }
    this.counters.persistCycles += this.clockCycles - t0;
  }

  /** Charge the cache access(es) of [addr, addr + sizeBytes). */
  private charge(addr: Addr, sizeBytes: number, write: boolean): void {
    if (this.clockCycles > this.cycleLimit) this.overBudget();
    const line = addr >>> 6;
    if (!write && this.posted.count !== 0) this.waitForFill(line, sizeBytes, addr);
    if (!this.l1HitByHint(line, write)) {
      const t = this.clockCycles;
      const missed = this.accessLine(line, write);
      this.chargedIdx = this.h.l1Idx;
      if (missed && !write && this.strider !== undefined) this.strideCredit(addr, t);
    }
    if ((addr & 63) + sizeBytes > 64) this.accessLine(line + 1, write);
  }

  /** A load miss at `addr` issued at `t`, just charged: train the L1 IP-stride prefetcher (sim/l1-prefetcher.ts) and take back what its prefetch hid. */
  private strideCredit(addr: Addr, t: number): void {
    const issued = this.strider!.miss(this.site, addr, t);
    if (issued >= 0) this.clockCycles -= IpStridePrefetcher.saved(this.clockCycles - t, t, issued, this.l1HitCycles);
  }

  /**
   * An L1 hit found through the fast-path table (a store also needs the line owned and
   * dirty): charge it as the hierarchy would (count, latency, LRU touch) and return true.
   */
  private l1HitByHint(line: number, write: boolean): boolean {
    const slot = line & HINT_MASK;
    if (this.hints[2 * slot] !== line) return false;
    const idx = this.hints[2 * slot + 1] >> 1;
    const d = this.l1Data;
    if (d[idx] !== line + 1 || (write && d[idx + this.l1FlagOff] === 0)) return false;
    this.counters.l1Hits++;
    this.clockCycles += this.l1HitCycles;
    this.l1.touch(idx);
    this.chargedIdx = idx;
    return true;
  }

  /** Charge an access to `line` through the hierarchy; true if it missed L1. */
  private accessLine(line: number, write: boolean): boolean {
    const h = this.h;
    const t = this.clockCycles;
    this.clockCycles += h.access(this.id, line, write, this.counters);
    if (h.evictedDirtyLine >= 0) this.writeBacks.queueEviction(h.evictedDirtyLine, this.clockCycles);
    const missed = h.servedBy !== SERVED_L1;
    if (missed && this.prefetcher !== undefined) this.clockCycles += this.l2Request(line, write, t);
    return missed;
  }

  /**
   * The L1 miss just charged (by access()) to `line`, issued at `t`: the cycles it must
   * add to wait for a prefetch fill of the line still in flight (0 if none); then train
   * the prefetchers on the request, which may issue prefetches at `t`.
   */
  private l2Request(line: number, write: boolean, t: number): number {
    const done = this.prefetcher!.demand(line, write, this.h.servedBy === SERVED_L2, t, this.prefetchTarget);
    return done > t ? done - t : 0;
  }

  /** Charge a plain store of [addr, addr + sizeBytes): an L1 hit, or a miss posted to the store buffer. */
  private chargeStore(addr: Addr, sizeBytes: number): void {
    if (this.clockCycles > this.cycleLimit) this.overBudget();
    const line = addr >>> 6;
    if (!this.l1HitByHint(line, true)) {
      this.storeLine(line);
      this.chargedIdx = this.h.l1Idx;
    }
    if ((addr & 63) + sizeBytes > 64) this.storeLine(line + 1);
  }

  private storeLine(line: number): void {
    const h = this.h;
    const t = this.clockCycles;
    let latencyCycles = h.access(this.id, line, true, this.counters);
    const evicted = h.evictedDirtyLine;
    if (h.servedBy !== SERVED_L1 && this.prefetcher !== undefined) latencyCycles += this.l2Request(line, true, t);
    this.postOrStall(line, latencyCycles);
    if (evicted >= 0) this.writeBacks.queueEviction(evicted, this.clockCycles);
  }

  /**
   * A store whose access took `latencyCycles`: an L1 hit costs its latency; a miss (or an
   * ownership upgrade) is posted and costs l1HitCycles, unless every fill buffer is busy
   * (then the core waits for the earliest) or posting is off (then the whole latency).
   * A posted line loses its fast-path hint so that loads and flushes of it see the fill.
   */
  private postOrStall(line: number, latencyCycles: number): void {
    if (latencyCycles <= this.l1HitCycles || this.posted.capacity === 0) {
      this.clockCycles += latencyCycles;
      return;
    }
    const at = this.posted.post(line, this.clockCycles, latencyCycles);
    const slot = line & HINT_MASK;
    if (at + latencyCycles > this.fillUntilCycles[slot]) this.fillUntilCycles[slot] = at + latencyCycles;
    this.fillUntilSet = true;
    this.clockCycles = at + this.l1HitCycles;
  }

  /** A load of [addr, addr + sizeBytes) (or an ntstore of its line) waits for pending store fills of its lines. */
  private waitForFill(line: number, sizeBytes = 8, addr = line * 64): void {
    let done = this.posted.pendingDone(line, this.clockCycles);
    if ((addr & 63) + sizeBytes > 64) done = Math.max(done, this.posted.pendingDone(line + 1, this.clockCycles));
    if (done > this.clockCycles) this.clockCycles = done;
  }

  /** When a flush of `line` may start: after a pending store fill of the line. */
  private fillDoneOr(line: number, cycles: number): number {
    if (this.posted.count === 0) return cycles;
    const done = this.posted.pendingDone(line, cycles);
    return done > cycles ? done : cycles;
  }

  /** Fences and locked instructions wait until every posted store has its line. */
  private drainStores(): void {
    if (this.posted.count !== 0) this.clockCycles = this.posted.drain(this.clockCycles);
  }

  // ---- write-backs, flushes, fences ----

  clflush(addr: Addr): void {
    this.machine.regionFor(addr, 1, this.id);
    this.counters.clflushes++;
    if (this.functional) return this.machine.recordFlush(TraceKind.CLFLUSH, addr, this);
    const t0 = this.clockCycles;
    const line = addr >>> 6;
    const r = this.h.flushLine(this.id, line, false);
    if ((r & FLUSH_DIRTY) !== 0) {
      let issue = this.fillDoneOr(line, this.clockCycles);
      if ((r & FLUSH_REMOTE) !== 0) {
        this.counters.coherenceTransfers++;
        issue += this.cost.coherenceTransferCycles;
      }
      this.clockCycles = this.writeBacks.writeBackNow(line, issue);
    } else {
      this.clockCycles += this.cost.flushIssueCycles;
    }
    this.counters.persistCycles += this.clockCycles - t0;
    this.machine.recordFlush(TraceKind.CLFLUSH, addr, this);
  }

  clflushopt(addr: Addr): void {
    this.counters.clflushopts++;
    this.asyncFlush(addr, false, TraceKind.CLFLUSHOPT);
  }

  clwb(addr: Addr): void {
    this.counters.clwbs++;
    this.asyncFlush(addr, this.cost.clwbRetainsLine !== 0, TraceKind.CLWB);
  }

  private asyncFlush(addr: Addr, keep: boolean, kind: TraceKind): void {
    this.machine.regionFor(addr, 1, this.id);
    if (this.functional) return this.machine.recordFlush(kind, addr, this);
    const line = addr >>> 6;
    const issue = this.fillDoneOr(line, this.clockCycles);
    this.clockCycles += this.cost.flushIssueCycles;
    this.counters.persistCycles += this.cost.flushIssueCycles;
    const r = this.h.flushLine(this.id, line, keep);
    if ((r & FLUSH_DIRTY) !== 0) {
      let start = issue;
      if ((r & FLUSH_REMOTE) !== 0) {
        this.counters.coherenceTransfers++;
        start += this.cost.coherenceTransferCycles;
      }
      this.writeBacks.queueExplicit(line, start);
    }
    this.machine.recordFlush(kind, addr, this);
  }

  /** Rule 5: wait for the latest outstanding explicit write-back, at least baseCycles. */
  private drain(baseCycles: number): void {
    if (this.functional) return this.machine.recordFence(this);
    this.drainStores();
    const waitCycles = this.writeBacks.fenceCycles(this.clockCycles, baseCycles);
    this.clockCycles += waitCycles;
    this.counters.persistCycles += waitCycles;
    this.ntOpenLine = -1;
    this.machine.recordFence(this);
  }

  sfence(): void {
    this.counters.sfences++;
    this.drain(this.cost.sfenceCycles);
  }

  mfence(): void {
    this.counters.mfences++;
    this.drain(this.cost.mfenceCycles);
  }

  /** Completion time of the latest explicit write-back not yet fenced, or -1 (tests, tools). */
  pendingFlushDoneCycles(): number {
    return this.writeBacks.pendingDoneCycles();
  }

  // ---- locks (sim/locks.ts: a timeline per lock word, spin-then-sleep mutexes) ----

  initLock(lockAddr: Addr, kind: LockKind = 'mutex'): void {
    if ((lockAddr & 7) !== 0) throw new MisuseError('misaligned-atomic', lockAddr, this.id, 'a lock word needs 8-byte alignment');
    this.machine.locks.init(lockAddr, kind, this.id);
    this.store64(lockAddr, 0);
  }

  lock(lockAddr: Addr): void {
    this.counters.lockAcquires++;
    if (this.functional) this.clockCycles++;
    const at = this.machine.locks.acquireAt(lockAddr, this.id, this.clockCycles);
    if (at > this.clockCycles) {
      this.counters.lockWaitCycles += at - this.clockCycles;
      this.clockCycles = at;
      if (this.clockCycles > this.cycleLimit) this.overBudget();
    }
    // The cas moves the lock word's line from the previous holder's cache (coherence).
    if (!this.cas64(lockAddr, 0, this.id + 1)) {
      throw new MisuseError('lock-misuse', lockAddr, this.id, `lock word holds ${this.machine.readWord(lockAddr, this.id)}, not 0 (written other than through lock/unlock)`);
    }
  }

  unlock(lockAddr: Addr): void {
    const holder = this.machine.readWord(lockAddr, this.id);
    if (holder !== this.id + 1) throw new MisuseError('lock-misuse', lockAddr, this.id, `unlock by core ${this.id} of a lock ${holder === 0 ? 'nobody holds' : `held by core ${holder - 1}`}`);
    this.drainStores(); // glibc's unlock is a locked exchange: it drains the store buffer
    this.store64(lockAddr, 0);
    if (this.functional) this.clockCycles++;
    const shift = this.machine.locks.release(lockAddr, this.id, this.clockCycles);
    if (shift > 0) {
      this.counters.lockWaitCycles += shift;
      this.clockCycles += shift;
    }
  }

  /** Tests: turn the remembered-page fast path off (results must not change, only speed). */
  setFastPath(enabled: boolean): void {
    this.fastPathEnabled = enabled && !this.functional;
    this.dropHints();
  }

  // ---- time and attribution ----

  compute(cycles: number): void {
    if (!(Number.isSafeInteger(cycles) && cycles >= 0)) invariant(false, `compute(${cycles}) needs a non-negative integer`);
    this.counters.computeCycles += cycles;
    if ((this.clockCycles += cycles) > this.cycleLimit) this.overBudget();
  }

  instructions(count: number): void {
    if (!(Number.isSafeInteger(count) && count >= 0)) invariant(false, `instructions(${count}) needs a non-negative integer`);
    const ipcMilli = this.cost.ipcMilli;
    const scaled = count * 1000 + this.instructionRemainder;
    const cycles = Math.floor(scaled / ipcMilli);
    this.instructionRemainder = scaled - cycles * ipcMilli;
    this.counters.instructions += count;
    this.counters.computeCycles += cycles;
    if ((this.clockCycles += cycles) > this.cycleLimit) this.overBudget();
  }

  /**
   * Bound this core's clock: any later access or compute past `limitCycles` throws
   * CycleBudgetError. Crash checkers use it so a recovery that loops over a corrupted
   * image is reported as a hang instead of hanging the checker. Default: no limit.
   */
  setCycleLimit(limitCycles: number, raise?: () => number): void {
    this.cycleLimit = limitCycles;
    this.cycleLimitRaise = raise;
  }

  /**
   * The clock passed the limit: a limit set with `raise` (a lower bound of the true one,
   * which costs something to compute) is first raised to raise()'s value, once, and the
   * core goes on if it is still within it; otherwise CycleBudgetError. As with the true
   * limit from the start: the clock only grows, so the first check that finds it past
   * the true limit is the same either way.
   */
  private overBudget(): void {
    const raise = this.cycleLimitRaise;
    if (raise !== undefined) {
      this.cycleLimitRaise = undefined;
      this.cycleLimit = Math.max(this.cycleLimit, raise());
      if (this.clockCycles <= this.cycleLimit) return;
    }
    throw new CycleBudgetError(this.id, this.cycleLimit);
  }

  waitUntil(cycles: number): void {
    if (cycles > this.clockCycles) {
      this.counters.idleCycles += cycles - this.clockCycles;
      this.clockCycles = cycles;
    }
  }

  setSite(site: number): number {
    const prev = this.site;
    this.site = site;
    return prev;
  }

  // ---- misuse ----

  private checkSize(addr: Addr, sizeBytes: number): void {
    if (sizeBytes !== 1 && sizeBytes !== 2 && sizeBytes !== 4) throw new MisuseError('bad-size', addr, this.id, `access size must be 1, 2, 4 or 8 bytes, got ${sizeBytes}`);
  }
  private unformatted(addr: Addr): never {
    throw new MisuseError('unformatted-read', addr, this.id, 'access to NVRAM before it was formatted');
  }
  private badValue(addr: Addr, sizeBytes: number, value: number): never {
    throw new MisuseError('bad-value', addr, this.id, `value ${value} does not fit an unsigned ${sizeBytes}-byte store`);
  }

  /** Back to the state of a fresh core: clock, site, counters, queued write-backs (crash checking). */
  reset(): void {
    this.clockCycles = 0;
    this.instructionRemainder = 0;
    this.site = 0;
    this.cycleLimit = Number.MAX_SAFE_INTEGER;
    this.cycleLimitRaise = undefined;
    Object.assign(this.counters, zeroCounters());
    this.writeBacks.reset();
    this.posted.reset();
    if (this.prefetcher !== undefined) this.prefetcher.reset();
    if (this.strider !== undefined) this.strider.reset();
    if (this.fillUntilSet) {
      this.fillUntilCycles.fill(0);
      this.fillUntilSet = false;
    }
    this.ntOpenLine = -1;
    this.dropHints();
  }
}

/**
 * What a core's prefetches act on (sim/prefetcher.ts): its L2 and the hierarchy below.
 * A line outside DRAM and NVRAM is skipped; an LLC eviction a prefetch causes queues its
 * write-back on the core's queue (bandwidth, as a demand miss's does).
 */
class CorePrefetchTarget implements PrefetchTarget {
  private readonly nvFirst = NVRAM_BASE >>> 6;
  private readonly nvEnd: number;
  private readonly dramFirst = DRAM_BASE >>> 6;
  private readonly dramEnd: number;
  constructor(
    private readonly h: Hierarchy,
    private readonly id: number,
    private readonly counters: Counters,
    private readonly writeBacks: WriteBackQueue,
    nvramSizeBytes: number,
    dramSizeBytes: number,
  ) {
    this.nvEnd = this.nvFirst + Math.floor(nvramSizeBytes / 64);
    this.dramEnd = this.dramFirst + Math.floor(dramSizeBytes / 64);
  }

  skip(line: number): boolean {
    const inMemory = (line >= this.nvFirst && line < this.nvEnd) || (line >= this.dramFirst && line < this.dramEnd);
    return !inMemory || this.h.inL2(this.id, line);
  }

  fetch(line: number, own: boolean, nowCycles: number): number {
    const h = this.h;
    const cycles = h.prefetch(this.id, line, own, this.counters);
    if (h.evictedDirtyLine >= 0) this.writeBacks.queueEviction(h.evictedDirtyLine, nowCycles);
    return cycles;
  }
}
