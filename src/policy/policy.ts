// The compiled policy: category bits, per-group masks, the client-identification table, and
// the decision for a query, made without allocating.
//
// Category bits: each real category gets one bit, in file order (bit 0 first); then each
// group that has allow names gets a pseudo-category "group:<name>:allow", and each group
// that has deny names gets "group:<name>:deny" (only groups that use them, so the 64 bits go
// further). The domain trie gives a query name two 64-bit masks over these bits, passed to
// decide() as an Int32Array(4): member lo/hi words (the name, or a parent, is in the
// category) and exception lo/hi (an allow rule inside that category's list covers it).
//
// The decision for a group:
//   inCat = member & ~exception      (an exception in one list cancels that category only)
//   inCat & allow mask  -> ALLOW     (allowCategories + the group's allow names; allow beats block)
//   allow-only group    -> BLOCK "not-allowlisted"
//   inCat & block mask  -> BLOCK     (block categories + schedules active now + the group's deny
//                                     names), reporting the lowest bit: the category listed first
//                                     in the file, or "denylist" for the group's deny names
//   otherwise           -> PASS
import { CidrTable, parseCidr } from './cidr';
import { daysMask, windowActive, ZonedClock, type TimeWindow } from './schedule';
import type { PolicySpec } from './types';

/** Same shape as ClientInfo in src/chain/types.ts. */
export interface ClientInfo {
  readonly school: string;
  readonly group: string;
}

/** What identify() returns: a ClientInfo that also carries the group's index for decide(). */
export interface IdentifiedClient extends ClientInfo {
  readonly groupIndex: number;
}

/** decide() results below zero; zero and above is the bit of the blocking category. */
export const DECISION_PASS = -1;
export const DECISION_ALLOW = -2;
export const DECISION_NOT_ALLOWLISTED = -3;

/** The category reported for names blocked because an allow-only group does not allow them. */
export const NOT_ALLOWLISTED = 'not-allowlisted';
/** The category reported for names in a group's deny list. */
export const DENYLIST = 'denylist';
/** The school of clients that no network or listener names. */
export const UNKNOWN_SCHOOL = 'unknown';

/**
 * SafeSearch flags of a group, as safeSearch() returns them: the search engines' SafeSearch,
 * and YouTube's Restricted Mode level (at most one of the two YouTube bits is set).
 */
export const SAFESEARCH_SEARCH = 1;
export const SAFESEARCH_YOUTUBE_MODERATE = 2;
export const SAFESEARCH_YOUTUBE_STRICT = 4;

/** Entries kept in each identification cache before it is emptied and refilled. */
export const IDENTIFY_CACHE_LIMIT = 65536;

export interface DecisionDescription {
  readonly action: 'pass' | 'allow' | 'block';
  readonly category: string | null;
}

export interface SourceList {
  readonly bit: number;
  readonly category: string;
  readonly specs: { path?: string; url?: string; format: string }[];
}

export interface CompiledPolicy {
  /** Bit index -> category name: real categories first, then "group:<name>:allow" / "group:<name>:deny". */
  readonly categories: readonly string[];
  readonly groups: readonly string[];
  readonly timezone: string;
  /** The file the policy came from. */
  readonly source: string;
  /** The group of clients that no network or listener names. */
  readonly defaultGroup: string;
  /** The sources of each real category, for the list builder. */
  readonly sources: ReadonlyArray<SourceList>;
  /** Group allow/deny names to add to the trie directly (never as exceptions). */
  readonly inlineNames: ReadonlyArray<{ bit: number; name: string }>;
  /**
   * School and group of a client: the longest school network containing the client address;
   * else the listener for the local address the query arrived on; else the default group, with
   * school "unknown". Results are cached per address string (one Map lookup per query).
   */
  identify(clientAddress: string, localAddress?: string): IdentifiedClient;
  /**
   * The decision for a group at `now` (Date.now()), given the trie's masks for the query name:
   * DECISION_PASS, DECISION_ALLOW, DECISION_NOT_ALLOWLISTED, or the bit of the blocking category.
   * An index that is not a group's is treated as the default group. Allocates nothing.
   */
  decide(groupIndex: number, m: Int32Array, now: number): number;
  /** The index of a group, or -1. */
  groupIndex(name: string): number;
  /**
   * The group's SafeSearch flags (SAFESEARCH_*), 0 when it has none. An index that is not a
   * group's is treated as the default group. One typed-array read.
   */
  safeSearch(groupIndex: number): number;
  /** What a decide() code means. The objects are shared and frozen. */
  describeDecision(code: number): DecisionDescription;
}

