/**
 * Rows -> CSV text (csv-stringify), with a fixed column order and header.
 *
 * Model: cells are already strings or integers (ratios were formatted with fixed
 * decimals by the caller), so the text is byte-identical run to run. null/undefined
 * become empty cells. Line endings are "\n".
 */
import { stringify } from 'csv-stringify/sync';

export type Cell = string | number | null | undefined;

export function toCsv(columns: readonly string[], rows: readonly Readonly<Record<string, Cell>>[]): string {
  const records = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c]))));
  return stringify([columns as string[], ...records], { record_delimiter: '\n' });
}
