// The dispatcher: malformed packets answered (or not) without the chain, unexpected
// errors from the chain turned into SERVFAIL and logged, and UDP replies cut to size.
import { Writable } from 'node:stream';
import { buildChain } from '../../src/server/chain';
import { AnswerCache } from '../../src/cache/answer-cache';
import type { Next, QueryContext } from '../../src/chain/types';
import { createLogger } from '../../src/log/logger';
import { Metrics, Transport } from '../../src/metrics/metrics';
import { Dispatcher, udpLimit } from '../../src/server/dispatch';
import { parseQuery, Query } from '../../src/dns/query';
import { decode, dnsPacket, query, rcodeOf } from '../helpers/packets';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', format: 'json', stream }) };
}

function setup(chain: Next, logQueries = false) {
  const metrics = new Metrics([], { processMetrics: false });
  const { lines, log } = capture();
  return { metrics, lines, dispatcher: new Dispatcher(chain, metrics, log, logQueries) };
}

async function metricValue(m: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const json = await m.registry.getMetricsAsJSON();
  const metric = json.find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v?.value ?? NaN;
}

/** Runs one message through the dispatcher; resolves with every reply sent (expected: at most one). */
async function run(d: Dispatcher, buf: Buffer, transport = Transport.Udp): Promise<{ handled: boolean; replies: Buffer[]; sync: boolean }> {
  const replies: Buffer[] = [];
  const handled = d.handle(buf, transport, '192.0.2.50', 40000, (b) => replies.push(b));
  const sync = replies.length > 0;
  // Let promise callbacks run (the chain's answer, or its rejection).
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return { handled, replies, sync };
}

/** A response to `q` with `n` TXT strings of 60 characters: ~70 bytes each. */
function bigReply(q: Buffer, n: number): Buffer {
  const p = dnsPacket.decode(q);
  const name = p.questions![0].name;
  return dnsPacket.encode({
    type: 'response', id: p.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: p.questions,
    answers: Array.from({ length: n }, (_, i) => ({ name, type: 'TXT', ttl: 60, class: 'IN', data: `${i}-${'y'.repeat(58)}` })),
  } as dnsPacket.Packet);
}

const boom = (): never => { throw new Error('boom: the chain broke'); };

describe('Dispatcher: unexpected errors', () => {
  it('answers SERVFAIL with the query ID, synchronously, when the chain throws, and logs the error', async () => {
    const { dispatcher, lines, metrics } = setup(boom);
    const q = query('Sync.Example.com', 'A', { id: 0xdead });
    const { handled, replies, sync } = await run(dispatcher, q);
    expect(handled).toBe(true);
    expect(sync).toBe(true);
    expect(replies).toHaveLength(1);
    const d = decode(replies[0]);
    expect(d.id).toBe(0xdead);
    expect(d.rcode).toBe('SERVFAIL');
    expect(d.flag_qr).toBe(true);
    expect(d.questions).toEqual([{ name: 'Sync.Example.com', type: 'A', class: 'IN' }]);
    expect(d.answers).toEqual([]);
    expect(d.additionals).toEqual([]); // no OPT: the query had none

    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toMatch(/unexpected error/);
    expect(errors[0]).toMatchObject({ name: 'sync.example.com', qtype: 1, client: '192.0.2.50' });
    expect((errors[0].err as { message: string }).message).toBe('boom: the chain broke');
    expect(String((errors[0].err as { stack?: string }).stack)).toContain('boom: the chain broke');
    expect(await metricValue(metrics, 'school_dns_responses_total', { rcode: 'SERVFAIL' })).toBe(1);
  });

  it('answers SERVFAIL with EDE 0 "internal error" when the chain rejects, to an EDNS query', async () => {
    const { dispatcher, lines } = setup(() => Promise.reject(Object.assign(new Error('async failure'), { code: 'EWHATEVER' })));
    const q = query('async.example.com', 'AAAA', { id: 0xbeef, edns: true });
    const { replies, sync } = await run(dispatcher, q, Transport.Tcp);
    expect(sync).toBe(false);
    expect(replies).toHaveLength(1);
    const d = decode(replies[0]);
    expect(d).toMatchObject({ id: 0xbeef, rcode: 'SERVFAIL' });
    const opt = d.additionals.find((a) => a.type === 'OPT')!;
    expect(opt.udpPayloadSize).toBe(1232);
    const ede = opt.options!.find((o) => o.code === 15)!;
    expect(Buffer.from(ede.data!).readUInt16BE(0)).toBe(0);
    expect(Buffer.from(ede.data!).subarray(2).toString()).toBe('internal error');
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].err).toMatchObject({ message: 'async failure', code: 'EWHATEVER' });
    expect(errors[0]).toMatchObject({ name: 'async.example.com', qtype: 28 });
  });

  it('ends the query in the metrics when a link of the real chain throws: SERVFAIL counted once, nothing in flight', async () => {
    const metrics = new Metrics([], { processMetrics: false });
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: 100000 });
    const { lines, log } = capture();
    const { chain } = buildChain({ metrics, cache, resolve: () => Promise.reject(new TypeError('resolver bug')) });
    const dispatcher = new Dispatcher(chain, metrics, log);
    const { replies } = await run(dispatcher, query('chain.example.com', 'A', { id: 9 }));
    expect(replies.map((b) => [b.readUInt16BE(0), rcodeOf(b)])).toEqual([[9, 2]]);
    expect(metrics.inflight).toBe(0);
    expect(await metricValue(metrics, 'school_dns_responses_total', { rcode: 'SERVFAIL' })).toBe(1);
    expect(await metricValue(metrics, 'school_dns_queries_total', { transport: 'udp', qtype: 'A' })).toBe(1);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it('passes a good reply through untouched and logs nothing', async () => {
    let seen: QueryContext | null = null;
    const answer = Buffer.from('reply bytes');
    const { dispatcher, lines } = setup((ctx) => { seen = ctx; return answer; });
    const { replies } = await run(dispatcher, query('ok.example.com', 'A'));
    expect(replies).toEqual([answer]);
    expect(replies[0]).toBe(answer);
    expect(seen!.qname).toBe('ok.example.com');
    expect(seen!.remoteAddress).toBe('192.0.2.50');
    expect(lines).toEqual([]);
  });

  it('logs each query when asked to, with name, rcode and transport', async () => {
    const q = query('Logged.Example.com', 'MX');
    const { dispatcher, lines } = setup((ctx) => {
      ctx.source = 'local';
      return bigReply(q, 1);
    }, true);
    await run(dispatcher, q, Transport.Tcp);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'query', name: 'logged.example.com', qtype: 15, rcode: 0, transport: 'tcp', source: 'local' });
  });
});

