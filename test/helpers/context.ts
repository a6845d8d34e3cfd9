import { QueryContext } from '../../src/chain/types';
import { isRejection, parseQuery } from '../../src/dns/query';
import { Transport } from '../../src/metrics/metrics';

export function ctxFor(buf: Buffer, transport: Transport = Transport.Udp, address = '192.0.2.10'): QueryContext {
  const q = parseQuery(buf);
  if (isRejection(q)) throw new Error(`test query rejected: ${q.reason}`);
  return new QueryContext(buf, q, transport, address, 40000, performance.now());
}

/** A fake next link: records calls, answers with `reply` (sync) or a promise of it. */
export function fakeNext(reply: Buffer | (() => Buffer) | Error, opts: { async?: boolean } = {}) {
  const calls: QueryContext[] = [];
  const fn = (ctx: QueryContext): Buffer | Promise<Buffer> => {
    calls.push(ctx);
    if (reply instanceof Error) {
      if (opts.async) return Promise.reject(reply);
      throw reply;
    }
    const r = typeof reply === 'function' ? reply() : reply;
    return opts.async ? Promise.resolve(r) : r;
  };
  return { fn, calls };
}
