/**
 * One core's write-back queue: when the write-backs it issues reach the persistence
 * domain, and how long a fence waits for them (nvram-model.md rules 3, 5 and 8).
 *
 * Model: a write-back issued at t with latency lat completes at
 * max(t + lat, previous completion on this core + spacing): one write-back may complete
 * every flushPipelineCycles (58), so k back-to-back clwb complete 137, 195, 253, ...
 * cycles after the first issue, the derived OptaneStudy figure (nvram-model.md writes
 * rule 3 as max(issue, previous completion + 58) + 137; read literally that costs 195
 * per extra line, contradicting its own 58). lat = the NVM (or DRAM) write-back latency +
 * extraFlushDelayCycles; an XPBuffer read-modify-write (when modelled) adds its cycles to
 * both the latency and the spacing (it occupies the DIMM), so scattered flushes drain
 * slower than sequential ones. Explicit write-backs (clwb, clflushopt, ntstore) are
 * outstanding until a fence, which waits for the latest of them (rule 5); clflush waits
 * for its own (rule 4); an eviction write-back (rule 8) takes a slot of the queue
 * (bandwidth) but nothing waits for it.
 *
 * Invariants: completion times never decrease along the queue; a fence clears the
 * outstanding explicit write-backs; cycles are integers.
 */
import type { Counters } from './api.ts';
import type { CostModel } from './cost-model.ts';
import type { MediaWriter } from './xpbuffer.ts';

export class WriteBackQueue {
  /** Completion of the latest write-back queued (any kind). */
  private lastDoneCycles = 0;
  /** Latest completion among explicit write-backs since the last fence. */
  private explicitDoneCycles = 0;
  private explicitPending = false;

  constructor(
    private readonly cost: CostModel,
    private readonly media: MediaWriter,
    /** The owning core's counters (write-back counts, media bytes). */
    private readonly counters: Counters,
    /** First line number of NVRAM: lines at or above are NVM, below DRAM. */
    private readonly nvmFirstLine: number,
  ) {}

  /** Queue a write-back of `line` issued at `issueCycles`; returns its completion (rule 3). */
  private enqueue(line: number, issueCycles: number): number {
    const cost = this.cost;
    let latency = cost.extraFlushDelayCycles;
    let spacing = cost.flushPipelineCycles;
    if (line >= this.nvmFirstLine) {
      const rmw = this.media.writeLine(line, this.counters);
      latency += cost.nvmWriteBackCycles + rmw;
      spacing += rmw;
    } else {
      latency += cost.dramWriteBackCycles;
    }
    const done = Math.max(issueCycles + latency, this.lastDoneCycles + spacing);
    this.lastDoneCycles = done;
    return done;
  }

  /** An explicit write-back (clwb, clflushopt, ntstore): outstanding until the next fence. */
  queueExplicit(line: number, issueCycles: number): void {
    this.counters.explicitWriteBacks++;
    const done = this.enqueue(line, issueCycles);
    if (done > this.explicitDoneCycles) this.explicitDoneCycles = done;
    this.explicitPending = true;
  }

  /** clflush's write-back, which its issuer waits for: returns its completion (rule 4). */
  writeBackNow(line: number, issueCycles: number): number {
    this.counters.explicitWriteBacks++;
    return this.enqueue(line, issueCycles);
  }

  /** An eviction write-back (cache capacity, rule 8): bandwidth only, nobody waits. */
  queueEviction(line: number, issueCycles: number): void {
    this.counters.evictionWriteBacks++;
    this.enqueue(line, issueCycles);
  }

  /**
   * A fence (or a locked instruction) at `nowCycles`: the cycles it costs, the wait for
   * the latest outstanding explicit write-back or `baseCycles`, whichever is longer
   * (rule 5); the outstanding write-backs are then done.
   */
  fenceCycles(nowCycles: number, baseCycles: number): number {
    const wait = this.explicitPending ? this.explicitDoneCycles - nowCycles : 0;
    this.explicitPending = false;
    return wait > baseCycles ? wait : baseCycles;
  }

  /** Completion time of the latest explicit write-back not yet fenced, or -1. */
  pendingDoneCycles(): number {
    return this.explicitPending ? this.explicitDoneCycles : -1;
  }

  /** Back to an empty queue (crash checking reuses a machine). */
  reset(): void {
    this.lastDoneCycles = 0;
    this.explicitDoneCycles = 0;
    this.explicitPending = false;
  }
}
