// End to end, on real loopback sockets: the listeners themselves -- UDP and TCP over
// IPv4 and IPv6, EDNS and truncation, malformed packets, RFC 8482, and RFC 7766's TCP
// (connection reuse, pipelining, fragmented writes, idle timeout, connection cap).
import { dns2Client, dns2Tcp, dns2Udp, Dns2Packet, frame, promValue, scrape, sleep, TcpConn, tcpAsk, udpAsk } from '../helpers/client';
import { decode, dnsPacket, query, rcodeOf } from '../helpers/packets';
import { drained, loopback, startTestResolver, TestResolver } from '../helpers/resolver';

type Over = Parameters<typeof startTestResolver>[0];
import { ScriptedUpstream, txtRecords } from '../helpers/upstream';

let up: ScriptedUpstream;
const running: TestResolver[] = [];
const conns: TcpConn[] = [];

beforeAll(async () => {
  up = await ScriptedUpstream.start();
});

afterAll(async () => {
  await up?.close();
});

beforeEach(() => up.reset());

afterEach(async () => {
  for (const c of conns.splice(0)) c.destroy();
  const done = running.splice(0);
  await Promise.all(done.map(drained));
  await Promise.all(done.map((r) => r.close()));
});

async function start(over: Over = {}): Promise<TestResolver> {
  const r = await startTestResolver({
    ...over,
    resolver: { upstreams: [up.hostPort], timeoutMs: 1000, attempts: 2, totalTimeoutMs: 2500 },
  });
  running.push(r);
  return r;
}

async function connect(port: number, host = '127.0.0.1'): Promise<TcpConn> {
  const c = await TcpConn.connect(port, host);
  conns.push(c);
  return c;
}

/** Resolves true when nothing arrives for `ms` (the resolver stayed silent). */
async function silent(port: number, msg: Buffer, ms = 300): Promise<boolean> {
  return (await udpAsk(port, msg, { timeoutMs: ms })) === null;
}

function optOf(buf: Buffer) {
  return decode(buf).additionals.find((a) => a.type === 'OPT') as
    | { udpPayloadSize: number; extendedRcode: number; ednsVersion: number; flags: number; options: unknown[] }
    | undefined;
}

describe('listeners', () => {
  it('answer over UDP and TCP on both the IPv4 and the IPv6 loopback', async () => {
    const r = await start({ server: { listen: [loopback(0), loopback(0, '::1')] } });
    expect(r.udpPorts).toHaveLength(2);
    expect(r.tcpPorts).toHaveLength(2);
    expect(r.endpoints).toEqual(expect.arrayContaining([
      `udp://127.0.0.1:${r.udpPorts[0]}`, `tcp://127.0.0.1:${r.tcpPorts[0]}`,
      `udp://[::1]:${r.udpPorts[1]}`, `tcp://[::1]:${r.tcpPorts[1]}`,
    ]));
    up.records('both.example.com', 'A', [{ name: 'both.example.com', type: 'A', ttl: 300, class: 'IN', data: '192.0.2.44' }]);

    const v4udp = await dns2Udp(r.udpPorts[0], '127.0.0.1')('both.example.com', 'A');
    const v6udp = await dns2Udp(r.udpPorts[1], '::1')('Both.example.com', 'A');
    const v4tcp = await dns2Tcp(r.tcpPorts[0], '127.0.0.1')('BOTH.example.com', 'A');
    const v6tcp = decode(await tcpAsk(r.tcpPorts[1], query('both.EXAMPLE.com', 'A', { id: 0x6666 }), { host: '::1' }));
    for (const res of [v4udp, v6udp, v4tcp]) expect(res.answers.map((a) => a.address)).toEqual(['192.0.2.44']);
    expect(v6tcp.id).toBe(0x6666);
    expect(v6tcp.answers.map((a) => a.data)).toEqual(['192.0.2.44']);
    expect(v6udp.questions[0].name).toBe('Both.example.com');

    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_queries_total', { transport: 'udp', qtype: 'A' })).toBe(2);
    expect(promValue(text, 'school_dns_queries_total', { transport: 'tcp', qtype: 'A' })).toBe(2);
    expect(up.count()).toBe(1);
  });
});

