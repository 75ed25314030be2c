/**
 * The workload registry: every built-in workload by name.
 */
import type { Workload } from './contract.ts';
import { threadtest } from './threadtest.ts';
import { shbench } from './shbench.ts';
import { larson } from './larson.ts';
import { prodCon } from './prod-con.ts';
import { fillHeap } from './fill-heap.ts';
import { list } from './list.ts';
import { hashmap } from './hashmap.ts';
import { cowBtree } from './cow-btree.ts';

export const WORKLOADS: readonly Workload<any>[] = [threadtest, shbench, larson, prodCon, fillHeap, list, hashmap, cowBtree];

export function workloadNames(): string[] {
  return WORKLOADS.map((w) => w.name);
}

export function findWorkload(name: string): Workload<any> | undefined {
  return WORKLOADS.find((w) => w.name === name);
}
