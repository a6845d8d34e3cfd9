// Every metric school-dns exports, with bounded labels: transports, a fixed list of query
// types, rcodes, how a query was answered, the configured upstreams, and the policy's
// schools, groups and categories (school-series.ts). Nothing per client, nothing per name.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RCODE_NAMES, TYPE_NAMES, Type } from '../dns/constants';
import { FastCounter, FastHistogram, KeyedCounter, Series } from './fast';
import { SchoolSeries } from './school-series';
import type { ReplySource } from '../chain/types';
import { ENGINE_NAMES } from '../safesearch/engines';
import { PROXY_REJECT_REASONS, ProxyRejectReason } from '../server/proxy-protocol';

export const enum Transport { Udp = 0, Tcp = 1 }
export const TRANSPORT_NAMES = ['udp', 'tcp'] as const;

/** Query types with their own label value; all others count as "other". */
const LABELLED_QTYPES = [
  Type.A, Type.AAAA, Type.CNAME, Type.MX, Type.TXT, Type.NS, Type.SOA, Type.PTR, Type.SRV,
  Type.HTTPS, Type.SVCB, Type.CAA, Type.DS, Type.DNSKEY, Type.NAPTR, Type.ANY,
];
const QTYPE_INDEX = new Uint8Array(65536).fill(LABELLED_QTYPES.length);
LABELLED_QTYPES.forEach((t, i) => { QTYPE_INDEX[t] = i; });
const QTYPE_LABELS = [...LABELLED_QTYPES.map((t) => TYPE_NAMES[t]), 'other'];
const NQTYPES = QTYPE_LABELS.length;

/** rcodes 0..23 each have a series; anything above counts as "other". */
const NRCODES = 25;
const RCODE_LABELS = Array.from({ length: NRCODES }, (_, i) => (i === NRCODES - 1 ? 'other' : RCODE_NAMES[i] ?? `RCODE${i}`));

/** Why a packet was not resolved (parse rejections and policy refusals). */
export const REJECT_REASONS = ['short', 'response', 'opcode', 'qdcount', 'question', 'records', 'opt', 'trailing', 'badvers', 'qtype', 'class', 'tcp-frame'] as const;
export type RejectReasonLabel = (typeof REJECT_REASONS)[number];

export const UPSTREAM_OUTCOMES = ['ok', 'timeout', 'servfail', 'refused', 'formerr', 'malformed', 'mismatch', 'network', 'truncated'] as const;
export type UpstreamOutcome = (typeof UPSTREAM_OUTCOMES)[number];

/** Outcomes of "this should not be blocked" requests sent from the block page. */
export const REVIEW_RESULTS = ['accepted', 'duplicate', 'rate_limited', 'store_full', 'invalid', 'failed', 'refused'] as const;
export type ReviewResult = (typeof REVIEW_RESULTS)[number];

export const REQUEST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** How the resolver gets answers it does not hold: the `source` label of resolved queries. */
export type Resolution = 'forwarded' | 'recursive';
/**
 * `source` label of the request duration, by index: from the cache, resolved (forwarded or
 * recursive), blocked, answered by school-dns itself (special names, SafeSearch), SERVFAIL
 * because resolution failed or an error occurred.
 */
const SOURCE_CACHED = 0;
const SOURCE_RESOLVED = 1;
const SOURCE_BLOCKED = 2;
const SOURCE_LOCAL = 3;
const SOURCE_ERROR = 4;
const NSOURCES = 5;
export const sourceLabels = (resolution: Resolution): string[] => ['cached', resolution, 'blocked', 'local', 'error'];

function sourceIndex(source: ReplySource): number {
  switch (source) {
    case 'cache': return SOURCE_CACHED;
    case 'upstream': return SOURCE_RESOLVED;
    case 'blocked': return SOURCE_BLOCKED;
    case 'error': return SOURCE_ERROR;
    default: return SOURCE_LOCAL; // 'local', and 'none': a link answered without saying how, so not resolved
  }
}

