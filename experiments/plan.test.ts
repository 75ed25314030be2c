/**
 * The run plan: deterministic order and stable ids; --shard I/N partitions any plan
 * (every run in exactly one shard), checked with fast-check over shard counts.
 */
import fc from 'fast-check';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseShard } from './cli.ts';
import { inShard, planCrashJobs, planRuns } from './plan.ts';
import { loadSpecFile, type ResolvedSpec } from './spec/resolve.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let spec: ResolvedSpec;

beforeAll(async () => {
  spec = await loadSpecFile(join(ROOT, 'experiments/fixtures/pinned.json'));
});

describe('plan', () => {
  it('crosses workloads x allocators x threads in a fixed order with readable, unique ids', () => {
    const runs = planRuns(spec);
    expect(runs.map((r) => r.id)).toEqual([
      'churn.optane-adr.1MiB.transient.malloc-then-link.t1.s42',
      'churn.optane-adr.1MiB.transient.malloc-then-link.t2.s42',
      'churn.optane-adr.1MiB.bump.malloc-then-link.t1.s42',
      'churn.optane-adr.1MiB.bump.malloc-then-link.t2.s42',
      'list.optane-adr.1MiB.transient.malloc-then-link.t1.s42',
      'list.optane-adr.1MiB.transient.malloc-then-link.t2.s42',
      'list.optane-adr.1MiB.bump.malloc-then-link.t1.s42',
      'list.optane-adr.1MiB.bump.malloc-then-link.t2.s42',
    ]);
    expect(runs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const jobs = planCrashJobs(spec);
    expect(jobs.map((j) => j.id)).toEqual([
      'list.transient.malloc-then-link.line.lower.s42',
      'list.transient.malloc-then-link.line.upper.s42',
      'list.bump.malloc-then-link.line.lower.s42',
      'list.bump.malloc-then-link.line.upper.s42',
    ]);
    expect(jobs[0].job).toMatchObject({ allocator: 'transient', workload: 'list', threads: 1, seed: 42, nvramSizeBytes: 1 << 20, persistency: 'line', mode: 'lower' });
  });

  it('shards partition every plan: each item in exactly one of N shards', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 40 }), (items, count) => {
        for (let i = 0; i < items; i++) {
          const owners = Array.from({ length: count }, (_, s) => s + 1).filter((index) => inShard(i, { index, count }));
          expect(owners.length).toBe(1);
        }
      }),
    );
  });

  it('parses --shard I/N (1-based) and rejects the rest', () => {
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8 });
    for (const bad of ['0/2', '3/2', '1/0', 'a/b', '1', '-1/2']) expect(() => parseShard(bad)).toThrow(/--shard must be I\/N/);
  });
});
