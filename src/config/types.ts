// The validated, normalised, frozen configuration every other module reads.
// Produced only by load.ts; nothing else parses YAML.

export interface HostPort {
  /** An IP literal, without brackets for IPv6. */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  /** Where this came from: a file path, or "<embedded default>". */
  readonly source: string;
  readonly server: {
    /** Each address gets a UDP and a TCP listener. */
    readonly listen: readonly HostPort[];
    readonly tcp: {
      /** Close a TCP connection idle this long (RFC 7766 §6.2.3). */
      readonly idleTimeoutMs: number;
      /** Refuse new TCP connections beyond this many open at once. */
      readonly maxConnections: number;
      /** Queries one TCP connection may have in flight at once; more wait their turn. */
      readonly maxPipelined: number;
    };
    /** PROXY protocol v2 (src/server/proxy-protocol.ts). */
    readonly proxyProtocol: {
      /**
       * Canonical prefixes ("10.0.0.0/8", "127.0.0.1/32") of the proxies whose PROXY v2 headers
       * are honoured, and required: a packet from them without one is dropped. Empty: off.
       */
      readonly from: readonly string[];
    };
  };
  /** The admin HTTP endpoint (/metrics, /healthz); null when disabled. */
  readonly admin: {
    readonly listen: HostPort | null;
    /** Where the token came from (for messages), or null when the admin API needs none. */
    readonly tokenFile: string | null;
    /** The token every admin request but /healthz must carry (Authorization: Bearer), read from tokenFile at load. */
    readonly token: string | null;
  };
  readonly resolver: {
    /** recursive: iterate from the root servers; forward: ask `upstreams`. */
    readonly mode: 'recursive' | 'forward';
    /** Forward mode: the resolvers to ask. */
    readonly upstreams: readonly HostPort[];
    /** Recursive mode: root server addresses; null uses IANA's root hints built in. */
    readonly rootHints: readonly string[] | null;
    /** Recursive mode: port of every authoritative server (53; tests use another). */
    readonly authPort: number;
    /** Recursive mode: QNAME minimisation (RFC 9156). */
    readonly qnameMinimisation: boolean;
    /** Recursive mode: 0x20 case randomisation of query names. */
    readonly caseRandomisation: boolean;
    /** Time to wait for one server (upstream or authoritative) before trying the next. */
    readonly timeoutMs: number;
    /** Attempts in all, across upstreams, before answering SERVFAIL. */
    readonly attempts: number;
    /** A client query gets SERVFAIL at the latest after this long. */
    readonly totalTimeoutMs: number;
    /** Recursive mode: caps on the work one client query (or all of them) may cause. */
    readonly limits: {
      readonly maxQueriesPerRequest: number;
      readonly maxReferralDepth: number;
      readonly maxNsNamesPerReferral: number;
      readonly maxCnameChain: number;
      readonly maxDependencyDepth: number;
      readonly maxConcurrentOutgoing: number;
      readonly maxConcurrentPrefetch: number;
    };
    /** Recursive mode: serve-stale (RFC 8767). */
    readonly serveStale: {
      readonly enabled: boolean;
      readonly maxStaleSeconds: number;
      readonly staleAnswerTtl: number;
      readonly clientResponseTimerMs: number;
      readonly failureRecheckMs: number;
    };
    /** Recursive mode: refreshing popular answers shortly before they expire. */
    readonly prefetch: {
      readonly enabled: boolean;
      readonly minTtlSeconds: number;
      readonly remainingFraction: number;
    };
  };
  readonly cache: {
    readonly maxEntries: number;
    readonly maxBytes: number;
    readonly minTtl: number;
    readonly maxTtl: number;
    readonly maxNegativeTtl: number;
  };
  /** Age-group filtering. */
  readonly policy: {
    /** Absolute path of the policy file (groups, categories, schools); null turns filtering off. */
    readonly file: string | null;
  };
  /** List sources given by URL in the policy: how they are fetched and refreshed. */
  readonly lists: {
    /** The server fetches its URL sources again this often (conditional requests); null: never by itself. */
    readonly refreshIntervalMs: number | null;
    /** Fraction (0 to 0.5) by which each wait is randomly longer or shorter, so many servers do not ask at once. */
    readonly refreshJitter: number;
    /** Time to connect to a list host (TCP, and TLS for https). */
    readonly connectTimeoutMs: number;
    /** Time for a whole download, redirects included. */
    readonly downloadTimeoutMs: number;
    /** Largest list accepted, in bytes after decompression; a download stops as soon as it passes this. */
    readonly maxBytes: number;
    /** Redirects followed at most (never from https to http). */
    readonly maxRedirects: number;
  };
  /** How blocked names are answered. */
  readonly blocking: {
    /** A records of blocked names point here (the block page); null answers NODATA. */
    readonly sinkholeIPv4: string | null;
    /** AAAA records of blocked names point here; null answers NODATA. */
    readonly sinkholeIPv6: string | null;
    /** TTL of blocked answers, seconds: short, so an unblocked name works again soon. */
    readonly ttl: number;
  };
  /** The HTTP server on the sinkhole address that explains a block (src/blockpage/). */
  readonly blockPage: {
    readonly enabled: boolean;
    /** Where the page is served over HTTP: the configured addresses, else the sinkhole addresses on port 80. */
    readonly listen: readonly HostPort[];
    readonly https: {
      /** reset: every connection to `port` is reset at once (fail fast); tls: the page over TLS; off: nothing. */
      readonly mode: 'reset' | 'tls' | 'off';
      /** On each host of `listen`. */
      readonly port: number;
      /** Absolute paths of the PEM certificate and key (set, readable and matching when mode is tls). */
      readonly cert: string | null;
      readonly key: string | null;
    };
    /** Offer the "this should not be blocked" review form. */
    readonly reviewForm: boolean;
  };
  /** What school-dns writes itself. */
  readonly state: {
    /** Absolute path of the state directory (review requests); created with mode 0700 at start. */
    readonly directory: string;
  };
  /** The query log (src/querylog/). */
  readonly queryLog: {
    readonly enabled: boolean;
    /** Every query, not only blocked ones. */
    readonly allQueries: boolean;
    /** Absolute path of the SQLite file; null: querylog.sqlite in state.directory (see src/querylog/setup.ts). */
    readonly path: string | null;
    /** Rows older than this many days are deleted (at start, then hourly). */
    readonly retentionDays: number;
    /** What is kept of a client's address (src/querylog/privacy.ts). */
    readonly clientAddress: 'truncate' | 'hash' | 'omit' | 'full';
    /** Records waiting to be written at most; more are dropped and counted. */
    readonly queueSize: number;
  };
  readonly log: {
    readonly level: LogLevel;
    readonly format: 'auto' | 'json' | 'text';
    /** Log every query (off the hot path otherwise). */
    readonly queries: boolean;
  };
}