interface CompiledWindow {
  readonly window: TimeWindow;
  readonly lo: number;
  readonly hi: number;
}

function failCompile(source: string, what: string): never {
  throw new Error(`cannot compile policy ${source}: ${what}`);
}

function setBit(lohi: Int32Array, i: number, bit: number): void {
  if (bit < 32) lohi[i * 2] = lohi[i * 2]! | (1 << bit);
  else lohi[i * 2 + 1] = lohi[i * 2 + 1]! | (1 << (bit - 32));
}

class Compiled implements CompiledPolicy {
  readonly categories: readonly string[];
  readonly groups: readonly string[];
  readonly timezone: string;
  readonly source: string;
  readonly defaultGroup: string;
  readonly sources: ReadonlyArray<SourceList>;
  readonly inlineNames: ReadonlyArray<{ bit: number; name: string }>;

  private readonly groupIndexes = new Map<string, number>();
  private readonly defaultIndex: number;
  /** Per group, lo and hi words side by side. */
  private readonly allowMasks: Int32Array;
  private readonly baseBlockMasks: Int32Array;
  private readonly blockMasks: Int32Array;
  private readonly allowOnly: Uint8Array;
  private readonly safeSearchFlags: Uint8Array;
  private readonly windows: ReadonlyArray<readonly CompiledWindow[]>;
  private readonly scheduled: boolean;
  private readonly clock: ZonedClock;
  private minuteKey = Number.NaN;

  private readonly networks = new CidrTable<IdentifiedClient>();
  private readonly listeners = new CidrTable<IdentifiedClient>();
  private readonly hasListeners: boolean;
  private readonly defaultClient: IdentifiedClient;
  private readonly clientCache = new Map<string, IdentifiedClient | null>();
  private readonly listenerCache = new Map<string, IdentifiedClient | null>();

  private readonly blockDescriptions: readonly DecisionDescription[];

