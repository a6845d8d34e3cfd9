// What the block page says about one request: the blocked name (from the Host header), the
// school and group of the asking device (from its address), and whether and why the live
// policy blocks the name for that group now. The cold path of the block page: it reads the
// policy's descriptions and schedules from the policy text (parsed once per filter state).
import { domainToUnicode } from 'node:url';
import { normalizeName } from '../lists/normalize';
import { DECISION_ALLOW, DECISION_NOT_ALLOWLISTED, DECISION_PASS, DENYLIST, NOT_ALLOWLISTED } from '../policy/policy';
import { ZonedClock, type TimeWindow, daysMask } from '../policy/schedule';
import { DEFAULT_TIMEZONE } from '../policy/load';
import type { FilterState } from '../filter/state';
import type { ApprovalSet } from '../requests/approvals';

/** Why a name is blocked for a group now. */
export type BlockReason =
  | { readonly kind: 'always' }
  | { readonly kind: 'schedule'; readonly window: TimeWindow }
  | { readonly kind: 'not-allowlisted' }
  | { readonly kind: 'denylist' };

export interface BlockFacts {
  /** The normalised name from the Host header, or null when it held none (an IP address, garbage). */
  readonly name: string | null;
  /** The name as people read it (Unicode for IDNs), or null. */
  readonly displayName: string | null;
  /** null when filtering is off: then nothing is known about the device. */
  readonly client: { readonly school: string; readonly group: string; readonly groupDescription: string | null } | null;
  /**
   * block: blocked for this device now; open: not blocked for it now (passed, allowed, or
   * opened by an approved review request); unknown: no name, or filtering is off.
   */
  readonly decision: 'block' | 'open' | 'unknown';
  /** The blocking category ("not-allowlisted" and "denylist" included), when blocked. */
  readonly category: string | null;
  readonly categoryDescription: string | null;
  readonly reason: BlockReason | null;
  /** IANA time zone of the policy (Asia/Ho_Chi_Minh without one). */
  readonly timezone: string;
  readonly now: number;
}

/** The name in a Host header value ("Example.COM:80", "[::1]:8080", "xn--...") normalised, or null. */
export function hostName(host: string | undefined): string | null {
  if (host === undefined) return null;
  let h = host.trim();
  if (h.length === 0 || h.length > 300) return null;
  if (h.startsWith('[')) return null; // an IPv6 literal: the sinkhole address itself, no name
  const colon = h.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d{0,5}$/.test(h.slice(colon + 1))) return null;
    h = h.slice(0, colon);
  }
  const n = normalizeName(h);
  return typeof n === 'string' ? n : null;
}

/**
 * The facts for one request: `host` is the Host header, `client` the device's address,
 * `local` the address it reached the block page on (for policies that name groups by
 * listening address). `state` is the live filter state, null when filtering is off;
 * `approvals` the names staff opened through review requests, as the filter consults them.
 */
export function blockFacts(state: FilterState | null, host: string | undefined, client: string, local: string | undefined, now: number,
  approvals: ApprovalSet | null = null): BlockFacts {
  const name = hostName(host);
  const displayName = name === null ? null : name.includes('xn--') ? domainToUnicode(name) || name : name;
  if (state === null) {
    return { name, displayName, client: null, decision: 'unknown', category: null, categoryDescription: null, reason: null, timezone: DEFAULT_TIMEZONE, now };
  }
  const p = state.policy;
  const spec = state.spec;
  const who = p.identify(unmapped(client), local === undefined ? undefined : unmapped(local));
  const groupSpec = spec.groups.find((g) => g.name === who.group);
  const base = {
    name, displayName, now, timezone: p.timezone,
    client: { school: who.school, group: who.group, groupDescription: groupSpec?.description ?? null },
  };
  if (name === null) return { ...base, decision: 'unknown', category: null, categoryDescription: null, reason: null };
  const masks = new Int32Array(4);
  state.trie.lookupName(name, masks);
  const code = p.decide(who.groupIndex, masks, now);
  // A device may still hold the sinkhole answer (blocking.ttl) after staff approved the name.
  const approved = code !== DECISION_PASS && code !== DECISION_ALLOW && approvals !== null && approvals.match(name, who.school, who.group) !== null;
  if (code === DECISION_PASS || code === DECISION_ALLOW || approved) {
    return { ...base, decision: 'open', category: null, categoryDescription: null, reason: null };
  }
  if (code === DECISION_NOT_ALLOWLISTED) {
    return { ...base, decision: 'block', category: NOT_ALLOWLISTED, categoryDescription: null, reason: { kind: 'not-allowlisted' } };
  }
  const category = p.describeDecision(code).category ?? String(code);
  if (category === DENYLIST) return { ...base, decision: 'block', category, categoryDescription: null, reason: { kind: 'denylist' } };
  const categoryDescription = spec.categories.find((c) => c.name === category)?.description ?? null;
  let reason: BlockReason = { kind: 'always' };
  if (groupSpec && !groupSpec.block.includes(category)) {
    // Blocked now but not at all times: the schedule window that is active now.
    const clock = new ZonedClock(p.timezone);
    for (const s of groupSpec.schedules) {
      const window: TimeWindow = { days: daysMask(s.days), from: s.from, to: s.to };
      if (s.categories.includes(category) && clock.active(window, now)) {
        reason = { kind: 'schedule', window };
        break;
      }
    }
  }
  return { ...base, decision: 'block', category, categoryDescription, reason };
}

/** "::ffff:10.0.0.7" (an IPv4 client on a dual-stack socket) -> "10.0.0.7". */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
