// Counters and histograms for the hot path. prom-client builds a string key on every
// labelled inc()/observe(); these count into typed arrays indexed by small integers the
// caller computed once, and only build label objects when Prometheus scrapes.
import type { Registry } from 'prom-client';

type LabelSet = Readonly<Record<string, string>>;

interface MetricValue { value: number; labels: LabelSet; metricName?: string }

interface Collectable {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
}

/** A counter family whose series are fixed at construction: `labelSets[i]` is series i. */
export class FastCounter implements Collectable {
  readonly type: 'counter' | 'gauge';
  private readonly values: Float64Array;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelSets: readonly LabelSet[],
    registry: Registry,
    type: 'counter' | 'gauge' = 'counter',
  ) {
    this.type = type;
    this.values = new Float64Array(labelSets.length);
    registry.registerMetric(this as never);
  }

  inc(series: number, by = 1): void {
    this.values[series] += by;
  }

  set(series: number, value: number): void {
    this.values[series] = value;
  }

  value(series: number): number {
    return this.values[series];
  }

  async get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }> {
    const values: MetricValue[] = [];
    for (let i = 0; i < this.labelSets.length; i++) values.push({ value: this.values[i], labels: this.labelSets[i] });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

/** A histogram family with fixed series; observe() is a bucket search and two adds. */
export class FastHistogram implements Collectable {
  readonly type = 'histogram' as const;
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly totals: Float64Array;
  private readonly nb: number;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    private readonly labelSets: readonly LabelSet[],
    registry: Registry,
  ) {
    this.nb = buckets.length;
    this.counts = new Float64Array(labelSets.length * this.nb);
    this.sums = new Float64Array(labelSets.length);
    this.totals = new Float64Array(labelSets.length);
    registry.registerMetric(this as never);
  }

  observe(series: number, value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < this.nb && value > b[i]) i++;
    if (i < this.nb) this.counts[series * this.nb + i] += 1;
    this.sums[series] += value;
    this.totals[series] += 1;
  }

  count(series: number): number {
    return this.totals[series];
  }

  async get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }> {
    const values: MetricValue[] = [];
    for (let s = 0; s < this.labelSets.length; s++) {
      const labels = this.labelSets[s];
      let cumulative = 0;
      for (let i = 0; i < this.nb; i++) {
        cumulative += this.counts[s * this.nb + i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: String(this.buckets[i]) }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.totals[s] });
      values.push({ metricName: `${this.name}_sum`, labels, value: this.sums[s] });
      values.push({ metricName: `${this.name}_count`, labels, value: this.totals[s] });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

/** One series of a KeyedCounter; hot paths keep a reference and add to `value`. */
export interface Series {
  value: number;
  readonly labels: LabelSet;
}

/**
 * A counter family whose series come and go with the configuration (schools, groups,
 * categories change on reload). Callers resolve series once, when they compile their
 * state, and count with `series.value++`; counts survive a reload for series that remain.
 */
export class KeyedCounter implements Collectable {
  readonly type: 'counter' | 'gauge';
  private readonly all = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
    type: 'counter' | 'gauge' = 'counter',
  ) {
    this.type = type;
    registry.registerMetric(this as never);
  }

  /** The series for these label values (in labelNames order), created at 0 if new. */
  series(...values: string[]): Series {
    const key = values.join('\u0000');
    let s = this.all.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => { labels[n] = values[i] ?? ''; });
      s = { value: 0, labels };
      this.all.set(key, s);
    }
    return s;
  }

  /** For gauges: drop the series not in `keep` (e.g. categories a reload removed). */
  retain(keep: ReadonlySet<Series>): void {
    for (const [k, s] of this.all) if (!keep.has(s)) this.all.delete(k);
  }

  /**
   * Drops the series whose labels `keep` rejects (e.g. schools a reload removed). A caller
   * still holding a dropped series may add to it; it is no longer exported.
   */
  retainWhere(keep: (labels: LabelSet) => boolean): void {
    for (const [k, s] of this.all) if (!keep(s.labels)) this.all.delete(k);
  }

  /** How many series are exported. */
  get size(): number {
    return this.all.size;
  }

  async get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }> {
    const values = [...this.all.values()].map((s) => ({ value: s.value, labels: s.labels }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}
