import { describe, it, expect } from 'vitest';
import type { Addr, Machine } from '../sim/api.ts';
import type { VerifyReport, Workload } from './contract.ts';
import { list } from './list.ts';
import { hashmap, bucketOf } from './hashmap.ts';
import { cowBtree } from './cow-btree.ts';
import { fillHeap } from './fill-heap.ts';
import { executeRun } from '../experiments/execute.ts';
import { ALLOCATORS } from '../allocators/registry.ts';
import { createHarness } from './testing/harness.ts';
import { bumpFactory } from './testing/bump-allocator.ts';
import { bnodeChecksum, INTERNAL, slotAddr, type BNode } from './common/btree-node.ts';

const { run } = createHarness({ executeRun, allocators: ALLOCATORS });

const OUTSIDE = 0x2000_0000; // neither DRAM nor NVRAM
const NEXT = 24;

function build(w: Workload<any>, params: object) {
  const out = run({ factory: bumpFactory, workload: w, params, threads: 1 });
  const verify = (): VerifyReport => w.verify!(out.machine, out.allocator, out.context.params as never);
  expect(verify().errors).toEqual([]);
  return { out, verify, core: out.machine.core(0) };
}

function chain(m: Machine, holder: Addr): Addr[] {
  const nodes: Addr[] = [];
  for (let p = m.peek64(holder); p !== 0; p = m.peek64(p + NEXT)) nodes.push(p);
  return nodes;
}

function expectError(report: VerifyReport, addr: Addr, pattern: RegExp): void {
  const hit = report.errors.find((e) => e.addr === addr && pattern.test(e.message));
  expect(hit, `expected an error at 0x${addr.toString(16)} matching ${pattern}; got ${JSON.stringify(report.errors)}`).toBeDefined();
}

describe('list verify reports corruption with the offending address', () => {
  const setup = () => {
    const b = build(list, { opsPerThread: 20, keyRange: 20, insertPercent: 100 });
    const nodes = chain(b.out.machine, b.out.allocator.rootAddress(0));
    expect(nodes).toHaveLength(20);
    return { ...b, nodes };
  };

  it('a cycle', () => {
    const { core, nodes, verify } = setup();
    core.storeAtomic64(nodes[19] + NEXT, nodes[5]);
    expectError(verify(), nodes[19] + NEXT, /cycle/);
  });

  it('a broken checksum (torn value): the node is named and its key not counted', () => {
    const { core, nodes, verify, out } = setup();
    const key = out.machine.peek64(nodes[7]);
    core.store64(nodes[7] + 8, out.machine.peek64(nodes[7] + 8) + 1);
    const r = verify();
    expectError(r, nodes[7], /checksum/);
    expect(r.keys).not.toContain(key);
    expect(r.keys).toHaveLength(19);
  });

  it('a dangling pointer outside the heap, and a misaligned one', () => {
    const { core, nodes, verify, out } = setup();
    core.storeAtomic64(nodes[3] + NEXT, OUTSIDE);
    expectError(verify(), nodes[3] + NEXT, /dangling/);
    core.storeAtomic64(nodes[3] + NEXT, out.machine.layout.dramBase + 64);
    expectError(verify(), nodes[3] + NEXT, /dangling/);
    core.storeAtomic64(nodes[3] + NEXT, nodes[4] + 8);
    expectError(verify(), nodes[3] + NEXT, /misaligned/);
  });

  it('a retire slot holding a node counts it reachable, not as a key', () => {
    const { core, nodes, verify, out } = setup();
    core.storeAtomic64(out.allocator.rootAddress(1), nodes[2]);
    core.storeAtomic64(nodes[1] + NEXT, nodes[3]); // unlinked, but still held by the retire slot
    const r = verify();
    expect(r.errors).toEqual([]);
    expect(r.keys).toHaveLength(19);
    expect(r.reachable.map((e) => e.addr)).toContain(nodes[2]);
  });
});

