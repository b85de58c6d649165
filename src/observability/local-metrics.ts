import type { Registry } from 'prom-client';

/**
 * Counters, gauges and histograms for the request path. prom-client hashes the label object on
 * every `inc()`/`observe()`, even on a child made once; these keep plain numbers per
 * label set (a child is looked up once and kept by the caller) and hand prom-client's
 * registry the values only when /metrics is scraped. Same names, types and text format.
 */

interface MetricValue {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((name, i) => (labels[name] = values[i]!));
  return labels;
}

export class CounterChild {
  value = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(by = 1): void {
    this.value += by;
  }
}

/** A metric registered in prom-client's registry, with one child per label set. */
abstract class LocalMetric<Child> {
  abstract readonly type: string;
  readonly aggregator = 'sum';
  protected readonly children = new Map<string, Child>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract make(labels: Record<string, string>): Child;

  /** The child for these label values; keep it, do not call this per request. */
  child(...values: string[]): Child {
    const key = values.join('\0');
    let child = this.children.get(key);
    if (!child) this.children.set(key, (child = this.make(labelObject(this.labelNames, values))));
    return child;
  }

  reset(): void {
    this.children.clear();
  }
}

/** A metric whose children each hold one number (a counter's, a gauge's), reported as it is. */
abstract class LocalValueMetric<Child extends { readonly labels: Record<string, string>; value: number }> extends LocalMetric<Child> {
  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values = [...this.children.values()].map((c) => ({ labels: c.labels, value: c.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class LocalCounter extends LocalValueMetric<CounterChild> {
  readonly type = 'counter';

  protected make(labels: Record<string, string>): CounterChild {
    return new CounterChild(labels);
  }
}

export class GaugeChild {
  value = 0;
  constructor(readonly labels: Record<string, string>) {}
  set(value: number): void {
    this.value = value;
  }
}

/** A gauge set on the request path (prom-client's hashes and sorts the labels and makes an object on every `set`). */
export class LocalGauge extends LocalValueMetric<GaugeChild> {
  readonly type = 'gauge';

  protected make(labels: Record<string, string>): GaugeChild {
    return new GaugeChild(labels);
  }
}

export class HistogramChild {
  /** counts[i]: observations in bucket i alone (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class LocalHistogram extends LocalMetric<HistogramChild> {
  readonly type = 'histogram';

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], private readonly buckets: readonly number[]) {
    super(registry, name, help, labelNames);
  }

  protected make(labels: Record<string, string>): HistogramChild {
    return new HistogramChild(labels, this.buckets);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const c of this.children.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += c.counts[i]!;
        values.push({ labels: { ...c.labels, le: String(le) }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...c.labels, le: '+Inf' }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
