#!/usr/bin/env node
// Waits until a DNS server answers: sends an A query over UDP every 200 ms and
// exits 0 on the first reply with the same ID whose RCODE is NOERROR and that
// carries at least one answer. Exits 1 after the deadline, printing what it saw.
//
//   node bench/probe.js <host> <port> <name> [timeout-seconds=20]
//
// Plain JavaScript, no dependencies, so it works before `npm run build`.
'use strict';

const dgram = require('node:dgram');

const [host, portArg, name, timeoutArg] = process.argv.slice(2);
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

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const sock = dgram.createSocket('udp4');
let id = Math.floor(Math.random() * 0xffff);
let last = 'no reply';

sock.on('message', (msg) => {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
  const rcode = msg[3] & 0x0f;
  const ancount = msg.readUInt16BE(6);
  if (rcode === 0 && ancount > 0) {
    sock.close();
    process.exit(0);
  }
  last = `${RCODES[rcode] || `RCODE ${rcode}`}, ${ancount} answers`;
});
sock.on('error', (err) => { last = err.message; });

function tick() {
  if (Date.now() > deadline) {
    process.stderr.write(`probe: ${host}:${port} did not answer ${name} A (last: ${last})\n`);
    process.exit(1);
  }
  id = (id + 1) & 0xffff;
  sock.send(query(id), port, host);
  setTimeout(tick, 200);
}
tick();
