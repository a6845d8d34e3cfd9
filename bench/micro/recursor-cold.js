#!/usr/bin/env node
// The recursor's own CPU cost per cold resolution, without sockets: the UDP exchange
// (transport.startUdp) is replaced by an in-memory authoritative hierarchy (root -> test -> zN.test) that answers
// from prebuilt wire bytes, so what is timed is school-dns's code alone (iteration, caches,
// message scanning, promises). Run after `npm run build`:
//
//   node bench/micro/recursor-cold.js [names=3000] [inFlight=50] [rounds=3]
//
// Prints microseconds of CPU per client query and authoritative queries per client query.
'use strict';
const path = require('node:path');
const dp = require('dns-packet');
const dist = path.join(__dirname, '..', '..', 'dist');
const transport = require(path.join(dist, 'upstream', 'transport'));
const { scanMessage } = require(path.join(dist, 'dns', 'message'));

const NAMES = Number(process.argv[2] || 3000);
const IN_FLIGHT = Number(process.argv[3] || 50);
const ROUNDS = Number(process.argv[4] || 3);
const ZONES = 200;
const ROOT = '127.0.0.60';
const TLD = '127.0.0.61';
const LEAF = '127.0.0.62';

let authQueries = 0;
const replies = new Map();

/** The hierarchy's answer to (server, name, type): a referral, an answer, or NODATA. */
function respond(server, name, type) {
  const q = [{ name, type: dp.toString ? type : type, class: 'IN' }];
  const labels = name.split('.');
  const soa = (zone) => ({ name: zone, type: 'SOA', ttl: 3600, class: 'IN', data: { mname: `ns.${zone}`, rname: `admin.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 } });
  if (server === ROOT) {
    return { type: 'response', flags: 0, questions: q, authorities: [{ name: 'test', type: 'NS', ttl: 172800, class: 'IN', data: 'ns.nic.test' }], additionals: [{ name: 'ns.nic.test', type: 'A', ttl: 172800, class: 'IN', data: TLD }] };
  }
  if (server === TLD) {
    if (labels.length < 2) return { type: 'response', flags: dp.AUTHORITATIVE_ANSWER, questions: q, authorities: [soa('test')] };
    const zone = labels.slice(-2).join('.');
    return { type: 'response', flags: 0, questions: q, authorities: [{ name: zone, type: 'NS', ttl: 86400, class: 'IN', data: `ns.${zone}` }], additionals: [{ name: `ns.${zone}`, type: 'A', ttl: 86400, class: 'IN', data: LEAF }] };
  }
  const zone = labels.slice(-2).join('.');
  if (labels.length === 3 && type === 'A') {
    return { type: 'response', flags: dp.AUTHORITATIVE_ANSWER, questions: q, answers: [{ name, type: 'A', ttl: 3600, class: 'IN', data: `192.0.2.${labels[0].length}` }] };
  }
  return { type: 'response', flags: dp.AUTHORITATIVE_ANSWER, questions: q, authorities: [soa(zone)] };
}

// The exchange, replaced: build the probe's query, answer from the hierarchy, check it as
// the real one does, and settle the sink on the next microtask (a real reply comes later
// still, from the event loop).
transport.startUdp = (server, probe, timeoutMs, onMismatch, sink) => {
  authQueries++;
  const id = (Math.random() * 0x10000) | 0;
  const query = probe.build(id);
  // Keyed by the query's bytes after the ID: decoded (dns-packet) only the first time, so
  // the fake hierarchy costs little of the time measured.
  const key = `${server.host}|${query.toString('latin1', 2)}`;
  let bytes = replies.get(key);
  if (!bytes) {
    const qq = dp.decode(query).questions[0];
    replies.set(key, (bytes = dp.encode({ id: 0, ...respond(server.host, qq.name, qq.type) })));
  }
  const buf = Buffer.from(bytes);
  buf.writeUInt16BE(id, 0);
  if (!probe.matches(buf, id)) throw new Error('reply does not match');
  const msg = scanMessage(buf);
  queueMicrotask(() => sink.settle(null, { buf, msg }));
};

const { Recursor } = require(path.join(dist, 'recursor', 'recursor'));

function question(name) {
  const q = dp.encode({ type: 'query', id: 0, questions: [{ name, type: 'A', class: 'IN' }] });
  return q.subarray(12);
}

// The client questions, built before anything is timed.
const QUESTIONS = [];
const KEYS = [];
for (let i = 0; i < NAMES; i++) {
  const name = `www${i}.z${i % ZONES}.test`;
  QUESTIONS.push(question(name));
  KEYS.push(`${name}|A`);
}

async function round(r) {
  const t0 = process.cpuUsage();
  const before = authQueries;
  let next = 0;
  const worker = async () => {
    while (next < NAMES) {
      const i = next++;
      await r.resolve({ key: KEYS[i], question: QUESTIONS[i], dnssecOk: false, checkingDisabled: false });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const cpu = process.cpuUsage(t0);
  return { usPerQuery: (cpu.user + cpu.system) / NAMES, authPerQuery: (authQueries - before) / NAMES };
}

(async () => {
  // Warm V8 with one round on a throwaway recursor, then measure fresh (cold-cache) ones.
  const make = () => new Recursor({ rootHints: [{ name: 'a.root.test', addresses: [ROOT] }], ttlPolicy: { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, ipv6: false });
  const w = await round(make());
  console.log(`first round in a fresh process: ${w.usPerQuery.toFixed(1)} us CPU per client query (JIT warming up)`);
  const us = [];
  for (let k = 0; k < ROUNDS; k++) {
    const r = make();
    const res = await round(r);
    us.push(res.usPerQuery);
    console.log(`cold: ${res.usPerQuery.toFixed(1)} us CPU per client query, ${res.authPerQuery.toFixed(3)} authoritative queries per client query`);
    r.close();
  }
  us.sort((x, y) => x - y);
  console.log(`median of ${ROUNDS} cold rounds: ${us[Math.floor(us.length / 2)].toFixed(1)} us CPU per client query`);
})();
