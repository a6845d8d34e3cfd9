// Wiring only: config -> metrics -> cache -> resolver -> chain -> listeners.
import { AdminServer, Route } from './admin/http';
import { BlockPageServer } from './blockpage/server';
import { explain } from './filter/explain';
import { FilterManager, ReloadOutcome } from './filter/manager';
import { stopBuilder } from './lists/build';
import { ListRefresher } from './lists/fetch-refresh';
import { listRoutes } from './lists/fetch-routes';
import { SchoolFilter } from './filter/school-filter';
import { AnswerCache } from './cache/answer-cache';
import { Resolver, resolverLink } from './chain/resolve-link';
import type { Config } from './config/types';
import { describeConfig } from './config/load';
import type { Logger } from './log/logger';
import { Metrics } from './metrics/metrics';
import { buildChain } from './server/chain';
import { policySafeSearch } from './chain/safesearch-link';
import { Dispatcher } from './server/dispatch';
import { TcpListener } from './server/tcp';
import { UdpListener } from './server/udp';
import { TrustedProxies } from './server/proxy-protocol';
import { Forwarder } from './upstream/forwarder';
import { Recursor } from './recursor/recursor';
import { IANA_ROOT_HINTS } from './recursor/root-hints';
import { fmt } from './upstream/transport';
import { RequestStore } from './requests/store';
import { requestRoutes } from './requests/admin-routes';
import type { QueryLog } from './querylog/querylog';
import { openQueryLog } from './querylog/setup';
import { reportRoutes } from './querylog/admin-route';

export interface RunningResolver {
  readonly metrics: Metrics;
  readonly cache: AnswerCache;
  /** Actual bound endpoints, e.g. "udp://127.0.0.1:5353". */
  readonly endpoints: string[];
  /** Actual admin port, or null when disabled. */
  readonly adminPort: number | null;
  /** Bound ports in config order (UDP and TCP share the configured port unless it was 0). */
  readonly udpPorts: number[];
  readonly tcpPorts: number[];
  /** Bound block-page ports in blockPage.listen order (http), and of its HTTPS port (tls or reset); empty when off or not bound. */
  readonly blockPagePorts: { readonly http: readonly number[]; readonly https: readonly number[] };
  /** The filter's state holder, or null when filtering is off (policy.file null). */
  readonly filter: FilterManager | null;
  /** Review requests ("this should not be blocked", from the block page); null when filtering is off. */
  readonly requests: RequestStore | null;
  /** The query log (blocked queries, or all, in SQLite); null when off. */
  readonly queryLog: QueryLog | null;
  /** Reloads the policy and lists (the old ones keep serving if it fails). */
  reload(): Promise<ReloadOutcome | null>;
  close(): Promise<void>;
}

export class StartupError extends Error {
  readonly code = 'STARTUP_FAILED';
}

export interface StartOptions {
  /** Collect Node process metrics (default true; tests starting many servers turn it off). */
  readonly processMetrics?: boolean;
}

