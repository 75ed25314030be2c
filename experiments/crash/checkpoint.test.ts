/**
 * Checkpoint and rollback of a recovered machine (checkpoint.ts): for every registered
 * allocator, a machine recovered over a run's image, checkpointed, changed by random
 * mallocs and frees, and rolled back holds the same state as at the checkpoint (caches,
 * clocks, counters, memories, trace, allocator objects: a fingerprint of the graph) and
 * then behaves as a freshly recovered machine (same addresses and cycles for the same
 * work); the memory's and the read tracker's own checkpoints.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ALLOCATORS } from '../../allocators/registry.ts';
import { createMachine, type SimMachine } from '../../sim/machine.ts';
import { SetAssocCache } from '../../sim/cache.ts';
import { PagedMemory } from '../../sim/memory.ts';
import { ReadTracker } from '../../sim/read-set.ts';
import { TraceRecorder } from '../../sim/persistency/trace.ts';
import type { Allocator } from '../../allocators/contract.ts';
import type { NvramImage } from '../../sim/api.ts';
import { loadJob, type JobContext } from './job.ts';
import { checkpointGraph } from './checkpoint.ts';

const MB = 1 << 20;

function contextFor(allocator: string): JobContext {
  return loadJob({
    allocator, workload: 'list', params: { opsPerThread: 30 }, idiom: 'malloc-then-link', threads: 1, seed: 3,
    nvramSizeBytes: 4 * MB, dramSizeBytes: 4 * MB, persistency: 'line', mode: 'k-subsets', k: 2,
  });
}

function recovered(ctx: JobContext, image: NvramImage, m?: SimMachine): { m: SimMachine; a: Allocator } {
  const machine = m ?? createMachine({ cores: ctx.job.threads, cost: ctx.cost, dramSizeBytes: ctx.job.dramSizeBytes, nvramSizeBytes: ctx.job.nvramSizeBytes, image, trace: true });
  if (m !== undefined) machine.resetOverImage(image, true);
  const a = ctx.factory.create(machine);
  a.open(machine.core(0));
  return { m: machine, a };
}

/** Mallocs (positive sizes) and frees (of the i-th block got, modulo) on core 0; the addresses returned. */
function work(m: SimMachine, a: Allocator, ops: readonly number[]): number[] {
  const got: number[] = [];
  const core = m.core(0);
  for (const op of ops) {
    if (op > 0) got.push(a.malloc(core, op));
    else if (got.length > 0) {
      const i = -op % got.length;
      a.free(core, got[i]);
      got.splice(i, 1);
    }
  }
  return got;
}

/**
 * What the simulation can observe of a machine and allocator, as text: every reachable
 * value (caches' arrays whole, memories' bytes, trace events up to its length), leaving
 * out host-only state (the read tracker, slabs, spare trace capacity, images).
 */
function fingerprint(roots: readonly object[]): string {
  const out: string[] = [];
  const seen = new Map<object, number>();
  const visit = (v: unknown, path: string): void => {
    if (v === null || typeof v !== 'object') {
      if (typeof v !== 'function') out.push(`${path}=${String(v)}`);
      return;
    }
    if (seen.has(v)) {
      out.push(`${path}=@${seen.get(v)}`);
      return;
    }
    seen.set(v, seen.size);
    const o = v as Record<string, unknown>;
    if (typeof o.page === 'function' && typeof o.pageIndices === 'function') return out.push(`${path}=image`) as never;
    if (v instanceof ReadTracker) return;
    if (v instanceof SetAssocCache) return out.push(`${path}=cache ${v.tick} ${hashArray(v.data)}`) as never;
    if (v instanceof PagedMemory) {
      const img = v.snapshot();
      const parts = img.pageIndices().filter((p) => img.page(p)!.some((b) => b !== 0)).map((p) => `${p}:${hashArray(img.page(p)!)}`);
      return out.push(`${path}=mem ${v.readable} ${parts.join(',')}`) as never;
    }
    if (v instanceof TraceRecorder) {
      const ev: number[] = [];
      for (let i = 0; i < v.length; i++) ev.push(v.kind(i), v.core(i), v.arg(i), v.valueLo(i), v.valueHi(i));
      return out.push(`${path}=trace ${v.length} ${hashArray(ev)}`) as never;
    }
    if (ArrayBuffer.isView(v)) return out.push(`${path}=${hashArray(v as unknown as ArrayLike<number>)}`) as never;
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${path}[${i}]`));
    if (v instanceof Map) return [...v].forEach(([k, x]) => visit(x, `${path}.get(${String(k)})`));
    if (v instanceof Set) return [...v].forEach((x, i) => visit(x, `${path}{${i}}`));
    for (const k of Object.keys(o)) if (k !== 'hintWords' && k !== 'slabs') visit(o[k], `${path}.${k}`);
  };
  roots.forEach((r, i) => visit(r, `r${i}`));
  return out.join('\n');
}

function hashArray(a: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ (a[i] | 0), 16777619);
  return `${a.length}#${(h >>> 0).toString(16)}`;
}

const ops = fc.array(fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: -50, max: 0 })), { minLength: 1, maxLength: 40 });

