// Owns the filter's state: loads the policy, builds its lists in the builder process, and swaps the
// result in with one assignment. A reload that fails keeps the old state serving, and says
// why in its outcome, the log and the metrics.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log/logger';
import { buildInBuilder, PolicyResponse, readPolicyInBuilder, SourceResult } from '../lists/build';
import type { Metrics } from '../metrics/metrics';
import { FastCounter, FastHistogram, KeyedCounter, Series } from '../metrics/fast';
import { policyLabels, SchoolSeries } from '../metrics/school-series';
import { compilePolicy, CompiledPolicy } from '../policy/policy';
import { ApprovalSet } from '../requests/approvals';
import type { FilterState } from './state';
import { UrlSources } from '../lists/fetch-status';
import { DEFAULT_URL_SETTINGS, type UrlFetchSettings, type UrlSourceRef } from '../lists/fetch-source';

export interface ReloadOutcome {
  readonly ok: boolean;
  /** False when nothing had changed since the last build, so nothing was rebuilt. */
  readonly changed: boolean;
  readonly durationMs: number;
  readonly names: number;
  readonly categories: ReadonlyArray<{ name: string; entries: number }>;
  readonly sources: readonly SourceResult[];
  readonly error?: string;
}

const RELOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class FilterManager {
  private current: FilterState | null = null;
  private approvalSet: ApprovalSet = ApprovalSet.EMPTY;
  private running: Promise<ReloadOutcome> | null = null;
  private queued: Promise<ReloadOutcome> | null = null;
  private readonly reloads: FastCounter;
  private readonly reloadDuration: FastHistogram;
  private readonly listEntries: KeyedCounter;
  private readonly sourceInvalid: KeyedCounter;
  private lastSuccess = 0;
  private lastFailure = 0;
  private readonly schools: SchoolSeries;
  /** URL list sources: their fetching, status and metrics (src/lists/fetch-status.ts). */
  readonly urls: UrlSources;
  private forceNext = false;

  constructor(
    private readonly policyFile: string, private readonly log: Logger, metrics: Metrics,
    private readonly urlSettings: Omit<UrlFetchSettings, 'force'> = DEFAULT_URL_SETTINGS,
  ) {
    this.urls = new UrlSources(metrics, log);
    const r = metrics.registry;
    this.reloads = new FastCounter('school_dns_list_reloads_total', 'List and policy reloads, by result.',
      [{ result: 'ok' }, { result: 'unchanged' }, { result: 'failed' }], r);
    this.reloadDuration = new FastHistogram('school_dns_list_reload_duration_seconds', 'Time to load the policy and rebuild its lists.', RELOAD_BUCKETS, [{}], r);
    this.listEntries = new KeyedCounter('school_dns_list_entries', 'Entries loaded per category (names from lists and the policy).', ['category'], r, 'gauge');
    this.sourceInvalid = new KeyedCounter('school_dns_list_invalid_lines', 'Lines skipped as invalid, per category.', ['category'], r, 'gauge');
    metrics.gauge('school_dns_list_names', 'Distinct names in the domain trie.', () => this.current?.trie.nameCount ?? 0);
    metrics.gauge('school_dns_list_last_success_timestamp_seconds',
      'When a reload last succeeded (Unix time): the lists were rebuilt, or found unchanged.', () => this.lastSuccess / 1000);
    metrics.gauge('school_dns_list_last_failure_timestamp_seconds', 'When a reload last failed (Unix time; 0: never).', () => this.lastFailure / 1000);
    this.schools = metrics.schools;
  }

  /** The state queries are checked against now (null before the first successful load). */
  get state(): FilterState | null {
    return this.current;
  }

  /**
   * Names opened by approved review requests (src/requests), for given schools or groups.
   * Separate from the state: an approval takes effect at once, without a list rebuild, and a
   * reload in progress cannot put back an older set.
   */
  get approvals(): ApprovalSet {
    return this.approvalSet;
  }

  /** Swaps in a new approval set (built aside by the request store): one assignment. */
  setApprovals(next: ApprovalSet): void {
    const before = this.approvalSet.size;
    this.approvalSet = next;
    if (next.size !== before) this.log.info('approvals swapped in', { approvals: next.size });
  }

  /**
   * Loads (or reloads) the policy and its lists. Calls made while one runs share a single
   * follow-up run, so a burst of reload requests costs at most one extra build.
   */
  reload(opts: { force?: boolean } = {}): Promise<ReloadOutcome> {
    // force: the next run accepts URL lists that fail the sanity checks (shrunk by more than half).
    if (opts.force) this.forceNext = true;
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.run().finally(() => { this.running = null; });
      return this.running;
    }
    this.queued = this.running.then(() => {
      this.queued = null;
      return this.reload();
    });
    return this.queued;
  }

  private async run(): Promise<ReloadOutcome> {
    const t0 = performance.now();
    const initial = this.current === null;
    const fail = (error: string, sources: readonly SourceResult[] = []): ReloadOutcome => {
      const durationMs = performance.now() - t0;
      this.reloads.inc(2);
      this.lastFailure = Date.now();
      this.log.error(initial ? 'could not load the policy and lists' : 'reload failed; the previous lists keep serving', { error, policy: this.policyFile });
      return { ok: false, changed: false, durationMs, names: this.current?.trie.nameCount ?? 0, categories: [], sources, error };
    };
    // Read and validated in the builder process: parsing a large policy's YAML would stall
    // the event loop for tens of milliseconds. Compiling the spec here takes well under one.
    let read: PolicyResponse;
    try {
      read = await readPolicyInBuilder(this.policyFile);
    } catch (e) {
      return fail((e as Error).message);
    }
    if (!read.ok) return fail(read.error);
    const text = read.text;
    let policy;
    try {
      policy = compilePolicy(read.spec);
    } catch (e) {
      return fail((e as Error).message);
    }
    const fingerprint = listsFingerprint(policy);
    const prev = this.current;
    // URL sources are fetched first (conditionally, in the builder process): when every one is
    // "not modified" (or still failing, its saved copy serving) nothing needs rebuilding.
    const urlSources = urlSourcesOf(policy);
    // At startup, saved copies serve at once (the server then reloads in the background to ask the hosts).
    const urls: UrlFetchSettings = { ...this.urlSettings, force: this.forceNext, preferCopy: initial };
    this.forceNext = false;
    let urlIds: string | undefined;
    if (urlSources.length > 0) {
      try {
        urlIds = await this.urls.refresh(urlSources, urls);
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    if (prev && fingerprint !== null && fingerprint === prev.fingerprint && urlIds === prev.urlIds) {
      if (prev.policyText === text) {
        this.reloads.inc(1);
        this.lastSuccess = Date.now(); // the lists were checked and are current: fresh, for the staleness alert
        this.log.info('policy and lists unchanged; nothing rebuilt');
        return { ok: true, changed: false, durationMs: performance.now() - t0, names: prev.trie.nameCount, categories: categoryList(prev), sources: prev.sources };
      }
      // Only the policy changed (schools, groups, schedules), not what the lists hold:
      // keep the trie, swap in the new policy. No list file is read or parsed.
      const next: FilterState = { ...prev, policy, policyText: text, spec: read.spec, builtAt: Date.now(), buildMs: performance.now() - t0 };
      return this.swap(next, initial, t0, null);
    }
    let built;
    try {
      built = await buildInBuilder({
        categories: policy.sources, inline: policy.inlineNames, categoryCount: policy.categories.length,
        // No presizing from the previous build: on real lists it leaves the table sparser (more RSS).
        baseDir: path.dirname(this.policyFile),
        urls,
      });
    } catch (e) {
      return fail((e as Error).message);
    }
    const broken = built.sources.filter((s) => s.error);
    // A URL source that gave nothing before either (new, or never reachable, so no saved copy)
    // does not hold the other lists back: its category goes on without it, as at startup.
    const lost = broken.filter((s) => !/^https?:\/\//i.test(s.origin) || prev?.sources.some((p) => p.category === s.category && p.origin === s.origin && !p.error));
    if (lost.length > 0 && !initial) {
      return fail(`${lost.length} list source(s) could not be read: ${lost.map((s) => `${s.origin}: ${s.error}`).join('; ')}`, built.sources);
    }
    const next: FilterState = {
      policy, trie: built.trie, sources: built.sources, entriesPerCategory: built.entriesPerCategory,
      builtAt: Date.now(), buildMs: performance.now() - t0, fingerprint, policyText: text, spec: read.spec, urlIds,
    };
    return this.swap(next, initial, t0, broken);
  }

  /** Makes `next` the state queries use. `broken` is null when the lists were not rebuilt. */
  private swap(next: FilterState, initial: boolean, t0: number, broken: readonly SourceResult[] | null): ReloadOutcome {
    const spec = next.spec;
    this.current = next; // the swap: queries from here on use the new state
    this.lastSuccess = next.builtAt;
    this.reloads.inc(0);
    this.reloadDuration.observe(0, next.buildMs / 1000);
    this.publish(next);
    this.schools.policyChanged(policyLabels(spec));
    for (const s of broken ?? []) this.log.error('a list source could not be read; its category starts without it', { origin: s.origin, category: s.category, error: s.error });
    for (const s of broken ? next.sources : []) {
      if (s.invalid > 0) this.log.warn('list lines skipped as invalid', { origin: s.origin, invalid: s.invalid, first: s.invalidSamples.slice(0, 3) });
    }
    this.log.info(initial ? 'lists loaded' : broken ? 'lists reloaded' : 'policy reloaded; lists unchanged, not rebuilt', {
      names: next.trie.nameCount, categories: next.policy.categories.length, groups: next.policy.groups.length, ms: Math.round(performance.now() - t0),
    });
    return { ok: true, changed: true, durationMs: performance.now() - t0, names: next.trie.nameCount, categories: categoryList(next), sources: next.sources };
  }

  private publish(s: FilterState): void {
    const keep = new Set<Series>();
    const invalid = new Set<Series>();
    s.policy.categories.forEach((name, bit) => {
      const e = this.listEntries.series(name);
      e.value = s.entriesPerCategory[bit] ?? 0;
      keep.add(e);
      const inv = this.sourceInvalid.series(name);
      inv.value = s.sources.filter((x) => x.category === name).reduce((a, x) => a + x.invalid, 0);
      invalid.add(inv);
    });
    this.listEntries.retain(keep);
    this.sourceInvalid.retain(invalid);
  }
}

function categoryList(s: FilterState): { name: string; entries: number }[] {
  return s.policy.categories.map((name, bit) => ({ name, entries: s.entriesPerCategory[bit] ?? 0 }));
}

/** The policy's URL sources, each with its position in its category. */
function urlSourcesOf(policy: CompiledPolicy): UrlSourceRef[] {
  const out: UrlSourceRef[] = [];
  for (const s of policy.sources) {
    s.specs.forEach((spec, index) => {
      if (spec.url !== undefined) out.push({ category: s.category, index, url: spec.url, format: spec.format });
    });
  }
  return out;
}

/**
 * The identity of what the trie holds: the categories (their order gives the bits), each
 * category's sources with each file's mtime and size, and the groups' inline names. Null
 * when a file cannot be stat'ed. A URL source counts by its address only here: what it holds
 * is FilterState.urlIds, known once it is fetched.
 */
function listsFingerprint(policy: CompiledPolicy): string | null {
  const parts = [policy.categories.join('\u0000'), JSON.stringify(policy.inlineNames)];
  for (const s of policy.sources) {
    parts.push(`${s.bit}\u0000${s.category}`);
    for (const spec of s.specs) {
      if (!spec.path) {
        parts.push(`${spec.url}\u0000${spec.format}`);
        continue;
      }
      try {
        const st = statSync(spec.path);
        parts.push(`${spec.path}\u0000${spec.format}\u0000${st.mtimeMs}\u0000${st.size}`);
      } catch {
        return null;
      }
    }
  }
  return parts.join('\u0001');
}