describe('Dispatcher: malformed input never reaches the chain', () => {
  const never: Next = () => { throw new Error('the chain must not be called'); };

  it.each([
    ['shorter than a header', Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00]), 'short'],
    ['empty', Buffer.alloc(0), 'short'],
    ['a response (QR set)', dnsPacket.encode({ type: 'response', id: 5, questions: [{ name: 'r.example', type: 'A', class: 'IN' }] } as dnsPacket.Packet), 'response'],
  ])('drops a message %s: no reply, handle() returns false', async (_what, buf, reason) => {
    const { dispatcher, lines, metrics } = setup(never);
    const { handled, replies } = await run(dispatcher, buf);
    expect(handled).toBe(false);
    expect(replies).toEqual([]);
    expect(lines).toEqual([]);
    expect(await metricValue(metrics, 'school_dns_rejected_queries_total', { reason })).toBe(1);
  });

  it.each([
    ['NOTIFY', 4],
    ['UPDATE', 5],
    ['IQUERY', 1],
  ])('answers opcode %s with NOTIMP', async (_name, opcode) => {
    const { dispatcher, metrics } = setup(never);
    const { handled, replies, sync } = await run(dispatcher, query('op.example', 'SOA', { id: 77, flags: opcode << 11 }));
    expect(handled).toBe(true);
    expect(sync).toBe(true);
    expect(replies).toHaveLength(1);
    expect(replies[0].readUInt16BE(0)).toBe(77);
    expect(rcodeOf(replies[0])).toBe(4);
    expect((replies[0][2] >> 3) & 0xf).toBe(opcode);
    expect(await metricValue(metrics, 'school_dns_responses_total', { rcode: 'NOTIMP' })).toBe(1);
  });

  it('answers FORMERR to two questions, to no question, and to trailing bytes', async () => {
    const { dispatcher } = setup(never);
    const two = dnsPacket.encode({
      type: 'query', id: 88, flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: 'a.example', type: 'A', class: 'IN' }, { name: 'b.example', type: 'A', class: 'IN' }],
    } as dnsPacket.Packet);
    const none = Buffer.from(query('x.example', 'A', { id: 89 }).subarray(0, 12));
    none.writeUInt16BE(0, 4);
    const trailing = Buffer.concat([query('t.example', 'A', { id: 90 }), Buffer.from([0xff, 0xff])]);
    for (const [buf, id] of [[two, 88], [none, 89], [trailing, 90]] as const) {
      const { replies } = await run(dispatcher, buf);
      expect(replies).toHaveLength(1);
      expect(replies[0].readUInt16BE(0)).toBe(id);
      expect(rcodeOf(replies[0])).toBe(1);
      expect(replies[0][2] & 0x80).toBe(0x80);
    }
  });

  it('answers EDNS version 1 with BADVERS: rcode 16 split between the header and the OPT', async () => {
    const { dispatcher } = setup(never);
    const q = query('v1.example', 'A', { id: 91, edns: true });
    q[q.length - 5] = 1;
    const { replies } = await run(dispatcher, q);
    expect(rcodeOf(replies[0])).toBe(0);
    const opt = decode(replies[0]).additionals.find((a) => a.type === 'OPT') as unknown as { extendedRcode: number };
    expect(opt.extendedRcode).toBe(1);
  });

  it('counts a BADVERS reply under rcode="BADVERS", not NOERROR', async () => {
    const { dispatcher, metrics } = setup(never);
    const q = query('v1.example', 'A', { id: 92, edns: true });
    q[q.length - 5] = 1;
    await run(dispatcher, q);
    expect(await metricValue(metrics, 'school_dns_responses_total', { rcode: 'BADVERS' })).toBe(1);
    expect(await metricValue(metrics, 'school_dns_responses_total', { rcode: 'NOERROR' })).toBe(0);
  });
});

