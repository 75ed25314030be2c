/**
 * The contract suite bites: deliberately wrong allocators (thin wrappers over the
 * transient reference, each with one contract violation) must fail the matching check
 * with a message that names the problem, while the unmodified reference passes.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../sim/api.ts';
import { AllocatorMisuseError, type Allocator, type AllocatorFactory } from './contract.ts';
import { ContractSuiteOptionError, contractChecks, runContractSuite } from './contract-suite.ts';
import { transientFactory } from './transient/index.ts';

type Patch = (inner: Allocator, machine: Machine) => Partial<Allocator>;

/** A factory whose allocators delegate to transient except for the patched members. */
function variant(name: string, patch: Patch, extra: Partial<AllocatorFactory> = {}): AllocatorFactory {
  return {
    ...transientFactory,
    ...extra,
    name,
    create(machine) {
      const inner = transientFactory.create(machine);
      const p = patch(inner, machine) as Record<string | symbol, unknown>;
      return new Proxy(inner, {
        get(target, key) {
          if (key in p) return p[key];
          const v = (target as unknown as Record<string | symbol, unknown>)[key];
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
  };
}

/** Every third malloc returns a block that is still live (tracked through the wrapper's frees). */
function overlapping(): AllocatorFactory {
  return variant('overlapping', (inner) => {
    let calls = 0;
    const live: number[] = [];
    return {
      malloc: (core, size) => {
        if (++calls % 3 === 0 && live.length > 0) return live[live.length - 1];
        const a = inner.malloc(core, size);
        live.push(a);
        return a;
      },
      free: (core, addr) => {
        const i = live.indexOf(addr);
        if (i >= 0) live.splice(i, 1);
        inner.free(core, addr);
      },
    };
  });
}

const FAST = { numRuns: 8, maxOps: 40 } as const;

/** Run the checks whose name contains `filter`; return the failure messages. */
function failures(factory: AllocatorFactory, filter: string): string[] {
  const checks = contractChecks(factory, FAST).filter((c) => c.name.includes(filter));
  expect(checks.length).toBeGreaterThan(0);
  const out: string[] = [];
  for (const c of checks) {
    try {
      c.run();
    } catch (e) {
      out.push((e as Error).message);
    }
  }
  return out;
}

describe('contract suite: bites on broken allocators', () => {
  it('catches misaligned blocks', () => {
    const f = variant('misaligned', (inner) => ({
      malloc: (core, size) => {
        const a = inner.malloc(core, size + 16);
        return size % 16 === 3 ? a + 8 : a;
      },
    }));
    expect(failures(f, 'alignment').join('\n')).toMatch(/not 16-byte aligned/);
  });

  it('catches overlapping live blocks (in the model-based check, with a counterexample)', () => {
    const f = overlapping();
    const msgs = failures(f, 'model-based');
    expect(msgs.length).toBe(2);
    for (const m of msgs) expect(m).toMatch(/overlapping live block|clobbered/);
    expect(msgs[0]).toMatch(/operations: \[\{"t":/);
  });

  it('catches a free that silently accepts double frees', () => {
    const f = variant('lax-free', (inner) => ({
      free: (core, addr) => {
        try {
          inner.free(core, addr);
        } catch (e) {
          if (!(e instanceof AllocatorMisuseError)) throw e;
        }
      },
    }));
    expect(failures(f, 'double free').join('\n')).toMatch(/double free of a 64 B block .*no error was raised/);
  });

  it('catches a heap walk that forgets a live block', () => {
    const f = variant('forgetful-walk', (inner) => ({
      walkHeap: (reader) => {
        const w = inner.walkHeap(reader);
        return { allocated: w.allocated.slice(1), free: w.free };
      },
    }));
    expect(failures(f, 'sizes from 1 B').join('\n')).toMatch(/not inside any allocated extent/);
  });

  it('catches a heap walk that reports a live block as free', () => {
    const f = variant('free-walk', (inner) => ({
      walkHeap: (reader) => {
        const w = inner.walkHeap(reader);
        return { allocated: w.allocated, free: [...w.free, ...w.allocated.slice(0, 1)] };
      },
    }));
    expect(failures(f, 'sizes from 1 B').join('\n')).toMatch(/free extent .* overlapping live block/);
  });

  it('catches mallocTo that publishes before init, or not at all, and freeFrom that leaves the pointer', () => {
    const early = variant('publish-early', (inner) => ({
      mallocTo: (core, size, dest, init) => {
        const a = inner.malloc(core, size);
        core.store64(dest, a);
        init?.(core, a);
        return a;
      },
    }));
    expect(failures(early, 'mallocTo calls init').join('\n')).toMatch(/already published when init ran/);
    const lazy = variant('no-clear', (inner) => ({
      freeFrom: (core, dest) => inner.free(core, core.load64(dest)),
    }));
    expect(failures(lazy, 'mallocTo calls init').join('\n')).toMatch(/destination still holds/);
  });

  it('catches an allocator that throws instead of returning 0 when out of memory', () => {
    const f = variant('oom-throws', (inner) => ({
      malloc: (core, size) => {
        const a = inner.malloc(core, size);
        if (a === 0) throw new Error('heap exhausted');
        return a;
      },
    }));
    expect(failures(f, 'out of memory').join('\n')).toMatch(/heap exhausted/);
  });

  it('catches a "persistent" allocator that loses its heap at a clean restart', () => {
    const f = variant('lossy', () => ({}), { volatile: false });
    expect(failures(f, 'clean close then open').join('\n')).toMatch(/reported kind 'recovered', expected 'clean'/);
  });

  it('catches an inconsistent metadata report', () => {
    const f = variant('inconsistent', () => ({ checkConsistency: () => ({ ok: false, errors: ['bin 3 is corrupt'] }) }));
    expect(failures(f, 'free(0)').join('\n')).toMatch(/checkConsistency failed: bin 3 is corrupt/);
  });

  it('catches bad root handling', () => {
    const f = variant('few-roots', (inner) => ({ rootCount: 100 }));
    expect(failures(f, 'root slot').join('\n')).toMatch(/rootCount is 100/);
  });
});

describe('contract suite: API', () => {
  it('runContractSuite reports ok for the reference and messages for failures', () => {
    const ok = runContractSuite(transientFactory, { cores: [2], numRuns: 3, maxOps: 20 });
    expect(ok.length).toBe(10);
    expect(ok.filter((r) => !r.ok)).toEqual([]);
    const bad = runContractSuite(variant('lossy', () => ({}), { volatile: false }), { cores: [1], numRuns: 2, maxOps: 10 });
    const failed = bad.filter((r) => !r.ok);
    expect(failed.map((r) => r.name)).toEqual(['lossy: clean close then open on a new machine keeps every live block, its contents and every root, twice (1 core)']);
    expect(failed[0].message).toMatch(/^Error: first restart/);
  });

  it('is deterministic: the same seed finds the same counterexample', () => {
    const f = overlapping();
    const run = () => runContractSuite(f, { cores: [1], numRuns: 10, seed: 7 }).find((r) => r.name.includes('model-based'))?.message;
    const first = run();
    expect(first).toMatch(/overlapping live block .*\n  in run \d+ of 10 \(seed 7/);
    expect(run()).toBe(first);
  });

  it('rejects bad options naming the field', () => {
    expect(() => contractChecks(transientFactory, { cores: [0] })).toThrow(ContractSuiteOptionError);
    expect(() => contractChecks(transientFactory, { heapSizeBytes: 20_000_000 })).toThrow(/heapSizeBytes: expected a multiple of 4096, found 20000000/);
    expect(() => contractChecks(transientFactory, { numRuns: 0 })).toThrow(/numRuns/);
    expect(() => contractChecks(transientFactory, { heapSizeBytes: 8 << 20 })).toThrow(/heapSizeBytes: expected an integer >= 16777216/);
  });
});

describe('contract suite: report summary (for the CLI)', () => {
  it('carries ok, failures and text beside the per-check results', () => {
    const bad = runContractSuite(variant('lossy', () => ({}), { volatile: false }), { cores: [1], numRuns: 2, maxOps: 10 });
    expect(bad.ok).toBe(false);
    expect(bad.failures).toHaveLength(1);
    expect(bad.failures[0]).toMatch(/^lossy: clean close then open .*: Error: first restart/);
    expect(bad.text.split('\n')).toHaveLength(bad.length);
    expect(bad.text).toMatch(/^ok {3}lossy: 16-byte alignment/);
  });
});