/** Recursor event kinds that are an authoritative server failing us: exported at 0 from the start in recursive mode. */
const RECURSOR_SERVER_ERRORS = ['timeout', 'network', 'malformed', 'mismatch', 'truncated', 'formerr', 'servfail', 'lame'] as const;

export class Metrics {
  readonly registry = new Registry();
  /** Queries and blocks by school, age group and category. */
  readonly schools: SchoolSeries;
  private readonly queries: FastCounter;
  private readonly responses: FastCounter;
  private readonly rejected: FastCounter;
  private readonly cache: FastCounter;
  private readonly requestDuration: FastHistogram;
  private readonly upstreamDuration: FastHistogram;
  private readonly upstreamResults: FastCounter;
  private readonly coalesced: FastCounter;
  private readonly tcpConnections: FastCounter;
  private readonly safeSearchRewrites: FastCounter;
  private readonly recursorEvents: KeyedCounter;
  private readonly blockPages: FastCounter;
  private readonly reviews: FastCounter;
  private readonly httpsResets: FastCounter;
  private readonly proxyRejections: FastCounter;
  private readonly recursorSeries = new Map<string, Map<string, Series>>();
  private inflightCount = 0;
  private readonly upstreamIndex = new Map<string, number>();

  constructor(upstreams: readonly string[], opts: { processMetrics?: boolean; resolution?: Resolution } = {}) {
    const r = this.registry;
    const qLabels = [];
    for (const transport of TRANSPORT_NAMES) for (const qtype of QTYPE_LABELS) qLabels.push({ transport, qtype });
    this.queries = new FastCounter('school_dns_queries_total', 'Queries received, by transport and query type.', qLabels, r);
    this.responses = new FastCounter('school_dns_responses_total', 'Responses sent, by rcode.', RCODE_LABELS.map((rcode) => ({ rcode })), r);
    this.rejected = new FastCounter('school_dns_rejected_queries_total', 'Packets not resolved because they were malformed or not a query we serve, by reason.',
      REJECT_REASONS.map((reason) => ({ reason })), r);
    this.cache = new FastCounter('school_dns_cache_requests_total', 'Answer cache look-ups, by result.', [{ result: 'hit' }, { result: 'miss' }], r);
    const durationLabels = [];
    for (const transport of TRANSPORT_NAMES) for (const source of sourceLabels(opts.resolution ?? 'recursive')) durationLabels.push({ transport, source });
    this.requestDuration = new FastHistogram('school_dns_request_duration_seconds',
      'Time from receiving a query to having its answer, by transport and source (cached, forwarded or recursive, blocked, local, error).',
      REQUEST_BUCKETS, durationLabels, r);
    upstreams.forEach((u, i) => this.upstreamIndex.set(u, i));
    this.upstreamDuration = new FastHistogram('school_dns_upstream_duration_seconds', 'Round-trip time of successful upstream exchanges, by upstream.',
      REQUEST_BUCKETS, upstreams.map((upstream) => ({ upstream })), r);
    const upLabels = [];
    for (const upstream of upstreams) for (const outcome of UPSTREAM_OUTCOMES) upLabels.push({ upstream, outcome });
    this.upstreamResults = new FastCounter('school_dns_upstream_queries_total', 'Upstream exchanges, by upstream and outcome.', upLabels, r);
    this.coalesced = new FastCounter('school_dns_upstream_coalesced_total', 'Client queries that joined an identical upstream query already in flight.', [{}], r);
    this.recursorEvents = new KeyedCounter('school_dns_recursor_events_total',
      'Recursive resolution: authoritative queries sent (kind="query", by transport), timeouts, lame servers, limits hit (kind="limit", by limit), ...',
      ['kind', 'detail'], r);
    if (opts.resolution === 'recursive') for (const kind of RECURSOR_SERVER_ERRORS) this.recursorEvent(kind, '', 0);
    this.schools = new SchoolSeries(r);
    this.tcpConnections = new FastCounter('school_dns_tcp_connections_refused_total', 'TCP connections refused because the connection cap was reached.', [{}], r);
    this.safeSearchRewrites = new FastCounter('school_dns_safesearch_rewrites_total', 'Queries answered with a search engine\'s SafeSearch name (a CNAME), by engine.',
      ENGINE_NAMES.map((engine) => ({ engine })), r);
    this.blockPages = new FastCounter('school_dns_block_pages_total', 'Block pages served, by scheme (https only with blockPage.https.mode tls).',
      [{ scheme: 'http' }, { scheme: 'https' }], r);
    this.reviews = new FastCounter('school_dns_review_submissions_total', 'Review requests sent from the block page\'s form, by result.',
      REVIEW_RESULTS.map((result) => ({ result })), r);
    this.httpsResets = new FastCounter('school_dns_block_page_https_resets_total', 'Connections to the sinkhole\'s HTTPS port reset at once (blockPage.https.mode reset).', [{}], r);
    const proxyLabels = [];
    for (const transport of TRANSPORT_NAMES) for (const reason of PROXY_REJECT_REASONS) proxyLabels.push({ transport, reason });
    this.proxyRejections = new FastCounter('school_dns_proxy_protocol_rejected_total',
      'Datagrams (udp) and connections (tcp) from a trusted proxy (server.proxyProtocol.from) dropped for a missing or malformed PROXY v2 header, by reason.', proxyLabels, r);
    const self = this;
    new Gauge({
      name: 'school_dns_inflight_queries', help: 'Queries received and not yet answered.', registers: [r],
      collect() { this.set(self.inflightCount); },
    });
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: r });
  }

  queryStarted(transport: Transport, qtype: number): void {
    this.queries.inc(transport * NQTYPES + QTYPE_INDEX[qtype]);
    this.inflightCount++;
  }

  queryFinished(transport: Transport, seconds: number, source: ReplySource): void {
    this.inflightCount--;
    this.requestDuration.observe(transport * NSOURCES + sourceIndex(source), seconds);
  }

  response(rcode: number): void {
    this.responses.inc(rcode < NRCODES - 1 ? rcode : NRCODES - 1);
  }

  rejectedPacket(reason: RejectReasonLabel): void {
    this.rejected.inc(REJECT_REASONS.indexOf(reason));
  }

  cacheResult(hit: boolean): void {
    this.cache.inc(hit ? 0 : 1);
  }

  /** Registers a gauge computed at scrape time (cache size, etc.). */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
  }

  upstream(upstream: string, outcome: UpstreamOutcome, seconds?: number): void {
    const i = this.upstreamIndex.get(upstream);
    if (i === undefined) return;
    this.upstreamResults.inc(i * UPSTREAM_OUTCOMES.length + UPSTREAM_OUTCOMES.indexOf(outcome));
    if (outcome === 'ok' && seconds !== undefined) this.upstreamDuration.observe(i, seconds);
  }

  /** Kinds and details come from a fixed set in the recursor (never a server address or a name). */
  recursorEvent(kind: string, detail: string, by = 1): void {
    let byDetail = this.recursorSeries.get(kind);
    if (byDetail === undefined) this.recursorSeries.set(kind, (byDetail = new Map()));
    let s = byDetail.get(detail);
    if (s === undefined) byDetail.set(detail, (s = this.recursorEvents.series(kind, detail)));
    s.value += by;
  }

  coalescedQuery(): void {
    this.coalesced.inc(0);
  }

  tcpConnectionRefused(): void {
    this.tcpConnections.inc(0);
  }

  /** `engine`: an ENGINE_* number from src/safesearch/engines.ts. */
  safeSearchRewrite(engine: number): void {
    this.safeSearchRewrites.inc(engine);
  }

  blockPageServed(scheme: 'http' | 'https'): void {
    this.blockPages.inc(scheme === 'http' ? 0 : 1);
  }

  reviewRequest(result: ReviewResult): void {
    this.reviews.inc(REVIEW_RESULTS.indexOf(result));
  }

  httpsReset(): void {
    this.httpsResets.inc(0);
  }

  proxyRejected(transport: Transport, reason: ProxyRejectReason): void {
    this.proxyRejections.inc(transport * PROXY_REJECT_REASONS.length + PROXY_REJECT_REASONS.indexOf(reason));
  }

  get inflight(): number {
    return this.inflightCount;
  }
}
