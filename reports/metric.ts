/**
 * Metric metadata: what reports/ needs to know about a column.
 *
 * Model: a metric is data (name, unit, description, decimals). The name is the CSV
 * column; "description (unit)" is the chart axis title and the table header tooltip.
 */
export interface MetricMeta {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** Short axis label (the unit is appended); defaults to the description. */
  readonly label?: string;
  /** Fixed decimals in CSV and tables. */
  readonly decimals: number;
  /** Smaller is better (for headline ratios and highlighting). */
  readonly lowerIsBetter?: boolean;
}

export function axisTitle(m: MetricMeta): string {
  return `${m.label ?? m.description} (${m.unit})`;
}
