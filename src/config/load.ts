// Reads the operator's YAML file, merges it over the embedded defaults, and validates
// the result strictly: unknown keys, wrong types and impossible values are all
// collected and reported together, each with its file, line and key path.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join as joinPath, resolve as resolvePath } from 'node:path';
import { parseCidr } from '../policy/cidr';
import { DEFAULTS } from './defaults';
import type { Config, HostPort, LogLevel } from './types';
import { closest, deepFreeze, describe, parseYaml, ProblemsError, readText, sameName, sortProblems, type Entry, type Node, type Problem } from './yaml-tree';

export const DEFAULT_SOURCE = '<embedded default>';

/** Line (1-based, or null), dotted key path ("resolver.timeoutMs", or "") and what is wrong. */
export type ConfigProblem = Problem;

export class ConfigError extends ProblemsError {
  readonly code = 'CONFIG_INVALID';
  override readonly name = 'ConfigError';

  constructor(source: string, problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    super('configuration', source, problems, options);
  }
}

// ---------------------------------------------------------------------------
// Public entry points

/** Reads and validates a YAML configuration file. Throws ConfigError. */
export function loadConfigFile(path: string): Config {
  return parseConfig(readText(path, ConfigError), path);
}

/** Validates YAML text; `source` names it in messages and becomes Config.source. Throws ConfigError. */
export function parseConfig(text: string, source: string): Config {
  const parsed = parseYaml(text, 'listen');
  if ('syntax' in parsed) throw new ConfigError(source, parsed.syntax);
  return build(parsed.root, source, parsed.problems);
}

let embedded: Config | undefined;

/** The embedded default configuration (source "<embedded default>"). */
export function defaultConfig(): Config {
  embedded ??= build(undefined, DEFAULT_SOURCE, []);
  return embedded;
}

/**
 * Parses "1.2.3.4", "1.2.3.4:53", "[::1]", "[::1]:5353" or a bare IPv6 "::1".
 * The host must be an IP literal. Throws an Error saying what is wrong.
 */
export function parseHostPort(text: string, defaultPort: number): HostPort {
  const r = tryParseHostPort(text, defaultPort);
  if (typeof r === 'string') throw new Error(`invalid address ${JSON.stringify(text)}: ${r}`);
  return r;
}

/** "1.2.3.4:53" or "[::1]:53". */
export function formatHostPort(a: HostPort): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A plain JSON-able summary of the effective configuration, for logging once at startup. */
export function describeConfig(c: Config): Record<string, unknown> {
  return {
    source: c.source,
    server: { listen: c.server.listen.map(formatHostPort), tcp: { ...c.server.tcp }, proxyProtocol: { from: [...c.server.proxyProtocol.from] } },
    admin: { listen: c.admin.listen === null ? null : formatHostPort(c.admin.listen), tokenFile: c.admin.tokenFile }, // never the token itself
    resolver: {
      mode: c.resolver.mode,
      upstreams: c.resolver.upstreams.map(formatHostPort),
      rootHints: c.resolver.rootHints ?? 'IANA (built in)',
      authPort: c.resolver.authPort,
      qnameMinimisation: c.resolver.qnameMinimisation,
      caseRandomisation: c.resolver.caseRandomisation,
      timeoutMs: c.resolver.timeoutMs,
      attempts: c.resolver.attempts,
      totalTimeoutMs: c.resolver.totalTimeoutMs,
      limits: { ...c.resolver.limits },
      serveStale: { ...c.resolver.serveStale },
      prefetch: { ...c.resolver.prefetch },
    },
    cache: { ...c.cache },
    policy: { file: c.policy.file },
    lists: { ...c.lists },
    blocking: { ...c.blocking },
    blockPage: { ...c.blockPage, listen: c.blockPage.listen.map(formatHostPort), https: { ...c.blockPage.https } },
    state: { ...c.state },
    queryLog: { ...c.queryLog },
    log: { ...c.log },
  };
}

/**
 * The state directory when the configuration leaves it null: systemd's $STATE_DIRECTORY (the
 * first one, when StateDirectory= names several), else $XDG_STATE_HOME/school-dns, else
 * ~/.local/state/school-dns.
 */
