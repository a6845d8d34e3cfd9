// The answer cache: peek on the way down, stash on the way up. A hit is the stored wire
// bytes patched for this client (ID, question case, TTLs, OPT), never a decode/encode.
import type { AnswerCache } from '../cache/answer-cache';
import { Answer, remainingTtl, renderAnswer } from '../dns/answer';
import type { ForwardRequest } from '../upstream/forwarder';
import type { Metrics } from '../metrics/metrics';
import type { Handler, QueryContext, Reply } from './types';

/** Refreshes an answer in the background and hands it over (Recursor.prefetch fits). */
export type Prefetch = (req: ForwardRequest, onAnswer: (answer: Answer) => void) => void;

/** Answers with at least this lifetime are refreshed when a hit finds under a tenth of it left. */
const PREFETCH_MIN_LIFETIME = 10;

export function cacheLink(cache: AnswerCache, metrics: Metrics, prefetch?: Prefetch): Handler {
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
      // Popular names never expire: refresh in the background shortly before they would.
      // (<=: remainingTtl is in whole seconds, so a 10 s answer reaches exactly 1.)
      if (prefetch !== undefined && hit.lifetime >= PREFETCH_MIN_LIFETIME && remainingTtl(hit, now) * 10 <= hit.lifetime) {
        const key = ctx.key;
        const q = ctx.query;
        prefetch({ key, question: ctx.questionBytes(), dnssecOk: q.dnssecOk, checkingDisabled: (q.flags & 0x10) !== 0 }, (fresh) => cache.set(key, fresh));
      }
      return renderAnswer(hit, ctx.buf, ctx.query, now);
    }
    const r = next(ctx);
    if (r instanceof Promise) return r.then((reply) => stash(ctx, reply));
    return stash(ctx, r);
  };
}