describe('Dispatcher: UDP replies cut to what the client can take', () => {
  it('truncates over UDP to the question with TC=1 when the reply exceeds 512 bytes and the query had no EDNS', async () => {
    const q = query('Big.Example', 'TXT', { id: 0x7c7c });
    const big = bigReply(q, 10); // ~800 bytes
    expect(big.length).toBeGreaterThan(512);
    const { dispatcher } = setup(() => big);
    const { replies } = await run(dispatcher, q, Transport.Udp);
    expect(replies).toHaveLength(1);
    expect(replies[0].length).toBeLessThanOrEqual(512);
    const d = decode(replies[0]);
    expect(d).toMatchObject({ id: 0x7c7c, flag_tc: true, flag_qr: true, flag_rd: true, flag_ra: true, rcode: 'NOERROR' });
    expect(d.questions).toEqual([{ name: 'Big.Example', type: 'TXT', class: 'IN' }]);
    expect(d.answers).toEqual([]);
    expect(d.additionals).toEqual([]);
  });

  it('sends the same reply whole over TCP', async () => {
    const q = query('big.example', 'TXT');
    const big = bigReply(q, 40);
    const { dispatcher } = setup(() => Promise.resolve(big));
    const { replies } = await run(dispatcher, q, Transport.Tcp);
    expect(replies).toEqual([big]);
  });

  it('allows up to the advertised EDNS size, at most 1232, and keeps our OPT in the truncated reply', async () => {
    for (const [udpSize, n, truncated] of [
      // Replies of 9, 10, 14 and 15 records are 795, 880, 1224 and 1310 bytes long.
      [1232, 10, false], [600, 10, true], [800, 9, false], [800, 10, true], [4096, 14, false], [4096, 15, true],
    ] as const) {
      const q = query('edns.example', 'TXT', { id: 5, edns: true, udpSize });
      const reply = bigReply(q, n);
      const { dispatcher } = setup(() => reply);
      const { replies } = await run(dispatcher, q, Transport.Udp);
      const d = decode(replies[0]);
      expect({ udpSize, n, tc: d.flag_tc }).toEqual({ udpSize, n, tc: truncated });
      if (truncated) {
        expect(replies[0].length).toBeLessThanOrEqual(Math.min(udpSize, 1232));
        expect(d.answers).toEqual([]);
        expect(d.additionals.map((a) => [a.type, a.udpPayloadSize])).toEqual([['OPT', 1232]]);
      } else {
        expect(replies[0]).toBe(reply);
      }
    }
  });

  it('udpLimit: 512 without EDNS, the advertised size between 512 and 1232 with it', () => {
    const limit = (buf: Buffer): number => udpLimit(parseQuery(buf) as Query);
    expect(limit(query('a.example', 'A'))).toBe(512);
    expect(limit(query('a.example', 'A', { edns: true, udpSize: 100 }))).toBe(512);
    expect(limit(query('a.example', 'A', { edns: true, udpSize: 800 }))).toBe(800);
    expect(limit(query('a.example', 'A', { edns: true, udpSize: 1232 }))).toBe(1232);
    expect(limit(query('a.example', 'A', { edns: true, udpSize: 65535 }))).toBe(1232);
  });
});
