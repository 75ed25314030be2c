/**
 * Hand-made RunRecords for tests of what is derived from records (CSV tables, chart
 * data): one Makalu threadtest run at 2,200 MHz with no flushes, fences or recovery,
 * every field overridable.
 */
import type { RunRecord } from '../record.ts';

export function makeRecord(fields: Partial<RunRecord> = {}): RunRecord {
  const seed = fields.seed ?? 42;
  return {
    index: 0, id: `${fields.allocator ?? 'makalu'}.s${seed}`, allocator: 'makalu', workload: 'threadtest', params: '', idiom: 'malloc-then-link', threads: 1, seed, preset: 'optane-adr', heapSizeBytes: 1 << 20,
    ops: 10, allocatorCalls: 20, cycles: 1000, clockMHz: 2200, flushes: 0, fences: 0, ntstores: 0, logEntries: null, nvmBytesWritten: 0,
    coherenceTransfers: 0, lockWaitCycles: 0, coreCycles: 1000, computeCycles: 100, memoryCycles: 900, persistCycles: 0, idleCycles: 0, instructions: 0,
    heapPeakBytes: 4096, recoveryCycles: null, restartCycles: null, liveObjects: null,
    ...fields,
  };
}