describe('EDNS', () => {
  it('replies with our OPT (UDP size 1232, DO echoed) when the query had OPT, and without OPT when it had none', async () => {
    const r = await start();
    const plain = await udpAsk(r.udpPort, query('edns.example.com', 'A'));
    expect(optOf(plain!)).toBeUndefined();
    expect(decode(plain!).additionals).toEqual([]);
    for (const udpSize of [512, 1232, 4096]) {
      const withOpt = await udpAsk(r.udpPort, query('edns.example.com', 'A', { edns: true, udpSize }));
      const opt = optOf(withOpt!);
      expect(opt).toBeDefined();
      expect(opt!.udpPayloadSize).toBe(1232);
      expect(opt!.ednsVersion).toBe(0);
      expect(opt!.extendedRcode).toBe(0);
      expect(opt!.flags & dnsPacket.DNSSEC_OK).toBe(0);
    }
    const dnssec = await udpAsk(r.udpPort, query('edns.example.com', 'A', { edns: true, dnssecOk: true }));
    expect(optOf(dnssec!)!.flags & dnsPacket.DNSSEC_OK).toBe(dnsPacket.DNSSEC_OK);
    // Over TCP too.
    expect(optOf(await tcpAsk(r.tcpPort, query('edns.example.com', 'A', { edns: true })))!.udpPayloadSize).toBe(1232);
    expect(optOf(await tcpAsk(r.tcpPort, query('edns.example.com', 'A')))).toBeUndefined();
  });

  it('answers EDNS version 1 with BADVERS: header rcode 0, OPT extended rcode 1, no upstream query', async () => {
    const r = await start();
    const q = query('badvers.example.com', 'A', { id: 0x0bad, edns: true });
    q[q.length - 5] = 1; // the OPT record (11 bytes, last): version byte
    const reply = await udpAsk(r.udpPort, q);
    expect(reply).not.toBeNull();
    expect(reply!.readUInt16BE(0)).toBe(0x0bad);
    expect(rcodeOf(reply!)).toBe(0);
    const d = decode(reply!);
    expect(d.flag_qr).toBe(true);
    expect(d.answers).toEqual([]);
    expect(d.questions).toEqual([{ name: 'badvers.example.com', type: 'A', class: 'IN' }]);
    const opt = optOf(reply!)!;
    expect(opt.extendedRcode).toBe(1); // (1 << 4) | 0 = 16 = BADVERS
    expect(opt.ednsVersion).toBe(0);
    // The OPT TTL's high byte on the wire: the last 11 bytes are our OPT (no EDE).
    expect(reply![reply!.length - 11 + 5]).toBe(1);
    expect(up.count()).toBe(0);
  });

  describe('truncation of UDP replies', () => {
    // 40 TXT strings of 70 characters: about 3.3 KB, more than any UDP reply we send.
    const BIG = 'big.example.com';
    // 10 of 60: about 850 bytes, between 512 and 1232.
    const MEDIUM = 'medium.example.com';

    beforeEach(() => {
      up.records(BIG, 'TXT', txtRecords(BIG, 40, 70));
      up.records(MEDIUM, 'TXT', txtRecords(MEDIUM, 10, 60));
    });

    it('sends TC=1 with the question and no records when the answer exceeds 1232 bytes; TCP gets it whole', async () => {
      const r = await start();
      const tcp = decode(await tcpAsk(r.tcpPort, query(BIG, 'TXT', { id: 7 })));
      expect(tcp.flag_tc).toBe(false);
      expect(tcp.answers).toHaveLength(40);
      expect(tcp.answers.map((a) => Buffer.from(a.data[0]).toString().slice(0, 3))).toEqual(Array.from({ length: 40 }, (_, i) => String(i).padStart(3, '0')));
      // The upstream itself had to be asked over TCP for it.
      expect(up.count('tcp')).toBe(1);

      for (const udpSize of [1232, 4096]) {
        const q = query('Big.Example.com', 'TXT', { id: 8, edns: true, udpSize });
        const reply = (await udpAsk(r.udpPort, q))!;
        expect(reply.length).toBeLessThanOrEqual(1232);
        const d = decode(reply);
        expect(d.id).toBe(8);
        expect(d.flag_tc).toBe(true);
        expect(d.rcode).toBe('NOERROR');
        expect(d.questions).toEqual([{ name: 'Big.Example.com', type: 'TXT', class: 'IN' }]);
        expect(d.answers).toEqual([]);
        expect(d.authorities).toEqual([]);
        expect(optOf(reply)!.udpPayloadSize).toBe(1232);
      }
      const noEdns = (await udpAsk(r.udpPort, query(BIG, 'TXT', { id: 9 })))!;
      expect(noEdns.length).toBeLessThanOrEqual(512);
      expect(decode(noEdns)).toMatchObject({ id: 9, flag_tc: true, answers: [], additionals: [] });
      // Served from the cache every time after the first.
      expect(up.count('udp') + up.count('tcp')).toBe(2);
    });

    it('truncates at 512 bytes without EDNS and at the advertised size with it', async () => {
      const r = await start();
      const full = decode(await tcpAsk(r.tcpPort, query(MEDIUM, 'TXT')));
      expect(full.answers).toHaveLength(10);
      const fullSize = (await tcpAsk(r.tcpPort, query(MEDIUM, 'TXT', { edns: true }))).length;
      expect(fullSize).toBeGreaterThan(600);
      expect(fullSize).toBeLessThanOrEqual(1232);

      const noEdns = (await udpAsk(r.udpPort, query(MEDIUM, 'TXT')))!;
      expect(noEdns.length).toBeLessThanOrEqual(512);
      expect(decode(noEdns)).toMatchObject({ flag_tc: true, answers: [] });

      const small = (await udpAsk(r.udpPort, query(MEDIUM, 'TXT', { edns: true, udpSize: 600 })))!;
      expect(small.length).toBeLessThanOrEqual(600);
      expect(decode(small)).toMatchObject({ flag_tc: true, answers: [] });

      const fits = decode((await udpAsk(r.udpPort, query(MEDIUM, 'TXT', { edns: true, udpSize: 1232 })))!);
      expect(fits.flag_tc).toBe(false);
      expect(fits.answers).toHaveLength(10);
    });

    it('lets dns2 retry over TCP on TC and get the whole answer', async () => {
      const r = await start();
      const res = await dns2Client(r.udpPort).resolve(BIG, 'TXT');
      expect(res.header.tc).toBe(0);
      expect(res.answers).toHaveLength(40);
    });
  });
});

