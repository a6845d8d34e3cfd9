// Series labelled by who asked: queries by school and age group, blocked queries by school,
// age group and category. Every label value comes from the policy (the schools of its
// networks and listeners, its groups and categories, and the "unknown" school of clients
// it does not name): never a client address, never a name.
//
// A policy swap (FilterManager) hands over what the new policy can produce: its series are
// created at zero (so rate() sees their first increment and a quiet school still shows),
// and series of schools, groups and categories it no longer has are dropped, so reloads
// that rename or remove schools leave nothing behind. Counts of series that remain carry on.
//
// The hot path counts a query with one Map lookup on the client object and one add: the
// policy hands out one shared, frozen ClientInfo per school and group, so the object itself
// is the key, and no string is built per query.
import type { Registry } from 'prom-client';
import { DENYLIST, NOT_ALLOWLISTED, UNKNOWN_SCHOOL } from '../policy/policy';
import type { PolicySpec } from '../policy/types';
import { KeyedCounter, Series } from './fast';

/** Who asked, as the client link sets it (src/chain/types.ts ClientInfo). */
export interface ClientLabels {
  readonly school: string;
  readonly group: string;
}

/** One (school, group) a policy can identify, and the categories its group can be blocked by. */
export interface PolicyLabels {
  readonly school: string;
  readonly group: string;
  /** As the filter reports them: category names, "denylist", "not-allowlisted". */
  readonly categories: readonly string[];
}

/**
 * Client objects remembered between policy swaps. A policy has one object per (school,
 * group); more only appear from queries identified under an older policy, so this is a
 * safety bound, not a working size.
 */
const MAX_CLIENT_OBJECTS = 4096;

const pairKey = (school: string, group: string): string => `${school}\u0000${group}`;

/** Counts of clients the current policy does not know: added to, never exported. */
const detached = (): Series => ({ value: 0, labels: {} });

export class SchoolSeries {
  private readonly queries: KeyedCounter;
  private readonly blocked: KeyedCounter;
  private byClient = new Map<ClientLabels, Series>();
  /** The current policy's pairs; null before any policy (filtering off: every client counts). */
  private pairs: ReadonlySet<string> | null = null;

  constructor(registry: Registry) {
    this.queries = new KeyedCounter('school_dns_school_queries_total',
      'Queries answered, by school and age group (from the policy; school "unknown": clients no network or listener names).',
      ['school', 'group'], registry);
    this.blocked = new KeyedCounter('school_dns_blocked_queries_total',
      'Queries answered as blocked, by school, age group and category.', ['school', 'group', 'category'], registry);
  }

  /** Counts one query from `client`. Hot path: one Map lookup, one add. */
  query(client: ClientLabels): void {
    (this.byClient.get(client) ?? this.learn(client)).value++;
  }

  /**
   * The blocked-queries series for a client and category; the filter looks it up once per
   * (client, category) and policy, and adds to it.
   */
  blockedSeries(client: ClientLabels, category: string): Series {
    return this.known(client) ? this.blocked.series(client.school, client.group, category) : detached();
  }

  /** A new policy is serving: create its series at zero, drop those it cannot produce any more. */
  policyChanged(labels: readonly PolicyLabels[]): void {
    const pairs = new Set<string>();
    const blocks = new Set<string>();
    for (const l of labels) {
      pairs.add(pairKey(l.school, l.group));
      this.queries.series(l.school, l.group);
      for (const c of l.categories) {
        blocks.add(`${pairKey(l.school, l.group)}\u0000${c}`);
        this.blocked.series(l.school, l.group, c);
      }
    }
    this.queries.retainWhere((s) => pairs.has(pairKey(s.school, s.group)));
    this.blocked.retainWhere((s) => blocks.has(`${pairKey(s.school, s.group)}\u0000${s.category}`));
    this.pairs = pairs;
    this.byClient = new Map();
  }

  private known(client: ClientLabels): boolean {
    return this.pairs === null || this.pairs.has(pairKey(client.school, client.group));
  }

  private learn(client: ClientLabels): Series {
    if (this.byClient.size >= MAX_CLIENT_OBJECTS) this.byClient.clear();
    const s = this.known(client) ? this.queries.series(client.school, client.group) : detached();
    this.byClient.set(client, s);
    return s;
  }
}

/**
 * The (school, group) pairs a policy identifies, as its compiled form does (src/policy/policy.ts):
 * each school's networks, each listener, and the default group for school "unknown"; with
 * the categories each group can be blocked by.
 */
export function policyLabels(spec: PolicySpec): PolicyLabels[] {
  const blockable = new Map<string, string[]>();
  for (const g of spec.groups) {
    // decide(): an allow-only group blocks everything it does not allow as "not-allowlisted",
    // before its block lists are looked at; a block-listed group by category or deny list.
    const cats = g.mode === 'allow-only'
      ? [NOT_ALLOWLISTED]
      : [...new Set([...g.block, ...g.schedules.flatMap((s) => s.categories), ...(g.deny.length > 0 ? [DENYLIST] : [])])];
    blockable.set(g.name, cats);
  }
  const out = new Map<string, PolicyLabels>();
  const add = (school: string, group: string): void => {
    const k = pairKey(school, group);
    if (!out.has(k)) out.set(k, { school, group, categories: blockable.get(group) ?? [] });
  };
  for (const s of spec.schools) for (const n of s.networks) add(s.name, n.group);
  for (const l of spec.listeners) add(l.school, l.group);
  add(UNKNOWN_SCHOOL, spec.defaultGroup);
  return [...out.values()];
}
