// SafeSearch: a search engine's name, asked by a client whose age group has SafeSearch on,
// is answered the way the engines ask networks to (src/safesearch/engines.ts): a CNAME to the
// engine's SafeSearch name (forcesafesearch.google.com, restrict.youtube.com, ...) and that
// name's own answer. The target is resolved by the rest of the chain, as a question of its
// own (same type, class, DO and CD), so the cache holds it and the resolver fetches it like
// any other name; the rewritten reply itself is never cached, since it depends on the group.
//
// The common case, a name that is not a search engine's, is one hash of the question's wire
// bytes and a table probe: no allocation, no string.
import { Class, HEADER_SIZE, Type } from '../dns/constants';
import { encodeName } from '../dns/name';
import { isRejection, parseQuery } from '../dns/query';
import type { Metrics } from '../metrics/metrics';
import type { CompiledPolicy, IdentifiedClient } from '../policy/policy';
import { SAFESEARCH_SEARCH, SAFESEARCH_YOUTUBE_MODERATE, SAFESEARCH_YOUTUBE_STRICT } from '../policy/policy';
import { aliasReply } from '../safesearch/alias-reply';
import { ENGINE_YOUTUBE, SAFESEARCH_TARGETS, safeSearchNames } from '../safesearch/engines';
import { WireNameTable } from '../safesearch/name-table';
import { ClientInfo, Handler, QueryContext, Reply } from './types';

/**
 * TTL of the CNAME we add, at most (it is lowered to the target's TTL): long enough to spare
 * clients a question per search, short enough that a policy change reaches them soon.
 */
export const SAFESEARCH_CNAME_TTL = 300;

/** The SafeSearch flags (SAFESEARCH_* of src/policy/policy.ts) of the asking client's group. */
export type SafeSearchModes = (client: ClientInfo) => number;

export const safeSearchOff: SafeSearchModes = () => 0;

/** Reads the flags from the current compiled policy, by the group index identification gave. */
export function policySafeSearch(current: () => CompiledPolicy | null | undefined): SafeSearchModes {
  return (client) => {
    const p = current();
    if (p == null) return 0;
    const idx = (client as Partial<IdentifiedClient>).groupIndex;
    // The index is the current policy's unless a reload swapped policies in between.
    return p.safeSearch(idx !== undefined && p.groups[idx] === client.group ? idx : p.groupIndex(client.group));
  };
}

const TARGET_GOOGLE = encodeName(SAFESEARCH_TARGETS.google);
const TARGET_YOUTUBE_STRICT = encodeName(SAFESEARCH_TARGETS.youtubeStrict);
const TARGET_YOUTUBE_MODERATE = encodeName(SAFESEARCH_TARGETS.youtubeModerate);
const TARGET_BING = encodeName(SAFESEARCH_TARGETS.bing);
const TARGET_DUCKDUCKGO = encodeName(SAFESEARCH_TARGETS.duckduckgo);
/** By engine number (ENGINE_*), for the search engines; YouTube has two. */
const SEARCH_TARGETS = [TARGET_GOOGLE, null, TARGET_BING, TARGET_DUCKDUCKGO];

/** The target for a mapped name's engine under a group's flags, or null to answer normally. */
function targetFor(engine: number, flags: number): Buffer | null {
  if (engine === ENGINE_YOUTUBE) {
    if (flags & SAFESEARCH_YOUTUBE_STRICT) return TARGET_YOUTUBE_STRICT;
    if (flags & SAFESEARCH_YOUTUBE_MODERATE) return TARGET_YOUTUBE_MODERATE;
    return null;
  }
  return flags & SAFESEARCH_SEARCH ? SEARCH_TARGETS[engine]! : null;
}

/** The same question as `ctx` asks, for `target`: same ID, flags, type, class and EDNS (DO bit). */
function targetContext(ctx: QueryContext, target: Buffer): QueryContext {
  const q = ctx.query;
  const qEnd = HEADER_SIZE + target.length + 4;
  const buf = Buffer.allocUnsafe(qEnd + (q.edns ? 11 : 0));
  buf.writeUInt16BE(q.id, 0);
  buf.writeUInt16BE(q.flags, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt32BE(0, 6);
  buf.writeUInt16BE(q.edns ? 1 : 0, 10);
  buf.set(target, HEADER_SIZE);
  buf.writeUInt16BE(q.qtype, qEnd - 4);
  buf.writeUInt16BE(q.qclass, qEnd - 2);
  if (q.edns) {
    buf[qEnd] = 0; // root
    buf.writeUInt16BE(Type.OPT, qEnd + 1);
    buf.writeUInt16BE(q.udpSize, qEnd + 3);
    buf.writeUInt32BE(q.dnssecOk ? 0x8000 : 0, qEnd + 5); // extended rcode 0, version 0, DO
    buf.writeUInt16BE(0, qEnd + 9);
  }
  const parsed = parseQuery(buf);
  if (isRejection(parsed)) throw new Error(`safesearch: the question for the target was rejected (${parsed.reason})`);
  const t = new QueryContext(buf, parsed, ctx.transport, ctx.remoteAddress, ctx.remotePort, ctx.receivedAt, ctx.localAddress);
  t.client = ctx.client;
  return t;
}

export function safeSearchLink(modesOf: SafeSearchModes, metrics?: Metrics): Handler {
  const table = new WireNameTable(safeSearchNames().map((n) => ({ name: n.name, value: n.engine })));
  return (ctx, next) => {
    const q = ctx.query;
    const engine = table.lookup(ctx.buf, HEADER_SIZE, q.qnameEnd);
    if (engine < 0 || q.qclass !== Class.IN) return next(ctx);
    const target = targetFor(engine, modesOf(ctx.client));
    if (target === null) return next(ctx);
    metrics?.safeSearchRewrite(engine);
    if (q.qtype === Type.CNAME) {
      // The question is about the alias itself: the CNAME is the whole answer.
      ctx.source = 'local';
      return aliasReply(ctx.buf, q, target, null, SAFESEARCH_CNAME_TTL);
    }
    const t = targetContext(ctx, target);
    const finish = (reply: Reply): Reply => {
      // The filter link above checks the CNAME targets of ctx.answer (CNAME cloaking): give it
      // the target's answer, whose chain is what this reply carries.
      ctx.answer = t.answer;
      ctx.source = t.source;
      return aliasReply(ctx.buf, q, target, reply, SAFESEARCH_CNAME_TTL);
    };
    const r = next(t);
    return r instanceof Promise ? r.then(finish) : finish(r);
  };
}