export function defaultStateDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  if (systemd && isAbsolute(systemd)) return systemd;
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return joinPath(xdg, 'school-dns');
  return joinPath(homedir(), '.local', 'state', 'school-dns');
}

// ---------------------------------------------------------------------------
// Building and validating

/** Largest delay setTimeout honours; beyond it Node fires at once. */
const MAX_TIMER_MS = 2147483647;
const MAX_TTL = 2147483647;
const MAX_INT = Number.MAX_SAFE_INTEGER;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const LOG_FORMATS = ['auto', 'json', 'text'] as const;
const MODES = ['recursive', 'forward'] as const;
/** The installed package's root (this file is dist/config/load.js or src/config/load.ts). */
const PACKAGE_ROOT = resolvePath(__dirname, '..', '..');

function build(root: Node | undefined, source: string, problems: ConfigProblem[]): Config {
  const top = new Section(problems, '', root, DEFAULTS as unknown as Plain);

  const server = top.section('server');
  const tcp = server.section('tcp');
  const proxyProtocol = server.section('proxyProtocol');
  const admin = top.section('admin');
  const resolver = top.section('resolver');
  const limits = resolver.section('limits');
  const serveStale = resolver.section('serveStale');
  const prefetch = resolver.section('prefetch');
  const cache = top.section('cache');
  const log = top.section('log');
  const policy = top.section('policy');
  const lists = top.section('lists');
  const blocking = top.section('blocking');
  const state = top.section('state');
  const queryLog = top.section('queryLog');
  const blockPage = top.section('blockPage');
  const blockPageHttps = blockPage.section('https');

  const listen = server.get('listen', addressList(53));
  const configDir = source !== DEFAULT_SOURCE ? dirname(resolvePath(source)) : PACKAGE_ROOT;
  const adminListen = admin.get('listen', nullable(address(9153)));
  const adminTokenFile = admin.get('tokenFile', nullable(filePath(configDir)));
  const adminToken = adminTokenFile ? readToken(admin, adminTokenFile) : null;
  if (adminListen && !adminTokenFile && !isLoopback(adminListen.host)) {
    admin.problem('listen', `is not a loopback address: anyone who reaches it could reload, flush or approve; set admin.tokenFile to a file holding a long random token (e.g. made with: openssl rand -hex 32)`);
  }
  const timeoutMs = resolver.get('timeoutMs', integer(1, MAX_TIMER_MS));
  const totalTimeoutMs = resolver.get('totalTimeoutMs', integer(1, MAX_TIMER_MS));
  const minTtl = cache.get('minTtl', integer(0, MAX_TTL));
  const maxTtl = cache.get('maxTtl', integer(0, MAX_TTL));
  const sinkholeIPv4 = blocking.get('sinkholeIPv4', nullable(ipLiteral(4)));
  const sinkholeIPv6 = blocking.get('sinkholeIPv6', nullable(ipLiteral(6)));
  const pageListen = blockPage.get('listen', nullable(addressList(80)));
  const pageHttps = {
    mode: blockPageHttps.get('mode', oneOf(HTTPS_MODES)),
    port: blockPageHttps.get('port', integer(1, 65535)),
    cert: blockPageHttps.get('cert', nullable(filePath(configDir))),
    key: blockPageHttps.get('key', nullable(filePath(configDir))),
  };
  const stateDirectory = state.get('directory', nullable(directoryPath(source !== DEFAULT_SOURCE ? dirname(resolvePath(source)) : PACKAGE_ROOT)));

  const config: Loose<Config> = {
    source,
    server: {
      listen,
      tcp: {
        idleTimeoutMs: tcp.get('idleTimeoutMs', integer(1, MAX_TIMER_MS)),
        maxConnections: tcp.get('maxConnections', integer(1, MAX_INT)),
        maxPipelined: tcp.get('maxPipelined', integer(1, MAX_INT)),
      },
      proxyProtocol: {
        from: proxyProtocol.get('from', proxySenders),
      },
    },
    admin: { listen: adminListen, tokenFile: adminTokenFile, token: adminToken },
    resolver: {
      mode: resolver.get('mode', oneOf(MODES)),
      upstreams: resolver.get('upstreams', addressList(53)),
      rootHints: resolver.get('rootHints', nullable(ipList)),
      authPort: resolver.get('authPort', integer(1, 65535)),
      qnameMinimisation: resolver.get('qnameMinimisation', boolean),
      caseRandomisation: resolver.get('caseRandomisation', boolean),
      timeoutMs,
      attempts: resolver.get('attempts', integer(1, MAX_INT)),
      totalTimeoutMs,
      limits: {
        maxQueriesPerRequest: limits.get('maxQueriesPerRequest', integer(1, 10_000)),
        maxReferralDepth: limits.get('maxReferralDepth', integer(1, 100)),
        maxNsNamesPerReferral: limits.get('maxNsNamesPerReferral', integer(1, 100)),
        maxCnameChain: limits.get('maxCnameChain', integer(1, 100)),
        maxDependencyDepth: limits.get('maxDependencyDepth', integer(1, 100)),
        maxConcurrentOutgoing: limits.get('maxConcurrentOutgoing', integer(1, 1_000_000)),
        maxConcurrentPrefetch: limits.get('maxConcurrentPrefetch', integer(0, 1_000_000)),
      },
      serveStale: {
        enabled: serveStale.get('enabled', boolean),
        maxStaleSeconds: serveStale.get('maxStaleSeconds', integer(0, 30 * 86_400)),
        staleAnswerTtl: serveStale.get('staleAnswerTtl', integer(1, 86_400)),
        clientResponseTimerMs: serveStale.get('clientResponseTimerMs', integer(1, MAX_TIMER_MS)),
        failureRecheckMs: serveStale.get('failureRecheckMs', integer(0, MAX_TIMER_MS)),
      },
      prefetch: {
        enabled: prefetch.get('enabled', boolean),
        minTtlSeconds: prefetch.get('minTtlSeconds', integer(0, MAX_TTL)),
        remainingFraction: prefetch.get('remainingFraction', fraction(0, 1)),
      },
    },
    cache: {
      maxEntries: cache.get('maxEntries', integer(1, MAX_INT)),
      maxBytes: cache.get('maxBytes', size(1, MAX_INT)),
      minTtl,
      maxTtl,
      maxNegativeTtl: cache.get('maxNegativeTtl', integer(0, MAX_TTL)),
    },
    policy: {
      // A path the operator wrote is relative to their file; the default is relative to the package.
      file: policy.get('file', nullable(filePath(policy.isSet('file') && source !== DEFAULT_SOURCE ? dirname(resolvePath(source)) : PACKAGE_ROOT))),
    },
    lists: {
      refreshIntervalMs: lists.get('refreshInterval', nullable(duration(60_000, MAX_TIMER_MS))),
      refreshJitter: lists.get('refreshJitter', fraction(0, 0.5)),
      connectTimeoutMs: lists.get('connectTimeoutMs', integer(1, MAX_TIMER_MS)),
      downloadTimeoutMs: lists.get('downloadTimeoutMs', integer(1, MAX_TIMER_MS)),
      maxBytes: lists.get('maxBytes', size(1, MAX_INT)),
      maxRedirects: lists.get('maxRedirects', integer(0, 20)),
    },
    blocking: {
      sinkholeIPv4,
      sinkholeIPv6,
      ttl: blocking.get('ttl', integer(0, MAX_TTL)),
    },
    blockPage: {
      enabled: blockPage.get('enabled', boolean),
      // null: wherever blocked names point, on port 80.
      listen: pageListen === null ? sinkholeAddresses(sinkholeIPv4, sinkholeIPv6) : pageListen,
      https: pageHttps,
      reviewForm: blockPage.get('reviewForm', boolean),
    },
    state: {
      directory: stateDirectory === null ? defaultStateDirectory() : stateDirectory,
    },
    queryLog: {
      enabled: queryLog.get('enabled', boolean),
      allQueries: queryLog.get('allQueries', boolean),
      // null: in the state directory, beside what else school-dns writes.
      path: queryLog.get('path', nullable(filePath(configDir))),
      retentionDays: queryLog.get('retentionDays', integer(1, 3650)),
      clientAddress: queryLog.get('clientAddress', oneOf(CLIENT_ADDRESS_MODES)),
      queueSize: queryLog.get('queueSize', integer(1, 10_000_000)),
    },
    log: {
      level: log.get('level', oneOf(LOG_LEVELS)),
      format: log.get('format', oneOf(LOG_FORMATS)),
      queries: log.get('queries', boolean),
    },
  };

  // Checks between keys, made only when each key is valid on its own.
  if (timeoutMs !== undefined && totalTimeoutMs !== undefined && totalTimeoutMs < timeoutMs) {
    if (resolver.isSet('totalTimeoutMs') || !resolver.isSet('timeoutMs')) {
      resolver.problem('totalTimeoutMs', `must be at least resolver.timeoutMs, which is ${timeoutMs}${resolver.isSet('timeoutMs') ? '' : ' by default'}`);
    } else {
      resolver.problem('timeoutMs', `must not be more than resolver.totalTimeoutMs, which is ${totalTimeoutMs} by default`);
    }
  }
  if (minTtl !== undefined && maxTtl !== undefined && minTtl > maxTtl) {
    if (cache.isSet('minTtl') || !cache.isSet('maxTtl')) {
      cache.problem('minTtl', `must not be more than cache.maxTtl, which is ${maxTtl}${cache.isSet('maxTtl') ? '' : ' by default'}`);
    } else {
      cache.problem('maxTtl', `must be at least cache.minTtl, which is ${minTtl} by default`);
    }
  }
  if (listen !== undefined && adminListen) {
    const clash = listen.some((a) => sameAddress(a, adminListen));
    if (clash && admin.isSet('listen')) {
      admin.problem('listen', 'is also one of the DNS addresses in server.listen; the admin endpoint needs its own port');
    } else if (clash) {
      server.problem('listen', `includes ${formatHostPort(adminListen)}, the admin endpoint's address by default; choose another port, or set admin.listen`);
    }
  }

  if (config.blockPage.enabled) checkBlockPage(blockPage, blockPageHttps, config.blockPage, [...(listen ?? []), ...(adminListen ? [adminListen] : [])]);

  if (problems.length > 0) throw new ConfigError(source, sortProblems(problems));
  // Every get() above returned a value, or it recorded a problem and we threw.
  return deepFreeze(config as unknown as Config);
}

