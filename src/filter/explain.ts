// Explains a decision for a person: which school and group a client is in, which list
// entries match a name, which one decided, and where each comes from (file and line).
// The cold path of `school-dns check`: it may re-read list files to find the line.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { normalizeName } from '../lists/normalize';
import { parseList } from '../lists/parse';
import { DECISION_ALLOW, DECISION_NOT_ALLOWLISTED } from '../policy/policy';
import { ApprovalScope, ApprovalSet, describeScope } from '../requests/approvals';
import type { BlockingOptions } from './school-filter';
import type { FilterState } from './state';

export interface Match {
  readonly category: string;
  /** The list entry that matched: the name itself or a parent domain. */
  readonly matched: string;
  readonly kind: 'block' | 'allow';
  readonly source: string | null;
  readonly line: number | null;
}

export interface Explanation {
  /** The category the allow rule overrode (what would have blocked it), when one did. */
  readonly overrode?: string | null;
  readonly name: string;
  /** The client, and the local address its query arrives on when one was given (policy `listeners:`). */
  readonly client: { address: string; listener: string | null; school: string; group: string };
  readonly decision: 'pass' | 'allow' | 'block';
  readonly category: string | null;
  /** What a client gets for an A query. */
  readonly answer: string;
  readonly matches: readonly Match[];
  /** The allow entry that overrode a block, when one did. */
  readonly allowedBy: Match | null;
  /** The approved review request that overrode a block, when one did (`overrode` names what it overrode). */
  readonly approvedBy: ApprovedBy | null;
}

export interface ApprovedBy {
  /** The request's id. */
  readonly id: number;
  /** The approved name (the queried name or a parent domain). */
  readonly name: string;
  readonly scope: ApprovalScope;
  readonly school: string;
  readonly group: string;
  /** Who it opens the name for, in words: 'group "primary" at school "Hoa Sen"'. */
  readonly covers: string;
}

export class ExplainError extends Error {
  readonly code = 'EXPLAIN_BAD_INPUT';
}

export function explain(
  state: FilterState, rawName: string, clientAddress: string, blocking: BlockingOptions, now = Date.now(),
  approvals: ApprovalSet | null = null, listener: string | null = null,
): Explanation {
  const n = normalizeName(rawName);
  if (typeof n !== 'string') throw new ExplainError(`"${rawName}" is not a domain name: ${n.error}`);
  if (listener !== null && net.isIP(listener) === 0) throw new ExplainError(`listener "${listener}" is not an IP address: give the address school-dns receives the query on`);
  const p = state.policy;
  const client = p.identify(clientAddress, listener ?? undefined);
  const masks = new Int32Array(4);
  state.trie.lookupName(n, masks);
  const code = p.decide(client.groupIndex, masks, now);
  const matches: Match[] = [];
  const ownPseudo = `group:${client.group}:`;
  for (let bit = 0; bit < p.categories.length; bit++) {
    // Other groups' allow/deny names are not about this client.
    if (p.categories[bit].startsWith('group:') && !p.categories[bit].startsWith(ownPseudo)) continue;
    const word = bit < 32 ? 0 : 1;
    const flag = 1 << (bit & 31);
    for (const kind of ['block', 'allow'] as const) {
      if ((masks[kind === 'block' ? word : word + 2] & flag) === 0) continue;
      const matched = state.trie.matchedSuffix(n, bit) ?? n;
      matches.push({ category: p.categories[bit], matched, kind, ...locate(state, bit, matched, kind === 'allow') });
    }
  }
  let { action, category } = p.describeDecision(code);
  let allowedBy: Match | null = null;
  let overrode: string | null = null;
  let approvedBy: ApprovedBy | null = null;
  const approval = action === 'block' && approvals ? approvals.match(n, client.school, client.group) : null;
  if (approval) {
    // The filter lets it through for this client: an approved review request covers it.
    overrode = code === DECISION_NOT_ALLOWLISTED ? 'not-allowlisted' : category;
    approvedBy = { id: approval.id, name: approval.name, scope: approval.scope, school: approval.school, group: approval.group, covers: describeScope(approval) };
    action = 'allow';
    category = null;
  }
  if (code === DECISION_ALLOW) {
    // Would it have been blocked without this group's allowing categories? Then say which rule let it through.
    const without = Int32Array.from(masks);
    for (let bit = 0; bit < p.categories.length; bit++) {
      if (allowsFor(state, client.groupIndex, p.categories[bit])) without[bit < 32 ? 0 : 1] &= ~(1 << (bit & 31));
    }
    const blocked = p.decide(client.groupIndex, without, now);
    if (blocked >= 0 || blocked === DECISION_NOT_ALLOWLISTED) {
      overrode = blocked >= 0 ? p.categories[blocked] : 'not-allowlisted';
      allowedBy = matches.find((m) => m.kind === 'block' && allowsFor(state, client.groupIndex, m.category)) ?? null;
    }
  }
  const answer = action !== 'block'
    ? 'resolved normally'
    : blocking.sinkholeIPv4 ? `A ${blocking.sinkholeIPv4} (the block page)` : 'no address (NODATA)';
  return {
    name: n,
    client: { address: clientAddress, listener, school: client.school, group: client.group },
    decision: action,
    category: code === DECISION_NOT_ALLOWLISTED && !approval ? 'not-allowlisted' : category,
    answer, matches, allowedBy, overrode, approvedBy,
  };
}

/** Whether membership in `category` allows a name for group g: decide() on that bit alone says ALLOW. */
function allowsFor(state: FilterState, g: number, category: string): boolean {
  const bit = state.policy.categories.indexOf(category);
  if (bit < 0) return false;
  const probe = new Int32Array(4);
  probe[bit < 32 ? 0 : 1] = 1 << (bit & 31);
  return state.policy.decide(g, probe, 0) === DECISION_ALLOW;
}

/** The source file and line of an entry: re-parses the category's file sources (cold path). */
function locate(state: FilterState, bit: number, matched: string, allow: boolean): { source: string | null; line: number | null } {
  const category = state.policy.categories[bit];
  const sources = state.policy.sources.find((s) => s.bit === bit);
  if (!sources) return { source: state.policy.source, line: null }; // a group's allow/deny names live in the policy file
  for (const spec of sources.specs) {
    if (!spec.path) continue;
    let text: string;
    try { text = readFileSync(spec.path, 'utf8'); } catch { continue; }
    let found = 0;
    parseList(text, spec.format as never, (name, isAllow, line) => {
      if (found === 0 && name === matched && isAllow === allow) found = line;
    });
    if (found > 0) return { source: spec.path, line: found };
  }
  const url = sources.specs.find((s) => s.url);
  return { source: url?.url ?? `${category} lists`, line: null };
}
