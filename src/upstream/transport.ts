// One exchange with one upstream server over UDP or TCP. Each UDP exchange gets its own
// socket, so its source port is a fresh random ephemeral port (RFC 5452 §9.2), and a
// random ID. A reply is accepted only from the server's address and port, with our ID
// and our question (RFC 5452 §3); anything else is ignored and counted.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { HostPort } from '../config/types';
import { Flag, HEADER_SIZE } from '../dns/constants';
import { MessageError, ScannedMessage, scanMessage } from '../dns/message';
import { equalsFolded } from '../dns/name';
import { writeOpt } from '../dns/reply';
import { literalLookup } from '../server/literal-lookup';

export type ExchangeFailure = 'timeout' | 'malformed' | 'network';

export class ExchangeError extends Error {
  constructor(readonly code: ExchangeFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ExchangeResult {
  readonly buf: Buffer;
  readonly msg: ScannedMessage;
}

export interface QueryOptions {
  /** Question section, lowercase: name, type, class. */
  readonly question: Buffer;
  readonly edns: boolean;
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
  /** RD: set for a resolver we forward to (the default), clear for an iterative query to an authoritative server. */
  readonly recursionDesired?: boolean;
}

/** Builds the query we send: RD set unless asked otherwise, our OPT when EDNS is on. */
export function buildUpstreamQuery(id: number, o: QueryOptions): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + o.question.length + (o.edns ? 11 : 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE((o.recursionDesired === false ? 0 : Flag.RD) | (o.checkingDisabled ? Flag.CD : 0), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(o.edns ? 1 : 0, 10);
  o.question.copy(out, HEADER_SIZE);
  if (o.edns) writeOpt(out, HEADER_SIZE + o.question.length, 0, o.dnssecOk);
  return out;
}

/**
 * Whether `buf` is the response to our query: ID, QR and one question equal to ours, ignoring
 * case, or byte for byte with `exactCase` (a question whose case we randomised, 0x20).
 */
export function matchesQuery(buf: Uint8Array, id: number, question: Buffer, exactCase = false): boolean {
  if (buf.length < HEADER_SIZE + question.length) return false;
  if (((buf[0] << 8) | buf[1]) !== id || (buf[2] & 0x80) === 0) return false;
  if (((buf[4] << 8) | buf[5]) !== 1) return false;
  if (exactCase) {
    for (let i = 0; i < question.length; i++) if (buf[HEADER_SIZE + i] !== question[i]) return false;
    return true;
  }
  return equalsFolded(buf, HEADER_SIZE, question, 0, question.length);
}

/** Hooks the forwarder uses to count what the network does. */
export interface ExchangeObserver {
  mismatch(): void;
}

/** One query's wire form and the test its reply must pass; given the random ID chosen for it. */
export interface Probe {
  build(id: number): Buffer;
  matches(reply: Uint8Array, id: number): boolean;
}

/**
 * A query built from QueryOptions and the test its reply must pass: its question, ignoring
 * case, or byte for byte with `exactCase` (0x20). An object rather than two closures: one
 * is made for every query sent, forwarded or iterative.
 */
export class QueryProbe implements Probe {
  constructor(private readonly o: QueryOptions, private readonly exactCase = false) {}

  build(id: number): Buffer {
    return buildUpstreamQuery(id, this.o);
  }

  matches(buf: Uint8Array, id: number): boolean {
    return matchesQuery(buf, id, this.o.question, this.exactCase);
  }
}

export function udpExchange(server: HostPort, o: QueryOptions, timeoutMs: number, observer?: ExchangeObserver): Promise<ExchangeResult> {
  return sendUdp(server, new QueryProbe(o), timeoutMs, observer ? () => observer.mismatch() : undefined);
}

export function tcpExchange(server: HostPort, o: QueryOptions, timeoutMs: number): Promise<ExchangeResult> {
  return sendTcp(server, new QueryProbe(o), timeoutMs);
}

/**
 * One UDP exchange on a fresh socket (so a fresh random source port) with a random ID.
 * Replies from elsewhere, or that fail the probe's test, are ignored (and reported to
 * `onMismatch`) while waiting goes on: late, spoofed or wrongly-cased answers.
 */
export function sendUdp(server: HostPort, probe: Probe, timeoutMs: number, onMismatch?: () => void): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    startUdp(server, probe, timeoutMs, onMismatch, new PromiseSink(resolve, reject));
  });
}

/** Where an exchange's outcome goes: settle() is called exactly once. */
export interface ExchangeSink {
  settle(err: ExchangeError | null, result: ExchangeResult | null): void;
}

/**
 * sendUdp without a promise of its own: the outcome goes to `sink`. For a caller that
 * keeps its own object per exchange anyway (the recursor's bookkeeping), one promise
 * layer and its closures fewer per authoritative query.
 */
export function startUdp(server: HostPort, probe: Probe, timeoutMs: number, onMismatch: (() => void) | undefined, sink: ExchangeSink): void {
  new UdpExchange(server, probe, timeoutMs, onMismatch, sink).start();
}