const HTTPS_MODES = ['reset', 'tls', 'off'] as const;
/** queryLog.clientAddress: the modes of src/querylog/privacy.ts. */
const CLIENT_ADDRESS_MODES = ['truncate', 'hash', 'omit', 'full'] as const;

/** The sinkhole addresses on port 80, where browsers go for a blocked name (0.0.0.0 and :: are no address to serve on). */
function sinkholeAddresses(v4: string | null | undefined, v6: string | null | undefined): HostPort[] {
  const out: HostPort[] = [];
  if (v4 && v4 !== '0.0.0.0') out.push({ host: v4, port: 80, family: 4 });
  if (v6 && comparable({ host: v6, port: 80, family: 6 }) !== '[::]') out.push({ host: v6, port: 80, family: 6 });
  return out;
}

/** 127.0.0.0/8, ::1 and ::ffff:127.x.y.z: only this machine can reach them. */
function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/** The admin token from its file: one line, at least 16 characters, no spaces. */
function readToken(admin: Section, path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    admin.problem('tokenFile', `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return null;
  }
  const token = text.trim();
  if (token.length < 16 || /\s/.test(token)) {
    admin.problem('tokenFile', 'must hold one token of at least 16 characters without spaces (e.g. made with: openssl rand -hex 32)');
    return null;
  }
  return token;
}

/** The block page's checks between keys: TLS files for mode tls, no port shared with DNS, admin or itself. */
function checkBlockPage(page: Section, https: Section, c: Loose<Config['blockPage']>, taken: readonly HostPort[]): void {
  const { mode, port, cert, key } = c.https;
  if (mode === 'tls') {
    if (cert === null) https.problem('cert', 'is needed when blockPage.https.mode is "tls": the path of the PEM certificate file');
    if (key === null) https.problem('key', 'is needed when blockPage.https.mode is "tls": the path of the PEM private key file');
    if (cert && key) {
      const read = (k: 'cert' | 'key', path: string): Buffer | undefined => {
        try {
          return readFileSync(path);
        } catch (e) {
          https.problem(k, `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          return undefined;
        }
      };
      const certPem = read('cert', cert);
      const keyPem = read('key', key);
      if (certPem && keyPem) {
        try {
          createSecureContext({ cert: certPem, key: keyPem });
        } catch (e) {
          https.problem('key', `does not work with blockPage.https.cert: ${(e as Error).message}`);
        }
      }
    }
  } else if (mode !== undefined) {
    if (cert) https.problem('cert', `is only used with blockPage.https.mode "tls" (the mode is "${mode}")`);
    if (key) https.problem('key', `is only used with blockPage.https.mode "tls" (the mode is "${mode}")`);
  }
  const listen = c.listen ?? [];
  const where = page.isSet('listen') ? 'blockPage.listen' : 'the sinkhole address (blocking.sinkholeIPv4/IPv6) on port 80';
  const reported = new Set<string>();
  for (const a of listen) {
    if (taken.some((t) => sameAddress(a, t))) {
      page.problem('listen', `${where} includes ${formatHostPort(a)}, which DNS (server.listen) or the admin endpoint uses; the block page needs its own port`);
    }
    if (mode !== undefined && mode !== 'off' && port !== undefined) {
      const tls: HostPort = { ...a, port };
      if (!reported.has(comparable(tls)) && (listen.some((b) => sameAddress(tls, b)) || taken.some((t) => sameAddress(tls, t)))) {
        reported.add(comparable(tls));
        https.problem('port', `${formatHostPort(tls)} is already taken by the block page's HTTP address, DNS or the admin endpoint; choose another port, or mode "off"`);
      }
    }
  }
}

