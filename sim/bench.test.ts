/** benchMachine runs end to end on a small stream and reports the contract's fields. */
import { describe, expect, it } from 'vitest';
import { benchMachine, makeStream } from './bench.ts';
import { NVRAM_BASE } from './machine.ts';

describe('benchMachine', () => {
  it('reports accesses/s for 1 and 4 cores and 12 trace bytes per store unit (values below 2^32)', () => {
    const r = benchMachine({ accesses: 20_000, repeats: 1 });
    expect(r.accessesPerSec).toBeGreaterThan(0);
    expect(r.accessesPerSec4Cores).toBeGreaterThan(0);
    expect(r.traceBytesPerStoreUnit).toBe(12);
    expect(r.l1HitRate).toBeGreaterThan(0.5);
    expect(r.coherenceTransfers4Cores).toBeGreaterThan(0);
    for (const ns of Object.values(r.hostDependentReadNs)) expect(ns).toBeGreaterThan(0);
  });

  it('makes a deterministic stream of 8-byte aligned accesses with about 40 % stores', () => {
    const a = makeStream(10_000, 7, NVRAM_BASE);
    const b = makeStream(10_000, 7, NVRAM_BASE);
    expect(a.addrs).toEqual(b.addrs);
    expect(a.addrs.every((x) => x % 8 === 0)).toBe(true);
    const stores = a.stores.reduce((s, x) => s + x, 0);
    expect(stores).toBeGreaterThan(3500);
    expect(stores).toBeLessThan(4500);
  });
});