describe('malformed and unexpected packets', () => {
  it('stays silent, or answers NOTIMP / FORMERR, and still answers a good query afterwards', async () => {
    const r = await start();
    // Shorter than a header: nothing to answer with.
    expect(await silent(r.udpPort, Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00]))).toBe(true);
    // A response (QR set): never answered, so two resolvers cannot ping-pong.
    const response = dnsPacket.encode({ type: 'response', id: 0x2222, flags: 0, questions: [{ name: 'qr.example.com', type: 'A', class: 'IN' }] } as dnsPacket.Packet);
    expect(await silent(r.udpPort, response)).toBe(true);

    for (const [opcode, name] of [[4, 'NOTIFY'], [5, 'UPDATE']] as const) {
      const reply = await udpAsk(r.udpPort, query('op.example.com', 'SOA', { id: 0x4000 + opcode, flags: opcode << 11 }));
      expect(reply).not.toBeNull();
      const d = decode(reply!) as unknown as { id: number; rcode: string; opcode: string; flag_qr: boolean };
      expect(d).toMatchObject({ id: 0x4000 + opcode, rcode: 'NOTIMP', opcode: name, flag_qr: true });
    }

    const two = dnsPacket.encode({
      type: 'query', id: 0x3333, flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: 'one.example.com', type: 'A', class: 'IN' }, { name: 'two.example.com', type: 'A', class: 'IN' }],
    } as dnsPacket.Packet);
    const formerr = await udpAsk(r.udpPort, two);
    expect(formerr).not.toBeNull();
    expect(formerr!.readUInt16BE(0)).toBe(0x3333);
    expect(rcodeOf(formerr!)).toBe(1);

    const zero = Buffer.from(query('zero.example.com', 'A', { id: 0x3434 }));
    zero.writeUInt16BE(0, 4); // QDCOUNT 0
    expect(rcodeOf((await udpAsk(r.udpPort, zero))!)).toBe(1);

    const good = decode((await udpAsk(r.udpPort, query('good.example.com', 'A', { id: 0x7777 })))!);
    expect(good).toMatchObject({ id: 0x7777, rcode: 'NOERROR' });
    expect(good.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(up.count()).toBe(1);

    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_rejected_queries_total', { reason: 'short' })).toBe(1);
    expect(promValue(text, 'school_dns_rejected_queries_total', { reason: 'response' })).toBe(1);
    expect(promValue(text, 'school_dns_rejected_queries_total', { reason: 'opcode' })).toBe(2);
    expect(promValue(text, 'school_dns_rejected_queries_total', { reason: 'qdcount' })).toBe(2);
  });

  it('drops a short message on a TCP connection and keeps serving it', async () => {
    const r = await start();
    const c = await connect(r.tcpPort);
    c.send(Buffer.from([1, 2, 3, 4, 5]));
    const reply = decode(await c.ask(query('after-short.example.com', 'A', { id: 0x1111 })));
    expect(reply).toMatchObject({ id: 0x1111, rcode: 'NOERROR' });
  });
});

