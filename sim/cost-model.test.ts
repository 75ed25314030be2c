/** Cost model: presets are complete and integer, overrides are checked, every field is documented. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COST_FIELDS, PRESETS, PRESET_NAMES, makeCostModel } from './cost-model.ts';

describe('cost model', () => {
  it('every preset has every field as a non-negative integer', () => {
    for (const name of PRESET_NAMES) {
      const p = PRESETS[name] as unknown as Record<string, unknown>;
      for (const f of COST_FIELDS) expect(Number.isSafeInteger(p[f]) && (p[f] as number) >= 0, `${name}.${f}`).toBe(true);
    }
  });

  it('every field has a doc line naming a unit or kind and a source in parentheses', () => {
    const src = readFileSync(new URL('./cost-model.ts', import.meta.url), 'utf8');
    for (const f of COST_FIELDS) {
      const m = new RegExp(`/\\*\\*([^*]*)\\*/\\s*readonly ${f}:`).exec(src);
      expect(m, `doc of ${f}`).not.toBeNull();
      expect(m![1], `source of ${f}`).toMatch(/\(.+\)/);
    }
  });

  it('overrides apply field by field and reject unknown fields and non-integers', () => {
    expect(makeCostModel('dram', { l1HitCycles: 5 }).l1HitCycles).toBe(5);
    expect(makeCostModel('eadr').eadr).toBe(1);
    expect(() => makeCostModel('optane-adr', { nope: 1 } as never)).toThrow(/unknown cost-model field "nope"/);
    expect(() => makeCostModel('optane-adr', { l1HitCycles: 1.5 })).toThrow(/l1HitCycles/);
  });
});
