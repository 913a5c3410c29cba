// Prometheus text exposition (version 0.0.4), written by hand: a family is a name, a type, a help line
// and samples with labels. Label values are escaped as the format requires (backslash, quote, newline).

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Appended to the family name: `_bucket`, `_sum`, `_count` for histograms; empty otherwise. */
  suffix?: string;
  labels?: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export function renderMetrics(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const text = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      out.push(`${f.name}${s.suffix ?? ''}${text} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A histogram of durations in seconds with fixed buckets. */
export function createHistogram(buckets: number[]) {
  const counts = buckets.map(() => 0);
  let sum = 0;
  let count = 0;
  return {
    observe(v: number) {
      for (let i = 0; i < buckets.length; i++) if (v <= buckets[i]) counts[i]++;
      sum += v;
      count++;
    },
    samples(labels: Record<string, string> = {}): Sample[] {
      return [
        ...buckets.map((le, i) => ({ suffix: '_bucket', labels: { ...labels, le: String(le) }, value: counts[i] })),
        { suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: count },
        { suffix: '_sum', labels, value: sum },
        { suffix: '_count', labels, value: count },
      ];
    },
  };
}