  constructor(spec: PolicySpec) {
    const fail = (what: string): never => failCompile(spec.source, what);
    this.timezone = spec.timezone;
    this.source = spec.source;
    this.clock = new ZonedClock(spec.timezone);

    const categories = spec.categories.map((c) => c.name);
    const categoryBits = new Map(categories.map((name, bit) => [name, bit]));
    if (categoryBits.size !== categories.length) fail('a category is defined twice');
    const inline: { bit: number; name: string }[] = [];
    const allowBit: number[] = [];
    const denyBit: number[] = [];
    const reportAs: string[] = [...categories];
    for (const g of spec.groups) {
      if (this.groupIndexes.has(g.name)) fail(`group "${g.name}" is defined twice`);
      this.groupIndexes.set(g.name, this.groupIndexes.size);
      allowBit.push(g.allow.length > 0 ? categories.push(`group:${g.name}:allow`) - 1 : -1);
      if (g.allow.length > 0) reportAs.push(`group:${g.name}:allow`);
      denyBit.push(g.deny.length > 0 ? categories.push(`group:${g.name}:deny`) - 1 : -1);
      if (g.deny.length > 0) reportAs.push(DENYLIST);
      for (const name of g.allow) inline.push({ bit: allowBit[allowBit.length - 1]!, name });
      for (const name of g.deny) inline.push({ bit: denyBit[denyBit.length - 1]!, name });
    }
    if (categories.length > 64) fail(`${categories.length} category bits are needed; at most 64 fit`);
    if (spec.groups.length === 0) fail('there are no groups');
    this.categories = Object.freeze(categories);
    this.groups = Object.freeze(spec.groups.map((g) => g.name));
    this.sources = Object.freeze(
      spec.categories.map((c, bit) =>
        Object.freeze({ bit, category: c.name, specs: c.sources.map((s) => ({ ...(s.path !== undefined ? { path: s.path } : { url: s.url! }), format: s.format })) }),
      ),
    );
    this.inlineNames = Object.freeze(inline.map((n) => Object.freeze(n)));

    const n = spec.groups.length;
    this.allowMasks = new Int32Array(n * 2);
    this.baseBlockMasks = new Int32Array(n * 2);
    this.allowOnly = new Uint8Array(n);
    this.safeSearchFlags = new Uint8Array(n);
    const bitOf = (name: string, where: string): number => categoryBits.get(name) ?? fail(`${where} names category "${name}", which is not defined`);
    const windows: CompiledWindow[][] = [];
    spec.groups.forEach((g, i) => {
      this.allowOnly[i] = g.mode === 'allow-only' ? 1 : 0;
      const ss = g.safeSearch;
      this.safeSearchFlags[i] = (ss.search ? SAFESEARCH_SEARCH : 0)
        | (ss.youtube === 'strict' ? SAFESEARCH_YOUTUBE_STRICT : ss.youtube === 'moderate' ? SAFESEARCH_YOUTUBE_MODERATE : 0);
      for (const c of g.allowCategories) setBit(this.allowMasks, i, bitOf(c, `group "${g.name}"`));
      if (allowBit[i]! >= 0) setBit(this.allowMasks, i, allowBit[i]!);
      for (const c of g.block) setBit(this.baseBlockMasks, i, bitOf(c, `group "${g.name}"`));
      if (denyBit[i]! >= 0) setBit(this.baseBlockMasks, i, denyBit[i]!);
      windows.push(
        g.schedules.map((s) => {
          const m = new Int32Array(2);
          for (const c of s.categories) setBit(m, 0, bitOf(c, `a schedule of group "${g.name}"`));
          return { window: { days: daysMask(s.days), from: s.from, to: s.to }, lo: m[0]!, hi: m[1]! };
        }),
      );
    });
    this.blockMasks = this.baseBlockMasks.slice();
    this.windows = windows;
    this.scheduled = windows.some((w) => w.length > 0);

    // Identification: one shared, frozen ClientInfo per school and group.
    const clients = new Map<string, IdentifiedClient>();
    const client = (school: string, group: string): IdentifiedClient => {
      const groupIndex = this.groupIndexes.get(group) ?? fail(`"${school}" uses group "${group}", which is not defined`);
      const key = `${school}\u0000${group}`;
      let c = clients.get(key);
      if (c === undefined) {
        c = Object.freeze({ school, group, groupIndex });
        clients.set(key, c);
      }
      return c;
    };
    this.defaultGroup = spec.defaultGroup;
    this.defaultIndex = this.groupIndexes.get(spec.defaultGroup) ?? fail(`the default group "${spec.defaultGroup}" is not defined`);
    this.defaultClient = client(UNKNOWN_SCHOOL, spec.defaultGroup);
    for (const school of spec.schools) {
      for (const net of school.networks) {
        const cidr = parseCidr(net.cidr);
        if (typeof cidr === 'string') failCompile(spec.source, `network ${net.cidr} of "${school.name}" ${cidr}`);
        if (!this.networks.add(cidr, client(school.name, net.group))) fail(`network ${net.cidr} is given twice`);
      }
    }
    for (const l of spec.listeners) {
      if (!this.listeners.add(l.address, client(l.school, l.group))) fail(`listener ${l.address} is given twice`);
    }
    this.hasListeners = spec.listeners.length > 0;

    this.blockDescriptions = Object.freeze(reportAs.map((category) => Object.freeze({ action: 'block' as const, category })));
  }

