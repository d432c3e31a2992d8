/**
 * Prometheus text exposition (format 0.0.4) for every process that has `/metrics`: each value
 * with its `# HELP` and `# TYPE` lines, in the order of its description table.
 */

export type MetricKind = 'gauge' | 'counter';

/** Per value: the metric's name, kind and help text. */
export type MetricTable<K extends string> = Record<K, readonly [name: string, kind: MetricKind, help: string]>;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4';

export function renderPrometheus<K extends string>(table: MetricTable<K>, values: Record<K, number>): string {
  const lines: string[] = [];
  for (const key of Object.keys(table) as K[]) {
    const [name, kind, help] = table[key];
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`, `${name} ${values[key]}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A table of counters only: name and help per value. */
export function counterTable<K extends string>(rows: Record<K, readonly [name: string, help: string]>): MetricTable<K> {
  const table = {} as Record<K, readonly [string, MetricKind, string]>;
  for (const key of Object.keys(rows) as K[]) table[key] = [rows[key][0], 'counter', rows[key][1]];
  return table;
}
