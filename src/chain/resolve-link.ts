// Resolution: the last link. It asks the resolver (recursion from the root, or forwarding
// to upstreams) for the canonical answer and renders it for this client. A resolver that
// cannot answer is an expected outcome: SERVFAIL with an Extended DNS Error saying why.
import type { Answer } from '../dns/answer';
import { renderAnswer } from '../dns/answer';
import { Ede, Rcode } from '../dns/constants';
import { emptyReply, ExtendedError } from '../dns/reply';
import type { ForwardRequest } from '../upstream/forwarder';
import type { Next, QueryContext } from './types';

/** What the chain needs of a resolver: the Forwarder and the Recursor both fit. */
export interface Resolver {
  /** The answer, or a rejection with code UPSTREAM_FAILED / RESOLUTION_LIMIT (anything else is a bug). */
  resolve(req: ForwardRequest): Promise<Answer>;
}

const NO_AUTHORITY: ExtendedError = { code: Ede.NO_REACHABLE_AUTHORITY, text: 'no server answered' };
const LIMIT: ExtendedError = { code: Ede.OTHER, text: 'resolution limit reached' };
/** RFC 8767: an expired answer served because no authoritative server could be reached. */
const STALE: ExtendedError = { code: Ede.STALE_ANSWER };

export function resolverLink(resolver: Resolver): Next {
  return (ctx: QueryContext) => {
    const q = ctx.query;
    return resolver
      .resolve({ key: ctx.key, question: ctx.questionBytes(), dnssecOk: q.dnssecOk, checkingDisabled: (q.flags & 0x10) !== 0 })
      .then(
        (answer) => {
          ctx.answer = answer;
          ctx.source = 'upstream';
          return renderAnswer(answer, ctx.buf, q, Date.now(), (answer as { stale?: boolean }).stale ? STALE : undefined);
        },
        (err: { code?: string }) => {
          const code = err?.code;
          if (code !== 'UPSTREAM_FAILED' && code !== 'RESOLUTION_LIMIT') throw err;
          ctx.source = 'error';
          return emptyReply(ctx.buf, q, Rcode.SERVFAIL, code === 'RESOLUTION_LIMIT' ? LIMIT : NO_AUTHORITY);
        },
      );
  };
}
