#!/usr/bin/env node
// Generates everything the recursion benchmark (bench/recursion.sh) needs: a local DNS
// hierarchy served by NSD on port 53 of loopback addresses, the root hints that point at
// it, a dnsperf query file and the answer expected for every query in it.
//
//   node bench/recursion-make.js <dir> [queries=3000] [zones-per-tld=50] [seed=1]
//
// The hierarchy (all TTLs 3600 s, delegations 86400 s, negative TTL 3600 s):
//   127.0.0.60      the root zone "." (NS a.root-servers.net, glue 127.0.0.60) and
//                   root-servers.net
//   127.0.0.61-64   the TLDs com, org, net, vn (one server each, glue in the root)
//   127.0.0.70-79   the leaf servers: <zones-per-tld> second-level zones per TLD plus
//                   host0.net..host4.net, each zone on two of them.
//                   4 zones in 5 have in-bailiwick NS names (ns1/ns2.<zone>, glue in the
//                   TLD); the 5th is "hosted": NS ns1/ns2.host<k>.net, which is glueless
//                   out of net (the resolver has to look the NS name up first) and has
//                   glue inside net.
//   Every leaf zone: apex A, www (A + AAAA), mail, api, h0..h19 (A), cdn CNAME to
//   www in a zone of another TLD, img CNAME to cdn in a third zone (a two-zone chain),
//   and, in zones with an even index, a wildcard "*" A. Addresses are unique per name
//   (10.<tld>.<zone>.<host>), so an answer from the wrong zone is caught.
//
// Query mix (distinct questions, shuffled with a fixed seed): named hosts A ~55%,
// wildcard-matched A ~20%, AAAA ~10% (half of them NODATA), CNAME-chained A ~5%,
// four-label names under a wildcard ~5%, NXDOMAIN ~5% (half a missing second-level
// name, answered by the TLD server; half a missing host in a zone without wildcard).
//
// Writes into <dir>:
//   nsd/<address>/nsd.conf + zone files    one NSD per address
//   servers.txt        "<address> <tier> <ready-name> <ready-address>" per NSD
//   root.hints         for Unbound
//   queries.txt        dnsperf input, "<name> <TYPE>" per line
//   queries-<cat>.txt  the same questions, one file per category
//   expected.json      { "<name> <TYPE>": { rcode, addrs, cat } } (addrs sorted)
//   spot.txt           "<name> <address>" names for bench/probe.js spot checks
//   summary.json       counts (zones, servers, queries per category)
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [dir, nArg, zonesArg, seedArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: recursion-make.js <dir> [queries=3000] [zones-per-tld=50] [seed=1]\n');
  process.exit(2);
}
const N = Number(nArg || 3000);
const ZONES_PER_TLD = Number(zonesArg || 50);
let seed = Number(seedArg || 1) >>> 0 || 1;
if (!(N > 0) || !(ZONES_PER_TLD > 0) || ZONES_PER_TLD > 250) {
  process.stderr.write('recursion-make: queries must be > 0 and zones-per-tld in 1..250\n');
  process.exit(2);
}

// A small deterministic PRNG (xorshift32), so a run's query file is reproducible.
function rand() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 0x100000000;
}
const pick = (arr) => arr[Math.floor(rand() * arr.length)];

const ROOT_ADDR = '127.0.0.60';
const TLDS = [
  { name: 'com', addr: '127.0.0.61', word: 'shop' },
  { name: 'org', addr: '127.0.0.62', word: 'group' },
  { name: 'net', addr: '127.0.0.63', word: 'link' },
  { name: 'vn', addr: '127.0.0.64', word: 'truong' },
];
const LEAF_ADDRS = Array.from({ length: 10 }, (_, i) => `127.0.0.${70 + i}`);
const HOSTS = 5; // host0.net .. host4.net
const NAMED = ['@', 'www', 'mail', 'api', ...Array.from({ length: 20 }, (_, i) => `h${i}`)];
const TTL = 3600;
const DELEG_TTL = 86400;

