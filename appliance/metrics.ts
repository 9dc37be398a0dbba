// A small Prometheus registry (text exposition format 0.0.4): counters and histograms with labels,
// gauges computed at scrape time. The appliance's metrics listener serves `render()`.

type Labels = Record<string, string>;

function renderLabels(l: Labels): string {
  const keys = Object.keys(l).sort();
  return keys
    .map((k) => `${k}="${String(l[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");
}

/**
 * Rendered label sets by their raw members (label sets are few: route × status, problem type…), so
 * a hot-path inc()/observe() costs one string join and a map lookup instead of sort and escaping.
 */
const rendered = new Map<string, string>();
const MAX_RENDERED = 10_000;

function labelKey(l: Labels): string {
  let raw = "";
  for (const k in l) {
    const v = String(l[k]);
    raw += `${k.length}:${k}${v.length}:${v}`; // length-prefixed: unambiguous whatever the values hold
  }
  let k = rendered.get(raw);
  if (k === undefined) {
    k = renderLabels(l);
    if (rendered.size >= MAX_RENDERED) rendered.clear();
    rendered.set(raw, k);
  }
  return k;
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const pre = k ? `${k},` : "";
      for (const [i, b] of this.buckets.entries()) lines.push(`${this.name}_bucket{${pre}le="${b}"} ${s.counts[i]}`);
      lines.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** A gauge, or a counter kept elsewhere: values read at scrape time. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => Array<{ labels?: Labels; value: number }>,
    private readonly type: "gauge" | "counter" = "gauge",
  ) {}
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.read()) {
      const k = labelKey(labels ?? {});
      lines.push(`${this.name}${k ? `{${k}}` : ""} ${value}`);
    }
    return lines.join("\n");
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.metrics.push(c);
    return c;
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const h = new Histogram(name, help, buckets);
    this.metrics.push(h);
    return h;
  }
  gauge(name: string, help: string, read: () => Array<{ labels?: Labels; value: number }>): Gauge {
    const g = new Gauge(name, help, read);
    this.metrics.push(g);
    return g;
  }
  /** A counter another component keeps (monotonic), read at scrape time. */
  counterFrom(name: string, help: string, read: () => Array<{ labels?: Labels; value: number }>): Gauge {
    const g = new Gauge(name, help, read, "counter");
    this.metrics.push(g);
    return g;
  }
  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}
