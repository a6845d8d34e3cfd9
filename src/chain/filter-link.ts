// Filtering: the asking client's policy decides before anything is resolved. The domain
// trie and the age-group policies plug in here (issue 3); a Policy returns a finished
// reply to answer with (blocked), or null to let the query through.
import type { Handler, QueryContext, Reply } from './types';

export interface Policy {
  /** A reply that answers the query instead of resolving it, or null to pass. */
  check(ctx: QueryContext): Reply | null;
}

export const allowAll: Policy = { check: () => null };

export function filterLink(policy: Policy): Handler {
  return (ctx, next) => {
    const verdict = policy.check(ctx);
    if (verdict !== null) {
      ctx.source = 'blocked';
      return verdict;
    }
    return next(ctx);
  };
}
