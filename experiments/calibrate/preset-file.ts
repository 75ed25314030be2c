/**
 * Reading a preset file (host-preset.json written by `nvlab calibrate`) named by a spec's
 * `preset` (top level or in `platforms[i]`), as a path relative to the spec ending in .json.
 *
 * Model: the file is `{ format, name, preset, cost, sources, omitted?, derived?, calibration? }`;
 * `cost` overrides the built-in `preset` it names, and every cost field needs a source line.
 * The spec's own `cost` overrides apply on top of the file's.
 *
 * Invariants: every problem is returned as one message naming the file and the field
 * (missing file, bad JSON, wrong shape, unknown cost-model field); nothing is thrown.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { COST_FIELDS, PRESET_NAMES, type PresetName } from '../../sim/cost-model.ts';
import { formatPath } from '../errors.ts';
import { HOST_PRESET_FORMAT } from './preset.ts';

/** A spec's `preset` value that names a file rather than a built-in preset. */
export const PRESET_FILE_PATTERN = /\.json$/;

const PresetFileSchema = z.strictObject({
  format: z.literal(HOST_PRESET_FORMAT),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/),
  preset: z.enum(PRESET_NAMES as unknown as [string, ...string[]]),
  cost: z.record(z.string(), z.number().int().min(0)),
  sources: z.record(z.string(), z.string()),
  omitted: z.record(z.string(), z.string()).optional(),
  derived: z.record(z.string(), z.number()).optional(),
  calibration: z.string().optional(),
});

export interface PresetFile {
  readonly name: string;
  readonly preset: PresetName;
  readonly cost: Readonly<Record<string, number>>;
}

/** The preset file at `file` (absolute), or the reason it cannot be used. */
export function readPresetFile(file: string): { ok: true; value: PresetFile } | { ok: false; error: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, error: `cannot read preset file ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); run "nvlab calibrate" to write one` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `preset file ${file} is not valid JSON (${(e as Error).message})` };
  }
  const parsed = PresetFileSchema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const where = i.code === 'unrecognized_keys' ? formatPath([...i.path, i.keys[0]]) : formatPath(i.path);
    return { ok: false, error: `preset file ${file}: ${where}: ${i.code === 'unrecognized_keys' ? 'no such field' : i.message}` };
  }
  const p = parsed.data;
  const unknown = Object.keys(p.cost).filter((k) => !COST_FIELDS.includes(k));
  if (unknown.length > 0) return { ok: false, error: `preset file ${file}: cost.${unknown[0]}: not a cost-model field of this nvlab (unknown: ${unknown.join(', ')})` };
  const unsourced = Object.keys(p.cost).filter((k) => !p.sources[k]);
  if (unsourced.length > 0) return { ok: false, error: `preset file ${file}: sources.${unsourced[0]}: every cost field needs a source line` };
  return { ok: true, value: { name: p.name, preset: p.preset as PresetName, cost: p.cost } };
}