describe('RFC 8482', () => {
  it('answers ANY with a single HINFO "RFC8482" and asks no upstream', async () => {
    const r = await start();
    for (const ask of [(b: Buffer) => udpAsk(r.udpPort, b), (b: Buffer) => tcpAsk(r.tcpPort, b)]) {
      const d = decode((await ask(query('Any.Example.com', 'ANY', { id: 0x0a0a })))!);
      expect(d.id).toBe(0x0a0a);
      expect(d.rcode).toBe('NOERROR');
      expect(d.questions[0]).toEqual({ name: 'Any.Example.com', type: 'ANY', class: 'IN' });
      expect(d.answers).toHaveLength(1);
      expect(d.answers[0]).toMatchObject({ name: 'Any.Example.com', type: 'HINFO', data: { cpu: 'RFC8482', os: '' } });
    }
    const viaDns2 = await dns2Client(r.udpPort).resolve('any.example.com', 'ANY');
    expect(viaDns2.answers).toHaveLength(1);
    expect(viaDns2.answers[0].type).toBe(Dns2Packet.TYPE.HINFO);
    expect(up.count()).toBe(0);
  });
});

describe('TCP (RFC 7766)', () => {
  it('answers several queries one after another on one connection', async () => {
    const r = await start();
    const c = await connect(r.tcpPort);
    for (let i = 0; i < 5; i++) {
      const d = decode(await c.ask(query(`seq${i}.example.com`, 'A', { id: 0x100 + i })));
      expect(d.id).toBe(0x100 + i);
      expect(d.questions[0].name).toBe(`seq${i}.example.com`);
    }
    expect(c.isClosed).toBe(false);
    expect(up.count()).toBe(5);
  });

  it('answers pipelined queries as they complete: the slow one last, matched by ID', async () => {
    up.delayMs = (q) => (q.name === 'slow.example.com' ? 300 : 0);
    const r = await start();
    const c = await connect(r.tcpPort);
    const names = new Map([[0x0001, 'slow.example.com'], [0x0002, 'fast1.example.com'], [0x0003, 'fast2.example.com']]);
    // All three in one write.
    c.write(Buffer.concat([...names].map(([id, name]) => frame(query(name, 'A', { id })))));
    const t0 = Date.now();
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(decode(await c.next(3000)));
    const ids = replies.map((d) => d.id);
    expect(ids[2]).toBe(0x0001);
    expect(new Set(ids.slice(0, 2))).toEqual(new Set([0x0002, 0x0003]));
    for (const d of replies) expect(d.questions[0].name).toBe(names.get(d.id));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(up.count()).toBe(3);
  });

  it('answers a message written one byte at a time', async () => {
    const r = await start();
    const c = await connect(r.tcpPort);
    for (const byte of frame(query('bytewise.example.com', 'A', { id: 0xb1b1 }))) {
      c.write(Buffer.from([byte]));
      await sleep(3);
    }
    const d = decode(await c.next(3000));
    expect(d).toMatchObject({ id: 0xb1b1, rcode: 'NOERROR' });
    expect(d.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
  });

  it('answers two messages whose boundary falls inside a write', async () => {
    const r = await start();
    const c = await connect(r.tcpPort);
    const both = Buffer.concat([frame(query('split1.example.com', 'A', { id: 1 })), frame(query('split2.example.com', 'A', { id: 2 }))]);
    const cut = both.readUInt16BE(0) + 3; // one byte into the second length prefix
    c.write(both.subarray(0, cut));
    await sleep(30);
    c.write(both.subarray(cut));
    const ids = [decode(await c.next()).id, decode(await c.next()).id].sort();
    expect(ids).toEqual([1, 2]);
  });

  it('closes a connection idle for server.tcp.idleTimeoutMs', async () => {
    const r = await start({ server: { tcp: { idleTimeoutMs: 300, maxConnections: 100, maxPipelined: 16 } } });
    const quiet = await connect(r.tcpPort);
    const busy = await connect(r.tcpPort);
    const t0 = Date.now();
    // Activity restarts the clock.
    await sleep(150);
    expect(rcodeOf(await busy.ask(query('keepalive.example.com', 'A')))).toBe(0);
    const tBusy = Date.now();
    expect(await quiet.waitClosed(1500)).toBe(true);
    const quietAfter = (await quiet.closed) - t0;
    expect(quietAfter).toBeGreaterThanOrEqual(250);
    expect(quietAfter).toBeLessThan(1500);
    expect(await busy.waitClosed(1500)).toBe(true);
    expect((await busy.closed) - tBusy).toBeGreaterThanOrEqual(250);
  });

  it('refuses connections beyond maxConnections at once, counts them, and keeps serving the others', async () => {
    const r = await start({ server: { tcp: { idleTimeoutMs: 10000, maxConnections: 2, maxPipelined: 16 } } });
    const c1 = await connect(r.tcpPort);
    const c2 = await connect(r.tcpPort);
    // An answer on each proves the server has accepted both.
    expect(rcodeOf(await c1.ask(query('cap1.example.com', 'A')))).toBe(0);
    expect(rcodeOf(await c2.ask(query('cap2.example.com', 'A')))).toBe(0);

    const c3 = await connect(r.tcpPort);
    const t0 = Date.now();
    c3.send(query('cap3.example.com', 'A'));
    expect(await c3.waitClosed(1000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(c3.leftover).toBe(0);
    await expect(c3.next(100)).rejects.toThrow();

    expect(promValue(await scrape(r.adminPort!), 'school_dns_tcp_connections_refused_total')).toBe(1);
    expect(rcodeOf(await c1.ask(query('cap1b.example.com', 'A')))).toBe(0);
    expect(rcodeOf(await c2.ask(query('cap2b.example.com', 'A')))).toBe(0);

    // A freed slot is usable again.
    c1.destroy();
    await c1.closed;
    let c4: TcpConn | null = null;
    for (let i = 0; i < 20 && c4 === null; i++) {
      const c = await connect(r.tcpPort);
      if (!(await c.waitClosed(100))) c4 = c;
    }
    expect(c4).not.toBeNull();
    expect(rcodeOf(await c4!.ask(query('cap4.example.com', 'A')))).toBe(0);
  });

  it('still answers a query in flight when the client half-closes after sending it, then closes', async () => {
    up.delayMs = 100;
    const r = await start();
    const c = await connect(r.tcpPort);
    c.send(query('halfclose.example.com', 'A', { id: 0x4c4c }));
    c.sock.end();
    const d = decode(await c.next(2000));
    expect(d).toMatchObject({ id: 0x4c4c, rcode: 'NOERROR' });
    expect(await c.waitClosed(1000)).toBe(true);
  });

  it('answers a query already answerable when the client half-closes right after sending it', async () => {
    const r = await start();
    const c = await connect(r.tcpPort);
    c.send(query('any.example.com', 'ANY', { id: 0x4d4d })); // answered locally, synchronously
    c.sock.end();
    expect(decode(await c.next(2000))).toMatchObject({ id: 0x4d4d, rcode: 'NOERROR' });
    expect(await c.waitClosed(1000)).toBe(true);
  });
});
