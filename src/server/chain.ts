// The one place the handler chain is built. Order matters; each link feels the effect of
// every link after it and must not care about those before it.
import type { AnswerCache } from '../cache/answer-cache';
import { cacheLink, Prefetch } from '../chain/cache-link';
import { clientLink, ClientIdentifier, unknownClient } from '../chain/client-link';
import { filterLink, allowAll, Filter } from '../chain/filter-link';
import { metricsLink } from '../chain/metrics-link';
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
}

export function buildChain(p: ChainParts): { chain: Next; links: string[] } {
  const links: NamedHandler[] = [
    // First, so every query and every answer is counted and timed, whoever answers it.
    { name: 'metrics', handle: metricsLink(p.metrics) },
    // Who is asking decides what may be answered: before any answer is chosen.
    { name: 'client', handle: clientLink(p.identify ?? unknownClient) },
    // Above the cache: the cache holds only upstream answers, so one group's verdict is
    // never served to another, and cached answers are checked for each asking client.
    { name: 'filter', handle: filterLink(p.filter ?? allowAll) },
    // Names answered locally (ANY, localhost, invalid, private reverse zones, non-IN
    // classes): never cached, never sent upstream.
    { name: 'special', handle: specialLink() },
    // Peek on the way down, stash upstream answers on the way up.
    { name: 'cache', handle: cacheLink(p.cache, p.metrics, p.prefetch) },
  ];
  return { chain: compose(links, p.resolve), links: [...links.map((l) => l.name), 'resolve'] };
}
