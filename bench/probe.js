#!/usr/bin/env node
// Waits until a DNS server answers: sends an A query over UDP every 200 ms and
// exits 0 on the first reply with the same ID whose RCODE is NOERROR and that
// carries an A record (with the expected address, if one is given). Exits 1 after
// the deadline, printing what it saw last.
//
//   node bench/probe.js <host> <port> <name> [timeout-seconds=20] [expected-address]
//
// Plain JavaScript, no dependencies, so it works before `npm run build`.
'use strict';

const dgram = require('node:dgram');

const [host, portArg, name, timeoutArg, expected] = process.argv.slice(2);
if (!host || !portArg || !name) {
  process.stderr.write('usage: probe.js <host> <port> <name> [timeout-seconds]\n');
  process.exit(2);
}
const port = Number(portArg);
const deadline = Date.now() + Number(timeoutArg || 20) * 1000;

function query(id) {
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, 0, 1, 0, 1])); // root, type A, class IN
  return Buffer.concat(parts);
}

/** Skips a (possibly compressed) name; returns the offset after it, or -1. */
function skipName(msg, off) {
  for (;;) {
    if (off >= msg.length) return -1;
    const len = msg[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += len + 1;
  }
}

/** The IPv4 addresses of the A records in the answer section. */
function answerAddresses(msg) {
  const out = [];
  let off = skipName(msg, 12);
  if (off < 0) return out;
  off += 4; // QTYPE, QCLASS
  for (let i = 0; i < msg.readUInt16BE(6); i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) break;
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    off += 10;
    if (type === 1 && rdlen === 4 && off + 4 <= msg.length) out.push(Array.from(msg.subarray(off, off + 4)).join('.'));
    off += rdlen;
  }
  return out;
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const sock = dgram.createSocket('udp4');
let id = Math.floor(Math.random() * 0xffff);
let last = 'no reply';

sock.on('message', (msg) => {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
  const rcode = msg[3] & 0x0f;
  const ancount = msg.readUInt16BE(6);
  const addrs = rcode === 0 ? answerAddresses(msg) : [];
  if (addrs.length > 0 && (!expected || addrs.includes(expected))) {
    sock.close();
    process.exit(0);
  }
  last = `${RCODES[rcode] || `RCODE ${rcode}`}, ${ancount} answers${addrs.length ? `: ${addrs.join(' ')}` : ''}`;
});
sock.on('error', (err) => { last = err.message; });

function tick() {
  if (Date.now() > deadline) {
    const want = expected ? ` with ${expected}` : '';
    process.stderr.write(`probe: ${host}:${port} did not answer ${name} A${want} (last: ${last})\n`);
    process.exit(1);
  }
  id = (id + 1) & 0xffff;
  sock.send(query(id), port, host);
  setTimeout(tick, 200);
}
tick();
