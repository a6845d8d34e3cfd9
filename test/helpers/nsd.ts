// Real authoritative servers for interop tests: NSD (NLnet Labs, installed from Debian by
// .ci/run) on loopback. Writes zone files and one nsd.conf per server into a temp dir,
// starts one `nsd -d` process per address (all on one port, free on every address, so a
// recursor with a single authPort can reach them all), waits until each answers for its
// zones, and stops them by PID.
//
// The configuration is written from nsd.conf(5) of NSD 4.x: no privilege drop, no chroot,
// no database, no remote control, no rate limiting, every state file inside the temp dir.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decode, query } from './packets';

export interface NsdZone {
  /** Zone apex, without trailing dot ("" for the root). */
  readonly origin: string;
  /** Zone file text (RFC 1035 master format). */
  readonly text: string;
}

export interface NsdServerSpec {
  /** A 127.0.0.0/8 address. */
  readonly address: string;
  readonly zones: readonly NsdZone[];
}

export interface NsdServer {
  readonly address: string;
  /** PID of the `nsd -d` process started (NSD's xfrd; its main and server processes are its children). */
  readonly pid: number;
  readonly dir: string;
  /** What NSD has logged so far (stderr and its log file). */
  log(): string;
}

export interface NsdHierarchy {
  readonly port: number;
  readonly dir: string;
  /** `nsd -v`'s first line, e.g. "NSD version 4.6.1". */
  readonly version: string;
  readonly servers: readonly NsdServer[];
  close(): Promise<void>;
}

const SEARCH_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/**
 * The nsd binary: on PATH (as `command -v nsd` finds it) or in an sbin directory that a
 * non-root PATH often lacks. Throws with instructions when NSD is not installed.
 */
export function findNsd(): string {
  const found = spawnSync('sh', ['-c', 'command -v nsd'], { encoding: 'utf8' });
  const onPath = found.status === 0 ? found.stdout.trim() : '';
  for (const candidate of [onPath, ...SEARCH_DIRS.map((d) => path.join(d, 'nsd'))]) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch { /* next */ }
  }
  throw new Error('NSD is not installed (`command -v nsd` failed and no nsd in /usr/sbin): the interop test needs a real '
    + 'authoritative server. Install it with `apt-get install -y nsd` (.ci/run installs it in CI).');
}

/** First line of `nsd -v` (NSD prints its version on stderr). */
export function nsdVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown';
}

const zoneFileName = (origin: string): string => (origin === '' ? 'root' : origin) + '.zone';

function nsdConf(dir: string, address: string, port: number, zones: readonly NsdZone[]): string {
  const q = (s: string): string => JSON.stringify(s); // a double-quoted string; our paths have no quotes or backslashes
  const lines = [
    'server:',
    `  ip-address: ${address}`,
    `  port: ${port}`,
    '  do-ip4: yes',
    '  do-ip6: no',
    '  server-count: 1',
    '  username: ""',
    '  chroot: ""',
    '  database: ""',
    `  zonesdir: ${q(dir)}`,
    `  zonelistfile: ${q(path.join(dir, 'zone.list'))}`,
    `  xfrdfile: ${q(path.join(dir, 'xfrd.state'))}`,
    `  xfrdir: ${q(dir)}`,
    `  pidfile: ${q(path.join(dir, 'nsd.pid'))}`,
    `  logfile: ${q(path.join(dir, 'nsd.log'))}`,
    `  cookie-secret-file: ${q(path.join(dir, 'cookie-secrets.txt'))}`,
    '  verbosity: 0',
    '  hide-version: yes',
    '  rrl-ratelimit: 0',
    '  rrl-whitelist-ratelimit: 0',
    '  tcp-timeout: 10',
    'remote-control:',
    '  control-enable: no',
  ];
  for (const z of zones) {
    lines.push('zone:', `  name: ${q(z.origin === '' ? '.' : z.origin)}`, `  zonefile: ${q(path.join(dir, zoneFileName(z.origin)))}`);
  }
  return lines.join('\n') + '\n';
}