/** Config with every setting possibly missing (for a setting that had a problem). */
type Loose<T> = {
  [K in keyof T]: T[K] extends string | number | boolean | null | HostPort | readonly unknown[] ? T[K] | undefined : Loose<T[K]>;
};

// ---------------------------------------------------------------------------
// DEFAULTS in the shape of the file's tree (without lines)

type Plain = { readonly [key: string]: unknown };

function fromPlain(value: unknown): Node {
  if (Array.isArray(value)) return { kind: 'seq', items: value.map(fromPlain), line: null };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'map',
      entries: Object.entries(value).map(([key, v]) => ({ key, keyLine: null, value: fromPlain(v) })),
      line: null,
    };
  }
  return { kind: 'scalar', value, line: null, empty: false };
}

// ---------------------------------------------------------------------------
// Sections: a mapping in the file, merged over the matching mapping in DEFAULTS

interface At {
  /** Full dotted key path. */
  readonly key: string;
  /** Records a problem about v (or a part of it) and returns undefined. */
  problem(v: Node, what: string): undefined;
}

type Parser<T> = (v: Node, at: At) => T | undefined;

class Section {
  private readonly given = new Map<string, Entry>();
  private readonly seen = new Map<string, { v: Node; at: At }>();

  constructor(
    private readonly problems: ConfigProblem[],
    private readonly path: string,
    user: Node | undefined,
    private readonly defaults: Plain,
    keyLine: number | null = null,
  ) {
    if (user === undefined || (user.kind === 'scalar' && user.value === null)) return; // absent or empty: all defaults
    if (user.kind !== 'map') {
      const what = this.path === '' ? 'the file must hold settings as "key: value" lines' : 'must be a section of settings, "key: value" lines indented below it';
      problems.push({ line: user.line ?? keyLine, key: this.path, message: `${what} (got ${describe(user)})` });
      return;
    }
    for (const entry of user.entries) {
      if (Object.prototype.hasOwnProperty.call(defaults, entry.key)) {
        this.given.set(entry.key, entry);
      } else {
        const key = this.join(entry.key);
        const hint = suggest(this.path, entry.key, defaults);
        problems.push({ line: entry.keyLine, key, message: `unknown key${hint ? `; did you mean "${hint}"?` : ''}` });
      }
    }
  }