describe('hashmap verify', () => {
  it('reports a cycle, a bad checksum, a dangling pointer and a key in the wrong bucket', () => {
    const { core, verify, out } = build(hashmap, { opsPerThread: 40, keyRange: 40, insertPercent: 100, removePercent: 0, buckets: 4 });
    const table = out.machine.peek64(out.allocator.rootAddress(0));
    const head = (b: number) => table + 16 + b * 8;
    const nodes = chain(out.machine, head(1));
    expect(nodes.length).toBeGreaterThan(3);
    core.storeAtomic64(nodes[nodes.length - 1] + NEXT, nodes[0]);
    expectError(verify(), nodes[nodes.length - 1] + NEXT, /cycle/);
    core.storeAtomic64(nodes[nodes.length - 1] + NEXT, 0);
    core.store64(nodes[1], out.machine.peek64(nodes[1]) + 4);
    expectError(verify(), nodes[1], /checksum/);
    core.store64(nodes[1], out.machine.peek64(nodes[1]) - 4);
    core.storeAtomic64(nodes[2] + NEXT, OUTSIDE + 16);
    expectError(verify(), nodes[2] + NEXT, /dangling/);
    core.storeAtomic64(nodes[2] + NEXT, nodes[3]);
    expect(verify().errors).toEqual([]);
    // Move bucket 2's chain under bucket 1's tail: its keys now sit in the wrong bucket.
    const other = chain(out.machine, head(2));
    core.storeAtomic64(nodes[nodes.length - 1] + NEXT, other[0]);
    core.storeAtomic64(head(2), 0);
    expect(bucketOf(out.machine.peek64(other[0]), 4)).toBe(2);
    expectError(verify(), other[0], /bucket 1/);
  });
});

describe('cow-btree verify', () => {
  const peekNode = (m: Machine, a: Addr, maxKeys: number): BNode => {
    const meta = m.peek64(a);
    const count = meta % 256;
    const kind = Math.floor(meta / 256);
    const nKeys = kind === INTERNAL ? count - 1 : count;
    return {
      kind,
      keys: Array.from({ length: nKeys }, (_, i) => m.peek64(a + 16 + i * 8)),
      slots: Array.from({ length: count }, (_, j) => m.peek64(slotAddr(a, maxKeys, j))),
    };
  };

  it('reports a torn leaf, and a cycle and a dangling child even when the attacker fixes the checksum', () => {
    const { core, verify, out } = build(cowBtree, { opsPerThread: 40, keyRange: 40, insertPercent: 100, maxKeys: 3 });
    const m = out.machine;
    const root = m.peek64(out.allocator.rootAddress(0));
    const top = peekNode(m, root, 3);
    expect(top.kind).toBe(INTERNAL);
    const child = top.slots[1];
    const setChild = (value: number) => {
      const n = peekNode(m, child, 3);
      if (n.kind !== INTERNAL) throw new Error('expected an internal child');
      n.slots[0] = value;
      core.store64(slotAddr(child, 3, 0), value);
      core.store64(child + 8, bnodeChecksum(n));
    };
    const grandchild = peekNode(m, child, 3).slots[0];
    setChild(root);
    expectError(verify(), slotAddr(child, 3, 0), /cycle/);
    setChild(OUTSIDE);
    expectError(verify(), slotAddr(child, 3, 0), /dangling/);
    setChild(grandchild);
    expect(verify().errors).toEqual([]);
    // A leaf key overwritten without its checksum: torn.
    let leaf = grandchild;
    while (peekNode(m, leaf, 3).kind === INTERNAL) leaf = peekNode(m, leaf, 3).slots[0];
    core.store64(leaf + 16, m.peek64(leaf + 16) + 1);
    expectError(verify(), leaf, /checksum/);
  });
});

describe('fill-heap verify', () => {
  it('walks every root chain; reports a cycle and a dangling field', () => {
    const { core, verify, out } = build(fillHeap, { megabytes: 1, scale: 256, roots: 4 });
    const m = out.machine;
    const r = verify();
    const kept = out.streams[0].filter((o) => o.kind === 'keep').length;
    expect(r.reachable).toHaveLength(4 + kept);
    // Find a root whose chain has at least two nodes.
    let first = 0;
    for (let i = 0; i < 4 && first === 0; i++) {
      const head = m.peek64(m.peek64(out.allocator.rootAddress(i)));
      if (head !== 0 && [0, 1, 2, 3, 4, 5, 6, 7].some((f) => m.peek64(head + f * 8) !== 0)) first = head;
    }
    expect(first).not.toBe(0);
    const field = [0, 1, 2, 3, 4, 5, 6, 7].find((f) => m.peek64(first + f * 8) !== 0)!;
    const saved = m.peek64(first + field * 8);
    core.storeAtomic64(first + field * 8, first);
    expectError(verify(), first + field * 8, /cycle/);
    core.storeAtomic64(first + field * 8, OUTSIDE);
    expectError(verify(), first + field * 8, /dangling/);
    core.storeAtomic64(first + field * 8, saved);
    expect(verify().errors).toEqual([]);
  });
});
