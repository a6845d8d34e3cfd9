#!/usr/bin/env node
// Micro-benchmarks of the per-query work, run on the compiled build (npm run build first):
//  1. a cache hit: our renderAnswer (copy + patch) against a full decode + re-encode with
//     dns-packet and with dns2, which is what a cache of decoded objects would do;
//  2. reading a query: our parseQuery against dns-packet's and dns2's decoders;
//  3. the cold path: our scanMessage + answerFromMessage against dns-packet and dns2 decoding
//     the same upstream answer (what we must learn from it: TTLs, rcode, SOA minimum).
// Prints ns per operation and the ratios. Not a test: numbers vary with the machine's load.
'use strict';
const path = require('node:path');
const dist = path.join(__dirname, '..', '..', 'dist');
const { parseQuery } = require(path.join(dist, 'dns/query'));
const { scanMessage } = require(path.join(dist, 'dns/message'));
const { answerFromMessage, renderAnswer } = require(path.join(dist, 'dns/answer'));
const dnsPacket = require('dns-packet');
const DNS2 = require('dns2');
const { Packet } = DNS2;

const POLICY = { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 };

function bench(name, fn, iterations = 200000) {
  for (let i = 0; i < 20000; i++) fn(i); // warm up the JIT
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  return { name, ns };
}

// A typical answer: a CNAME and two A records, with OPT, as resolvers get from upstreams.
const upstream = dnsPacket.encode({
  type: 'response', id: 9, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
  questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }],
  answers: [
    { name: 'www.example.com', type: 'CNAME', ttl: 300, data: 'edge.example.net' },
    { name: 'edge.example.net', type: 'A', ttl: 60, data: '192.0.2.10' },
    { name: 'edge.example.net', type: 'A', ttl: 60, data: '192.0.2.11' },
  ],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] }],
});
const query = dnsPacket.encode({
  type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ name: 'WWW.example.com', type: 'A', class: 'IN' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] }],
});
const q = parseQuery(query);
const answer = answerFromMessage(upstream, scanMessage(upstream), POLICY, Date.now());
const now = Date.now() + 5000;

const results = [];
const ratio = (a, b) => (b.ns / a.ns).toFixed(1);

// 1. cache hit
const hitOurs = bench('cache hit: renderAnswer (copy + patch ID, case, TTLs, OPT)', () => renderAnswer(answer, query, q, now));
const hitDnsPacket = bench('cache hit: dns-packet decode + patch + encode', () => {
  const d = dnsPacket.decode(answer.wire);
  d.id = 4242;
  for (const a of d.answers) a.ttl -= 5;
  return dnsPacket.encode(d);
});
const hitDns2 = bench('cache hit: dns2 parse + patch + toBuffer', () => {
  const d = Packet.parse(answer.wire);
  d.header.id = 4242;
  for (const a of d.answers) a.ttl -= 5;
  return d.toBuffer();
}, 50000);
results.push(hitOurs, hitDnsPacket, hitDns2);

// 2. reading a query
const qOurs = bench('query: parseQuery (header, question, OPT from the bytes)', () => parseQuery(query));
const qDnsPacket = bench('query: dns-packet decode', () => dnsPacket.decode(query));
const qDns2 = bench('query: dns2 parse', () => Packet.parse(query), 100000);
results.push(qOurs, qDnsPacket, qDns2);

// 3. cold path
const coldOurs = bench('upstream answer: scanMessage + answerFromMessage', () => answerFromMessage(upstream, scanMessage(upstream), POLICY, now));
const coldDnsPacket = bench('upstream answer: dns-packet decode', () => dnsPacket.decode(upstream));
const coldDns2 = bench('upstream answer: dns2 parse', () => Packet.parse(upstream), 100000);
results.push(coldOurs, coldDnsPacket, coldDns2);

for (const r of results) console.log(`${r.ns.toFixed(0).padStart(7)} ns  ${r.name}`);
console.log('');
console.log(`cache hit:        ours is ${ratio(hitOurs, hitDnsPacket)}x faster than dns-packet, ${ratio(hitOurs, hitDns2)}x faster than dns2`);
console.log(`query parse:      ours is ${ratio(qOurs, qDnsPacket)}x faster than dns-packet, ${ratio(qOurs, qDns2)}x faster than dns2`);
console.log(`upstream answer:  ours is ${ratio(coldOurs, coldDnsPacket)}x faster than dns-packet decode alone, ${ratio(coldOurs, coldDns2)}x faster than dns2 parse alone`);

// Opaque pass-through of an unknown type (RFC 3597): does each codec keep the bytes?
const unknown = dnsPacket.encode({
  type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE,
  questions: [{ name: 'x.example', type: 'UNKNOWN_65280', class: 'IN' }],
  answers: [{ name: 'x.example', type: 'UNKNOWN_65280', ttl: 60, data: Buffer.from([0xde, 0xad, 0xbe, 0xef]) }],
});
const ours = answerFromMessage(unknown, scanMessage(unknown), POLICY, 0).wire;
const viaDns2 = (() => { try { return Packet.parse(unknown).toBuffer(); } catch (e) { return Buffer.from(String(e.message)); } })();
console.log('');
console.log(`RFC 3597 unknown type kept byte-for-byte: ours ${ours.subarray(-4).toString('hex') === 'deadbeef'}, dns2 round-trip ${viaDns2.includes(Buffer.from([0xde, 0xad, 0xbe, 0xef]))}`);