  section(key: string): Section {
    const entry = this.given.get(key);
    return new Section(this.problems, this.join(key), entry?.value, this.defaults[key] as Plain, entry?.keyLine ?? null);
  }

  get<T>(key: string, parse: Parser<T>): T | undefined {
    const entry = this.given.get(key);
    const v = entry ? entry.value : fromPlain(this.defaults[key]);
    const keyLine = entry ? entry.keyLine : null;
    const at: At = {
      key: this.join(key),
      problem: (bad, what) => {
        this.problems.push({ line: bad.line ?? keyLine, key: this.join(key), message: `${what} (got ${describe(bad)})` });
        return undefined;
      },
    };
    this.seen.set(key, { v, at });
    return parse(v, at);
  }

  /** Whether the file gave this key (rather than it keeping its default). */
  isSet(key: string): boolean {
    return this.given.has(key);
  }

  /** A problem about a key already read with get(). */
  problem(key: string, what: string): void {
    const s = this.seen.get(key);
    if (s) s.at.problem(s.v, what);
  }

  private join(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }
}

/** A known key close to an unknown one: a sibling, or the same name in another section. */
function suggest(path: string, unknown: string, siblings: Plain): string | undefined {
  const prefix = path === '' ? '' : `${path}.`;
  const sibling = closest(unknown, Object.keys(siblings), { swaps: true });
  if (sibling !== undefined) return prefix + sibling;
  // Same name, wrong place: "upstreams" at the top level means "resolver.upstreams".
  const found: string[] = [];
  const walk = (node: Plain, at: string): void => {
    for (const [k, v] of Object.entries(node)) {
      const p = at === '' ? k : `${at}.${k}`;
      if (sameName(k, unknown) && p !== prefix + k) found.push(p);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Plain, p);
    }
  };
  walk(DEFAULTS as unknown as Plain, '');
  return found.length === 1 ? found[0] : undefined;
}

