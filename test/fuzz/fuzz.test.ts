// Fuzz tests: malformed packets never crash or wedge the server. FORMERR where a reply is
// possible, NOTIMP for opcodes other than QUERY, BADVERS for EDNS versions above 0, and
// silence for garbage too short to answer or for responses. Random and mutated packets,
// in process (parser, scanner, names, dispatcher) and over real UDP and TCP sockets; then
// the server must still answer good queries, with its metrics and logs in order.
//
// Every run prints its seed in the suite name; FUZZ_SEED=<n> replays it, and the case
// `index` of layer `stream` is fuzzCase(caseRng(seed, stream, index)) on its own.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { AnswerCache } from '../../src/cache/answer-cache';
import { resolverLink } from '../../src/chain/resolve-link';
import { MessageError, ScannedMessage, scanMessage } from '../../src/dns/message';
import { encodeName, readName, skipName } from '../../src/dns/name';
import { isRejection, parseQuery, ParseResult, Query } from '../../src/dns/query';
import { createLogger } from '../../src/log/logger';
import { Metrics, REJECT_REASONS, Transport } from '../../src/metrics/metrics';
import { buildChain } from '../../src/server/chain';
import { Dispatcher } from '../../src/server/dispatch';
import { Forwarder } from '../../src/upstream/forwarder';
import { fmt } from '../../src/upstream/transport';
import { FixedUpstream, startFixedUpstream } from '../helpers/fixed-upstream';
import {
  BADVERS, caseRng, classifyQuery, corpus, describeOutcome, FuzzCase, fuzzCase, fuzzSeed, Outcome, refName, Verdict,
} from '../helpers/fuzz';
import { decode, query } from '../helpers/packets';
import { loopback, startTestResolver, TestResolver } from '../helpers/resolver';

const SEED = fuzzSeed();

/** Cases per layer (the issue asks for at least 100,000 per transport). */
const WIRE_CASES = 100_000;
const DISPATCH_CASES = 20_000;
const UDP_CASES = 100_000;
const TCP_CONNECTIONS = 200;
const TCP_PER_CONNECTION = 500;

const IDLE_TIMEOUT_MS = 1500;
const summary: string[] = [];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Waits for `p`, or `ms` at most (without leaving a timer behind). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

/** Collects failures with enough to replay them, and fails the test once at the end. */
class Failures {
  private readonly shown: string[] = [];
  count = 0;

  constructor(private readonly stream: string) {}

  add(index: number, c: { buf: Uint8Array; kind?: string; mutations?: readonly string[] }, msg: string): void {
    this.count++;
    if (this.shown.length >= 15) return;
    const how = c.kind ? ` [${c.kind}${c.mutations && c.mutations.length > 0 ? `: ${c.mutations.join(', ')}` : ''}]` : '';
    const bytes = c.buf.length > 700 ? `${hex(c.buf.subarray(0, 700))}... (${c.buf.length} bytes)` : hex(c.buf);
    this.shown.push(`${this.stream} #${index}${how}: ${msg}${c.buf.length > 0 ? `\n    packet: ${bytes}` : ''}`);
  }

  check(): void {
    if (this.count === 0) return;
    throw new Error(`${this.count} fuzz failure(s) in "${this.stream}" with FUZZ_SEED=${SEED} `
      + `(replay case i with fuzzCase(caseRng(${SEED}, '${this.stream}', i))):\n${this.shown.join('\n')}`);
  }
}

const outcomeOf = (r: ParseResult): Outcome => (isRejection(r) ? (r.action === 'drop' ? 'drop' : r.rcode) : 'query');
const allowedText = (v: Verdict): string => [...v.allowed].map(describeOutcome).join('|');