/** Whether UDP and TCP `port` can be bound on every address right now. */
async function portFree(addresses: readonly string[], port: number): Promise<boolean> {
  for (const address of addresses) {
    const udpOk = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => { s.close(); resolve(false); });
      s.bind(port, address, () => s.close(() => resolve(true)));
    });
    if (!udpOk) return false;
    const tcpOk = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, address, () => s.close(() => resolve(true)));
    });
    if (!tcpOk) return false;
  }
  return true;
}

/** One SOA query for `zone` over UDP; true when an authoritative NOERROR reply came. */
function soaAnswered(address: string, port: number, zone: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('error', () => finish(false));
    sock.on('message', (m) => {
      try {
        const d = decode(m);
        finish(d.flag_aa && d.rcode === 'NOERROR' && d.answers.some((a) => a.type === 'SOA'));
      } catch {
        finish(false);
      }
    });
    sock.send(query(zone === '' ? '.' : zone, 'SOA', { flags: 0 }), port, address, (e) => { if (e) finish(false); });
  });
}

interface Running {
  readonly server: NsdServer;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode: number | null | undefined;
}

const MAX_LOG = 16 * 1024;

function launch(bin: string, dir: string, spec: NsdServerSpec, port: number): Running {
  mkdirSync(dir, { recursive: true });
  for (const z of spec.zones) writeFileSync(path.join(dir, zoneFileName(z.origin)), z.text);
  const conf = path.join(dir, 'nsd.conf');
  writeFileSync(conf, nsdConf(dir, spec.address, port, spec.zones));
  // Its own process group, so that a stuck NSD's children can be killed with it.
  const child = spawn(bin, ['-d', '-c', conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const keep = (b: Buffer): void => { out = (out + String(b)).slice(-MAX_LOG); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const logFile = path.join(dir, 'nsd.log');
  const log = (): string => {
    let file = '';
    try { file = readFileSync(logFile, 'utf8').slice(-MAX_LOG); } catch { /* not written yet */ }
    return `${out}${file}`;
  };
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  const running: Running = {
    server: { address: spec.address, pid: child.pid, dir, log },
    child,
    exitCode: undefined,
    exited: new Promise((resolve) => {
      child.once('exit', (code) => { running.exitCode = code; resolve(); });
      child.once('error', (e) => { out += `\nspawn error: ${e.message}`; running.exitCode = -1; resolve(); });
    }),
  };
  return running;
}

/** Whether any process of the group led by `pid` is still alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the NSD process we started; SIGKILL to its process group if it has not gone within `graceMs`. */
async function stop(r: Running, graceMs = 3000): Promise<void> {
  const pid = r.server.pid;
  if (r.exitCode === undefined) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([r.exited, new Promise<void>((res) => { timer = setTimeout(res, graceMs); })]);
    clearTimeout(timer);
  }
  // Its main and server processes leave shortly after it; make sure none lingers.
  for (let i = 0; i < 20 && groupAlive(pid); i++) await new Promise((res) => setTimeout(res, 50));
  if (groupAlive(pid)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await Promise.race([r.exited, new Promise((res) => setTimeout(res, 1000))]);
  r.child.stdout?.destroy();
  r.child.stderr?.destroy();
}

async function waitReady(r: Running, port: number, spec: NsdServerSpec, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const until = Date.now() + timeoutMs;
  const pending = new Set(spec.zones.map((z) => z.origin));
  while (Date.now() < until) {
    if (r.exitCode !== undefined) return 'exited';
    for (const zone of [...pending]) if (await soaAnswered(spec.address, port, zone, 200)) pending.delete(zone);
    if (pending.size === 0) return 'ready';
    await new Promise((res) => setTimeout(res, 50));
  }
  return r.exitCode !== undefined ? 'exited' : 'timeout';
}

/**
 * Starts one NSD per spec, all on one port that is free on every address (another port
 * is tried when NSD cannot bind), and resolves when every server answers SOA queries
 * for all its zones authoritatively.
 */
export async function startNsdHierarchy(specs: readonly NsdServerSpec[], opts: { tries?: number; readyTimeoutMs?: number } = {}): Promise<NsdHierarchy> {
  for (const s of specs) {
    if (!net.isIPv4(s.address) || !s.address.startsWith('127.')) throw new Error(`NSD servers listen on 127.0.0.0/8 only, not ${s.address}`);
  }
  const bin = findNsd();
  const version = nsdVersion(bin);
  const tries = opts.tries ?? 8;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 8000;
  const dir = mkdtempSync(path.join(tmpdir(), 'school-dns-nsd-'));
  const failures: string[] = [];
  for (let attempt = 0; attempt < tries; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000); // below the ephemeral range (32768-60999)
    if (!(await portFree(specs.map((s) => s.address), port))) { failures.push(`port ${port} busy`); continue; }
    const runDir = path.join(dir, `run${attempt}`);
    const running: Running[] = [];
    const onExit = (): void => { for (const r of running) if (r.exitCode === undefined) try { process.kill(-r.server.pid, 'SIGKILL'); } catch { /* gone */ } };
    process.once('exit', onExit);
    let outcome: { kind: 'ok' } | { kind: 'retry' | 'fatal'; why: string } = { kind: 'ok' };
    try {
      for (const s of specs) running.push(launch(bin, path.join(runDir, s.address), s, port));
      const states = await Promise.all(running.map((r, i) => waitReady(r, port, specs[i], readyTimeoutMs)));
      const bad = states.map((st, i) => ({ st, r: running[i] })).filter((x) => x.st !== 'ready');
      if (bad.length > 0) {
        const why = bad.map((x) => `${x.r.server.address}: ${x.st} (exit ${String(x.r.exitCode)}):\n${x.r.server.log()}`).join('\n');
        const bindTrouble = bad.every((x) => x.st === 'exited' && /bind|address already in use/i.test(x.r.server.log()));
        outcome = { kind: bindTrouble ? 'retry' : 'fatal', why };
      }
    } catch (e) {
      outcome = { kind: 'fatal', why: String(e) };
    }
    if (outcome.kind === 'ok') {
      let closed = false;
      return {
        port, dir, version,
        servers: running.map((r) => r.server),
        close: async () => {
          if (closed) return;
          closed = true;
          await Promise.all(running.map((r) => stop(r)));
          process.off('exit', onExit);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await Promise.all(running.map((r) => stop(r)));
    process.off('exit', onExit);
    if (outcome.kind === 'fatal') {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`NSD did not come up on port ${port}:\n${outcome.why}`);
    }
    failures.push(`port ${port}: ${outcome.why.slice(0, 500)}`);
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`NSD could not bind a port free on every address after ${tries} tries:\n${failures.join('\n')}`);
}

// ---------------------------------------------------------------------------------------
// The interop hierarchy: what a school's resolver meets on the Internet, in miniature.
//
//   127.0.0.60  .                root, delegating com, org, vn (glue)
//   127.0.0.61  com              example.com (in-bailiwick glue), glueless.com (NS ns.hosting.org, no glue)
//   127.0.0.62  org              hosting.org, example.org (glue)
//   127.0.0.63  vn               edu.vn (glue)
//   127.0.0.64  edu.vn           lequydon.edu.vn, the school (glue)
//   127.0.0.65  example.com      A/AAAA, TTL-1 name, wildcard, NXDOMAIN/NODATA (SOA TTL 300, minimum 60)
//   127.0.0.66  hosting.org      ns.hosting.org (serves glueless.com too); SOA TTL 45 < minimum 3600
//               glueless.com
//   127.0.0.67  example.org      the CNAME chain's end, a TXT RRset too big for UDP
//   127.0.0.68  lequydon.edu.vn  MX, TXT, SRV, CAA, an IDN name, the CNAME chain's start
// ---------------------------------------------------------------------------------------

export const NSD_ADDRESSES = {
  root: '127.0.0.60',
  com: '127.0.0.61',
  org: '127.0.0.62',
  vn: '127.0.0.63',
  eduVn: '127.0.0.64',
  exampleCom: '127.0.0.65',
  hosting: '127.0.0.66',
  exampleOrg: '127.0.0.67',
  school: '127.0.0.68',
} as const;

/** The IDN name in the school's zone: "thư-viện.lequydon.edu.vn" (library) in punycode. */
export const IDN_NAME = 'xn--th-vin-4zb3960d.lequydon.edu.vn';
export const IDN_UNICODE = 'thư-viện.lequydon.edu.vn';

/** big.example.org TXT: 14 strings of 200 octets (over 2.8 KB: more than 512 and than NSD's 1232 EDNS size). */
export const BIG_TXT: readonly string[] = Array.from({ length: 14 }, (_, i) =>
  `part${String(i).padStart(2, '0')}-` + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(6).slice(0, 193));

/** The chain portal.lequydon.edu.vn → … → play.example.org, crossing four zones on three servers. */
export const CNAME_CHAIN: readonly string[] = ['portal.lequydon.edu.vn', 'cdn.example.com', 'media.hosting.org', 'www.glueless.com', 'play.example.org'];

const soa = (origin: string, ttl: number, minimum: number, ns: string): string =>
  `${origin || '.'}${origin ? '.' : ''} ${ttl} IN SOA ${ns}. hostmaster.${origin ? origin + '.' : ''} 2026112901 3600 600 86400 ${minimum}`;

export function interopHierarchy(): NsdServerSpec[] {
  const a = NSD_ADDRESSES;
  const root: NsdZone = {
    origin: '',
    text: `$TTL 86400
${soa('', 86400, 3600, 'a.root-servers.test')}
.                     86400 IN NS a.root-servers.test.
a.root-servers.test.  86400 IN A  ${a.root}
com.                 172800 IN NS ns1.nic.com.
ns1.nic.com.         172800 IN A  ${a.com}
org.                 172800 IN NS ns1.nic.org.
ns1.nic.org.         172800 IN A  ${a.org}
vn.                  172800 IN NS ns1.nic.vn.
ns1.nic.vn.          172800 IN A  ${a.vn}
`,
  };
  const com: NsdZone = {
    origin: 'com',
    text: `$ORIGIN com.
$TTL 3600
${soa('com', 900, 60, 'ns1.nic.com')}
@                IN NS ns1.nic.com.
ns1.nic          IN A  ${a.com}
example          IN NS ns1.example.com.
example          IN NS ns2.example.com.
ns1.example      IN A  ${a.exampleCom}
ns2.example      IN A  ${a.exampleCom}
; glueless: the NS name is in org, whose servers alone know its address
glueless         IN NS ns.hosting.org.
`,
  };
  const org: NsdZone = {
    origin: 'org',
    text: `$ORIGIN org.
$TTL 3600
${soa('org', 900, 60, 'ns1.nic.org')}
@                IN NS ns1.nic.org.
ns1.nic          IN A  ${a.org}
hosting          IN NS ns1.hosting.org.
ns1.hosting      IN A  ${a.hosting}
example          IN NS ns1.example.org.
ns1.example      IN A  ${a.exampleOrg}
`,
  };
  const vn: NsdZone = {
    origin: 'vn',
    text: `$ORIGIN vn.
$TTL 3600
${soa('vn', 900, 60, 'ns1.nic.vn')}
@                IN NS ns1.nic.vn.
ns1.nic          IN A  ${a.vn}
edu              IN NS ns1.edu.vn.
ns1.edu          IN A  ${a.eduVn}
`,
  };
  const eduVn: NsdZone = {
    origin: 'edu.vn',
    text: `$ORIGIN edu.vn.
$TTL 3600
${soa('edu.vn', 900, 60, 'ns1.edu.vn')}
@                IN NS ns1.edu.vn.
ns1              IN A  ${a.eduVn}
lequydon         IN NS ns1.lequydon.edu.vn.
ns1.lequydon     IN A  ${a.school}
`,
  };
  const exampleCom: NsdZone = {
    origin: 'example.com',
    text: `$ORIGIN example.com.
$TTL 300
${soa('example.com', 300, 60, 'ns1.example.com')}
@                IN NS   ns1.example.com.
@                IN NS   ns2.example.com.
ns1              IN A    ${a.exampleCom}
ns2              IN A    ${a.exampleCom}
@                IN A    192.0.2.1
www              IN A    192.0.2.10
www              IN A    192.0.2.11
www              IN AAAA 2001:db8::10
mail             IN A    192.0.2.25
tick           1 IN A    192.0.2.111
*.users          IN A    192.0.2.99
*.users          IN TXT  "wildcard user page"
cdn              IN CNAME media.hosting.org.
`,
  };
  const hosting: NsdZone = {
    origin: 'hosting.org',
    text: `$ORIGIN hosting.org.
$TTL 600
${soa('hosting.org', 45, 3600, 'ns1.hosting.org')}
@                IN NS ns1.hosting.org.
ns1              IN A  ${a.hosting}
ns               IN A  ${a.hosting}
; the next link is in glueless.com, a zone this server also serves
media            IN CNAME www.glueless.com.
`,
  };
  const glueless: NsdZone = {
    origin: 'glueless.com',
    text: `$ORIGIN glueless.com.
$TTL 600
${soa('glueless.com', 600, 60, 'ns.hosting.org')}
@                IN NS ns.hosting.org.
host             IN A  192.0.2.70
www              IN CNAME play.example.org.
`,
  };
  const exampleOrg: NsdZone = {
    origin: 'example.org',
    text: `$ORIGIN example.org.
$TTL 300
${soa('example.org', 300, 60, 'ns1.example.org')}
@                IN NS ns1.example.org.
ns1              IN A  ${a.exampleOrg}
play             IN A  192.0.2.80
; in-zone alias: NSD compresses the target against the question name
alias            IN CNAME play.example.org.
${BIG_TXT.map((s) => `big              IN TXT "${s}"`).join('\n')}
`,
  };
  const school: NsdZone = {
    origin: 'lequydon.edu.vn',
    text: `$ORIGIN lequydon.edu.vn.
$TTL 300
${soa('lequydon.edu.vn', 300, 60, 'ns1.lequydon.edu.vn')}
@                IN NS    ns1.lequydon.edu.vn.
ns1              IN A     ${a.school}
@                IN A     203.0.113.10
@                IN AAAA  2001:db8:5c::10
@                IN MX    10 mail.lequydon.edu.vn.
@                IN MX    20 mail2.lequydon.edu.vn.
mail             IN A     203.0.113.25
mail2            IN A     203.0.113.26
@                IN TXT   "v=spf1 mx -all"
@                IN TXT   "school=THPT Le Quy Don" "city=Da Nang"
@                IN CAA   0 issue "ca.example.net"
@                IN CAA   128 iodef "mailto:security@lequydon.edu.vn"
_imaps._tcp      IN SRV   10 5 993 mail.lequydon.edu.vn.
_sip._udp        IN SRV   20 0 5060 voip.lequydon.edu.vn.
voip             IN A     203.0.113.30
${IDN_NAME}. IN A 203.0.113.40
portal           IN CNAME cdn.example.com.
; a target written in capitals
shout            IN CNAME PLAY.Example.ORG.
`,
  };
  return [
    { address: a.root, zones: [root] },
    { address: a.com, zones: [com] },
    { address: a.org, zones: [org] },
    { address: a.vn, zones: [vn] },
    { address: a.eduVn, zones: [eduVn] },
    { address: a.exampleCom, zones: [exampleCom] },
    { address: a.hosting, zones: [hosting, glueless] },
    { address: a.exampleOrg, zones: [exampleOrg] },
    { address: a.school, zones: [school] },
  ];
}