// ---------------------------------------------------------------------------
// Value parsers

function integer(min: number, max: number): Parser<number> {
  return (v, at) => {
    const range = max === MAX_INT ? `at least ${min}` : `from ${min} to ${max}`;
    const whole = `must be a whole number, ${range}`;
    if (v.kind !== 'scalar' || typeof v.value !== 'number') {
      const quoted = v.kind === 'scalar' && typeof v.value === 'string' && /^\s*-?\d+(\.\d*)?\s*$/.test(v.value);
      return at.problem(v, `${whole}${quoted ? ', written without quotes' : ''}`);
    }
    if (!Number.isInteger(v.value)) return at.problem(v, whole);
    if (v.value < min || v.value > max) return at.problem(v, `must be ${range}`);
    return v.value;
  };
}

function boolean(v: Node, at: At): boolean | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'boolean') return v.value;
  const text = v.kind === 'scalar' && typeof v.value === 'string' ? v.value : '';
  let hint = '';
  if (/^(true|false)$/i.test(text)) hint = ', written in lower case without quotes';
  else if (/^(yes|no|on|off|y|n)$/i.test(text)) hint = '; yes, no, on and off are not accepted';
  return at.problem(v, `must be true or false${hint}`);
}

function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (v, at) => {
    if (v.kind === 'scalar' && typeof v.value === 'string' && (allowed as readonly string[]).includes(v.value)) return v.value as T;
    return at.problem(v, `must be ${allowed.length === 1 ? '' : 'one of '}${allowed.map((a) => `"${a}"`).join(', ')}`);
  };
}

function nullable<T>(parse: Parser<T>): Parser<T | null> {
  return (v, at) => (v.kind === 'scalar' && v.value === null ? null : parse(v, at));
}

function filePath(baseDir: string): Parser<string> {
  return (v, at) => {
    if (v.kind !== 'scalar' || typeof v.value !== 'string' || v.value.trim() === '') return at.problem(v, 'must be a file path');
    return resolvePath(baseDir, v.value);
  };
}

function directoryPath(baseDir: string): Parser<string> {
  return (v, at) => {
    if (v.kind !== 'scalar' || typeof v.value !== 'string' || v.value.trim() === '') return at.problem(v, 'must be a directory path, or null for the default');
    return resolvePath(baseDir, v.value);
  };
}