// ---- the zones --------------------------------------------------------------------------
/** Every leaf zone: name, index, its two servers, NS names, whether hosted and wildcard. */
const zones = [];
const hostZones = [];
for (let k = 0; k < HOSTS; k++) {
  const name = `host${k}.net`;
  const servers = [LEAF_ADDRS[(2 * k) % 10], LEAF_ADDRS[(2 * k + 1) % 10]];
  hostZones.push({ name, tld: 2, idx: 200 + k, servers, ns: [`ns1.${name}`, `ns2.${name}`], hosted: false, wildcard: false, host: true });
}
for (let t = 0; t < TLDS.length; t++) {
  for (let j = 0; j < ZONES_PER_TLD; j++) {
    const g = t * ZONES_PER_TLD + j;
    const name = `${TLDS[t].word}${String(j).padStart(2, '0')}.${TLDS[t].name}`;
    const hosted = j % 5 === 4;
    let servers;
    let ns;
    if (hosted) {
      const h = hostZones[g % HOSTS];
      servers = h.servers;
      ns = h.ns;
    } else {
      servers = [LEAF_ADDRS[g % 10], LEAF_ADDRS[(g + 5 + (g % 3)) % 10]];
      ns = [`ns1.${name}`, `ns2.${name}`];
    }
    zones.push({ name, tld: t, idx: j, g, servers, ns, hosted, wildcard: j % 2 === 0, host: false });
  }
}
const byName = new Map([...zones, ...hostZones].map((z) => [z.name, z]));

/** The address of host `h` (an index into NAMED, or 250 for the wildcard) in zone z. */
function addrOf(z, h) {
  return `10.${z.tld}.${z.idx}.${h === 250 ? 250 : h + 1}`;
}
function aaaaOf(z) {
  return `fd00::${z.tld}:${z.idx}:2`;
}
/** CNAME targets: cdn -> www of a zone in another TLD; img -> cdn of a third zone. */
function cdnTarget(z) {
  const other = zones[(z.g + ZONES_PER_TLD + 7) % zones.length];
  return `www.${other.name}`;
}
function imgTarget(z) {
  const other = zones[(z.g + 2 * ZONES_PER_TLD + 13) % zones.length];
  return `cdn.${other.name}`;
}

function soa(origin, nsName) {
  return `@ ${TTL} IN SOA ${nsName}. hostmaster.${origin === '.' ? 'root-servers.net' : origin}. 1 3600 900 604800 ${TTL}`;
}

function leafZoneText(z) {
  const lines = [`$ORIGIN ${z.name}.`, `$TTL ${TTL}`, soa(z.name, z.ns[0])];
  for (const n of z.ns) lines.push(`@ IN NS ${n}.`);
  if (!z.hosted) {
    lines.push(`ns1 IN A ${z.servers[0]}`, `ns2 IN A ${z.servers[1]}`);
  }
  NAMED.forEach((h, i) => lines.push(`${h} IN A ${addrOf(z, i)}`));
  if (!z.host) {
    lines.push(`www IN AAAA ${aaaaOf(z)}`);
    lines.push(`cdn IN CNAME ${cdnTarget(z)}.`, `img IN CNAME ${imgTarget(z)}.`);
  }
  if (z.wildcard) lines.push(`* IN A ${addrOf(z, 250)}`);
  return `${lines.join('\n')}\n`;
}

function tldZoneText(t) {
  const tld = TLDS[t];
  const lines = [`$ORIGIN ${tld.name}.`, `$TTL ${TTL}`, soa(tld.name, `ns1.nic.${tld.name}`),
    `@ IN NS ns1.nic.${tld.name}.`, `ns1.nic IN A ${tld.addr}`];
  const children = zones.filter((z) => z.tld === t);
  if (tld.name === 'net') {
    children.push(...hostZones);
    lines.push(`root-servers ${DELEG_TTL} IN NS a.root-servers.net.`, `a.root-servers ${DELEG_TTL} IN A ${ROOT_ADDR}`);
  }
  for (const z of children) {
    const label = z.name.slice(0, -(tld.name.length + 1));
    for (const n of z.ns) lines.push(`${label} ${DELEG_TTL} IN NS ${n}.`);
    // Glue for in-bailiwick NS names (NSD also adds glue for NS names elsewhere in net).
    if (!z.hosted) z.ns.forEach((n, i) => lines.push(`${n}. ${DELEG_TTL} IN A ${z.servers[i]}`));
  }
  return `${lines.join('\n')}\n`;
}

function rootZoneText() {
  const lines = ['$ORIGIN .', `$TTL ${DELEG_TTL}`, soa('.', 'a.root-servers.net'),
    '@ IN NS a.root-servers.net.', `a.root-servers.net. IN A ${ROOT_ADDR}`];
  for (const tld of TLDS) lines.push(`${tld.name}. IN NS ns1.nic.${tld.name}.`, `ns1.nic.${tld.name}. IN A ${tld.addr}`);
  return `${lines.join('\n')}\n`;
}