/** Checks a parse result against the reference verdict; returns the problem or null. */
function checkParse(buf: Buffer, r: ParseResult, v: Verdict): string | null {
  const outcome = outcomeOf(r);
  if (!v.allowed.has(outcome)) {
    return `parseQuery says ${describeOutcome(outcome)}${isRejection(r) ? ` (${r.reason})` : ''}; allowed ${allowedText(v)} (${v.why})`;
  }
  if (isRejection(r)) {
    if (r.action !== 'drop' && r.action !== 'reply') return `bad action ${String(r.action)}`;
    if (![1, 4, 5, 16].includes(r.rcode)) return `rejection with rcode ${r.rcode}`;
    if (!(REJECT_REASONS as readonly string[]).includes(r.reason)) return `unknown reason ${r.reason}`;
    if ((r.action === 'drop') !== (r.reason === 'short' || r.reason === 'response')) return `action ${r.action} for reason ${r.reason}`;
    if (buf.length >= 4 && (r.id !== buf.readUInt16BE(0) || r.flags !== buf.readUInt16BE(2))) return 'rejection id/flags differ from the header';
    if (r.questionEnd !== 0 && r.questionEnd !== v.questionEnd) return `rejection questionEnd ${r.questionEnd}, reference ${v.questionEnd}`;
    return null;
  }
  const q = r;
  if (!(12 < q.qnameEnd && q.qnameEnd + 4 === q.questionEnd && q.questionEnd <= buf.length)) {
    return `inconsistent offsets qnameEnd=${q.qnameEnd} questionEnd=${q.questionEnd} length=${buf.length}`;
  }
  if (q.questionEnd !== v.questionEnd) return `questionEnd ${q.questionEnd}, reference ${v.questionEnd}`;
  if (q.id !== buf.readUInt16BE(0) || q.flags !== buf.readUInt16BE(2)) return 'id/flags differ from the header';
  if (q.qtype !== buf.readUInt16BE(q.qnameEnd) || q.qclass !== buf.readUInt16BE(q.qnameEnd + 2)) return 'qtype/qclass misread';
  if (q.edns !== (v.edns !== null)) return `edns ${q.edns}, reference ${v.edns !== null}`;
  if (v.edns) {
    if (q.udpSize !== Math.max(512, v.edns.udpSize)) return `udpSize ${q.udpSize}, reference ${v.edns.udpSize}`;
    if (q.dnssecOk !== v.edns.dnssecOk || q.ednsVersion !== v.edns.version) return 'DO bit or EDNS version misread';
  } else if (q.udpSize !== 512 || q.dnssecOk) {
    return 'udpSize/DO without EDNS';
  }
  return null;
}

/** Checks what scanMessage returned against the bytes; returns the problem or null. */
function checkScan(buf: Buffer, m: ScannedMessage): string | null {
  const u16 = (o: number): number => buf.readUInt16BE(o);
  if (m.id !== u16(0) || m.flags !== u16(2) || m.qdcount !== u16(4) || m.ancount !== u16(6) || m.nscount !== u16(8)) return 'header misread';
  if (m.records.length !== u16(6) + u16(8) + u16(10)) return `${m.records.length} records for counts ${u16(6)}/${u16(8)}/${u16(10)}`;
  if (m.questionEnd < 12 || m.questionEnd > buf.length) return `questionEnd ${m.questionEnd}`;
  if (m.qdcount > 0 && !(m.qnameEnd > 12 && m.qnameEnd + 4 <= m.questionEnd)) return `qnameEnd ${m.qnameEnd}`;
  let prev = m.questionEnd;
  let opt = null;
  for (let i = 0; i < m.records.length; i++) {
    const r = m.records[i];
    const section = i < m.ancount ? 0 : i < m.ancount + m.nscount ? 1 : 2;
    if (r.offset !== prev || r.section !== section) return `record ${i} at ${r.offset} (expected ${prev}), section ${r.section}`;
    const nameEnd = r.ttlOffset - 4;
    const ref = refNameEndOf(buf, r.offset);
    if (ref !== nameEnd) return `record ${i}: owner ends at ${nameEnd}, reference ${ref}`;
    if (r.type !== u16(nameEnd) || r.klass !== u16(nameEnd + 2) || r.ttl !== buf.readUInt32BE(nameEnd + 4)) return `record ${i} fields misread`;
    if (r.rdataOffset !== nameEnd + 10 || r.rdlength !== u16(nameEnd + 8) || r.end !== r.rdataOffset + r.rdlength || r.end > buf.length) return `record ${i} bounds`;
    if (r.type === 41) {
      if (opt !== null || section !== 2) return 'OPT accepted twice or outside the additional section';
      opt = r;
    }
    prev = r.end;
  }
  if (prev !== buf.length) return `records end at ${prev} of ${buf.length}`;
  if (m.opt !== opt) return 'opt is not the OPT record';
  const rcode = (m.flags & 0xf) | (opt ? (opt.ttl >>> 24) << 4 : 0);
  if (m.rcode !== rcode) return `rcode ${m.rcode}, expected ${rcode}`;
  if (m.maxPointerTarget >= buf.length) return `pointer target ${m.maxPointerTarget} beyond the message`;
  return null;
}

/** Where a name ends without following its pointer (labels, then root or one backward pointer). */
function refNameEndOf(buf: Uint8Array, off: number): number {
  const start = off;
  for (;;) {
    if (off >= buf.length) return -1;
    const l = buf[off];
    if ((l & 0xc0) === 0xc0) return off + 1 < buf.length && (((l & 0x3f) << 8) | buf[off + 1]) < off ? off + 2 : -1;
    if (l > 63) return -1;
    if (l === 0) return off + 1 - start <= 255 ? off + 1 : -1;
    off += l + 1;
  }
}