/** A list of IPv4/IPv6 addresses without ports (root hints). */
function ipList(v: Node, at: At): readonly string[] | undefined {
  if (v.kind !== 'seq' || v.items.length === 0) return at.problem(v, 'must be a list of IP addresses, such as ["198.41.0.4", "2001:503:ba3e::2:30"], or null');
  const out: string[] = [];
  for (const item of v.items) {
    if (item.kind !== 'scalar' || typeof item.value !== 'string' || isIP(item.value) === 0) {
      at.problem(item, 'must be an IP address without a port (the port is resolver.authPort)');
      return undefined;
    }
    out.push(item.value.toLowerCase());
  }
  return out;
}

/**
 * server.proxyProtocol.from: IP prefixes or bare addresses of the proxies, as canonical prefixes.
 * A prefix of length 0 is refused: it would let every device claim to be any other.
 */
function proxySenders(v: Node, at: At): readonly string[] | undefined {
  const how = 'must be a list of the proxies\' addresses or prefixes, such as ["10.0.0.5", "10.0.1.0/24"], or [] for none';
  if (v.kind !== 'seq') {
    const hint = v.kind === 'scalar' && typeof v.value === 'string' ? `, even for one: [${JSON.stringify(v.value)}]` : '';
    return at.problem(v, `${how}${hint}`);
  }
  const out: string[] = [];
  let ok = true;
  for (const item of v.items) {
    if (item.kind !== 'scalar' || typeof item.value !== 'string') {
      at.problem(item, how);
      ok = false;
      continue;
    }
    const c = parseCidr(item.value.trim());
    if (typeof c === 'string') {
      at.problem(item, c);
      ok = false;
    } else if (c.length === 0) {
      at.problem(item, 'would trust every address, so any device could claim to be any other; list only the addresses of the proxies (dnsdist)');
      ok = false;
    } else if (out.includes(c.text)) {
      at.problem(item, `lists ${c.text} more than once`);
      ok = false;
    } else {
      out.push(c.text);
    }
  }
  return ok ? out : undefined;
}

function ipLiteral(family: 4 | 6): Parser<string> {
  return (v, at) => {
    if (v.kind === 'scalar' && typeof v.value === 'string' && isIP(v.value) === family) return v.value.toLowerCase();
    return at.problem(v, `must be an IPv${family} address${family === 4 ? ' such as "10.0.0.53"' : ' such as "2001:db8::53"'}, or null`);
  };
}

function address(defaultPort: number): Parser<HostPort> {
  return (v, at) => {
    if (v.kind !== 'scalar' || typeof v.value !== 'string') {
      return at.problem(v, `must be an address such as "127.0.0.1:${defaultPort}" or "[::1]:${defaultPort}"`);
    }
    const r = tryParseHostPort(v.value, defaultPort);
    return typeof r === 'string' ? at.problem(v, r) : r;
  };
}

function addressList(defaultPort: number): Parser<readonly HostPort[]> {
  const one = address(defaultPort);
  return (v, at) => {
    if (v.kind !== 'seq') {
      const hint = v.kind === 'scalar' && typeof v.value === 'string' ? `, even for one address: [${JSON.stringify(v.value)}]` : '';
      return at.problem(v, `must be a list of addresses${hint}`);
    }
    if (v.items.length === 0) return at.problem(v, 'must list at least one address');
    const out: HostPort[] = [];
    let ok = true;
    for (const item of v.items) {
      const a = one(item, at);
      if (a === undefined) {
        ok = false;
      } else if (out.some((b) => sameAddress(a, b))) {
        at.problem(item, `lists ${formatHostPort(a)} more than once`);
        ok = false;
      } else {
        out.push(a);
      }
    }
    return ok ? out : undefined;
  };
}

const SIZE_UNITS: Readonly<Record<string, bigint>> = {
  B: 1n,
  KiB: 1024n,
  MiB: 1024n ** 2n,
  GiB: 1024n ** 3n,
  KB: 1000n,
  kB: 1000n,
  MB: 1000n ** 2n,
  GB: 1000n ** 3n,
};

