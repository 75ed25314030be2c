/**
 * Tests of what the Ralloc-style fast paths touch, against the released code
 * (urcs-sync/ralloc@6b9d7a1): malloc reads its cache bin and the head block's link
 * (TCache.cpp:37-47), free reads the block's descriptor, its class's heap line and its
 * own cache bin and writes
 * the block's link (BaseMeta.cpp:695-721, TCache.cpp:19-25), whatever core allocated
 * the block. Misuse detection is an uncharged shadow: no other line is touched. Also:
 * the recovery mark bitmap is zero again after a recovery.
 */
import { describe, expect, it } from 'vitest';
import type { Addr, Core } from '../../sim/api.ts';
import { rallocFactory } from './index.ts';
import type { RallocAllocator } from './allocator.ts';
import type { RallocCtx } from './superblocks.ts';
import { CLASS_COUNT } from './layout.ts';
import { RALLOC_INSTRUCTIONS } from './path-lengths.ts';
import { newMachine } from './test-helpers.ts';

const LINE = 64;

/** Lines (address >> 6) a core loads, stores or CASes while `fn` runs. */
function linesTouched(core: Core, fn: () => void): Set<number> {
  const lines = new Set<number>();
  const c = core as unknown as Record<string, (addr: Addr, ...rest: number[]) => number>;
  const names = ['load', 'load64', 'store', 'store64', 'storeAtomic64', 'cas64'] as const;
  const saved = names.map((n) => c[n]);
  names.forEach((n, i) => {
    c[n] = (addr, ...rest) => {
      lines.add(Math.floor(addr / LINE));
      return saved[i].call(core, addr, ...rest);
    };
  });
  try {
    fn();
  } finally {
    names.forEach((n, i) => {
      c[n] = saved[i];
    });
  }
  return lines;
}

function ctxOf(a: unknown): RallocCtx {
  return (a as { ctx: RallocCtx }).ctx;
}

describe('ralloc: fast-path lines as in the released code', () => {
  it('malloc touches only its bin and the block; free only the descriptor, the heap line, its bin and the block, also for a block another core allocated', () => {
    const m = newMachine(2);
    const a = rallocFactory().create(m) as RallocAllocator;
    const [c0, c1] = [m.core(0), m.core(1)];
    a.format(c0);
    const ctx = ctxOf(a);
    // warm both cores' bins of the 64 B class (a refill each; core 1's bin one short
    // of full, so the remote free below is a plain push, not a flush)
    a.free(c0, a.malloc(c0, 64));
    a.malloc(c1, 64);
    a.free(c1, a.malloc(c1, 64));
    let p = 0;
    const mallocLines = linesTouched(c0, () => {
      p = a.malloc(c0, 64);
    });
    const bin0 = Math.floor(ctx.dram.binAddr(0, 3) / LINE);
    expect(mallocLines).toEqual(new Set([bin0, Math.floor(p / LINE)]));
    const desc = Math.floor(ctx.layout.descAddr(ctx.layout.sbIndexOf(p)) / LINE);
    const bin1 = Math.floor(ctx.dram.binAddr(1, 3) / LINE);
    const heap = Math.floor(ctx.layout.partialHeadAddr(3) / LINE); // ProcHeap: desc->heap->sc_idx
    const freeLines = linesTouched(c1, () => a.free(c1, p)); // a remote free: core 1 frees core 0's block
    expect(freeLines).toEqual(new Set([desc, heap, bin1, Math.floor(p / LINE)]));
    // the block went to core 1's bin: core 1's next malloc of the class returns it
    expect(a.malloc(c1, 64)).toBe(p);
    expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
  });

  it('no two cores share a cache-bin line (thread_local TCaches)', () => {
    const m = newMachine(4);
    const a = rallocFactory().create(m);
    const { dram } = ctxOf(a);
    const owner = new Map<number, number>();
    for (let c = 0; c < 4; c++) {
      for (let cls = 0; cls < CLASS_COUNT; cls++) {
        for (const addr of [dram.binAddr(c, cls), dram.binAddr(c, cls) + 15]) {
          const line = Math.floor(addr / LINE);
          expect(owner.get(line) ?? c).toBe(c);
          owner.set(line, c);
        }
      }
    }
  });

  it('a double free is still caught before anything changes', () => {
    const m = newMachine(1);
    const a = rallocFactory().create(m);
    const c = m.core(0);
    a.format(c);
    const p = a.malloc(c, 100);
    a.free(c, p);
    expect(() => a.free(c, p)).toThrow(/double-free/);
    expect(a.checkConsistency(m)).toEqual({ ok: true, errors: [] });
  });
});

describe('ralloc: refill cost', () => {
  it('a refill from a partial superblock is constant time (push_list), whatever its free count', () => {
    const m = newMachine(1);
    const a = rallocFactory().create(m);
    const c = m.core(0);
    a.format(c);
    const first = Array.from({ length: 1024 }, () => a.malloc(c, 64)); // superblock 1, all handed out
    a.malloc(c, 64); // superblock 2: 1,023 left in the bin
    a.free(c, first[0]); // the bin is full (1,024)
    a.free(c, first[1]); // flush: superblock 2 (1,023 free) and 1 go back to the partial list; then push
    a.malloc(c, 64); // pops first[1]: the bin is empty again
    const before = m.counters(0).instructions;
    a.malloc(c, 64); // refill from the partial list: superblock 2's 1,023 free blocks
    expect(m.counters(0).instructions - before).toBe(RALLOC_INSTRUCTIONS.mallocFast + RALLOC_INSTRUCTIONS.descriptorCas);
    expect(m.peek64(ctxOf(a).dram.binAddr(0, 3) + 8)).toBe(1022);
  });
});

describe('ralloc: the recovery mark bitmap', () => {
  it('is all zero after a recovery, and the shadow holds exactly the reachable blocks', () => {
    const m = newMachine(1);
    const a = rallocFactory().create(m);
    const c = m.core(0);
    a.format(c);
    const kept: Addr[] = [];
    let prev = 0;
    for (let i = 0; i < 300; i++) {
      const n = a.malloc(c, i % 3 === 0 ? 20_000 : 64 + (i % 5) * 48);
      if (i % 2 === 0) a.free(c, n);
      else {
        c.store64(n, prev);
        c.clwb(n);
        c.sfence();
        prev = n;
        kept.push(n);
      }
    }
    a.setRoot(c, 0, prev);
    const m2 = newMachine(1, m.snapshotNvram());
    const a2 = rallocFactory().create(m2);
    expect(a2.open(m2.core(0)).kind).toBe('recovered');
    const { dram, layout } = ctxOf(a2);
    for (let off = 0; off < layout.sbCount * 512; off += 4) {
      if (m2.peek(dram.bitsBase + off, 4) !== 0) throw new Error(`mark bitmap word at offset ${off} not cleared`);
    }
    expect([...ctxOf(a2).shadow.handedOut].sort((x, y) => x - y)).toEqual([...kept].sort((x, y) => x - y));
    expect(a2.checkConsistency(m2)).toEqual({ ok: true, errors: [] });
  });
});
