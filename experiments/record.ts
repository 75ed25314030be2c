/**
 * RunRecord: the raw, integer result of one run, as stored in <out>/runs/<id>.json.
 *
 * Model: only integers and labels; every ratio in the CSV is derived from these at
 * write time (metrics.ts), so shards, resumed runs and merges all produce the same
 * text. Wall-clock time never appears here.
 */
export interface RunKey {
  /** Position in the spec's deterministic run order. */
  readonly index: number;
  /** Stable id: a readable slug of the run's coordinates. */
  readonly id: string;
  readonly allocator: string;
  readonly workload: string;
  /** Swept workload parameters as `k=v,k=v` ('' when none). */
  readonly params: string;
  readonly idiom: string;
  readonly threads: number;
  readonly seed: number;
  /** Platform name (preset name, or the spec's platform name). */
  readonly preset: string;
  readonly heapSizeBytes: number;
}

export interface RunRecord extends RunKey {
  readonly ops: number;
  /** Allocator calls (malloc, mallocTo, free, freeFrom) during the operations. */
  readonly allocatorCalls: number;
  readonly cycles: number;
  readonly clockMHz: number;
  readonly flushes: number;
  readonly fences: number;
  readonly ntstores: number;
  /** Undo/redo log entries written; null when the allocator has no stats() hook. */
  readonly logEntries: number | null;
  readonly nvmBytesWritten: number;
  readonly coherenceTransfers: number;
  readonly lockWaitCycles: number;
  /**
   * Where the cores' cycles went during the operations (sums over cores; they add up
   * exactly): coreCycles = computeCycles + memoryCycles + persistCycles + lockWaitCycles
   * + idleCycles. memoryCycles is the rest: loads, stores and CAS through the caches.
   */
  readonly coreCycles: number;
  readonly computeCycles: number;
  readonly memoryCycles: number;
  readonly persistCycles: number;
  readonly idleCycles: number;
  /** Instructions charged from declared path lengths (0 when the allocator declares none). */
  readonly instructions: number;
  readonly heapPeakBytes: number;
  readonly recoveryCycles: number | null;
  readonly restartCycles: number | null;
  readonly liveObjects: number | null;
}

/**
 * Runs grouped by configuration (every key but index, id and seed: one group holds a
 * configuration's seeds), groups in the order of their first run.
 */
export function byConfiguration(records: readonly RunRecord[]): RunRecord[][] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = JSON.stringify([r.allocator, r.workload, r.params, r.idiom, r.threads, r.preset, r.heapSizeBytes]);
    const runs = groups.get(key);
    if (runs === undefined) groups.set(key, [r]);
    else runs.push(r);
  }
  return [...groups.values()];
}
