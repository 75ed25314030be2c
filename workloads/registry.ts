/**
 * The workload registry: every built-in workload by name.
 */
import type { Workload } from './contract.ts';

export const WORKLOADS: readonly Workload<any>[] = [];

export function workloadNames(): string[] {
  return WORKLOADS.map((w) => w.name);
}

export function findWorkload(name: string): Workload<any> | undefined {
  return WORKLOADS.find((w) => w.name === name);
}
