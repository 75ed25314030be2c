/**
 * The crash checker end to end on small runs: correct allocators give no invalid
 * state, broken canaries are caught with a minimized counterexample naming the missing
 * flush or fence, the transient allocator loses data, shards merge byte-identically,
 * ids replay the same image, and machine reuse equals fresh machines.
 */
import { describe, expect, it } from 'vitest';
import { checkCrashStates, mergeCrashResults, planCrashJob, replayState, type CrashJob, type CrashStateMode, type PersistencyMode } from './api.ts';
import { base64url, decodeStateId, encodeStateId } from './ids.ts';
import fc from 'fast-check';
import { machineReuse } from './check.ts';
import { checkMemo } from './memo.ts';
import { sharedChecking } from './share.ts';
import { synthAllocators } from './testing/synth-alloc.ts';
import { synthList } from './testing/synth-list.ts';
import { findAllocator } from '../../allocators/registry.ts';
import { withSwitchOff } from './testing/switch-off.ts';

const synth = (name: string) => synthAllocators.find((a) => a.name === name)!;

function job(allocator: string, mode: CrashStateMode, extra: Partial<CrashJob> = {}): CrashJob {
  return {
    allocator, workload: 'synth-list', params: { ops: 10, removePercent: 25 }, idiom: 'malloc-then-link', threads: 1, seed: 7,
    nvramSizeBytes: 1 << 20, dramSizeBytes: 1 << 20, persistency: 'line', mode, maxStatesPerPoint: 64, ...extra,
  };
}

