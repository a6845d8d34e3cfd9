// The embedded default configuration, in the same shape (and with the same spellings)
// as the YAML file an operator writes. load.ts merges the operator's file over this and
// validates the result; config/school-dns.example.yaml lists these same values.
import type { LogLevel } from './types';

/** What the YAML file may contain: every key optional there, every key present here. */
export interface ConfigInput {
  readonly server: {
    /** "IP", "IP:PORT", "[IPv6]", "[IPv6]:PORT" or bare "IPv6"; the port defaults to 53. */
    readonly listen: readonly string[];
    readonly tcp: {
      readonly idleTimeoutMs: number;
      readonly maxConnections: number;
      readonly maxPipelined: number;
    };
    /** PROXY protocol v2 (dnsdist's useProxyProtocol=true): the real client's address in a header. */
    readonly proxyProtocol: {
      /** Senders (IP prefixes such as "10.0.0.0/8" or bare addresses) whose headers are honoured and required; [] = off. */
      readonly from: readonly string[];
    };
  };
  readonly admin: {
    /** As server.listen, port defaulting to 9153; null disables the admin endpoint. */
    readonly listen: string | null;
    /** A file holding the token the admin API then requires (relative to the configuration file); needed off loopback. */
    readonly tokenFile: string | null;
  };
  readonly resolver: {
    readonly mode: 'recursive' | 'forward';
    /** Addresses as in server.listen, port defaulting to 53. */
    readonly upstreams: readonly string[];
    /** IP addresses of root servers, or null for IANA's. */
    readonly rootHints: readonly string[] | null;
    readonly authPort: number;
    readonly qnameMinimisation: boolean;
    readonly caseRandomisation: boolean;
    readonly timeoutMs: number;
    readonly attempts: number;
    readonly totalTimeoutMs: number;
    readonly limits: {
      readonly maxQueriesPerRequest: number;
      readonly maxReferralDepth: number;
      readonly maxNsNamesPerReferral: number;
      readonly maxCnameChain: number;
      readonly maxDependencyDepth: number;
      readonly maxConcurrentOutgoing: number;
      readonly maxConcurrentPrefetch: number;
    };
    readonly serveStale: {
      readonly enabled: boolean;
      readonly maxStaleSeconds: number;
      readonly staleAnswerTtl: number;
      readonly clientResponseTimerMs: number;
      readonly failureRecheckMs: number;
    };
    readonly prefetch: {
      readonly enabled: boolean;
      readonly minTtlSeconds: number;
      readonly remainingFraction: number;
    };
  };
  readonly cache: {
    readonly maxEntries: number;
    /** Bytes, or a string with a unit: "64MiB", "500 KB". */
    readonly maxBytes: number | string;
    readonly minTtl: number;
    readonly maxTtl: number;
    readonly maxNegativeTtl: number;
  };
  readonly policy: {
    /** Path of the policy file, relative to the configuration file (or to the package for the default). */
    readonly file: string | null;
  };
  /** List sources given by URL in the policy (src/lists/fetch*.ts). */
  readonly lists: {
    /** Seconds, or a string with units ("24h", "90m", "1d 12h"); null: only on reload or `lists update`. */
    readonly refreshInterval: number | string | null;
    /** Each wait is the interval plus or minus this fraction of it, at random. */
    readonly refreshJitter: number;
    readonly connectTimeoutMs: number;
    readonly downloadTimeoutMs: number;
    /** Bytes, or a string with a unit, as cache.maxBytes. */
    readonly maxBytes: number | string;
    readonly maxRedirects: number;
  };
  readonly blocking: {
    readonly sinkholeIPv4: string | null;
    readonly sinkholeIPv6: string | null;
    readonly ttl: number;
  };
  readonly blockPage: {
    readonly enabled: boolean;
    /** "IP:PORT" addresses (port 80 when none is given); null = the sinkhole addresses on port 80. */
    readonly listen: readonly string[] | null;
    readonly https: {
      /** reset: port 443 resets every connection at once; tls: the page over TLS with cert and key; off. */
      readonly mode: 'reset' | 'tls' | 'off';
      readonly port: number;
      /** PEM files, relative to the configuration file; required for mode tls. */
      readonly cert: string | null;
      readonly key: string | null;
    };
    /** Offer the "this should not be blocked" review form. */
    readonly reviewForm: boolean;
  };
  readonly state: {
    /**
     * Where school-dns keeps what it writes itself (review requests and their approvals).
     * null: $STATE_DIRECTORY (systemd's StateDirectory=), else $XDG_STATE_HOME/school-dns,
     * else ~/.local/state/school-dns. A relative path is relative to the configuration file.
     */
    readonly directory: string | null;
  };
  /** The query log (src/querylog/): blocked queries, or all, in SQLite, with privacy and retention. */
  readonly queryLog: {
    readonly enabled: boolean;
    /** Every query, not only blocked ones. */
    readonly allQueries: boolean;
    /** The SQLite file, relative to the configuration file; null: querylog.sqlite in state.directory. */
    readonly path: string | null;
    readonly retentionDays: number;
    /** What is kept of a client's address: truncate (IPv4 /24, IPv6 /48), hash, omit, or full. */
    readonly clientAddress: 'truncate' | 'hash' | 'omit' | 'full';
    /** Records waiting to be written at most; more are dropped and counted. */
    readonly queueSize: number;
  };
  readonly log: {
    readonly level: LogLevel;
    readonly format: 'auto' | 'json' | 'text';
    readonly queries: boolean;
  };
}

