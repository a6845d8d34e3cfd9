// From packet to reply: parse the question from the bytes, answer malformed packets
// ourselves, run the chain for real queries, and -- the only place that does so -- turn
// an unexpected error into SERVFAIL and log it.
import { Ede, MIN_UDP_SIZE, DEFAULT_EDNS_UDP_SIZE, Rcode } from '../dns/constants';
import { isRejection, parseQuery, Query } from '../dns/query';
import { emptyReply, truncatedReply } from '../dns/reply';
import type { Logger } from '../log/logger';
import { Metrics, Transport } from '../metrics/metrics';
import { Next, QueryContext } from '../chain/types';
import type { QuerySink } from '../querylog/querylog';

export type Send = (reply: Buffer) => void;

export class Dispatcher {
  constructor(
    private readonly chain: Next,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly logQueries = false,
    /** The query log (src/querylog/): records blocked (or all) queries after the reply is sent. */
    private readonly queryLog: QuerySink | null = null,
  ) {}

  /**
   * Handles one message; `send` is called at most once, maybe synchronously.
   * Returns false when the message is dropped and `send` will never be called.
   */
  handle(buf: Buffer, transport: Transport, address: string, port: number, send: Send, localAddress = ''): boolean {
    const received = performance.now();
    const parsed = parseQuery(buf);
    if (isRejection(parsed)) {
      this.metrics.rejectedPacket(parsed.reason);
      if (parsed.action === 'reply') {
        this.metrics.response(parsed.rcode);
        send(emptyReply(buf, parsed, parsed.rcode));
        return true;
      }
      return false;
    }
    const ctx = new QueryContext(buf, parsed, transport, address, port, received, localAddress);
    let r: Buffer | Promise<Buffer>;
    try {
      r = this.chain(ctx);
    } catch (e) {
      r = this.fail(ctx, e);
    }
    if (r instanceof Promise) {
      r.then((reply) => this.finish(ctx, reply, send), (e) => this.finish(ctx, this.fail(ctx, e), send));
    } else {
      this.finish(ctx, r, send);
    }
    return true;
  }

  private finish(ctx: QueryContext, reply: Buffer, send: Send): void {
    const q = ctx.query;
    if (ctx.transport === Transport.Udp && reply.length > udpLimit(q)) reply = truncatedReply(ctx.buf, q, reply);
    if (this.logQueries) {
      this.log.info('query', {
        client: ctx.remoteAddress, transport: ctx.transport === Transport.Udp ? 'udp' : 'tcp', name: ctx.qname,
        qtype: q.qtype, rcode: reply[3] & 0xf, source: ctx.source, school: ctx.client.school, group: ctx.client.group,
        ms: Math.round((performance.now() - ctx.receivedAt) * 1000) / 1000,
      });
    }
    send(reply);
    if (this.queryLog !== null) this.queryLog.record(ctx, reply);
  }

  private fail(ctx: QueryContext, err: unknown): Buffer {
    this.log.error('unexpected error while answering a query; answered SERVFAIL', {
      err, name: ctx.qname, qtype: ctx.query.qtype, client: ctx.remoteAddress,
    });
    this.metrics.response(Rcode.SERVFAIL);
    ctx.source = 'error';
    return emptyReply(ctx.buf, ctx.query, Rcode.SERVFAIL, { code: Ede.OTHER, text: 'internal error' });
  }
}

/**
 * Largest UDP reply for this query: 512 without EDNS, else the client's advertised size,
 * at most the 1232 octets we use ourselves so answers are not fragmented (DNS Flag Day 2020).
 */
export function udpLimit(q: Query): number {
  return q.edns ? Math.min(Math.max(q.udpSize, MIN_UDP_SIZE), DEFAULT_EDNS_UDP_SIZE) : MIN_UDP_SIZE;
}
