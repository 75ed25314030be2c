/**
 * A spec naming a host preset file (`"preset": "<path>.json"`, relative to the spec, top
 * level or in platforms[i]): the file's overrides apply over its base preset, the spec's
 * `cost` on top; a missing file, bad JSON, an unknown field or an unknown cost-model field
 * is a spec error naming the field and the file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../sim/cost-model.ts';
import { SpecError } from '../errors.ts';
import { planCrashJobs } from '../plan.ts';
import { resolveSpec } from '../spec/resolve.ts';
import { HOST_PRESET_FORMAT } from './preset.ts';

const base = { name: 'p', seeds: [1], allocators: ['transient'], workloads: [{ name: 'threadtest', params: { scale: 1000 } }] };
const goodFile = { format: HOST_PRESET_FORMAT, name: 'host', preset: 'dram', cost: { clockMHz: 3442, mfenceCycles: 79, clwbRetainsLine: 1 }, sources: { clockMHz: 'persist.core_mhz', mfenceCycles: 'persist.mfence_ns', clwbRetainsLine: 'persist.chase_*' }, omitted: {}, derived: {}, calibration: 'calibration.json' };

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvlab-preset-file-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function issuesOf(spec: unknown, dir: string): Promise<string[]> {
  try {
    await resolveSpec(spec, dir);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((i) => `${i.path}: ${i.expected} | ${i.found}`);
    throw e;
  }
  return [];
}

describe('a spec naming a preset file', () => {
  it('in platforms: the file overrides its base preset, the platform cost overrides the file', async () => {
    const dir = dirWith({ 'host-preset.json': JSON.stringify(goodFile) });
    const spec = await resolveSpec({ ...base, platforms: [{ name: 'host', preset: 'host-preset.json', cost: { mfenceCycles: 50 } }, { name: 'dram', preset: 'dram' }] }, dir);
    const host = spec.platforms[0].cost;
    expect(host.preset).toBe('dram');
    expect(host.clockMHz).toBe(3442);
    expect(host.clwbRetainsLine).toBe(1);
    expect(host.mfenceCycles).toBe(50);
    expect(host.casCycles).toBe(PRESETS.dram.casCycles);
    expect(spec.platforms[1].cost).toEqual(PRESETS.dram);
  });

  it('the spec hash covers the preset file: editing the file changes it (so --resume refuses mixed results)', async () => {
    const dir = dirWith({ 'h.json': JSON.stringify(goodFile) });
    const spec = { ...base, platforms: [{ name: 'host', preset: 'h.json' }] };
    const before = (await resolveSpec(spec, dir)).hash;
    expect((await resolveSpec(spec, dir)).hash).toBe(before);
    writeFileSync(join(dir, 'h.json'), JSON.stringify({ ...goodFile, cost: { ...goodFile.cost, mfenceCycles: 80 } }));
    expect((await resolveSpec(spec, dir)).hash).not.toBe(before);
  });

  it('at the top level: the platform takes the file\'s name; crash jobs carry the effective overrides', async () => {
    const dir = dirWith({ 'h.json': JSON.stringify(goodFile) });
    const spec = await resolveSpec({ ...base, preset: './h.json', workloads: [{ name: 'list', params: { opsPerThread: 10 } }], crash: { modes: ['lower'] } }, dir);
    expect(spec.platforms.map((p) => p.name)).toEqual(['host']);
    const jobs = planCrashJobs(spec);
    expect(jobs.length).toBeGreaterThan(0);
    expect(jobs[0].job.preset).toBe('dram');
    expect(jobs[0].job.costOverrides).toEqual(goodFile.cost);
  });

  it('a missing file, bad JSON, an unknown field, an unknown cost field or a field without a source: one issue naming the preset path and the file', async () => {
    const dir = dirWith({
      'bad.json': '{ "format": ',
      'extra.json': JSON.stringify({ ...goodFile, colour: 'red' }),
      'unknown-cost.json': JSON.stringify({ ...goodFile, cost: { ...goodFile.cost, mutexFooCycles: 3 }, sources: { ...goodFile.sources, mutexFooCycles: 'x' } }),
      'unsourced.json': JSON.stringify({ ...goodFile, sources: { clockMHz: 'x', mfenceCycles: 'y' } }),
    });
    const one = async (file: string) => issuesOf({ ...base, platforms: [{ name: 'host', preset: file }] }, dir);
    expect(await one('missing.json')).toEqual([expect.stringMatching(/^platforms\[0\]\.preset: .*cannot read preset file .*missing\.json \(ENOENT\); run "nvlab calibrate"/)]);
    expect(await one('bad.json')).toEqual([expect.stringMatching(/^platforms\[0\]\.preset: .*bad\.json is not valid JSON/)]);
    expect(await one('extra.json')).toEqual([expect.stringMatching(/extra\.json: colour: no such field/)]);
    expect(await one('unknown-cost.json')).toEqual([expect.stringMatching(/unknown-cost\.json: cost\.mutexFooCycles: not a cost-model field/)]);
    expect(await one('unsourced.json')).toEqual([expect.stringMatching(/unsourced\.json: sources\.clwbRetainsLine: every cost field needs a source/)]);
  });

  it('a preset that is neither a known name nor a .json path lists the names and the file form', async () => {
    const issues = await issuesOf({ ...base, preset: 'hots' }, dirWith({}));
    expect(issues).toEqual([expect.stringMatching(/^preset: a preset name \(one of: optane-adr, dram, eadr, cxl\) or the path of a preset file ending in \.json/)]);
  });
});
