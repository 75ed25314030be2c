/**
 * Files written a chunk at a time: the same bytes as the one-string CSV, atomic (an
 * error mid-stream leaves the previous file and no temporary file).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { csvHeader, csvLines, toCsv } from '../reports/csv.ts';
import { writeAtomicChunks } from './output.ts';

const dir = mkdtempSync(join(tmpdir(), 'nvlab-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeAtomicChunks', () => {
  it('header + csvLines per chunk gives the bytes of toCsv (any cells, any chunking)', () => {
    const cell = fc.oneof(fc.string(), fc.integer(), fc.constant(null));
    fc.assert(
      fc.property(fc.array(fc.record({ a: cell, b: cell }), { maxLength: 20 }), fc.integer({ min: 1, max: 5 }), (rows, size) => {
        const chunks = [csvHeader(['a', 'b'])];
        for (let i = 0; i < rows.length; i += size) chunks.push(csvLines(['a', 'b'], rows.slice(i, i + size)));
        const file = join(dir, 'x.csv');
        writeAtomicChunks(file, chunks);
        expect(readFileSync(file, 'utf8')).toBe(toCsv(['a', 'b'], rows));
      }),
      { numRuns: 50 },
    );
  });

  it('an error while streaming keeps the previous file and leaves no temporary file', () => {
    const file = join(dir, 'kept.csv');
    writeFileSync(file, 'old\n');
    function* failing(): Generator<string> {
      yield 'new\n';
      throw new Error('disk on fire');
    }
    expect(() => writeAtomicChunks(file, failing())).toThrow(/disk on fire/);
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