class PromiseSink implements ExchangeSink {
  constructor(private readonly resolve: (r: ExchangeResult) => void, private readonly reject: (e: ExchangeError) => void) {}

  settle(err: ExchangeError | null, result: ExchangeResult | null): void {
    if (err) this.reject(err); else this.resolve(result as ExchangeResult);
  }
}

/**
 * One UDP exchange: its own connected socket (a fresh random port; the kernel then drops
 * datagrams from any other address and reports ICMP errors), a random ID, a timer. The
 * socket's and timer's handlers are shared functions that find the exchange through the
 * socket, so an exchange allocates no closures: this runs once per authoritative query.
 */
class UdpExchange {
  readonly id = randomInt(0x10000);
  readonly sock: dgram.Socket;
  private timer: NodeJS.Timeout | null = null;
  private done = false;

  constructor(
    readonly server: HostPort,
    readonly probe: Probe,
    readonly timeoutMs: number,
    readonly onMismatch: (() => void) | undefined,
    private readonly sink: ExchangeSink,
  ) {
    this.sock = dgram.createSocket({ type: server.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    (this.sock as SocketWithExchange)[EXCHANGE] = this;
  }

  start(): void {
    this.timer = setTimeout(onUdpTimeout, this.timeoutMs, this);
    this.sock.on('error', onUdpError);
    this.sock.on('message', onUdpMessage);
    // With an IP literal and literalLookup, bind and connect are done when connect()
    // returns (its 'connect' event only comes on the next tick): send at once. A connect
    // that failed comes as an 'error' event, and send() then throws (not connected).
    this.sock.connect(this.server.port, this.server.host);
    try {
      // No callback: libuv can then send at once, and a failure comes as an 'error' event.
      this.sock.send(this.probe.build(this.id));
    } catch (e) {
      // The connect's own 'error' (queued first, so it runs first) says why; this is for
      // anything else that threw.
      process.nextTick(failUdpSend, this, e);
    }
  }

  finish(err: ExchangeError | null, result?: ExchangeResult): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.sock.close();
    this.sink.settle(err, result ?? null);
  }
}

const EXCHANGE = Symbol('exchange');
type SocketWithExchange = dgram.Socket & { [EXCHANGE]: UdpExchange };

function onUdpTimeout(ex: UdpExchange): void {
  ex.finish(new ExchangeError('timeout', `no answer from ${fmt(ex.server)} within ${ex.timeoutMs} ms`));
}

function failUdpSend(ex: UdpExchange, e: Error): void {
  ex.finish(new ExchangeError('network', `UDP to ${fmt(ex.server)}: ${e.message}`, { cause: e }));
}

function onUdpError(this: SocketWithExchange, e: Error): void {
  const ex = this[EXCHANGE];
  ex.finish(new ExchangeError('network', `UDP to ${fmt(ex.server)}: ${e.message}`, { cause: e }));
}

function onUdpMessage(this: SocketWithExchange, buf: Buffer, rinfo: dgram.RemoteInfo): void {
  const ex = this[EXCHANGE];
  if (rinfo.address !== ex.server.host || rinfo.port !== ex.server.port || !ex.probe.matches(buf, ex.id)) {
    ex.onMismatch?.();
    return; // not ours: keep waiting
  }
  let msg: ScannedMessage;
  try {
    msg = scanMessage(buf);
  } catch (e) {
    ex.finish(new ExchangeError('malformed', `malformed answer from ${fmt(ex.server)}: ${(e as Error).message}`, { cause: e }));
    return;
  }
  ex.finish(null, { buf, msg });
}

/** RFC 7766 exchange: two-byte length prefix, one query, one answer, then close. */
export function sendTcp(server: HostPort, probe: Probe, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0x10000);
    const query = probe.build(id);
    const framed = Buffer.allocUnsafe(query.length + 2);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    const sock = net.connect({ host: server.host, port: server.port });
    let done = false;
    let pending = Buffer.alloc(0);
    const finish = (err: ExchangeError | null, result?: ExchangeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(result as ExchangeResult);
    };
    const timer = setTimeout(() => finish(new ExchangeError('timeout', `no TCP answer from ${fmt(server)} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => finish(new ExchangeError('network', `TCP to ${fmt(server)}: ${e.message}`, { cause: e })));
    sock.on('connect', () => sock.write(framed));
    sock.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length < 2) return;
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) return;
      const buf = Buffer.from(pending.subarray(2, 2 + len));
      if (!probe.matches(buf, id)) {
        finish(new ExchangeError('malformed', `TCP answer from ${fmt(server)} does not match the query`));
        return;
      }
      try {
        finish(null, { buf, msg: scanMessage(buf) });
      } catch (e) {
        finish(new ExchangeError('malformed', `malformed TCP answer from ${fmt(server)}: ${(e as MessageError).message}`, { cause: e }));
      }
    });
    sock.on('end', () => finish(new ExchangeError('network', `${fmt(server)} closed the TCP connection without an answer`)));
  });
}

export function fmt(s: HostPort): string {
  return s.family === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}