/** readName and skipName at one offset, against the reference decompression. */
function checkName(buf: Buffer, off: number, end: number): string | null {
  let skipped: number;
  let text: string | null;
  try {
    skipped = skipName(buf, off, end);
  } catch (e) {
    return `skipName(${off}, ${end}) threw ${String(e)}`;
  }
  try {
    text = readName(buf, off, end);
  } catch (e) {
    return `readName(${off}, ${end}) threw ${String(e)}`;
  }
  if (skipped !== -1 && !(skipped > off && skipped <= end)) return `skipName(${off}, ${end}) = ${skipped}`;
  const ref = refName(buf, off, end);
  if (text === null) {
    if (ref.wire !== null && ref.hops <= 64) return `readName(${off}, ${end}) = null; reference reads ${hex(ref.wire)} (${ref.hops} hops)`;
    return null;
  }
  if (skipped < 0) return `readName(${off}, ${end}) = ${JSON.stringify(text)} but skipName = -1`;
  if (ref.wire === null) return `readName(${off}, ${end}) = ${JSON.stringify(text)}; reference finds it malformed`;
  let wire: Buffer;
  try {
    wire = encodeName(text);
  } catch (e) {
    return `encodeName(readName(${off})) = encodeName(${JSON.stringify(text)}) threw ${String(e)}`;
  }
  if (!wire.equals(ref.wire)) return `readName(${off}) = ${JSON.stringify(text)} encodes to ${hex(wire)}, reference ${hex(ref.wire)}`;
  return null;
}

/** Offsets worth reading a name at: a few random ones (some past the end) and pointer octets. */
function nameOffsets(c: FuzzCase, pick: (n: number) => number): number[] {
  const b = c.buf;
  const offs = [12, pick(b.length + 3), pick(b.length + 1)];
  const pointers: number[] = [];
  for (let i = 0; i < b.length; i++) if ((b[i] & 0xc0) === 0xc0) pointers.push(i);
  if (pointers.length > 0) offs.push(pointers[pick(pointers.length)]);
  return offs;
}

