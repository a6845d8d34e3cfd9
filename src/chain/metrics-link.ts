// First link: counts every query by transport and type, and every answer by rcode, by how
// it was answered (ctx.source) with its duration, and by who asked (ctx.client, which the
// client link set on the way down). Counting is typed-array arithmetic and one Map lookup
// on the shared client object; nothing here builds strings per query.
import type { Metrics } from '../metrics/metrics';
import type { Handler, QueryContext, Reply } from './types';

export function metricsLink(metrics: Metrics): Handler {
  const schools = metrics.schools;
  const finish = (ctx: QueryContext, reply: Reply): Reply => {
    metrics.queryFinished(ctx.transport, (performance.now() - ctx.receivedAt) / 1000, ctx.source);
    metrics.response(reply[3] & 0x0f);
    schools.query(ctx.client);
    return reply;
  };
  const abort = (ctx: QueryContext, err: unknown): never => {
    // The dispatcher turns the error into SERVFAIL and counts that response.
    metrics.queryFinished(ctx.transport, (performance.now() - ctx.receivedAt) / 1000, 'error');
    schools.query(ctx.client);
    throw err;
  };
  return (ctx, next) => {
    metrics.queryStarted(ctx.transport, ctx.query.qtype);
    let r: Reply | Promise<Reply>;
    try {
      r = next(ctx);
    } catch (e) {
      return abort(ctx, e);
    }
    if (r instanceof Promise) return r.then((reply) => finish(ctx, reply), (e) => abort(ctx, e));
    return finish(ctx, r);
  };
}