function size(min: number, max: number): Parser<number> {
  const units = 'B, KiB, MiB, GiB, KB, MB or GB';
  return (v, at) => {
    let bytes: number;
    if (v.kind === 'scalar' && typeof v.value === 'number') {
      if (!Number.isInteger(v.value)) return at.problem(v, 'must be a whole number of bytes');
      bytes = v.value;
    } else if (v.kind === 'scalar' && typeof v.value === 'string') {
      const m = /^(\d+)(?:\.(\d+))?\s*([A-Za-z]*)$/.exec(v.value.trim());
      if (!m) return at.problem(v, `must be a number of bytes, or a number with a unit (${units}), like "64MiB"`);
      const [, whole, frac = '', unit] = m;
      const multiplier = SIZE_UNITS[unit!];
      if (unit === '' || multiplier === undefined) return at.problem(v, `must have a unit, one of ${units}`);
      const scaled = BigInt(whole! + frac) * multiplier;
      const divisor = 10n ** BigInt(frac.length);
      if (scaled % divisor !== 0n) return at.problem(v, 'must come to a whole number of bytes');
      const n = scaled / divisor;
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) return at.problem(v, `must be at most ${max} bytes`);
      bytes = Number(n);
    } else {
      return at.problem(v, `must be a number of bytes, or a number with a unit (${units}), like "64MiB"`);
    }
    if (bytes < min || bytes > max) return at.problem(v, max === MAX_INT ? `must be at least ${min} byte` : `must be from ${min} to ${max} bytes`);
    return bytes;
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, from seconds (a number) or a string of amounts with units: "24h", "90m", "1d 12h", "45s". */
function duration(minMs: number, maxMs: number): Parser<number> {
  const how = 'must be a number of seconds, or a duration with units (ms, s, m, h, d) like "24h" or "1h 30m"';
  const show = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
  return (v, at) => {
    let ms: number;
    if (v.kind === 'scalar' && typeof v.value === 'number') {
      ms = v.value * 1000;
    } else if (v.kind === 'scalar' && typeof v.value === 'string' && /^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$/.test(v.value)) {
      ms = 0;
      for (const m of v.value.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g)) ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    } else {
      return at.problem(v, how);
    }
    ms = Math.round(ms);
    if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) return at.problem(v, `must be from ${show(minMs)} to ${Math.floor(maxMs / 86_400_000)}d`);
    return ms;
  };
}

/** A number from min to max, fractions allowed. */
function fraction(min: number, max: number): Parser<number> {
  return (v, at) => {
    if (v.kind !== 'scalar' || typeof v.value !== 'number' || !Number.isFinite(v.value)) return at.problem(v, `must be a number from ${min} to ${max}, such as 0.1`);
    if (v.value < min || v.value > max) return at.problem(v, `must be from ${min} to ${max}`);
    return v.value;
  };
}

// ---------------------------------------------------------------------------
// Addresses

export function tryParseHostPort(text: string, defaultPort: number): HostPort | string {
  if (text === '') return 'is empty; an address is needed';
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return 'has "[" without a matching "]"';
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return 'may only have ":PORT" after "]"';
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) return isIP(host) === 4 ? 'uses brackets, which are only for IPv6 addresses' : 'has something other than an IPv6 address in brackets';
  } else if (isIP(text) !== 0) {
    host = text; // "1.2.3.4" or a bare IPv6 "::1"
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) return 'is not a valid IPv6 address (with a port, IPv6 is written "[ADDRESS]:PORT")';
    [host, portText] = colons === 1 ? (text.split(':') as [string, string]) : [text, undefined];
    if (isIP(host) === 0) {
      return /[a-z]/i.test(host) ? 'must be an IP address, not a host name' : 'is not a valid IP address';
    }
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      return 'has a bad port: a port must be a whole number from 1 to 65535';
    }
    port = Number(portText);
  }
  const family = isIP(host) as 4 | 6;
  return { host: family === 6 ? host.toLowerCase() : host, port, family };
}

function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && comparable(a) === comparable(b);
}

/** IPv6 in one spelling ("0::1" and "::1" alike), for comparing. */
function comparable(a: HostPort): string {
  if (a.family === 4 || a.host.includes('%')) return a.host;
  try {
    return new URL(`http://[${a.host}]/`).hostname;
  } catch {
    return a.host;
  }
}
