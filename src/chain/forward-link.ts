// Resolution by forwarding: the last link. Every upstream failing is an expected
// outcome, answered SERVFAIL with Extended DNS Error 22 (No Reachable Authority).
import { renderAnswer } from '../dns/answer';
import { Ede, Rcode } from '../dns/constants';
import { emptyReply } from '../dns/reply';
import type { Forwarder } from '../upstream/forwarder';
import type { Next, QueryContext } from './types';

export function forwardResolver(forwarder: Forwarder): Next {
  return (ctx: QueryContext) => {
    const q = ctx.query;
    return forwarder
      .resolve({ key: ctx.key, question: ctx.questionBytes(), dnssecOk: q.dnssecOk, checkingDisabled: (q.flags & 0x10) !== 0 })
      .then(
        (answer) => {
          ctx.answer = answer;
          ctx.source = 'upstream';
          return renderAnswer(answer, ctx.buf, q, Date.now());
        },
        (err: { code?: string; message?: string }) => {
          if (err?.code !== 'UPSTREAM_FAILED') throw err;
          ctx.source = 'error';
          return emptyReply(ctx.buf, q, Rcode.SERVFAIL, { code: Ede.NO_REACHABLE_AUTHORITY, text: 'no upstream answered' });
        },
      );
  };
}
