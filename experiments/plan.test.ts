/**
 * The run plan: deterministic order and stable ids; --shard I/N partitions any plan
 * (every run in exactly one shard), checked with fast-check over shard counts.
 */
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
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

describe('shipped specs', () => {
  it('every experiments/*.json validates and plans (workload params checked for every thread count and heap size)', async () => {
    const files = readdirSync(join(ROOT, 'experiments')).filter((f) => f.endsWith('.json'));
    expect(files).toContain('crash-large.json');
    for (const f of files) {
      const s = await loadSpecFile(join(ROOT, 'experiments', f));
      expect(planRuns(s).length + planCrashJobs(s).length, f).toBeGreaterThan(0);
    }
  });
});

describe('plan', () => {
  it('crosses workloads x allocators x threads in a fixed order with readable, unique ids', () => {
    const runs = planRuns(spec);
    // Order: workload, then allocator (spec order, each with its first idiom), then threads.
    const allocs = ['transient.malloc-then-link', 'makalu.malloc-then-link', 'pmdk.alloc-into', 'nvm-malloc.alloc-into', 'ralloc.malloc-then-link', 'bump.malloc-then-link'];
    const expected = ['churn', 'list'].flatMap((w) => allocs.flatMap((a) => [1, 2].map((t) => `${w}.optane-adr.8MiB.${a}.t${t}.s42`)));
    expect(expected[2]).toBe('churn.optane-adr.8MiB.makalu.malloc-then-link.t1.s42');
    expect(runs.map((r) => r.id)).toEqual(expected);
    expect(runs.map((r) => r.index)).toEqual(expected.map((_, i) => i));
    const jobs = planCrashJobs(spec);
    expect(jobs.map((j) => j.id)).toEqual(allocs.flatMap((a) => ['lower', 'upper'].map((m) => `list.${a}.line.${m}.s42`)));
    expect(jobs[0].job).toMatchObject({ allocator: 'transient', workload: 'list', threads: 1, seed: 42, nvramSizeBytes: 8 << 20, persistency: 'line', mode: 'lower' });
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
