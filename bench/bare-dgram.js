#!/usr/bin/env node
// The ceiling of one Node process on this machine: a bare `dgram` UDP server
// that answers every query with one fixed A record, built by copying the
// question straight out of the packet bytes. No parsing library, no cache, no
// allocation beyond the reply buffer. Plain JavaScript, no dependencies.
//
//   node bench/bare-dgram.js [port] [host]      (defaults: 5350 127.0.0.1)
//
// Reply = the query's header and question (anything after the question, e.g. an
// EDNS OPT record, is dropped) with QR and RA set, RCODE 0, ANCOUNT 1,
// NSCOUNT 0, ARCOUNT 0, followed by
//   C0 0C  type A  class IN  TTL 3600  RDLENGTH 4  192.0.2.1
// Malformed packets (short, QR already set, QDCOUNT != 1, bad labels) are
// silently dropped.
'use strict';

const dgram = require('node:dgram');

const port = Number(process.argv[2] || 5350);
const host = process.argv[3] || '127.0.0.1';

// The answer record that follows the question; its owner is a pointer to the
// question name at offset 12.
const ANSWER = Buffer.from([
  0xc0, 0x0c, // owner: pointer to offset 12
  0x00, 0x01, // type A
  0x00, 0x01, // class IN
  0x00, 0x00, 0x0e, 0x10, // TTL 3600
  0x00, 0x04, // RDLENGTH
  192, 0, 2, 1, // 192.0.2.1 (TEST-NET-1)
]);

/** Offset just past the question (name + type + class), or -1 if malformed. */
function questionEnd(msg) {
  let off = 12;
  for (;;) {
    if (off >= msg.length) return -1;
    const len = msg[off];
    if (len === 0) break;
    if (len > 63) return -1; // compression or extended labels: not in a query
    off += len + 1;
  }
  off += 5; // root label + QTYPE + QCLASS
  return off <= msg.length ? off : -1;
}

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });

sock.on('message', (msg, rinfo) => {
  if (msg.length < 17) return;
  if (msg[2] & 0x80) return; // already a response
  if (msg[4] !== 0 || msg[5] !== 1) return; // QDCOUNT must be 1
  const qend = questionEnd(msg);
  if (qend < 0) return;

  const reply = Buffer.allocUnsafe(qend + ANSWER.length);
  msg.copy(reply, 0, 0, qend);
  reply[2] = (msg[2] & 0x79) | 0x80; // QR=1, keep OPCODE and RD, clear AA/TC
  reply[3] = 0x80; // RA=1, Z=0, RCODE=NOERROR
  reply[6] = 0; reply[7] = 1; // ANCOUNT 1
  reply[8] = 0; reply[9] = 0; // NSCOUNT 0
  reply[10] = 0; reply[11] = 0; // ARCOUNT 0
  ANSWER.copy(reply, qend);
  sock.send(reply, rinfo.port, rinfo.address);
});

sock.on('error', (err) => {
  process.stderr.write(`bare-dgram: ${err.message}\n`);
  process.exit(1);
});

sock.bind(port, host, () => {
  process.stderr.write(`bare-dgram: listening on ${host}:${port}\n`);
});

const stop = () => sock.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
