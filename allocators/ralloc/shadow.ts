/**
 * Ralloc-style misuse-detection shadow: host-side, uncharged, checker-only bookkeeping.
 *
 * Model: the set of blocks now in the user's hands (small blocks and large-run starts)
 * and a state per superblock (never used / in use / retired). Released Ralloc keeps
 * neither (urcs-sync/ralloc@6b9d7a1 BaseMeta.cpp:695-721, do_free, reads the descriptor
 * and pushes the block on the thread cache without any check), so nothing here is
 * simulated memory traffic: free checks its argument against the shadow before
 * anything changes (double / foreign free), walkHeap and checkConsistency compare the
 * allocator's metadata with it. format empties it; open rebuilds it from the recovered
 * or restored metadata with uncharged peeks (walk.ts rebuildShadow).
 *
 * Invariants: outside open, a block is in `handedOut` iff it is allocated in the
 * allocator's metadata (neither in a cache bin nor on a superblock free chain).
 */
import type { Addr } from '../../sim/api.ts';

export const SB_NEVER_USED = 0;
export const SB_IN_USE = 1;
export const SB_RETIRED = 2;

export class RallocShadow {
  readonly handedOut = new Set<Addr>();
  private readonly states: Uint8Array;

  constructor(sbCount: number) {
    this.states = new Uint8Array(sbCount);
  }

  reset(): void {
    this.handedOut.clear();
    this.states.fill(SB_NEVER_USED);
  }

  sbState(sbIndex: number): number {
    return this.states[sbIndex];
  }
  /** Set the state of superblocks [sbIndex, sbIndex + count). */
  setSbState(sbIndex: number, count: number, state: number): void {
    this.states.fill(state, sbIndex, sbIndex + count);
  }
}