describe('synthetic allocator: checker soundness and bite', () => {
  for (const persistency of ['line', 'word', 'eadr'] as PersistencyMode[]) {
    for (const mode of ['lower', 'upper', 'k-subsets', 'prefixes', 'exhaustive', 'read-driven'] as CrashStateMode[]) {
      it(`correct synth: no invalid state (${persistency}, ${mode})`, () => {
        const res = checkCrashStates(job('synth', mode, { persistency, exhaustiveLimit: 16 }), { index: 0, count: 1 }, { allocator: synth('synth'), workload: synthList });
        expect(res.rows.length).toBe(res.plan.states);
        expect(res.rows.length).toBeGreaterThan(0);
        expect(res.rows.filter((r) => r.verdict !== 'valid')).toEqual([]);
      });
    }
  }

  it('missing fence canary: caught in k-subsets, counterexample names the clwb without fence', () => {
    const res = checkCrashStates(job('synth-nofence', 'k-subsets'), { index: 0, count: 1 }, { allocator: synth('synth-nofence'), workload: synthList });
    const bad = res.rows.filter((r) => r.verdict === 'invalid');
    expect(bad.length).toBeGreaterThan(0);
    const cex = res.counterexamples[0];
    expect(cex.stores.some((s) => s.role === 'persisted-early' && s.site === 'synth:advance-bump')).toBe(true);
    const culprit = cex.stores.find((s) => s.role === 'not-persisted')!;
    expect(culprit.site).toBe('synth:write-header');
    expect(culprit.missing).toMatch(/clwb at #\d+ .* but no fence of core 0 ordered it before the store at 0x40000008/);
    expect(cex.explanation.join('\n')).toMatch(/op t0#\d+ insert/);
  });

  it('missing flush canary: caught even in lower mode, counterexample names the unflushed header store', () => {
    const res = checkCrashStates(job('synth-noflush', 'lower'), { index: 0, count: 1 }, { allocator: synth('synth-noflush'), workload: synthList });
    expect(res.rows.some((r) => r.verdict === 'invalid' && r.anomaly === 'inconsistent-heap')).toBe(true);
    const s = res.counterexamples[0].stores.find((x) => x.role === 'not-persisted')!;
    expect(s.site).toBe('synth:write-header');
    expect(s.missing).toMatch(/^not flushed \(no clwb\/clflushopt\/clflush of line 0x[0-9a-f]+ after it\) before the fence at #\d+/);
  });

  it('shards: 1 worker and 2 workers give byte-identical merged results', () => {
    const j = job('synth-nofence', 'k-subsets');
    const r = { allocator: synth('synth-nofence'), workload: synthList };
    const one = mergeCrashResults([checkCrashStates(j, { index: 0, count: 1 }, r)]);
    const two = mergeCrashResults([checkCrashStates(j, { index: 1, count: 2 }, r), checkCrashStates(j, { index: 0, count: 2 }, r)], r);
    expect(two.counterexamples.length).toBeGreaterThan(0);
    expect(JSON.stringify(two)).toBe(JSON.stringify(one));
    expect(one.rows.some((x) => x.verdict === 'invalid')).toBe(true);
  });

  it('replay: an id rebuilds the identical image and verdict', () => {
    const j = job('synth-nofence', 'k-subsets');
    const r = { allocator: synth('synth-nofence'), workload: synthList };
    const res = checkCrashStates(j, { index: 0, count: 1 }, r);
    const bad = res.rows.find((x) => x.verdict === 'invalid')!;
    const rep = replayState(bad.stateId, r);
    expect(rep.row.verdict).toBe('invalid');
    expect(rep.row.anomaly).toBe(bad.anomaly);
    expect(rep.row.recoveryCycles).toBe(bad.recoveryCycles);
    expect(rep.text).toMatch(/verdict: invalid/);
    expect(replayState(bad.stateId, r).imageHash).toBe(rep.imageHash);
    const min = replayState(res.counterexamples[0].minimizedId, r);
    expect(min.row.verdict).toBe('invalid');
    const good = res.rows.find((x) => x.verdict === 'valid')!;
    expect(replayState(good.stateId, r).row.verdict).toBe('valid');
  });

  it('ids round-trip and reject garbage with a typed error', () => {
    const j = job('synth', 'lower');
    const id = encodeStateId({ job: j, pos: 1234, devs: [[3, 1], [70, 4]], nested: { pos: 9, devs: [[1, 1]] } });
    const back = decodeStateId(id);
    expect(back.pos).toBe(1234);
    expect(back.devs).toEqual([[3, 1], [70, 4]]);
    expect(back.nested).toEqual({ pos: 9, devs: [[1, 1]] });
    expect(back.job).toEqual(j);
    expect(() => decodeStateId('xx')).toThrow(/nv1/);
    expect(() => decodeStateId(`${id.slice(0, id.lastIndexOf('.'))}.gA`)).toThrow(/truncated/);
  });

  it('base64url of id bytes equals Buffer\'s encoding', () => {
    fc.assert(fc.property(fc.array(fc.nat(255), { maxLength: 40 }), (bytes) => {
      expect(base64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    }));
  });

  it('machine reuse gives the same rows as fresh machines', () => {
    const j = job('synth-nofence', 'k-subsets', { nestedPoints: 1 });
    const r = { allocator: synth('synth-nofence'), workload: synthList };
    const reused = checkCrashStates(j, { index: 0, count: 1 }, r);
    const fresh = withSwitchOff(machineReuse, () => checkCrashStates(j, { index: 0, count: 1 }, r));
    expect(JSON.stringify(fresh.rows)).toBe(JSON.stringify(reused.rows));
  });

  it('machines shared by the jobs of one configuration (different allocators, nested points on and off) give the same rows as fresh machines', () => {
    const MB = 1 << 20;
    const jobs: CrashJob[] = (['pmdk', 'makalu-broken-skiplog', 'ralloc', 'nvm-malloc'] as const).map((allocator, i) => ({
      allocator, workload: 'list', params: { opsPerThread: 8 }, idiom: 'malloc-then-link', threads: 1, seed: 4,
      nvramSizeBytes: MB, dramSizeBytes: 4 * MB, persistency: 'line', mode: 'k-subsets', nestedPoints: i % 2, minimize: false,
    }));
    const shared = jobs.map((j) => JSON.stringify(checkCrashStates(j).rows));
    withSwitchOff(machineReuse, () => jobs.forEach((j, i) => expect(JSON.stringify(checkCrashStates(j).rows)).toBe(shared[i])));
  });

  for (const nestedPoints of [1, 2]) {
    it(`memoized checks (by recovered-memory and nested-image content) give the same rows as checking every state afresh (nestedPoints ${nestedPoints})`, () => {
      const j: CrashJob = {
        allocator: 'makalu-broken-skiplog', workload: 'list', params: { opsPerThread: 10 }, idiom: 'malloc-then-link', threads: 1, seed: 3,
        nvramSizeBytes: 1 << 20, dramSizeBytes: 4 << 20, persistency: 'line', mode: 'k-subsets', nestedPoints, minimize: false,
      };
      // The memos serve the one-state-at-a-time path (the reference, minimization, replay).
      const { nestedHits, recoveredHits } = checkMemo;
      const memoized = withSwitchOff(sharedChecking, () => checkCrashStates(j));
      expect(checkMemo.nestedHits).toBeGreaterThan(nestedHits);
      expect(checkMemo.recoveredHits).toBeGreaterThan(recoveredHits);
      expect(memoized.rows.some((r) => r.anomaly === 'nested-recovery')).toBe(true);
      expect(memoized.rows.some((r) => r.anomaly === 'inconsistent-heap')).toBe(true);
      withSwitchOff(checkMemo, () => {
        const every = checkCrashStates(j);
        expect(JSON.stringify(every.rows)).toBe(JSON.stringify(memoized.rows));
        withSwitchOff(sharedChecking, () => expect(JSON.stringify(checkCrashStates(j).rows)).toBe(JSON.stringify(memoized.rows)));
      });
    });
  }

  it('bad jobs raise typed errors naming the field', () => {
    expect(() => planCrashJob({ ...job('synth', 'lower'), mode: 'sideways' as never }, { allocator: synth('synth'), workload: synthList })).toThrow(/field "mode"/);
    expect(() => planCrashJob(job('nope', 'lower'), { workload: synthList })).toThrow(/field "allocator"/);
  });
});

describe('registered allocators on the synthetic list (small runs)', () => {
  it('transient allocator is reported as losing data', () => {
    const t = findAllocator('transient');
    if (t === undefined) return;
    const res = checkCrashStates(job('transient', 'lower'), { index: 0, count: 1 }, { workload: synthList });
    expect(res.rows.some((r) => r.verdict === 'invalid' && r.anomaly === 'durability')).toBe(true);
  });
});
