// The age-group filter: client -> group -> trie masks for the name -> the group's policy
// now -> answer. A name that passes is checked again on the way back for every CNAME or
// DNAME target its answer leads to (CNAME cloaking), whether the answer came from the
// cache or from upstream.
import type { Filter } from '../chain/filter-link';
import type { ClientIdentifier } from '../chain/client-link';
import { ClientInfo, QueryContext, Reply, UNKNOWN_CLIENT } from '../chain/types';
import { Ede, HEADER_SIZE, Rcode, Type } from '../dns/constants';
import { flattenName, readName } from '../dns/name';
import { emptyReply, ExtendedError, singleRecordReply } from '../dns/reply';
import type { Metrics } from '../metrics/metrics';
import type { Series } from '../metrics/fast';
import type { SchoolSeries } from '../metrics/school-series';
import type { FilterManager } from './manager';
import type { FilterState } from './state';
import { DECISION_ALLOW, DECISION_NOT_ALLOWLISTED, IdentifiedClient } from '../policy/policy';

export interface BlockingOptions {
  readonly sinkholeIPv4: string | null;
  readonly sinkholeIPv6: string | null;
  readonly ttl: number;
}

/** Per state: what to count and say for each (group, decision). Built once per reload. */
interface Compiled {
  readonly state: FilterState;
  /** slot -> the category reported; slot = category bit, or categories.length for not-allowlisted. */
  readonly names: string[];
  /** Client (one shared object per school and group) -> [slot] -> blocked counter series, filled as blocks happen. */
  readonly series: Map<ClientInfo, Series[]>;
  /** [group][slot] -> the Extended DNS Error to attach. */
  readonly ede: ExtendedError[][];
  /** Groups in allow-only mode must be decided even when the trie matched nothing. */
  readonly allowOnly: boolean[];
}

export class SchoolFilter implements Filter {
  private readonly masks = new Int32Array(4);
  private readonly scratch = new Uint8Array(256);
  private readonly sinkhole4: Buffer | null;
  private readonly sinkhole6: Buffer | null;
  private readonly blocked: SchoolSeries;
  private compiled: Compiled | null = null;

  constructor(private readonly manager: FilterManager, private readonly opts: BlockingOptions, metrics: Metrics) {
    this.sinkhole4 = opts.sinkholeIPv4 ? ipBytes(opts.sinkholeIPv4) : null;
    this.sinkhole6 = opts.sinkholeIPv6 ? ipBytes(opts.sinkholeIPv6) : null;
    this.blocked = metrics.schools;
  }

  /** Client identification from the current policy (longest CIDR prefix, listener, default group). */
  readonly identify: ClientIdentifier = (address, local) => {
    const s = this.manager.state;
    return s ? s.policy.identify(address, local) : UNKNOWN_CLIENT;
  };

  check(ctx: QueryContext): Reply | null {
    const c = this.compile();
    if (c === null) return null;
    const policy = c.state.policy;
    const g = groupOf(ctx, c);
    if (g < 0) return null;
    const m = this.masks;
    m.fill(0);
    const matched = c.state.trie.lookupWire(ctx.buf, HEADER_SIZE, m);
    if (!matched && !c.allowOnly[g]) return null; // the common case: nothing to decide
    const code = policy.decide(g, m, Date.now());
    ctx.verdict = code;
    if (code !== DECISION_NOT_ALLOWLISTED && code < 0) return null; // pass or allowed
    if (this.hasApprovals() && this.approved(ctx, ctx.qname)) {
      // An approved review request allows the name for this client, as a group allow rule would.
      ctx.verdict = DECISION_ALLOW;
      return null;
    }
    return this.blockedReply(ctx, c, g, code === DECISION_NOT_ALLOWLISTED ? policy.categories.length : code);
  }

  /** Whether any review request is approved: asked first, so the name is only read when one is. */
  private hasApprovals(): boolean {
    const a = this.manager.approvals;
    return a !== undefined && a.size > 0;
  }

  /** Whether an approved review request opens `name` for this client. Only asked on the blocked path. */
  private approved(ctx: QueryContext, name: string): boolean {
    const a = this.manager.approvals;
    return a !== undefined && a.match(name, ctx.client.school, ctx.client.group) !== null;
  }