export const DEFAULTS: ConfigInput = deepFreeze({
  server: {
    listen: ['127.0.0.1:5353', '[::1]:5353'],
    tcp: {
      idleTimeoutMs: 10000,
      maxConnections: 1000,
      maxPipelined: 64,
    },
    proxyProtocol: {
      from: [],
    },
  },
  admin: {
    listen: '127.0.0.1:9153',
    tokenFile: null,
  },
  resolver: {
    mode: 'recursive',
    upstreams: ['1.1.1.1', '9.9.9.9', '[2606:4700:4700::1111]', '[2620:fe::fe]'],
    rootHints: null,
    authPort: 53,
    qnameMinimisation: true,
    caseRandomisation: false,
    timeoutMs: 1500,
    attempts: 4,
    totalTimeoutMs: 5000,
    // The recursor's own defaults (src/recursor/recursor.ts DEFAULT_LIMITS, DEFAULT_SERVE_STALE,
    // DEFAULT_PREFETCH); a test checks they agree.
    limits: {
      maxQueriesPerRequest: 60,
      maxReferralDepth: 16,
      maxNsNamesPerReferral: 4,
      maxCnameChain: 12,
      maxDependencyDepth: 4,
      maxConcurrentOutgoing: 500,
      maxConcurrentPrefetch: 32,
    },
    serveStale: {
      enabled: true,
      maxStaleSeconds: 86400,
      staleAnswerTtl: 30,
      clientResponseTimerMs: 1800,
      failureRecheckMs: 30000,
    },
    prefetch: {
      enabled: true,
      minTtlSeconds: 10,
      remainingFraction: 0.1,
    },
  },
  cache: {
    maxEntries: 100000,
    maxBytes: '64MiB',
    minTtl: 0,
    maxTtl: 86400,
    maxNegativeTtl: 3600,
  },
  policy: {
    file: 'policies/school-dns-policy.yaml',
  },
  lists: {
    refreshInterval: '24h',
    refreshJitter: 0.1,
    connectTimeoutMs: 10000,
    downloadTimeoutMs: 600000,
    maxBytes: '64MiB',
    maxRedirects: 5,
  },
  blocking: {
    sinkholeIPv4: '127.0.0.1',
    sinkholeIPv6: null,
    ttl: 60,
  },
  blockPage: {
    enabled: true,
    listen: null,
    https: {
      mode: 'reset',
      port: 443,
      cert: null,
      key: null,
    },
    reviewForm: true,
  },
  state: {
    directory: null,
  },
  queryLog: {
    enabled: true,
    allQueries: false,
    path: null,
    retentionDays: 30,
    clientAddress: 'truncate',
    queueSize: 10000,
  },
  log: {
    level: 'info',
    format: 'auto',
    queries: false,
  },
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
