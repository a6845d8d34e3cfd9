// Filtering: the asking client's policy decides before anything is resolved, and again
// on the way back for the names an answer leads to (CNAME cloaking). The filter sits
// above the cache, so cached answers are checked for every client that gets them.
import type { Handler, QueryContext, Reply } from './types';

export interface Filter {
  /** Before resolving: a reply that answers the query instead (blocked), or null to pass. */
  check(ctx: QueryContext): Reply | null;
  /** After resolving: `reply` itself, or a blocked reply if the answer leads to a blocked name. */
  recheck(ctx: QueryContext, reply: Reply): Reply;
}

export const allowAll: Filter = { check: () => null, recheck: (_ctx, reply) => reply };

export function filterLink(filter: Filter): Handler {
  const after = (ctx: QueryContext, reply: Reply): Reply => {
    // Only answers from the cache or upstream carry names that need a second look.
    if (ctx.answer === null || ctx.answer.aliasTargets.length === 0) return reply;
    const r = filter.recheck(ctx, reply);
    if (r !== reply) ctx.source = 'blocked';
    return r;
  };
  return (ctx, next) => {
    const verdict = filter.check(ctx);
    if (verdict !== null) {
      ctx.source = 'blocked';
      return verdict;
    }
    const r = next(ctx);
    if (r instanceof Promise) return r.then((reply) => after(ctx, reply));
    return after(ctx, r);
  };
}