function rootServersZoneText() {
  return [`$ORIGIN root-servers.net.`, `$TTL ${DELEG_TTL}`, soa('root-servers.net', 'a.root-servers.net'),
    '@ IN NS a.root-servers.net.', `a IN A ${ROOT_ADDR}`].join('\n') + '\n';
}

function nsdConf(d, address, zoneFiles) {
  const lines = [
    'server:',
    `    ip-address: ${address}`,
    '    port: 53',
    '    do-ip4: yes',
    '    do-ip6: no',
    '    server-count: 1',
    '    reuseport: no',
    '    username: ""',
    '    chroot: ""',
    `    zonesdir: "${d}"`,
    '    database: ""',
    `    zonelistfile: "${d}/zone.list"`,
    `    xfrdfile: "${d}/xfrd.state"`,
    `    xfrdir: "${d}"`,
    `    pidfile: "${d}/nsd.pid"`,
    `    logfile: "${d}/nsd.log"`,
    '    verbosity: 1',
    '    hide-version: yes',
    '    identity: ""',
    '    statistics: 0',
    '    # Response rate limiting is on by default (200 qps per /24): every resolver',
    '    # query comes from 127.0.0.1, so switch it off.',
    '    rrl-ratelimit: 0',
    '    rrl-whitelist-ratelimit: 0',
    'remote-control:',
    '    control-enable: yes',
    `    control-interface: ${d}/control.sock`,
  ];
  for (const [zone, file] of zoneFiles) lines.push('zone:', `    name: "${zone}"`, `    zonefile: "${file}"`);
  return `${lines.join('\n')}\n`;
}

// ---- write the servers ------------------------------------------------------------------
const servers = []; // [address, tier, readyName, readyAddress]
function writeServer(address, tier, zoneTexts, ready) {
  const d = path.join(dir, 'nsd', address);
  fs.mkdirSync(d, { recursive: true });
  const files = [];
  for (const [zone, text] of zoneTexts) {
    const file = `${zone === '.' ? 'root' : zone}.zone`;
    fs.writeFileSync(path.join(d, file), text);
    files.push([zone, file]);
  }
  fs.writeFileSync(path.join(d, 'nsd.conf'), nsdConf(d, address, files));
  servers.push([address, tier, ...ready]);
}

writeServer(ROOT_ADDR, 'root', [['.', rootZoneText()], ['root-servers.net', rootServersZoneText()]], ['a.root-servers.net', ROOT_ADDR]);
TLDS.forEach((tld, t) => writeServer(tld.addr, 'tld', [[tld.name, tldZoneText(t)]], [`ns1.nic.${tld.name}`, tld.addr]));
for (const address of LEAF_ADDRS) {
  const mine = [...hostZones, ...zones].filter((z) => z.servers.includes(address));
  if (mine.length === 0) continue;
  writeServer(address, 'leaf', mine.map((z) => [z.name, leafZoneText(z)]), [`www.${mine[0].name}`, addrOf(mine[0], NAMED.indexOf('www'))]);
}
fs.writeFileSync(path.join(dir, 'servers.txt'), servers.map((s) => s.join(' ')).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'root.hints'),
  `.                        ${DELEG_TTL} IN NS a.root-servers.net.\na.root-servers.net.      ${DELEG_TTL} IN A  ${ROOT_ADDR}\n`);

// ---- the queries and their expected answers ----------------------------------------------------
const fqdn = (z, h) => (h === '@' ? z.name : `${h}.${z.name}`);

/** Resolves (name, type) against the generated data, for the expected answer. */
function expect(name, type) {
  const seen = new Set();
  let current = name;
  for (let hops = 0; hops < 8; hops++) {
    if (seen.has(current)) throw new Error(`CNAME loop at ${current}`);
    seen.add(current);
    const zone = [...byName.values()].find((z) => current === z.name || current.endsWith(`.${z.name}`));
    if (!zone) return { rcode: 'NXDOMAIN', addrs: [] }; // a missing second-level name
    const host = current === zone.name ? '@' : current.slice(0, -(zone.name.length + 1));
    if (!zone.host && (host === 'cdn' || host === 'img')) {
      current = host === 'cdn' ? cdnTarget(zone) : imgTarget(zone);
      continue;
    }
    const i = NAMED.indexOf(host);
    if (i >= 0) {
      if (type === 'A') return { rcode: 'NOERROR', addrs: [addrOf(zone, i)] };
      if (type === 'AAAA') return { rcode: 'NOERROR', addrs: host === 'www' && !zone.host ? [aaaaOf(zone)] : [] };
    }
    if (zone.wildcard) return { rcode: 'NOERROR', addrs: type === 'A' ? [addrOf(zone, 250)] : [] };
    return { rcode: 'NXDOMAIN', addrs: [] };
  }
  throw new Error(`CNAME chain too long from ${name}`);
}

