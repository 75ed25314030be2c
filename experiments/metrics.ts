/**
 * The metric catalog: every figure of results.csv, as data.
 *
 * Model: each metric has a name (the CSV column), unit, description (chart axis
 * title) and a value derived exactly from a RunRecord's integers (a Ratio, or null
 * where it does not apply, printed as an empty cell).
 */
import type { MetricMeta } from '../reports/metric.ts';
import { ratio, type Ratio } from '../reports/number.ts';
import type { RunRecord } from './record.ts';

export interface Metric extends MetricMeta {
  value(r: RunRecord): Ratio | null;
}

const perOp = (n: number | null, r: RunRecord): Ratio | null => (n === null || r.ops === 0 ? null : ratio(n, r.ops));
const perCall = (n: number | null, r: RunRecord): Ratio | null => (n === null || r.allocatorCalls === 0 ? null : ratio(n, r.allocatorCalls));
const whole = (n: number | null): Ratio | null => (n === null ? null : ratio(n));

export const METRICS: readonly Metric[] = [
  { name: 'ops', label: 'Ops', unit: 'ops', description: 'Operations completed', decimals: 0, value: (r) => whole(r.ops) },
  { name: 'allocatorCalls', label: 'Allocator calls', unit: 'calls', description: 'Allocator calls (malloc, free, mallocTo, freeFrom)', decimals: 0, value: (r) => whole(r.allocatorCalls) },
  { name: 'cycles', label: 'Makespan', unit: 'cycles', description: 'Makespan of the operations', decimals: 0, lowerIsBetter: true, value: (r) => whole(r.cycles) },
  { name: 'cyclesPerOp', label: 'Cycles per op', unit: 'cycles/op', description: 'Cycles per operation', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.cycles, r) },
  {
    name: 'opsPerSimSec', label: 'Throughput', unit: 'ops/s', description: 'Throughput (simulated seconds)', decimals: 0,
    value: (r) => (r.cycles === 0 ? null : ratio(BigInt(r.ops) * BigInt(r.clockMHz) * 1_000_000n, r.cycles)),
  },
  { name: 'flushesPerOp', label: 'Flushes per op', unit: 'flushes/op', description: 'Cache-line flushes (clflush, clflushopt, clwb) per op', decimals: 4, lowerIsBetter: true, value: (r) => perOp(r.flushes, r) },
  { name: 'fencesPerOp', label: 'Fences per op', unit: 'fences/op', description: 'Fences (sfence, mfence) per op', decimals: 4, lowerIsBetter: true, value: (r) => perOp(r.fences, r) },
  { name: 'ntstoresPerOp', label: 'NT stores per op', unit: 'ntstores/op', description: 'Non-temporal 8 B stores per op', decimals: 4, lowerIsBetter: true, value: (r) => perOp(r.ntstores, r) },
  { name: 'logEntriesPerOp', label: 'Log entries per op', unit: 'entries/op', description: 'Log entries written per op', decimals: 4, lowerIsBetter: true, value: (r) => perOp(r.logEntries, r) },
  { name: 'flushesPerCall', label: 'Flushes per call', unit: 'flushes/call', description: 'Cache-line flushes per allocator call (includes the workload\'s own persists)', decimals: 4, lowerIsBetter: true, value: (r) => perCall(r.flushes, r) },
  { name: 'fencesPerCall', label: 'Fences per call', unit: 'fences/call', description: 'Fences per allocator call (includes the workload\'s own persists)', decimals: 4, lowerIsBetter: true, value: (r) => perCall(r.fences, r) },
  { name: 'logEntriesPerCall', label: 'Log entries per call', unit: 'entries/call', description: 'Log entries written per allocator call', decimals: 4, lowerIsBetter: true, value: (r) => perCall(r.logEntries, r) },
  { name: 'nvmBytesWrittenPerOp', label: 'NVM bytes written per op', unit: 'B/op', description: 'NVM media bytes written per op', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.nvmBytesWritten, r) },
  { name: 'coherenceTransfersPerOp', label: 'Coherence transfers per op', unit: 'transfers/op', description: 'Coherence transfers per op', decimals: 4, lowerIsBetter: true, value: (r) => perOp(r.coherenceTransfers, r) },
  { name: 'lockWaitCyclesPerOp', label: 'Lock wait per op', unit: 'cycles/op', description: 'Lock wait cycles per op', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.lockWaitCycles, r) },
  { name: 'coreCyclesPerOp', label: 'Core cycles per op', unit: 'core-cycles/op', description: 'Cycles of all cores per op (compute + memory + persist + lock wait + idle)', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.coreCycles, r) },
  { name: 'computeCyclesPerOp', label: 'Compute per op', unit: 'core-cycles/op', description: 'Compute cycles per op (declared instructions / IPC, and workload compute)', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.computeCycles, r) },
  { name: 'memoryCyclesPerOp', label: 'Memory per op', unit: 'core-cycles/op', description: 'Memory cycles per op (loads, stores, CAS through the caches)', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.memoryCycles, r) },
  { name: 'persistCyclesPerOp', label: 'Persist per op', unit: 'core-cycles/op', description: 'Persist cycles per op (flush issue, clflush, ntstore, fence waits)', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.persistCycles, r) },
  { name: 'idleCyclesPerOp', label: 'Idle per op', unit: 'core-cycles/op', description: 'Idle cycles per op (blocked ops waiting)', decimals: 2, lowerIsBetter: true, value: (r) => perOp(r.idleCycles, r) },
  { name: 'instructionsPerCall', label: 'Instructions per call', unit: 'instructions/call', description: 'Declared allocator-path instructions per allocator call', decimals: 2, lowerIsBetter: true, value: (r) => perCall(r.instructions, r) },
  { name: 'heapPeakBytes', label: 'Heap high-water mark', unit: 'B', description: 'Heap high-water mark (highest byte handed out)', decimals: 0, lowerIsBetter: true, value: (r) => whole(r.heapPeakBytes) },
  { name: 'recoveryCycles', label: 'Recovery time', unit: 'cycles', description: 'Crash recovery time', decimals: 0, lowerIsBetter: true, value: (r) => whole(r.recoveryCycles) },
  { name: 'restartCycles', label: 'Restart time', unit: 'cycles', description: 'Clean restart time', decimals: 0, lowerIsBetter: true, value: (r) => whole(r.restartCycles) },
  { name: 'liveObjects', label: 'Live objects', unit: 'objects', description: 'Live objects found by recovery', decimals: 0, value: (r) => whole(r.liveObjects) },
];

export function metricNames(): string[] {
  return METRICS.map((m) => m.name);
}

export function findMetric(name: string): Metric | undefined {
  return METRICS.find((m) => m.name === name);
}

/** Identity columns of results.csv, before the metrics. */
export const KEY_COLUMNS = ['experiment', 'run', 'allocator', 'workload', 'params', 'idiom', 'threads', 'seed', 'preset', 'heapSizeBytes'] as const;
