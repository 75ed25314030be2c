/**
 * Rows -> CSV text (csv-stringify), with a fixed column order and header.
 *
 * Model: cells are already strings or integers (ratios were formatted with fixed
 * decimals by the caller), so the text is byte-identical run to run. null/undefined
 * become empty cells. Line endings are "\n". A file may be produced a chunk of rows at a
 * time (csvHeader, then csvLines per chunk): the bytes are those of toCsv on all rows.
 */
import { stringify } from 'csv-stringify/sync';

export type Cell = string | number | null | undefined;

export function toCsv(columns: readonly string[], rows: readonly Readonly<Record<string, Cell>>[]): string {
  return csvHeader(columns) + csvLines(columns, rows);
}

/** The header line alone. toCsv(c, rows) === csvHeader(c) + csvLines(c, rows), and csvLines of a concatenation is the concatenation of csvLines: files can be written a chunk at a time. */
export function csvHeader(columns: readonly string[]): string {
  return stringify([columns as string[]], { record_delimiter: '\n' });
}

export function csvLines(columns: readonly string[], rows: readonly Readonly<Record<string, Cell>>[]): string {
  if (rows.length === 0) return '';
  const records = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c]))));
  return stringify(records, { record_delimiter: '\n' });
}