  identify(clientAddress: string, localAddress?: string): IdentifiedClient {
    let c = this.clientCache.get(clientAddress);
    if (c === undefined) {
      c = this.networks.lookup(clientAddress) ?? null;
      if (this.clientCache.size >= IDENTIFY_CACHE_LIMIT) this.clientCache.clear();
      this.clientCache.set(clientAddress, c);
    }
    if (c !== null) return c;
    if (this.hasListeners && localAddress !== undefined) {
      let l = this.listenerCache.get(localAddress);
      if (l === undefined) {
        l = this.listeners.lookup(localAddress) ?? null;
        if (this.listenerCache.size >= IDENTIFY_CACHE_LIMIT) this.listenerCache.clear();
        this.listenerCache.set(localAddress, l);
      }
      if (l !== null) return l;
    }
    return this.defaultClient;
  }

  decide(groupIndex: number, m: Int32Array, now: number): number {
    const g = groupIndex >= 0 && groupIndex < this.allowOnly.length ? groupIndex : this.defaultIndex;
    const lo = m[0]! & ~m[2]!;
    const hi = m[1]! & ~m[3]!;
    if ((lo & this.allowMasks[g * 2]!) !== 0 || (hi & this.allowMasks[g * 2 + 1]!) !== 0) return DECISION_ALLOW;
    if (this.allowOnly[g] === 1) return DECISION_NOT_ALLOWLISTED;
    if (lo === 0 && hi === 0) return DECISION_PASS;
    if (this.scheduled) {
      const key = Math.floor(now / 60000);
      if (key !== this.minuteKey) this.refresh(now, key);
    }
    let b = lo & this.blockMasks[g * 2]!;
    if (b !== 0) return 31 - Math.clz32(b & -b);
    b = hi & this.blockMasks[g * 2 + 1]!;
    if (b !== 0) return 63 - Math.clz32(b & -b);
    return DECISION_PASS;
  }

  groupIndex(name: string): number {
    return this.groupIndexes.get(name) ?? -1;
  }

  safeSearch(groupIndex: number): number {
    return this.safeSearchFlags[groupIndex >= 0 && groupIndex < this.safeSearchFlags.length ? groupIndex : this.defaultIndex]!;
  }

  describeDecision(code: number): DecisionDescription {
    if (code === DECISION_PASS) return PASS_DESCRIPTION;
    if (code === DECISION_ALLOW) return ALLOW_DESCRIPTION;
    if (code === DECISION_NOT_ALLOWLISTED) return NOT_ALLOWLISTED_DESCRIPTION;
    const d = Number.isInteger(code) ? this.blockDescriptions[code] : undefined;
    if (d === undefined) throw new RangeError(`${code} is not a decision of this policy`);
    return d;
  }

  /** Recomputes every group's block masks for the schedules active in this minute. */
  private refresh(now: number, key: number): void {
    this.minuteKey = key;
    const t = this.clock.at(now);
    for (let g = 0; g < this.windows.length; g++) {
      let lo = this.baseBlockMasks[g * 2]!;
      let hi = this.baseBlockMasks[g * 2 + 1]!;
      for (const w of this.windows[g]!) {
        if (windowActive(w.window, t.day, t.minute)) {
          lo |= w.lo;
          hi |= w.hi;
        }
      }
      this.blockMasks[g * 2] = lo;
      this.blockMasks[g * 2 + 1] = hi;
    }
  }
}

const PASS_DESCRIPTION: DecisionDescription = Object.freeze({ action: 'pass', category: null });
const ALLOW_DESCRIPTION: DecisionDescription = Object.freeze({ action: 'allow', category: null });
const NOT_ALLOWLISTED_DESCRIPTION: DecisionDescription = Object.freeze({ action: 'block', category: NOT_ALLOWLISTED });

/** Compiles a checked policy (from loadPolicyFile/parsePolicy). Throws an Error if the spec is inconsistent. */
export function compilePolicy(spec: PolicySpec): CompiledPolicy {
  return new Compiled(spec);
}
