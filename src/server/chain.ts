// The one place the handler chain is built. Order matters; each link feels the effect of
// every link after it and must not care about those before it.
import type { AnswerCache } from '../cache/answer-cache';
import { cacheLink, Prefetch } from '../chain/cache-link';
import { clientLink, ClientIdentifier, unknownClient } from '../chain/client-link';
import { filterLink, allowAll, Filter } from '../chain/filter-link';
import { metricsLink } from '../chain/metrics-link';
import { safeSearchLink, safeSearchOff, SafeSearchModes } from '../chain/safesearch-link';
import { specialLink } from '../chain/special-link';
import { compose, NamedHandler, Next } from '../chain/types';
import type { Metrics } from '../metrics/metrics';

export interface ChainParts {
  readonly metrics: Metrics;
  readonly cache: AnswerCache;
  /** The resolver at the end of the chain (forwarding now; recursion later). */
  readonly resolve: Next;
  readonly identify?: ClientIdentifier;
  readonly filter?: Filter;
  /** Background refresh of answers about to expire (the recursor's), if any. */
  readonly prefetch?: Prefetch;
  /** The SafeSearch flags of a client's group (none when absent). */
  readonly safeSearch?: SafeSearchModes;
}

export function buildChain(p: ChainParts): { chain: Next; links: string[] } {
  const links: NamedHandler[] = [
    // First, so every query and every answer is counted and timed, whoever answers it.
    { name: 'metrics', handle: metricsLink(p.metrics) },
    // Who is asking decides what may be answered: before any answer is chosen.
    { name: 'client', handle: clientLink(p.identify ?? unknownClient) },
    // Names answered locally (ANY, localhost, invalid, private reverse zones, non-IN
    // classes, the encrypted-DNS and relay signals): never cached, never sent upstream.
    // Before the filter: these answers are the same for every client, and a blocklist that
    // lists a signal name (public bypass lists carry mask.icloud.com) must not turn the
    // NXDOMAIN a browser or phone looks for into a sinkhole address.
    { name: 'special', handle: specialLink() },
    // Above the cache: the cache holds only upstream answers, so one group's verdict is
    // never served to another, and cached answers are checked for each asking client.
    { name: 'filter', handle: filterLink(p.filter ?? allowAll) },
    // After the filter, so a group that blocks a search engine keeps it blocked; above the
    // cache, because the rewritten answer depends on the group and must never be cached
    // under the asked name. The SafeSearch name itself goes on down the chain, and is cached
    // and resolved like any other.
    { name: 'safesearch', handle: safeSearchLink(p.safeSearch ?? safeSearchOff, p.metrics) },
    // Peek on the way down, stash upstream answers on the way up.
    { name: 'cache', handle: cacheLink(p.cache, p.metrics, p.prefetch) },
  ];
  return { chain: compose(links, p.resolve), links: [...links.map((l) => l.name), 'resolve'] };
}