describe('checkpoint and rollback of a recovered machine', () => {
  for (const f of ALLOCATORS) {
    it(`${f.name}: rolled back after random work, the machine is as recovered and behaves as a fresh recovery`, () => {
      const ctx = contextFor(f.name);
      const image = ctx.run.machine.nvram.snapshot();
      const { m, a } = recovered(ctx, image);
      const cp = checkpointGraph([m, a]);
      expect(cp).toBeDefined();
      const at = fingerprint([m, a]);
      fc.assert(
        fc.property(ops, ops, (changes, after) => {
          work(m, a, changes);
          cp!.restore();
          expect(fingerprint([m, a])).toBe(at);
          // The same work on the rolled-back machine and on a fresh recovery (the cores'
          // fast-path hints dropped on both, as check.ts does when it reuses a machine).
          const fresh = recovered(ctx, image);
          for (const c of [...m.cores, ...fresh.m.cores]) c.setFastPath(true);
          const got = work(m, a, after);
          expect(got).toEqual(work(fresh.m, fresh.a, after));
          expect(m.cores.map((c) => c.clockCycles)).toEqual(fresh.m.cores.map((c) => c.clockCycles));
          expect(fingerprint([m, a])).toBe(fingerprint([fresh.m, fresh.a]));
          cp!.restore();
        }),
        { numRuns: 4 },
      );
    }, 60_000);
  }

  it('a machine reset and reused since is rolled back whole (its caches emptied first)', () => {
    const ctx = contextFor('pmdk');
    const image = ctx.run.machine.nvram.snapshot();
    const { m, a } = recovered(ctx, image);
    const cp = checkpointGraph([m, a])!;
    const at = fingerprint([m, a]);
    recovered(ctx, image, m);
    work(m, a, [64, 64, 200]);
    cp.restore();
    expect(fingerprint([m, a])).toBe(at);
    // Released (its buffers pooled for later checkpoints), it can no longer be restored.
    cp.release();
    expect(() => cp.restore()).toThrow(/after release/);
  });
});

describe('memory and read tracker checkpoints', () => {
  it('PagedMemory.checkpoint brings back page table and bytes; pages carved since are handed out zeroed', () => {
    const base = new PagedMemory(1 << 20);
    base.writeWord(0, 7, 0);
    const img = base.snapshot();
    const mem = new PagedMemory(1 << 20, img, 0, true);
    mem.writeWord(8, 1, 0);
    const restore = mem.checkpoint();
    mem.writeWord(8, 2, 0);
    mem.writeWord(4096 * 5, 3, 0);
    restore();
    expect([mem.readWord(0), mem.readWord(8), mem.readWord(4096 * 5)]).toEqual([7, 1, 0]);
    expect(mem.ownedPageCount()).toBe(1);
    // A page written after the checkpoint, then dropped by it, reads as zero when created again.
    mem.writeWord(4096 * 6 + 16, 0, 0);
    expect(mem.readWord(4096 * 6 + 8)).toBe(0);
    expect(mem.readWord(4096 * 6)).toBe(0);
    restore();
    expect(mem.readWord(8)).toBe(1);
  });

  it('ReadTracker.writeCheckpoint forgets the writes recorded after it', () => {
    const t = new ReadTracker(4096, new Set());
    t.write(0, 4);
    const restore = t.writeCheckpoint();
    t.write(4, 4);
    t.write(64, 8);
    restore();
    expect([t.writtenMask(0), t.writtenMask(8)]).toEqual([0x0f, 0]);
    const lines = new Set<number>();
    t.restart(lines);
    t.read(0, 8);
    t.read(64, 8);
    expect([...lines]).toEqual([0, 1]);
  });
});