  recheck(ctx: QueryContext, reply: Reply): Reply {
    const c = this.compile();
    const a = ctx.answer;
    if (c === null || a === null || ctx.verdict === DECISION_ALLOW) return reply; // an explicitly allowed name is trusted
    const policy = c.state.policy;
    const g = groupOf(ctx, c);
    if (g < 0) return reply;
    const m = this.masks;
    for (let i = 0; i < a.aliasTargets.length; i++) {
      if (flattenName(a.wire, a.aliasTargets[i], this.scratch) < 0) continue;
      m.fill(0);
      if (!c.state.trie.lookupWire(this.scratch, 0, m)) continue;
      const code = policy.decide(g, m, Date.now());
      // A walled garden's allowed names may lead to CDN names that are not on its list:
      // only a target that is itself in a blocked category blocks the answer. A target an
      // approved review request opens for this client passes, as an allowed one does.
      if (code >= 0 && !(this.hasApprovals() && this.approved(ctx, readName(this.scratch, 0) ?? ''))) {
        ctx.verdict = code; // the category that blocked it, for the query log
        return this.blockedReply(ctx, c, g, code);
      }
    }
    return reply;
  }

  private blockedReply(ctx: QueryContext, c: Compiled, g: number, slot: number): Reply {
    let row = c.series.get(ctx.client);
    if (row === undefined) c.series.set(ctx.client, (row = []));
    (row[slot] ??= this.blocked.blockedSeries(ctx.client, c.names[slot])).value++;
    const ede = c.ede[g][slot];
    const q = ctx.query;
    if (q.qtype === Type.A && this.sinkhole4) return singleRecordReply(ctx.buf, q, Type.A, this.opts.ttl, this.sinkhole4, ede);
    if (q.qtype === Type.AAAA && this.sinkhole6) return singleRecordReply(ctx.buf, q, Type.AAAA, this.opts.ttl, this.sinkhole6, ede);
    return emptyReply(ctx.buf, q, Rcode.NOERROR, ede); // NODATA
  }

  /** The per-state tables, rebuilt when the manager swapped in a new state. */
  private compile(): Compiled | null {
    const state = this.manager.state;
    if (state === null) return null;
    if (this.compiled !== null && this.compiled.state === state) return this.compiled;
    const p = state.policy;
    const nCodes = p.categories.length + 1;
    const names: string[] = [];
    const ede: ExtendedError[][] = [];
    const allowOnly: boolean[] = [];
    p.groups.forEach((group, g) => {
      ede.push([]);
      for (let slot = 0; slot < nCodes; slot++) {
        const { category } = p.describeDecision(slot < p.categories.length ? slot : DECISION_NOT_ALLOWLISTED);
        const name = category ?? 'unknown';
        if (g === 0) names.push(name);
        const deny = name === 'denylist' || name.endsWith(':deny');
        ede[g].push({
          // 17 Filtered: blocked by the filtering the school asked for (RFC 8914 §4.18);
          // 15 Blocked: the operator's own denylist (§4.16).
          code: deny ? Ede.BLOCKED : Ede.FILTERED,
          text: name === 'not-allowlisted'
            ? `school-dns: only allowlisted sites are open for ${group}`
            : `school-dns: ${name} is blocked for ${group}`,
        });
      }
      allowOnly.push(p.decide(g, new Int32Array(4), 0) === DECISION_NOT_ALLOWLISTED);
    });
    this.compiled = { state, names, series: new Map(), ede, allowOnly };
    return this.compiled;
  }
}

/** The client's group index in the current policy (identify() put it there, this tick). */
function groupOf(ctx: QueryContext, c: Compiled): number {
  const idx = (ctx.client as Partial<IdentifiedClient>).groupIndex;
  return idx !== undefined && c.state.policy.groups[idx] === ctx.client.group ? idx : c.state.policy.groupIndex(ctx.client.group);
}

/** The 4 or 16 bytes of an IP literal already validated by the config loader. */
export function ipBytes(ip: string): Buffer {
  if (!ip.includes(':')) return Buffer.from(ip.split('.').map(Number));
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 tail (e.g. ::ffff:192.0.2.1) is the last two 16-bit words.
    const [a, b, c, d] = text.slice(lastColon + 1).split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.split('::');
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  const words = text.includes('::') ? [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}