function tally(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const fmtTally = (map: Map<string, number>): string => [...map].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ');

/** Validates a reply the server sent for `buf`; returns the problem or null. */
function checkReply(buf: Buffer, reply: Buffer, transport: Transport, parsed: ParseResult, v: Verdict): string | null {
  let m: ScannedMessage;
  try {
    m = scanMessage(reply);
  } catch (e) {
    return `reply does not scan: ${String(e)}; reply ${hex(reply)}`;
  }
  if (!(m.flags & 0x8000)) return 'reply without QR';
  if (m.id !== buf.readUInt16BE(0)) return `reply ID ${m.id}, query ID ${buf.readUInt16BE(0)}`;
  if (((m.flags >> 11) & 0xf) !== ((buf[2] >> 3) & 0xf)) return 'reply opcode differs from the query';
  if (m.qdcount > 1) return `reply with ${m.qdcount} questions`;
  if (m.qdcount === 1 && (m.questionEnd !== v.questionEnd || !reply.subarray(12, m.questionEnd).equals(buf.subarray(12, m.questionEnd)))) {
    return `reply question ${hex(reply.subarray(12, m.questionEnd))} is not the query's`;
  }
  if (isRejection(parsed)) {
    if (m.rcode !== parsed.rcode) return `reply rcode ${m.rcode}, rejection rcode ${parsed.rcode}`;
    if (!v.allowed.has(m.rcode)) return `reply ${describeOutcome(m.rcode)}; allowed ${allowedText(v)} (${v.why})`;
    if (m.records.length !== (m.opt ? 1 : 0)) return 'error reply with records';
    if (m.rcode === BADVERS && !m.opt) return 'BADVERS without an OPT record';
    if (transport === Transport.Udp && reply.length > 512) return `error reply of ${reply.length} octets over UDP`;
    return null;
  }
  const q: Query = parsed;
  if (m.qdcount !== 1) return 'answer without the question';
  if (![0, 2, 3, 5].includes(m.rcode)) return `answer rcode ${m.rcode}`;
  if (q.edns && !m.opt) return 'EDNS query answered without OPT';
  if (transport === Transport.Udp) {
    const limit = q.edns ? Math.min(Math.max(q.udpSize, 512), 1232) : 512;
    if (reply.length > limit) return `UDP reply of ${reply.length} octets, limit ${limit}`;
  }
  return null;
}

function collectingLogger(level: 'warn' | 'info' = 'warn') {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  return { log: createLogger({ level, format: 'json', stream }), logs };
}

const errorLines = (logs: Record<string, unknown>[]): Record<string, unknown>[] => logs.filter((l) => l.level === 'error');

describe(`fuzz (FUZZ_SEED=${SEED})`, () => {
  const started = Date.now();
  afterAll(() => {
    summary.push(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // One line per layer: what ran, how long, and how the cases were classified.
    console.log(`fuzz summary (FUZZ_SEED=${SEED})\n  ${summary.join('\n  ')}`);
  });

  it('builds a corpus of valid queries and responses', () => {
    const c = corpus();
    const accepted = c.queries.filter((q) => !isRejection(parseQuery(q))).length;
    expect(accepted).toBeGreaterThan(c.queries.length * 0.7);
    for (const q of c.queries) {
      expect(checkParse(q, parseQuery(q), classifyQuery(q))).toBeNull();
      expect(checkScan(q, scanMessage(q))).toBeNull();
    }
    for (const r of c.responses) expect(checkScan(r, scanMessage(r))).toBeNull();
    expect(c.crafted.length).toBeGreaterThan(50);
  });

  it('has a fixed upstream that answers over UDP and TCP', async () => {
    const up = await startFixedUpstream();
    const udp = await udpClient();
    try {
      const d = decode(await udpAsk(udp, up.port, query('Fixed.Example', 'MX', { id: 0x0102 }), 2000));
      expect(d).toMatchObject({ id: 0x0102, rcode: 'NOERROR', flag_qr: true, flag_rd: true });
      expect(d.questions).toEqual([{ name: 'Fixed.Example', type: 'MX', class: 'IN' }]);
      expect(d.answers.map((a) => [a.name, a.type, a.data, a.ttl])).toEqual([['Fixed.Example', 'A', up.address, up.ttl]]);
      const res = await rawTcp(up.port, framed(query('tcp.example', 'A', { id: 0x0203 })), 'end', 2000, 1);
      expect(res.replies.map((m) => decode(m)).map((t) => [t.id, t.answers[0]?.data])).toEqual([[0x0203, up.address]]);
      expect(up.answered).toEqual({ udp: 1, tcp: 1 });
    } finally {
      await new Promise<void>((res) => udp.close(() => res()));
      await up.close();
    }
  });

  it(`parseQuery, scanMessage, readName and skipName survive ${WIRE_CASES} cases`, () => {
    const t0 = Date.now();
    const failures = new Failures('wire');
    const outcomes = new Map<string, number>();
    let scanned = 0;
    let names = 0;
    for (let i = 0; i < WIRE_CASES; i++) {
      const rng = caseRng(SEED, 'wire', i);
      const c = fuzzCase(rng);
      const v = classifyQuery(c.buf);
      let r: ParseResult;
      try {
        r = parseQuery(c.buf);
      } catch (e) {
        failures.add(i, c, `parseQuery threw ${String(e)}`);
        continue;
      }
      tally(outcomes, isRejection(r) ? r.reason : 'query');
      const problem = checkParse(c.buf, r, v);
      if (problem) failures.add(i, c, problem);
      try {
        const m = scanMessage(c.buf);
        scanned++;
        const bad = checkScan(c.buf, m);
        if (bad) failures.add(i, c, `scanMessage: ${bad}`);
      } catch (e) {
        if (!(e instanceof MessageError)) failures.add(i, c, `scanMessage threw ${String(e)}`);
      }
      for (const off of nameOffsets(c, (n) => rng.int(n))) {
        const end = rng.chance(0.8) ? c.buf.length : rng.range(Math.min(off, c.buf.length), c.buf.length);
        const bad = checkName(c.buf, off, end);
        names++;
        if (bad) failures.add(i, c, bad);
      }
    }
    summary.push(`wire: ${WIRE_CASES} cases through parseQuery and scanMessage (${scanned} scanned whole), ${names} readName/skipName probes, `
      + `${((Date.now() - t0) / 1000).toFixed(1)} s; parseQuery: ${fmtTally(outcomes)}`);
    failures.check();
  }, 60_000);

  describe('dispatcher', () => {
    let up: FixedUpstream;
    beforeAll(async () => { up = await startFixedUpstream(); });
    afterAll(async () => { await up.close(); });

    it(`sends at most one valid reply per case for ${DISPATCH_CASES} cases, with the right rcode`, async () => {
      const t0 = Date.now();
      const upstream = loopback(up.port);
      const metrics = new Metrics([fmt(upstream)], { processMetrics: false });
      const cache = new AnswerCache({ maxEntries: 20_000, maxBytes: 32 << 20 });
      const forwarder = new Forwarder({
        upstreams: [upstream], timeoutMs: 500, attempts: 2, totalTimeoutMs: 1500,
        ttlPolicy: { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 },
        observe: (u, o, s) => metrics.upstream(u, o, s),
      });
      const { chain } = buildChain({ metrics, cache, resolve: resolverLink(forwarder) });
      const { log, logs } = collectingLogger();
      const dispatcher = new Dispatcher(chain, metrics, log);
      const failures = new Failures('dispatch');
      const rcodes = new Map<string, number>();
      const BATCH = 250;
      for (let base = 0; base < DISPATCH_CASES; base += BATCH) {
        const waits: Promise<void>[] = [];
        const checks: (() => void)[] = [];
        for (let i = base; i < Math.min(DISPATCH_CASES, base + BATCH); i++) {
          const c = fuzzCase(caseRng(SEED, 'dispatch', i));
          const v = classifyQuery(c.buf);
          const parsed = parseQuery(c.buf);
          const transport = i % 2 === 0 ? Transport.Udp : Transport.Tcp;
          const sends: Buffer[] = [];
          let done: () => void = () => {};
          const settled = new Promise<void>((res) => { done = res; });
          let promised: boolean;
          try {
            promised = dispatcher.handle(c.buf, transport, '192.0.2.10', 40000 + (i % 1000), (reply) => {
              sends.push(reply);
              if (sends.length > 1) failures.add(i, c, `send called ${sends.length} times`);
              done();
            });
          } catch (e) {
            failures.add(i, c, `handle threw ${String(e)}`);
            continue;
          }
          const expectReply = !v.allowed.has('drop');
          if (promised !== expectReply) failures.add(i, c, `handle returned ${promised}; reference: ${allowedText(v)} (${v.why})`);
          if (!promised) {
            if (sends.length > 0) failures.add(i, c, 'handle returned false but sent a reply');
            continue;
          }
          waits.push(settled);
          checks.push(() => {
            if (sends.length === 0) { failures.add(i, c, 'no reply within 5 s'); return; }
            const bad = checkReply(c.buf, sends[0], transport, parsed, v);
            if (bad) failures.add(i, c, bad);
            tally(rcodes, describeOutcome(sends[0][3] & 0xf));
          });
        }
        await within(Promise.all(waits), 5000);
        for (const check of checks) check();
      }
      // Late duplicate sends would show up here.
      await sleep(50);
      summary.push(`dispatcher: ${DISPATCH_CASES} cases, ${((Date.now() - t0) / 1000).toFixed(1)} s; replies: ${fmtTally(rcodes)}; `
        + `upstream answered ${up.answered.udp} over UDP`);
      failures.check();
      expect(metrics.inflight).toBe(0);
      expect(forwarder.inflightCount).toBe(0);
      expect(errorLines(logs)).toEqual([]);
    }, 60_000);
  });

  describe('over real sockets', () => {
    let up: FixedUpstream;
    let r: TestResolver;
    let rejectedBefore = 0;

    beforeAll(async () => {
      up = await startFixedUpstream();
      r = await startTestResolver({
        resolver: { upstreams: [loopback(up.port)], timeoutMs: 300, attempts: 2, totalTimeoutMs: 800 },
        server: { tcp: { idleTimeoutMs: IDLE_TIMEOUT_MS, maxConnections: 1000, maxPipelined: 64 } },
      });
      rejectedBefore = sumSeries(await scrape(r), 'school_dns_rejected_queries_total');
    });
    afterAll(async () => {
      await r?.close();
      await up?.close();
    });

    it(`survives ${UDP_CASES} cases over UDP`, async () => {
      const t0 = Date.now();
      const clients = await Promise.all(Array.from({ length: 4 }, () => udpClient()));
      const failures = new Failures('udp');
      let received = 0;
      let badReplies = 0;
      for (const s of clients) {
        s.on('message', (m) => {
          received++;
          try {
            scanMessage(m);
            if (!(m[2] & 0x80) || m.length > 1232) throw new Error('no QR or too big');
          } catch (e) {
            if (badReplies++ < 10) failures.add(received, { buf: m }, `invalid reply: ${String(e)}`);
          }
        });
      }
      let expected = 0;
      let writtenOff = 0;
      let sendErrors = 0;
      const before = await scrape(r);
      // Every send goes to the kernel at once, and the server's socket buffer is the system
      // default: small bursts, then let the server drain them (bounded wait) before the next.
      const BURST = 100;
      try {
        for (let base = 0; base < UDP_CASES; base += BURST) {
          const sends: Promise<void>[] = [];
          for (let i = base; i < Math.min(UDP_CASES, base + BURST); i++) {
            const c = fuzzCase(caseRng(SEED, 'udp', i));
            if (!classifyQuery(c.buf).allowed.has('drop')) expected++;
            sends.push(new Promise((res) => clients[i % clients.length].send(c.buf, r.udpPort, '127.0.0.1', (e) => {
              if (e) sendErrors++;
              res();
            })));
          }
          await Promise.all(sends);
          const until = Date.now() + 100;
          while (expected - received - writtenOff > 0 && Date.now() < until) await tick();
          if (expected - received - writtenOff > 0) writtenOff = expected - received;
        }
        // Until replies stop coming (at most 5 s).
        for (let last = -1, until = Date.now() + 5000; received < expected && received !== last && Date.now() < until;) {
          last = received;
          await sleep(200);
        }
      } finally {
        await Promise.all(clients.map((s) => new Promise<void>((res) => s.close(() => res()))));
      }
      const after = await scrape(r);
      const seen = (t: string): number => sumSeries(t, 'school_dns_rejected_queries_total') + sumSeries(t, 'school_dns_queries_total');
      const serverSaw = seen(after) - seen(before);
      summary.push(`udp: ${UDP_CASES} datagrams sent (${sendErrors} send errors), ${serverSaw} reached the server, ${expected} should be answered, ${received} replies `
        + `(${((100 * received) / Math.max(1, expected)).toFixed(2)}%), ${((Date.now() - t0) / 1000).toFixed(1)} s; upstream saw ${up.answered.udp}`);
      failures.check();
      expect(sendErrors).toBe(0);
      // Loopback UDP may drop a little under load; it must not lose a large share.
      expect(serverSaw).toBeGreaterThanOrEqual(UDP_CASES * 0.9);
      expect(received).toBeGreaterThanOrEqual(expected * 0.9);
      expect(received).toBeLessThanOrEqual(expected);
    }, 90_000);

    it(`survives ${TCP_CONNECTIONS * TCP_PER_CONNECTION} cases over TCP (${TCP_CONNECTIONS} connections of ${TCP_PER_CONNECTION})`, async () => {
      const t0 = Date.now();
      const failures = new Failures('tcp');
      let totalReplies = 0;
      let totalExpected = 0;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < TCP_CONNECTIONS) {
          const conn = next++;
          const cases: FuzzCase[] = [];
          for (let k = 0; k < TCP_PER_CONNECTION; k++) cases.push(fuzzCase(caseRng(SEED, 'tcp', conn * TCP_PER_CONNECTION + k)));
          const expectedIds: number[] = [];
          for (const c of cases) if (!classifyQuery(c.buf).allowed.has('drop')) expectedIds.push(c.buf.readUInt16BE(0));
          const res = await tcpSession(r.tcpPort, cases.map((c) => c.buf), expectedIds.length, conn, 20_000);
          totalReplies += res.replies.length;
          totalExpected += expectedIds.length;
          const first = { buf: Buffer.alloc(0), kind: `connection ${conn}` };
          if (res.error) failures.add(conn, first, res.error);
          for (const bad of res.invalid) failures.add(conn, first, bad);
          const got = res.replies.map((m) => m.readUInt16BE(0)).sort((a, b) => a - b);
          expectedIds.sort((a, b) => a - b);
          if (got.length !== expectedIds.length || got.some((id, i) => id !== expectedIds[i])) {
            failures.add(conn, first, `${got.length} replies for ${expectedIds.length} answerable messages (cases ${conn * TCP_PER_CONNECTION}..${conn * TCP_PER_CONNECTION + TCP_PER_CONNECTION - 1})`);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, () => worker()));
      summary.push(`tcp: ${TCP_CONNECTIONS * TCP_PER_CONNECTION} messages on ${TCP_CONNECTIONS} connections, ${totalExpected} answerable, `
        + `${totalReplies} replies, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      failures.check();
    }, 90_000);

    it('survives garbage framing on TCP', async () => {
      const t0 = Date.now();
      const good = query('framing.example', 'A', { id: 0x7777 });
      const frame = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
      const sessions: { name: string; bytes: Buffer; close: 'end' | 'destroy'; replies: number }[] = [];
      for (let k = 0; k < 20; k++) {
        sessions.push(
          { name: 'length prefix larger than the data, then close', bytes: Buffer.concat([Buffer.from([0x01, 0x00]), good]), close: 'end', replies: 0 },
          { name: 'zero-length messages around a good query', bytes: Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0)), frame(good), frame(Buffer.alloc(0))]), close: 'end', replies: 1 },
          { name: 'half a message, then close', bytes: frame(good).subarray(0, 2 + (good.length >> 1)), close: 'end', replies: 0 },
          { name: 'half a message, then reset', bytes: frame(good).subarray(0, 2 + (good.length >> 1)), close: 'destroy', replies: 0 },
          { name: 'one octet of a length prefix, then close', bytes: Buffer.from([0x00]), close: 'end', replies: 0 },
          { name: 'a good query, then the largest length prefix and a little', bytes: Buffer.concat([frame(good), Buffer.from([0xff, 0xff, 1, 2, 3])]), close: 'end', replies: 1 },
          { name: 'a 65535-octet message of zeros', bytes: frame(Buffer.alloc(65535)), close: 'end', replies: 1 },
        );
      }
      const problems: string[] = [];
      await Promise.all(sessions.map(async (s) => {
        const res = await rawTcp(r.tcpPort, s.bytes, s.close, 5000, s.replies);
        if (s.close === 'destroy') return;
        if (!res.closed) problems.push(`${s.name}: server did not close within 5 s`);
        if (res.replies.length !== s.replies) problems.push(`${s.name}: ${res.replies.length} replies, expected ${s.replies}`);
        for (const m of res.replies) {
          try { scanMessage(m); } catch { problems.push(`${s.name}: invalid reply ${hex(m)}`); }
        }
      }));
      // Half a message and then silence: the idle timeout closes the connection.
      const idle = await rawTcp(r.tcpPort, frame(good).subarray(0, 5), 'none', IDLE_TIMEOUT_MS + 3000);
      if (!idle.closed) problems.push('half a message left open: not closed after the idle timeout');
      summary.push(`tcp framing: ${sessions.length + 1} connections, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(problems).toEqual([]);
    }, 30_000);

    it('still answers good queries afterwards, with metrics and logs in order', async () => {
      const udp = await udpClient();
      try {
        const reply = await udpAsk(udp, r.udpPort, query('Still-Alive.example', 'A', { id: 0x4242 }), 3000);
        const d = decode(reply);
        expect(d.id).toBe(0x4242);
        expect(d.rcode).toBe('NOERROR');
        expect(d.questions).toEqual([{ name: 'Still-Alive.example', type: 'A', class: 'IN' }]);
        expect(d.answers).toHaveLength(1);
        expect(d.answers[0]).toMatchObject({ name: 'Still-Alive.example', type: 'A', data: up.address, ttl: up.ttl });
      } finally {
        await new Promise<void>((res) => udp.close(() => res()));
      }
      const viaTcp = await rawTcp(r.tcpPort, framed(query('still-alive-tcp.example', 'AAAA', { id: 0x4343, edns: true })), 'end', 3000, 1);
      expect(viaTcp.replies).toHaveLength(1);
      const d = decode(viaTcp.replies[0]);
      expect(d.id).toBe(0x4343);
      expect(d.rcode).toBe('NOERROR');
      expect(d.questions).toEqual([{ name: 'still-alive-tcp.example', type: 'AAAA', class: 'IN' }]);
      expect(d.answers.map((a) => [a.type, a.data])).toEqual([['A', up.address]]);
      expect(d.additionals.map((a) => a.type)).toEqual(['OPT']);

      // Every query in flight is finished once things settle.
      const until = Date.now() + 5000;
      while (r.metrics.inflight !== 0 && Date.now() < until) await sleep(20);
      expect(r.metrics.inflight).toBe(0);
      const text = await scrape(r);
      expect(sumSeries(text, 'school_dns_inflight_queries')).toBe(0);
      const rejected = sumSeries(text, 'school_dns_rejected_queries_total');
      expect(rejected).toBeGreaterThan(rejectedBefore + 100_000);
      // The fuzz reached every way of rejecting a packet.
      const reasons = ['short', 'response', 'opcode', 'qdcount', 'question', 'records', 'opt', 'trailing', 'badvers', 'qtype'];
      expect(reasons.filter((reason) => !(seriesValue(text, 'school_dns_rejected_queries_total', `reason="${reason}"`) > 0))).toEqual([]);
      const warns = r.logs.filter((l) => l.level === 'warn');
      summary.push(`afterwards: ${rejected - rejectedBefore} packets rejected in all; ${warns.length} warn lines${warns.length > 0 ? `: ${JSON.stringify(warns.slice(0, 3))}` : ''}`);
      expect(errorLines(r.logs)).toEqual([]);
    }, 30_000);
  });
});

// Minimized from failures the fuzz found; they fail until src/server/tcp.ts is fixed.
describe('TCP problems found by fuzzing', () => {
  it('answers a query still in flight when the client half-closes right after sending it', async () => {
    // A client may shut down its sending side once it has sent its queries. The listener's
    // 'end' handler means to answer what is in flight first, but the server socket is not
    // allowHalfOpen, so Node ends the connection at once and the upstream answer is dropped.
    const up = await startFixedUpstream();
    const r = await startTestResolver({ resolver: { upstreams: [loopback(up.port)], timeoutMs: 300, attempts: 2, totalTimeoutMs: 800 } });
    try {
      // id 0x1234, RD, half-close.example A IN: not cached, so it goes upstream.
      const q = Buffer.from('1234010000010000000000000a68616c662d636c6f7365076578616d706c650000010001', 'hex');
      const res = await rawTcp(r.tcpPort, framed(q), 'end', 3000);
      expect(res.replies.map((m) => [m.readUInt16BE(0), m[3] & 0xf])).toEqual([[0x1234, 0]]);
    } finally {
      await r.close();
      await up.close();
    }
  });

  it('frees the connection slot of an idle client that ignores the server closing', async () => {
    // After the idle timeout the listener calls sock.end() but never destroys the socket:
    // a client that does not close its side keeps the connection, and its place under
    // maxConnections, for ever. Enough of them and every new TCP client is refused.
    const up = await startFixedUpstream();
    const r = await startTestResolver({
      resolver: { upstreams: [loopback(up.port)] },
      server: { tcp: { idleTimeoutMs: 200, maxConnections: 2, maxPipelined: 64 } },
    });
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        // Half a length prefix, then nothing; never closed from this side.
        const s = net.connect({ host: '127.0.0.1', port: r.tcpPort, allowHalfOpen: true }, () => s.write(Buffer.from([0x00])));
        s.on('error', () => {});
        idle.push(s);
      }
      // Well past the idle timeout (and the server's FIN), a new client must be served.
      await sleep(1500);
      const res = await rawTcp(r.tcpPort, framed(query('slot.example', 'A', { id: 0x5151 })), 'end', 3000, 1);
      expect(res.replies.map((m) => m.readUInt16BE(0))).toEqual([0x5151]);
    } finally {
      for (const s of idle) s.destroy();
      await r.close();
      await up.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Socket helpers

function udpClient(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function udpAsk(s: dgram.Socket, port: number, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const id = msg.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { s.off('message', onMessage); reject(new Error(`no UDP answer within ${timeoutMs} ms`)); }, timeoutMs);
    const onMessage = (m: Buffer): void => {
      if (m.length < 2 || m.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      s.off('message', onMessage);
      resolve(m);
    };
    s.on('message', onMessage);
    s.send(msg, port, '127.0.0.1');
  });
}

function framed(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length + 2);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** Splits a TCP byte stream into messages; leftover bytes (a cut frame) are returned too. */
function unframe(data: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let off = 0;
  while (off + 2 <= data.length && off + 2 + data.readUInt16BE(off) <= data.length) {
    const len = data.readUInt16BE(off);
    messages.push(data.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  return { messages, rest: data.subarray(off) };
}

interface RawResult {
  readonly replies: Buffer[];
  /** The server closed (or reset) the connection before the deadline. */
  readonly closed: boolean;
}

/**
 * Writes `bytes` on a fresh connection, then half-closes ('end': once `endAfter` replies came,
 * or at half the timeout), resets ('destroy') or does nothing ('none'); collects what comes
 * back until the server closes or `timeoutMs` passes.
 */
function rawTcp(port: number, bytes: Buffer, close: 'end' | 'destroy' | 'none', timeoutMs: number, endAfter = 0): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(endTimer);
      sock.destroy();
      resolve({ replies: unframe(Buffer.concat(chunks)).messages, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    const endTimer = close === 'end' && endAfter > 0 ? setTimeout(() => sock.end(), timeoutMs / 2) : undefined;
    sock.on('data', (c) => {
      chunks.push(c);
      if (close === 'end' && endAfter > 0 && unframe(Buffer.concat(chunks)).messages.length >= endAfter) sock.end();
    });
    sock.on('error', () => {});
    sock.on('end', () => { closed = true; finish(); });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('connect', () => {
      sock.write(bytes);
      if (close === 'end' && endAfter === 0) sock.end();
      if (close === 'destroy') sock.destroy();
    });
  });
}

interface SessionResult {
  readonly replies: Buffer[];
  readonly invalid: string[];
  readonly error: string | null;
}

/**
 * One pipelined connection: every message framed and written in uneven chunks; once as many
 * replies as `expected` came (or `timeoutMs` passed) the client half-closes, and the server
 * must then close too. (Half-closing before the replies are in is its own test below.)
 */
function tcpSession(port: number, messages: Buffer[], expected: number, conn: number, timeoutMs: number): Promise<SessionResult> {
  return new Promise((resolve) => {
    const stream = Buffer.concat(messages.map(framed));
    const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let data = Buffer.alloc(0);
    let replies = 0;
    let error: string | null = null;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(waitTimer);
      sock.destroy();
      const { messages: got, rest } = unframe(data);
      const invalid: string[] = [];
      if (rest.length > 0) invalid.push(`${rest.length} octets of a cut reply at the end`);
      for (const m of got) {
        try {
          scanMessage(m);
          if (!(m[2] & 0x80)) throw new Error('no QR');
        } catch (e) {
          if (invalid.length < 3) invalid.push(`invalid reply ${hex(m)}: ${String(e)}`);
        }
      }
      resolve({ replies: got, invalid, error });
    };
    const timer = setTimeout(() => { error = `connection ${conn} not closed by the server within ${timeoutMs} ms`; finish(); }, timeoutMs);
    const waitTimer = setTimeout(() => sock.end(), timeoutMs / 2);
    let counted = 0;
    sock.on('data', (c) => {
      data = data.length === 0 ? c : Buffer.concat([data, c]);
      // Count whole frames received so far.
      while (counted + 2 <= data.length && counted + 2 + data.readUInt16BE(counted) <= data.length) {
        counted += 2 + data.readUInt16BE(counted);
        replies++;
      }
      if (replies >= expected) sock.end();
    });
    sock.on('error', (e) => { error = `connection ${conn}: ${e.message}`; finish(); });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('connect', () => {
      // Uneven chunks, so frames arrive split across reads.
      let off = 0;
      let step = 1 + (conn % 7) * 613;
      while (off < stream.length) {
        sock.write(stream.subarray(off, off + step));
        off += step;
        step = 1 + ((step * 7919 + conn) % 4096);
      }
      if (expected === 0) sock.end();
    });
  });
}

function scrape(r: TestResolver): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: r.adminPort as number, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('/metrics timed out')));
    req.on('error', reject);
  });
}

/** Sum of every series of a metric in Prometheus text. */
function sumSeries(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function seriesValue(text: string, name: string, label: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}