const CATEGORIES = [
  // [category, share]
  ['a-named', 0.55],
  ['a-wildcard', 0.20],
  ['aaaa', 0.10],
  ['cname', 0.05],
  ['deep-wildcard', 0.05],
  ['nx-sld', 0.025],
  ['nx-host', 0.025],
];
const wildZones = zones.filter((z) => z.wildcard);
const plainZones = zones.filter((z) => !z.wildcard);
const makers = {
  'a-named': () => [fqdn(pick(zones), pick(NAMED)), 'A'],
  'a-wildcard': () => [`w${Math.floor(rand() * 1e6)}.${pick(wildZones).name}`, 'A'],
  aaaa: () => [rand() < 0.5 ? `www.${pick(zones).name}` : fqdn(pick(zones), pick(NAMED)), 'AAAA'],
  cname: () => [`${rand() < 0.5 ? 'cdn' : 'img'}.${pick(zones).name}`, 'A'],
  'deep-wildcard': () => [`d${Math.floor(rand() * 1e6)}.e${Math.floor(rand() * 1e3)}.${pick(wildZones).name}`, 'A'],
  'nx-sld': () => [`nosuch${Math.floor(rand() * 1e6)}.${pick(TLDS).name}`, 'A'],
  'nx-host': () => [`missing${Math.floor(rand() * 1e6)}.${pick(plainZones).name}`, 'A'],
};

const expected = {};
const lines = [];
const counts = {};
for (const [cat, share] of CATEGORIES) {
  const want = Math.round(N * share);
  let got = 0;
  for (let tries = 0; got < want && tries < want * 50; tries++) {
    const [name, type] = makers[cat]();
    const key = `${name} ${type}`;
    if (expected[key]) continue;
    const e = expect(name, type);
    expected[key] = { ...e, addrs: [...e.addrs].sort(), cat };
    lines.push(key);
    got++;
  }
  counts[cat] = got;
}
// Fill up to N (rounding) with named A queries, then shuffle.
for (let tries = 0; lines.length < N && tries < N * 50; tries++) {
  const [name, type] = makers['a-named']();
  const key = `${name} ${type}`;
  if (expected[key]) continue;
  expected[key] = { ...expect(name, type), cat: 'a-named' };
  lines.push(key);
  counts['a-named']++;
}
for (let i = lines.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [lines[i], lines[j]] = [lines[j], lines[i]];
}
fs.writeFileSync(path.join(dir, 'queries.txt'), lines.join('\n') + '\n');
// The same questions split by category (same order), for attributing queries to them.
for (const [cat] of CATEGORIES) {
  fs.writeFileSync(path.join(dir, `queries-${cat}.txt`), lines.filter((k) => expected[k].cat === cat).join('\n') + '\n');
}
fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify(expected));

// Spot checks: one of each kind that has an address, in a hosted zone too.
const spot = [];
const hostedZone = zones.find((z) => z.hosted && z.wildcard) || zones.find((z) => z.hosted);
for (const name of [`www.${zones[0].name}`, `mail.${hostedZone.name}`, `img.${zones[3].name}`, `cdn.${zones[zones.length - 1].name}`,
  `spot.${wildZones[1].name}`, `x.y.${wildZones[2].name}`]) {
  const e = expect(name, 'A');
  if (e.addrs.length) spot.push(`${name} ${e.addrs[0]}`);
}
fs.writeFileSync(path.join(dir, 'spot.txt'), spot.join('\n') + '\n');

const rcodes = {};
for (const k of lines) rcodes[expected[k].rcode] = (rcodes[expected[k].rcode] || 0) + 1;
const summary = {
  queries: lines.length,
  categories: counts,
  expectedRcodes: rcodes,
  zones: { tlds: TLDS.length, secondLevel: zones.length, hostZones: hostZones.length, hosted: zones.filter((z) => z.hosted).length, wildcard: wildZones.length },
  servers: servers.length,
};
fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(summary)}\n`);
