// The answer cache: peek on the way down, stash on the way up. A hit is the stored wire
// bytes patched for this client (ID, question case, TTLs, OPT), never a decode/encode.
import type { AnswerCache } from '../cache/answer-cache';
import { renderAnswer } from '../dns/answer';
import type { Metrics } from '../metrics/metrics';
import type { Handler, QueryContext, Reply } from './types';

export function cacheLink(cache: AnswerCache, metrics: Metrics): Handler {
  const stash = (ctx: QueryContext, reply: Reply): Reply => {
    if (ctx.source === 'upstream' && ctx.answer !== null) cache.set(ctx.key, ctx.answer);
    return reply;
  };
  return (ctx, next) => {
    const now = Date.now();
    const hit = cache.get(ctx.key, now);
    metrics.cacheResult(hit !== undefined);
    if (hit !== undefined) {
      ctx.answer = hit;
      ctx.source = 'cache';
      return renderAnswer(hit, ctx.buf, ctx.query, now);
    }
    const r = next(ctx);
    if (r instanceof Promise) return r.then((reply) => stash(ctx, reply));
    return stash(ctx, r);
  };
}
