/**
 * Counters: integer event counts per core, summed for machine totals.
 */
import type { Counters } from './api.ts';

export function zeroCounters(): Counters {
  return {
    loads: 0, stores: 0,
    l1Hits: 0, l1Misses: 0, l2Hits: 0, l2Misses: 0, llcHits: 0, llcMisses: 0,
    clflushes: 0, clflushopts: 0, clwbs: 0, ntstores: 0, sfences: 0, mfences: 0, cases: 0,
    explicitWriteBacks: 0, evictionWriteBacks: 0, nvmBytesWritten: 0,
    coherenceTransfers: 0, prefetches: 0, lockAcquires: 0, lockWaitCycles: 0,
    instructions: 0, computeCycles: 0, persistCycles: 0, idleCycles: 0,
  };
}

export function addCounters(into: Counters, from: Counters): Counters {
  for (const k of Object.keys(into) as (keyof Counters)[]) into[k] += from[k];
  return into;
}