export async function startResolver(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningResolver> {
  log.info('starting school-dns', { config: describeConfig(config) });
  const upstreamLabels = config.resolver.mode === 'forward' ? config.resolver.upstreams.map(fmt) : [];
  const metrics = new Metrics(upstreamLabels, { processMetrics: opts.processMetrics, resolution: config.resolver.mode === 'forward' ? 'forwarded' : 'recursive' });
  const cache = new AnswerCache({ maxEntries: config.cache.maxEntries, maxBytes: config.cache.maxBytes });
  metrics.gauge('school_dns_cache_entries', 'Answers held in the cache.', () => cache.size);
  metrics.gauge('school_dns_cache_bytes', 'Approximate bytes held by the answer cache.', () => cache.bytes);
  let resolver: Resolver;
  let recursor: Recursor | null = null;
  if (config.resolver.mode === 'recursive') {
    const hints = config.resolver.rootHints;
    recursor = new Recursor({
      rootHints: hints ? [{ name: 'configured-root', addresses: [...hints] }] : IANA_ROOT_HINTS,
      authPort: config.resolver.authPort,
      qnameMinimisation: config.resolver.qnameMinimisation,
      caseRandomisation: config.resolver.caseRandomisation,
      timeoutMs: config.resolver.timeoutMs,
      totalTimeoutMs: config.resolver.totalTimeoutMs,
      limits: config.resolver.limits,
      serveStale: config.resolver.serveStale.enabled ? config.resolver.serveStale : false,
      prefetch: config.resolver.prefetch.enabled ? config.resolver.prefetch : false,
      ttlPolicy: config.cache,
      observe: (e) => metrics.recursorEvent(e.kind, e.kind === 'limit' ? e.limit : e.kind === 'query' ? e.transport : ''),
    });
    resolver = recursor;
  } else {
    resolver = new Forwarder({
      upstreams: config.resolver.upstreams,
      timeoutMs: config.resolver.timeoutMs,
      attempts: config.resolver.attempts,
      totalTimeoutMs: config.resolver.totalTimeoutMs,
      ttlPolicy: config.cache,
      observe: (u, outcome, seconds) => metrics.upstream(u, outcome, seconds),
      onCoalesced: () => metrics.coalescedQuery(),
    });
  }
  let manager: FilterManager | null = null;
  let filter: SchoolFilter | undefined;
  let requests: RequestStore | null = null;
  let refresher: ListRefresher | null = null;
  if (config.policy.file) {
    // URL list sources keep their last good version in <state>/lists.
    const l = config.lists;
    manager = new FilterManager(config.policy.file, log, metrics, {
      cacheDir: `${config.state.directory}/lists`, connectTimeoutMs: l.connectTimeoutMs, downloadTimeoutMs: l.downloadTimeoutMs, maxBytes: l.maxBytes, maxRedirects: l.maxRedirects,
    });
    requests = await openRequests(config, log, manager);
    metrics.gauge('school_dns_review_requests_pending', 'Review requests waiting for a decision by staff.', () => requests?.counts().pending ?? 0);
    const first = await manager.reload();
    if (!first.ok) {
      await requests.close();
      throw new StartupError(`the policy could not be loaded: ${first.error}`);
    }
    filter = new SchoolFilter(manager, config.blocking, metrics);
    const m = manager;
    refresher = new ListRefresher({
      intervalMs: config.lists.refreshIntervalMs, jitter: config.lists.refreshJitter, log, reload: () => m.reload(),
      // Every period, whatever the sources: URL lists are fetched (conditionally), edited list
      // files are picked up without a SIGHUP, and an unchanged policy costs a few stat() calls.
      // Each reload also dates the lists' freshness, which the stale-lists alert watches.
      hasUrlSources: () => true,
    });
    refresher.start();
    // Saved copies of URL lists served the start: ask their hosts now, in the background.
    if (m.urls.hasPending()) void m.reload();
  } else {
    log.warn('filtering is off (policy.file is null): every name resolves');
  }
  const { chain, links } = buildChain({
    metrics, cache, resolve: resolverLink(resolver), filter, identify: filter?.identify,
    prefetch: recursor ? recursor.prefetch.bind(recursor) : undefined,
    safeSearch: manager ? policySafeSearch(() => manager?.state?.policy) : undefined,
  });
  log.info('handler chain', { links: links.join(' -> ') });
  const queryLog = await openQueryLog(config, log, metrics, () => manager?.state?.policy).catch(async (e) => {
    stopBuilder();
    await requests?.close();
    throw (e as { code?: string }).code === 'QUERYLOG_UNUSABLE' ? new StartupError((e as Error).message, { cause: e }) : e;
  });
  const dispatcher = new Dispatcher(chain, metrics, log, config.log.queries, queryLog.log);

  // Senders whose PROXY v2 headers name the real client (dnsdist in front); null: none, and no cost per packet.
  const proxies = config.server.proxyProtocol.from.length > 0 ? new TrustedProxies(config.server.proxyProtocol.from) : null;
  const udp: UdpListener[] = [];
  const tcp: TcpListener[] = [];
  let admin: AdminServer | null = null;
  let blockPage: BlockPageServer | null = null;
  const closeAll = async (): Promise<void> => {
    recursor?.close();
    refresher?.stop();
    stopBuilder();
    await Promise.all([...udp.map((l) => l.close()), ...tcp.map((l) => l.close()), admin?.close(), blockPage?.close(), requests?.close()]);
    await queryLog.log?.close(); // after the listeners: what they answered last is written too
  };
  try {
    for (const addr of config.server.listen) {
      // Port 0 (tests): TCP takes the port number the OS gave UDP; if some TCP socket
      // already holds that number, try another pair.
      for (let attempt = 1; ; attempt++) {
        const u = new UdpListener(addr, dispatcher, metrics, log, proxies);
        await u.start();
        const t = new TcpListener(addr.port === 0 ? { ...addr, port: u.port } : addr, config.server.tcp, dispatcher, metrics, log, proxies);
        try {
          await t.start();
        } catch (e) {
          await u.close();
          if (addr.port === 0 && (e as { code?: string }).code === 'EADDRINUSE' && attempt < 10) continue;
          throw e;
        }
        udp.push(u);
        tcp.push(t);
        break;
      }
    }
    if (config.blockPage.enabled && config.blockPage.listen.length > 0) {
      blockPage = new BlockPageServer(config.blockPage, {
        state: () => manager?.state ?? null, approvals: () => manager?.approvals ?? null, sink: requests, counters: metrics, log,
      });
      // Never throws for an address it cannot bind: DNS serves on; the error and its fix are logged and in /healthz.
      await blockPage.start();
    } else if (config.blockPage.enabled) {
      log.warn('no block page: blocking.sinkholeIPv4 and sinkholeIPv6 are null (or 0.0.0.0) and blockPage.listen is not set');
    }
    if (config.admin.listen) {
      const routes = new Map<string, Route>();
      routes.set('POST /cache/flush', async () => {
        // Everything learnt from upstream: answers, and in recursive mode records, delegations and server data.
        const answers = cache.size;
        const records = recursor?.cache.size ?? 0;
        cache.clear();
        recursor?.flush();
        log.info('caches flushed', { answers, records });
        return { status: 200, body: { ok: true, answers, records } };
      });
      routes.set('POST /reload', async () => {
        if (!manager) return { status: 409, body: { ok: false, error: 'filtering is off (policy.file is null): nothing to reload' } };
        const r = await manager.reload();
        return { status: r.ok ? 200 : 500, body: r };
      });
      routes.set('GET /explain', async (url) => {
        const name = url.searchParams.get('name');
        const client = url.searchParams.get('client') ?? '';
        const listener = url.searchParams.get('listener') || null;
        const state = manager?.state;
        if (!state) return { status: 409, body: { error: 'filtering is off (policy.file is null)' } };
        if (!name) return { status: 400, body: { error: 'give ?name=NAME&client=ADDRESS[&listener=ADDRESS]' } };
        try {
          return { status: 200, body: explain(state, name, client, config.blocking, Date.now(), manager?.approvals ?? null, listener) };
        } catch (e) {
          if ((e as { code?: string }).code === 'EXPLAIN_BAD_INPUT') return { status: 400, body: { error: (e as Error).message } };
          throw e;
        }
      });
      for (const [key, route] of requestRoutes(requests)) routes.set(key, route);
      for (const [key, route] of listRoutes(manager, () => refresher)) routes.set(key, route);
      for (const [key, route] of reportRoutes(queryLog.log, queryLog.offReason, config.queryLog)) routes.set(key, route);
      admin = new AdminServer(config.admin.listen, metrics, () => ({
        ok: true, uptimeSeconds: Math.round(process.uptime()), cacheEntries: cache.size, inflight: metrics.inflight,
        lists: manager?.state ? { names: manager.state.trie.nameCount, builtAt: new Date(manager.state.builtAt).toISOString() } : null,
        blockPage: blockPage?.health() ?? null,
        queryLog: queryLog.log?.health() ?? null,
      }), log, routes, config.admin.token);
      await admin.start();
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  const endpoints = [...udp.map((l) => l.describe()), ...tcp.map((l) => l.describe())];
  log.info('listening', { endpoints, admin: admin ? `http://${fmt({ ...config.admin.listen!, port: admin.port })}` : null, blockPage: blockPage?.describe() ?? null });
  return {
    metrics, cache, endpoints,
    adminPort: admin?.port ?? null,
    udpPorts: udp.map((l) => l.port),
    tcpPorts: tcp.map((l) => l.port),
    blockPagePorts: { http: blockPage?.httpPorts ?? [], https: blockPage?.httpsPorts ?? [] },
    filter: manager,
    requests,
    queryLog: queryLog.log,
    reload: () => (manager ? manager.reload() : Promise.resolve(null)),
    close: closeAll,
  };
}

/** The review-request store in the state directory; its approvals go to the filter. */
async function openRequests(config: Config, log: Logger, manager: FilterManager): Promise<RequestStore> {
  try {
    return await RequestStore.open({ directory: config.state.directory, log, onApprovals: (a) => manager.setApprovals(a) });
  } catch (e) {
    if ((e as { code?: string }).code === 'STATE_DIR_UNUSABLE') throw new StartupError((e as Error).message, { cause: e });
    throw e;
  }
}
