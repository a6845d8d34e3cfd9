import { Rcode } from '../../src/dns/constants';
import { isRejection, parseQuery, Query, Rejection } from '../../src/dns/query';
import { query } from '../helpers/packets';

const ok = (buf: Uint8Array): Query => {
  const r = parseQuery(buf);
  if (isRejection(r)) throw new Error(`rejected: ${r.reason}`);
  return r;
};
const rejected = (buf: Uint8Array): Rejection => {
  const r = parseQuery(buf);
  if (!isRejection(r)) throw new Error('accepted');
  return r;
};
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// header: id 0xabcd, RD, qd=1
const HDR = 'abcd 0100 0001 0000 0000 0000';
const HDR_AR1 = 'abcd 0100 0001 0000 0000 0001';

describe('parseQuery', () => {
  it('reads id, flags, question and offsets of a plain query', () => {
    const buf = query('WWW.Example.com', 'AAAA', { id: 0x4242 });
    const q = ok(buf);
    expect(q.id).toBe(0x4242);
    expect(q.qtype).toBe(28);
    expect(q.qclass).toBe(1);
    expect(q.edns).toBe(false);
    expect(q.udpSize).toBe(512);
    expect(q.qnameEnd).toBe(12 + 17);
    expect(q.questionEnd).toBe(12 + 17 + 4);
    expect(q.flags & 0x0100).toBe(0x0100);
  });

  it('reads EDNS: payload size, version and DO bit', () => {
    const q = ok(query('example.com', 'A', { edns: true, udpSize: 4096, dnssecOk: true }));
    expect(q.edns).toBe(true);
    expect(q.udpSize).toBe(4096);
    expect(q.dnssecOk).toBe(true);
    expect(q.ednsVersion).toBe(0);
  });

  it('treats an advertised UDP size below 512 as 512 (RFC 6891 §6.2.5)', () => {
    expect(ok(query('example.com', 'A', { edns: true, udpSize: 100 })).udpSize).toBe(512);
  });

  it('accepts the root name', () => {
    const q = ok(hex(`${HDR} 00 0002 0001`));
    expect(q.qtype).toBe(2);
    expect(q.qnameEnd).toBe(13);
  });

  const cases: [string, Buffer, 'drop' | 'reply', number, string][] = [
    ['empty packet', Buffer.alloc(0), 'drop', Rcode.FORMERR, 'short'],
    ['11-byte packet', hex('abcd01000001000000000000').subarray(0, 11), 'drop', Rcode.FORMERR, 'short'],
    ['a response (QR set)', hex('abcd 8180 0001 0000 0000 0000 00 0001 0001'), 'drop', Rcode.FORMERR, 'response'],
    ['opcode NOTIFY', hex('abcd 2000 0001 0000 0000 0000 00 0006 0001'), 'reply', Rcode.NOTIMP, 'opcode'],
    ['opcode UPDATE', hex('abcd 2800 0000 0000 0000 0000'), 'reply', Rcode.NOTIMP, 'opcode'],
    ['no question', hex('abcd 0100 0000 0000 0000 0000'), 'reply', Rcode.FORMERR, 'qdcount'],
    ['two questions', hex(`abcd 0100 0002 0000 0000 0000 00 0001 0001 00 0001 0001`), 'reply', Rcode.FORMERR, 'qdcount'],
    ['question cut short', hex(`${HDR} 03 777777`), 'reply', Rcode.FORMERR, 'question'],
    ['question without type', hex(`${HDR} 00 00`), 'reply', Rcode.FORMERR, 'question'],
    ['pointer in the question', hex(`${HDR} c000 0001 0001`), 'reply', Rcode.FORMERR, 'question'],
    ['label type 0x40', hex(`${HDR} 41 00 0001 0001`), 'reply', Rcode.FORMERR, 'question'],
    ['label of 64 octets', Buffer.concat([hex(HDR), Buffer.from([64]), Buffer.alloc(64, 0x61), hex('00 0001 0001')]), 'reply', Rcode.FORMERR, 'question'],
    ['name of 256 octets', Buffer.concat([hex(HDR), ...Array.from({ length: 4 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), hex('00 0001 0001')]), 'reply', Rcode.FORMERR, 'question'],
    ['trailing bytes', hex(`${HDR} 00 0001 0001 ff`), 'reply', Rcode.FORMERR, 'trailing'],
    ['answer count beyond the packet', hex(`abcd 0100 0001 0001 0000 0000 00 0001 0001`), 'reply', Rcode.FORMERR, 'records'],
    ['OPT not owned by the root', hex(`${HDR_AR1} 00 0001 0001 01 61 00 0029 04d0 00000000 0000`), 'reply', Rcode.FORMERR, 'opt'],
    ['two OPT records', hex(`abcd 0100 0001 0000 0000 0002 00 0001 0001 00 0029 04d0 00000000 0000 00 0029 04d0 00000000 0000`), 'reply', Rcode.FORMERR, 'opt'],
    ['OPT options that overrun', hex(`${HDR_AR1} 00 0001 0001 00 0029 04d0 00000000 0004 000a 0008`), 'reply', Rcode.FORMERR, 'opt'],
    ['EDNS version 1', hex(`${HDR_AR1} 00 0001 0001 00 0029 04d0 00010000 0000`), 'reply', Rcode.BADVERS, 'badvers'],
    ['qtype OPT', hex(`${HDR} 00 0029 0001`), 'reply', Rcode.FORMERR, 'qtype'],
    ['qtype 0', hex(`${HDR} 00 0000 0001`), 'reply', Rcode.FORMERR, 'qtype'],
    ['AXFR', hex(`${HDR} 00 00fc 0001`), 'reply', Rcode.REFUSED, 'qtype'],
    ['MAILB', hex(`${HDR} 00 00fd 0001`), 'reply', Rcode.NOTIMP, 'qtype'],
  ];
  it.each(cases)('%s', (_name, buf, action, rcode, reason) => {
    const r = rejected(buf);
    expect(r.action).toBe(action);
    expect(r.reason).toBe(reason);
    if (action === 'reply') {
      expect(r.rcode).toBe(rcode);
      expect(r.id).toBe(0xabcd);
    }
  });

  it('keeps the question offset of a rejected query so the reply can echo it', () => {
    const r = rejected(hex(`${HDR} 00 0001 0001 ff`));
    expect(r.questionEnd).toBe(17);
  });

  it('keeps EDNS facts on BADVERS so the reply carries OPT', () => {
    const r = rejected(hex(`${HDR_AR1} 00 0001 0001 00 0029 04d0 00018000 0000`));
    expect(r.edns).toBe(true);
    expect(r.dnssecOk).toBe(true);
  });
});
