#!/usr/bin/env node
// Correctness checks for the recursion benchmark (bench/recursion.sh).
//
//   node bench/recursion-check.js rcodes <dnsperf-v-output> <expected.json>
//       Every "> RCODE name TYPE latency" line that `dnsperf -v` printed is compared
//       with the response code expected for that question; prints a JSON summary
//       (answered, right, wrong by "expected->got", the first wrong ones, and the
//       distinct questions never answered).
//
//   node bench/recursion-check.js answers <host> <port> <queries.txt> <expected.json> [in-flight=20]
//       Sends every question of the query file (UDP, RD set, no EDNS), at most
//       <in-flight> at a time, and compares the response code and the set of A/AAAA
//       addresses in the answer section (the end of any CNAME chain) with the expected
//       ones. Prints a JSON summary with the first mismatches.
//
// Plain JavaScript, no dependencies.
'use strict';

const dgram = require('node:dgram');
const fs = require('node:fs');
const readline = require('node:readline');

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28 };
const MAX_EXAMPLES = 20;

/** An address as a canonical string (IPv6 expanded to 8 four-digit groups), for comparing. */
function canon(addr) {
  if (!addr.includes(':')) return addr;
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.padStart(4, '0').toLowerCase()).join(':');
}

function key(name, type) {
  return `${name.toLowerCase().replace(/\.$/, '')} ${type}`;
}

async function checkRcodes(file, expectedFile) {
  const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
  const out = { answered: 0, right: 0, wrong: 0, wrongByKind: {}, wrongExamples: [], unknown: 0, unanswered: 0, unansweredExamples: [] };
  const seen = new Set();
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.startsWith('> ')) continue;
    const f = line.split(' ');
    if (f.length < 5) continue;
    const [, rcode, name, type] = f;
    out.answered++;
    const k = key(name, type);
    const e = expected[k];
    if (!e) { out.unknown++; continue; }
    seen.add(k);
    if (e.rcode === rcode) { out.right++; continue; }
    out.wrong++;
    const kind = `${e.rcode}->${rcode}`;
    out.wrongByKind[kind] = (out.wrongByKind[kind] || 0) + 1;
    if (out.wrongExamples.length < MAX_EXAMPLES) out.wrongExamples.push(`${k} (${e.cat}): expected ${e.rcode}, got ${rcode}`);
  }
  for (const k of Object.keys(expected)) {
    if (seen.has(k)) continue;
    out.unanswered++;
    if (out.unansweredExamples.length < MAX_EXAMPLES) out.unansweredExamples.push(`${k} (${expected[k].cat})`);
  }
  return out;
}

function encodeQuery(id, name, type) {
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.replace(/\.$/, '').split('.')) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

function skipName(msg, off) {
  for (;;) {
    if (off >= msg.length) return -1;
    const len = msg[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += len + 1;
  }
}

function ip6(b) {
  const g = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] << 8) | b[i + 1]).toString(16).padStart(4, '0'));
  return g.join(':');
}

/** rcode and the A/AAAA addresses of the answer section, or null if malformed. */
function parseReply(msg) {
  if (msg.length < 12) return null;
  const rcode = msg[3] & 0x0f;
  let off = 12;
  for (let i = 0; i < msg.readUInt16BE(4); i++) {
    off = skipName(msg, off);
    if (off < 0) return null;
    off += 4;
  }
  const addrs = [];
  const types = [];
  for (let i = 0; i < msg.readUInt16BE(6); i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) return null;
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 8);
    off += 10;
    if (off + len > msg.length) return null;
    types.push(type);
    if (type === 1 && len === 4) addrs.push(Array.from(msg.subarray(off, off + 4)).join('.'));
    if (type === 28 && len === 16) addrs.push(ip6(msg.subarray(off, off + 16)));
    off += len;
  }
  return { rcode: RCODES[rcode] || `RCODE${rcode}`, addrs: addrs.sort(), types };
}

function checkAnswers(host, port, queriesFile, expectedFile, inflight) {
  const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
  const questions = fs.readFileSync(queriesFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
  const out = { checked: 0, right: 0, wrong: 0, noReply: 0, wrongByCategory: {}, examples: [] };
  const sock = dgram.createSocket('udp4');
  const pending = new Map(); // id -> { q, timer, tries }
  let next = 0;
  let nextId = Math.floor(Math.random() * 0xffff);
  return new Promise((resolve) => {
    const note = (q, why) => {
      out.wrong++;
      const e = expected[key(q[0], q[1])];
      const cat = e ? e.cat : 'unknown';
      out.wrongByCategory[cat] = (out.wrongByCategory[cat] || 0) + 1;
      if (out.examples.length < MAX_EXAMPLES) out.examples.push(`${q[0]} ${q[1]} (${cat}): ${why}`);
    };
    const done = () => {
      if (next < questions.length || pending.size > 0) return;
      sock.close();
      resolve(out);
    };
    const send = (q, tries) => {
      let id;
      do { nextId = (nextId + 1) & 0xffff; id = nextId; } while (pending.has(id));
      const timer = setTimeout(() => {
        pending.delete(id);
        if (tries < 3) { send(q, tries + 1); return; }
        out.checked++;
        out.noReply++;
        note(q, 'no reply (3 tries, 3 s each)');
        fill();
        done();
      }, 3000);
      pending.set(id, { q, timer, tries });
      sock.send(encodeQuery(id, q[0], TYPES[q[1]] || 1), port, host);
    };
    const fill = () => {
      while (pending.size < inflight && next < questions.length) send(questions[next++], 1);
    };
    sock.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      const p = pending.get(id);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(id);
      out.checked++;
      const r = parseReply(msg);
      const e = expected[key(p.q[0], p.q[1])];
      if (!r) note(p.q, 'malformed reply');
      else if (!e) note(p.q, 'not in expected.json');
      else {
        const want = e.addrs.map(canon).sort();
        const got = r.addrs.map(canon).sort();
        if (r.rcode !== e.rcode) note(p.q, `rcode ${r.rcode}, expected ${e.rcode}`);
        else if (want.join(',') !== got.join(',')) note(p.q, `addresses [${got.join(' ')}], expected [${want.join(' ')}]`);
        else out.right++;
      }
      fill();
      done();
    });
    sock.on('error', (err) => { out.error = err.message; });
    sock.bind(0, '127.0.0.1', () => { fill(); done(); });
  });
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  let result;
  if (mode === 'rcodes' && args.length === 2) result = await checkRcodes(args[0], args[1]);
  else if (mode === 'answers' && args.length >= 4) result = await checkAnswers(args[0], Number(args[1]), args[2], args[3], Number(args[4] || 20));
  else {
    process.stderr.write('usage: recursion-check.js rcodes <dnsperf-v-output> <expected.json>\n' +
      '       recursion-check.js answers <host> <port> <queries.txt> <expected.json> [in-flight]\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`recursion-check: ${err.stack || err.message}\n`);
  process.exit(1);
});
