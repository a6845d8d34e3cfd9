// Blocklist parsers: plain domains, hosts, adblock (||name^), wildcard (*.name), RPZ zone files
// and dnsmasq directives, all reduced to one meaning.
//
// ONE MEANING: every entry handed to `onEntry` means "this name AND all of its subdomains" (the
// filter's trie covers a name's whole subtree). So:
//   example.com               (plain)      -> example.com
//   0.0.0.0 example.com       (hosts)      -> example.com
//   ||example.com^            (adblock)    -> example.com
//   *.example.com             (wildcard)   -> example.com   (NB: the apex is covered too)
//   example.com CNAME .       (rpz)        -> example.com
//   *.example.com CNAME .     (rpz)        -> example.com   (NB: the apex is covered too)
//   local=/example.com/       (dnsmasq)    -> example.com
// A wildcard "*.d" strictly matches only the subdomains of d, not d itself. Lists that use it
// (HaGeZi wildcard/RPZ/adblock "||*.tld^") mean "d and everything under it", and RPZ lists write
// both "d" and "*.d" anyway, so we deliberately widen "*.d" to d's whole subtree, apex included.
//
// Lines that cannot become such an entry are counted as invalid with a reason and skipped; one
// bad line never rejects a list. Lines that are meant to be skipped (comments, blank lines,
// headers, hosts localhost preambles, RPZ zone apex records, adblock cosmetic rules, dnsmasq
// forwarding rules) are counted as ignored, by reason.
//
// Speed: the per-line work is index arithmetic over the one big string (charCodeAt, and indexOf
// only where a match is certain before the line's end);
// no split(), no regular expression in the per-line path, and one slice() per emitted name.
// The names handed to onEntry may be V8 "sliced strings" that keep the list text alive while
// they are referenced; a consumer that keeps names for long can flatten them if that matters.
import { normalizeName } from './normalize';

export type ListFormat = 'plain' | 'hosts' | 'adblock' | 'wildcard' | 'rpz' | 'dnsmasq';

export const LIST_FORMATS: readonly ListFormat[] = ['plain', 'hosts', 'adblock', 'wildcard', 'rpz', 'dnsmasq'];

export interface InvalidLine {
  line: number;
  reason: string;
  /** The line, trimmed, at most 120 characters. */
  text: string;
}

export interface ParseReport {
  /** As declared, or as detected when 'auto' was asked for. */
  format: ListFormat;
  /** Text lines (a last line without a newline counts too). */
  lines: number;
  /** Names handed to onEntry, allow entries included. */
  entries: number;
  /** Of `entries`, how many were allow (exception) entries. */
  allows: number;
  /**
   * Rejected lines. On lines that carry several names (hosts "0.0.0.0 a b c", dnsmasq
   * "address=/a/b/...") each rejected name counts once and the line's other names are kept.
   */
  invalid: number;
  /** The first 10 invalid lines. */
  invalidSamples: InvalidLine[];
  /** Lines ignored on purpose (comments, blank, hosts localhost preamble, RPZ SOA/NS records, adblock cosmetic rules like ##). */
  ignored: number;
  /** `ignored` broken down by reason (see IGNORE_REASONS). Always filled in by parseList. */
  ignoredReasons?: Record<string, number>;
}

export type EntryCallback = (name: string, allow: boolean, line: number) => void;

/** The first this many invalid lines are kept in ParseReport.invalidSamples. */
export const MAX_INVALID_SAMPLES = 10;
/** Sample lines are cut to this many characters. */
export const MAX_SAMPLE_TEXT = 120;
/** detectFormat looks at this many meaningful (non-blank, non-comment) lines. */
export const DETECT_LINES = 200;

/** The keys of ParseReport.ignoredReasons. */
export const IGNORE_REASONS = {
  blank: 'blank line',
  comment: 'comment',
  header: 'adblock header ([Adblock Plus ...])',
  cosmetic: 'adblock cosmetic/HTML rule (##, #@#, #?#, $$ ...): not for DNS',
  preamble: 'hosts localhost preamble',
  zone: 'RPZ zone record ($TTL, $ORIGIN, SOA, NS, apex)',
  forward: 'dnsmasq forwarding rule (server=/name/address): not a block',
  standard: 'dnsmasq server=/name/#: forwards to the standard servers, not a block',
} as const;

/** Names of the standard hosts-file preamble; in a blocklist they are skipped, never blocked. */
export const HOSTS_PREAMBLE_NAMES: ReadonlySet<string> = new Set([
  'localhost', 'localhost.localdomain', 'local', 'broadcasthost',
  'ip6-localhost', 'ip6-loopback', 'ip6-localnet', 'ip6-mcastprefix',
  'ip6-allnodes', 'ip6-allrouters', 'ip6-allhosts', '0.0.0.0',
]);

/** Cheap pre-test before a HOSTS_PREAMBLE_NAMES lookup: length and first letter (any case). */
function mayBePreamble(t: string, a: number, b: number): boolean {
  if (b - a > 21) return false;
  const c = t.charCodeAt(a) | 0x20;
  return c === 108 /* l */ || c === 105 /* i */ || c === 98 /* b */ || c === 48 /* 0 */;
}

// ---------------------------------------------------------------------------------------------
// char helpers

const TAB = 9, CR = 13, SPACE = 32, BANG = 33, HASH = 35, DOLLAR = 36, PERCENT = 37;
const STAR = 42, DOT = 46, SLASH = 47, COLON = 58, SEMI = 59, QMARK = 63, AT = 64;
const LBRACKET = 91, RBRACKET = 93, CARET = 94, PIPE = 124;

function isWs(c: number): boolean {
  return c <= SPACE ? c === SPACE || c === TAB || c === CR || c === 11 || c === 12 : c === 0xa0 || c === 0xfeff;
}

/** Index of the first whitespace char in [from, end), or end. */
function wsAt(t: string, from: number, end: number): number {
  while (from < end && !isWs(t.charCodeAt(from))) from++;
  return from;
}

/** Index of the first non-whitespace char in [from, end), or end. */
function skipWs(t: string, from: number, end: number): number {
  while (from < end && isWs(t.charCodeAt(from))) from++;
  return from;
}

/** Whether t[a..b) equals the lowercase ASCII word w, ignoring ASCII case. */
function eqWord(t: string, a: number, b: number, w: string): boolean {
  if (b - a !== w.length) return false;
  for (let i = 0; i < w.length; i++) {
    if ((t.charCodeAt(a + i) | 0x20) !== w.charCodeAt(i)) return false;
  }
  return true;
}

function startsWithAt(t: string, a: number, b: number, prefix: string): boolean {
  return b - a >= prefix.length && t.startsWith(prefix, a);
}

/**
 * Index of the one-char string c in [from, end), or -1. A bounded loop on purpose: indexOf would
 * search on past `end` to the end of the whole list text on every miss (quadratic over a list).
 */
function charIn(t: string, c: string, from: number, end: number): number {
  const code = c.charCodeAt(0);
  for (let i = from; i < end; i++) if (t.charCodeAt(i) === code) return i;
  return -1;
}

/** Quick "looks like an IPv4/IPv6 address" test for hosts-file address columns (not a full validator). */
function looksLikeAddress(t: string, a: number, b: number): boolean {
  if (b - a === 7 && t.startsWith('0.0.0.0', a)) return true;
  let dots = 0;
  let colons = 0;
  for (let i = a; i < b; i++) {
    const c = t.charCodeAt(i);
    if (c === DOT) dots++;
    else if (c === COLON) colons++;
    else if (c === PERCENT) return colons >= 2 && i > a; // zone index: fe80::1%lo0
    else if (!((c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102))) return false; // hex digit
  }
  if (colons >= 2) return true;
  if (colons !== 0 || dots !== 3) return false;
  for (let i = a; i < b; i++) {
    const c = t.charCodeAt(i);
    if (c !== DOT && (c < 48 || c > 57)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// the parser state shared by the per-format line handlers

class Parser {
  readonly report: ParseReport;
  readonly reasons: Record<string, number> = Object.create(null);
  // RPZ state
  zoneOrigin = '';
  originSuffix = '';
  inParens = false;
  lastOwnerStart = -1;
  lastOwnerEnd = -1;
  lastOwnerApex = true;

  constructor(
    readonly t: string,
    format: ListFormat,
    readonly onEntry: EntryCallback,
  ) {
    this.report = { format, lines: 0, entries: 0, allows: 0, invalid: 0, invalidSamples: [], ignored: 0, ignoredReasons: this.reasons };
  }

  ignore(reason: string): void {
    this.report.ignored++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
  }

  bad(line: number, reason: string, a: number, b: number): void {
    const r = this.report;
    r.invalid++;
    if (r.invalidSamples.length < MAX_INVALID_SAMPLES) {
      r.invalidSamples.push({ line, reason, text: this.t.slice(a, Math.min(b, a + MAX_SAMPLE_TEXT)) });
    }
  }

  /**
   * Normalizes t[s..e) and hands it on; false (and counted invalid) if it is not a valid name.
   * `named` prefixes the reason with the name, for lines that hold several.
   */
  emit(s: string, allow: boolean, line: number, a: number, b: number, named = false): boolean {
    const n = normalizeName(s);
    if (typeof n !== 'string') {
      this.bad(line, named ? `"${s}": ${n.error}` : n.error, a, b);
      return false;
    }
    const r = this.report;
    r.entries++;
    if (allow) r.allows++;
    this.onEntry(n, allow, line);
    return true;
  }

  /** An entry in plain/wildcard-style syntax: "*.name", ".name" (squidGuard) or "name". */
  emitDomainish(s: number, e: number, allow: boolean, line: number, a: number, b: number): void {
    const t = this.t;
    if (e - s >= 2 && t.charCodeAt(s) === STAR && t.charCodeAt(s + 1) === DOT) s += 2;
    else if (e - s >= 2 && t.charCodeAt(s) === DOT) s += 1; // ".example.com": squidGuard's "domain and subdomains"
    if (s < e && charIn(t, '*', s, e) >= 0) {
      this.bad(line, 'wildcard "*" inside a name (cannot be expressed in DNS)', a, b);
      return;
    }
    this.emit(t.slice(s, e), allow, line, a, b);
  }

  // ---- plain / wildcard -------------------------------------------------------------------
  // One name per line; "*.name" and ".name" are read as name. "#" and "!" start comments, as whole
  // lines or after whitespace.
  plain(a: number, b: number, line: number): void {
    const t = this.t;
    const c0 = t.charCodeAt(a);
    if (c0 === HASH || c0 === BANG) return this.ignore(IGNORE_REASONS.comment);
    let e = wsAt(t, a, b);
    if (e < b) {
      const n = skipWs(t, e, b);
      const c = t.charCodeAt(n);
      if (c !== HASH && c !== BANG) {
        if (looksLikeAddress(t, a, e)) return this.bad(line, 'hosts-style "address name" line in a plain list', a, b);
        return this.bad(line, 'more than one word on the line (expected one name)', a, b);
      }
    }
    // An inline comment glued to the name ("example.com#x") is not a comment: the "#" is invalid.
    this.emitDomainish(a, e, false, line, a, b);
  }

  // ---- hosts ------------------------------------------------------------------------------
  // "<address> name [name ...] [# comment]". The address is not interpreted: any address means block.
  hosts(a: number, b: number, line: number): void {
    const t = this.t;
    if (t.charCodeAt(a) === HASH) return this.ignore(IGNORE_REASONS.comment);
    const ae = wsAt(t, a, b);
    if (!looksLikeAddress(t, a, ae)) {
      return this.bad(line, 'hosts line does not start with an IP address', a, b);
    }
    let i = skipWs(t, ae, b);
    if (i >= b || t.charCodeAt(i) === HASH) return this.bad(line, 'no host name after the address', a, b);
    // Several names on one line (HaGeZi "compressed" hosts): prefix errors with the bad name.
    const second = skipWs(t, wsAt(t, i, b), b);
    const multi = second < b && t.charCodeAt(second) !== HASH;
    let emitted = 0;
    let skipped = 0;
    let rejected = 0;
    while (i < b) {
      if (t.charCodeAt(i) === HASH) break; // inline comment
      const e = wsAt(t, i, b);
      const raw = t.slice(i, e);
      if (mayBePreamble(t, i, e) && HOSTS_PREAMBLE_NAMES.has(raw)) {
        skipped++;
      } else {
        const n = normalizeName(raw);
        if (typeof n !== 'string') {
          this.bad(line, multi ? `"${raw}": ${n.error}` : n.error, a, b);
          rejected++;
        } else if (n !== raw && HOSTS_PREAMBLE_NAMES.has(n)) {
          skipped++;
        } else {
          const r = this.report;
          r.entries++;
          this.onEntry(n, false, line);
          emitted++;
        }
      }
      i = skipWs(t, e, b);
    }
    if (emitted === 0 && rejected === 0 && skipped > 0) this.ignore(IGNORE_REASONS.preamble);
  }

  // ---- adblock ----------------------------------------------------------------------------
  // "||name^" / "@@||name^" with optional "$modifiers"; "||*.name^" is read as name.
  adblock(a: number, b: number, line: number): void {
    const t = this.t;
    const c0 = t.charCodeAt(a);
    if (c0 === BANG) return this.ignore(IGNORE_REASONS.comment);
    if (c0 === LBRACKET) {
      if (t.charCodeAt(b - 1) === RBRACKET) return this.ignore(IGNORE_REASONS.header);
      return this.bad(line, 'unrecognized line starting with "["', a, b);
    }
    if (c0 === HASH) {
      // "# comment" (hosts-style comment, accepted by DNS filters) or a generic cosmetic rule "##.ad".
      const c1 = t.charCodeAt(a + 1);
      return this.ignore(c1 === HASH || c1 === AT || c1 === QMARK || c1 === DOLLAR || c1 === PERCENT ? IGNORE_REASONS.cosmetic : IGNORE_REASONS.comment);
    }
    // Fast path for the overwhelmingly common "||name^" / "@@||name^": one scan of the name.
    if (t.charCodeAt(b - 1) === CARET) {
      const allowRule = c0 === AT;
      const ns = allowRule ? a + 4 : a + 2;
      if (startsWithAt(t, allowRule ? a + 2 : a, b, '||') && (!allowRule || t.charCodeAt(a + 1) === AT)) {
        let plainName = ns < b - 1;
        for (let i = ns; i < b - 1; i++) {
          const c = t.charCodeAt(i);
          if (c === STAR || c === SLASH || c === CARET || c === PIPE || c === DOLLAR || c === HASH) {
            plainName = false;
            break;
          }
        }
        if (plainName) {
          this.emit(t.slice(ns, b - 1), allowRule, line, a, b);
          return;
        }
      }
    }

    // Cosmetic / scriptlet / HTML-filtering rules: example.com##.ad, #@#, #?#, #$#, #%#, $$, $@$.
    let h = charIn(t, '#', a, b);
    while (h >= 0) {
      const c1 = t.charCodeAt(h + 1);
      if (c1 === HASH || c1 === AT || c1 === QMARK || c1 === DOLLAR || c1 === PERCENT) return this.ignore(IGNORE_REASONS.cosmetic);
      h = charIn(t, '#', h + 1, b);
    }
    const dd = charIn(t, '$', a, b);
    if (dd >= 0 && (t.charCodeAt(dd + 1) === DOLLAR || (t.charCodeAt(dd + 1) === AT && t.charCodeAt(dd + 2) === DOLLAR))) {
      return this.ignore(IGNORE_REASONS.cosmetic);
    }

    let s = a;
    let allow = false;
    if (startsWithAt(t, s, b, '@@')) {
      allow = true;
      s += 2;
    }
    if (t.charCodeAt(s) === SLASH) {
      return this.bad(line, 'regular expression or URL path rule (cannot be expressed in DNS)', a, b);
    }
    if (!startsWithAt(t, s, b, '||')) {
      if (t.charCodeAt(s) === PIPE) return this.bad(line, 'address-anchored rule "|..." (cannot be expressed in DNS)', a, b);
      return this.bad(line, 'substring rule without ||name^ (cannot be expressed in DNS)', a, b);
    }
    s += 2;
    // the pattern ends at "$" (modifiers) or the end of the line
    const mod = dd >= s ? dd : -1;
    let pe = mod >= 0 ? mod : b;
    if (t.charCodeAt(pe - 1) === PIPE && t.charCodeAt(pe - 2) === CARET) pe--; // "||name^|"
    if (charIn(t, '/', s, pe) >= 0) return this.bad(line, 'rule with a URL path (cannot be expressed in DNS)', a, b);
    let he: number;
    if (t.charCodeAt(pe - 1) === CARET) {
      he = pe - 1;
    } else {
      // "||example.com" without "^" strictly matches every host that merely starts with
      // "example.com" (example.com.evil.net too). Lists mean the domain, and the domain and its
      // subdomains are a subset of what the rule matches, so a name with a dot is taken as that
      // name. A single label ("||ads") is a prefix pattern, not a name.
      he = pe;
      if (charIn(t, '.', s, he) < 0) {
        return this.bad(line, 'no "^" after a single label: a prefix pattern, not a name (cannot be expressed in DNS)', a, b);
      }
    }
    if (he <= s) return this.bad(line, 'empty pattern', a, b);
    if (charIn(t, '^', s, he) >= 0 || charIn(t, '|', s, he) >= 0) {
      return this.bad(line, 'separator inside the pattern (cannot be expressed in DNS)', a, b);
    }
    if (mod >= 0) {
      const why = checkModifiers(t, mod + 1, b, allow);
      if (why !== null) return this.bad(line, why, a, b);
    }
    this.emitDomainish(s, he, allow, line, a, b);
  }

  // ---- rpz --------------------------------------------------------------------------------
  // Zone-file lines: "owner [ttl] [class] type rdata". QNAME triggers only. Owner names are taken
  // relative to the zone: the first $ORIGIN names the zone; a later $ORIGIN under it (e.g.
  // "$ORIGIN example.com.rpz.zone.") makes relative owners get that part ("example.com") appended;
  // an absolute owner ending in ".<zone>." has the zone stripped. Without any $ORIGIN, owners are
  // taken as written (minus a trailing dot) - the common case for published RPZ lists.
  rpz(lineStart: number, a: number, b: number, line: number): void {
    const t = this.t;
    if (this.inParens) {
      if (charIn(t, ')', a, b) >= 0) this.inParens = false;
      return this.ignore(IGNORE_REASONS.zone);
    }
    const c0 = t.charCodeAt(a);
    if (c0 === SEMI) return this.ignore(IGNORE_REASONS.comment);
    const sc = charIn(t, ';', a, b);
    if (sc >= 0) {
      b = sc;
      while (b > a && isWs(t.charCodeAt(b - 1))) b--;
    }
    if (c0 === DOLLAR) return this.rpzDirective(a, b, line);

    // owner: a line starting with whitespace continues the previous owner (RFC 1035 §5.1)
    let os: number, oe: number, apex: boolean;
    let i: number;
    if (lineStart === a) {
      os = a;
      oe = wsAt(t, a, b);
      apex = oe - os === 1 && c0 === AT;
      i = skipWs(t, oe, b);
      this.lastOwnerStart = os;
      this.lastOwnerEnd = oe;
      this.lastOwnerApex = apex;
    } else {
      os = this.lastOwnerStart;
      oe = this.lastOwnerEnd;
      apex = this.lastOwnerApex;
      i = a;
    }
    // [ttl] [class] in either order
    for (let k = 0; k < 2 && i < b; k++) {
      const e = wsAt(t, i, b);
      if (isTtl(t, i, e) || eqWord(t, i, e, 'in') || eqWord(t, i, e, 'ch') || eqWord(t, i, e, 'hs') || eqWord(t, i, e, 'cs')) {
        i = skipWs(t, e, b);
      } else break;
    }
    if (i >= b) return this.bad(line, 'record without a type', a, b);
    const te = wsAt(t, i, b);
    const ds = skipWs(t, te, b);
    if (eqWord(t, i, te, 'soa') || eqWord(t, i, te, 'ns')) {
      const lp = charIn(t, '(', ds, b);
      if (lp >= 0 && charIn(t, ')', lp, b) < 0) this.inParens = true;
      return this.ignore(IGNORE_REASONS.zone);
    }
    if (apex) return this.ignore(IGNORE_REASONS.zone);
    if (os < 0) return this.bad(line, 'record without an owner name', a, b);

    let allow = false;
    if (eqWord(t, i, te, 'cname')) {
      const de = wsAt(t, ds, b);
      if (de - ds === 1 && t.charCodeAt(ds) === DOT) {
        // NXDOMAIN
      } else if (de - ds === 2 && t.charCodeAt(ds) === STAR && t.charCodeAt(ds + 1) === DOT) {
        // NODATA
      } else if (eqWord(t, ds, de, 'rpz-passthru.') || eqWord(t, ds, de, 'rpz-passthru')) {
        allow = true;
      } else if (eqWord(t, ds, de, 'rpz-drop.') || eqWord(t, ds, de, 'rpz-drop')) {
        // dropped: no answer at all; we block
      } else if (ds >= b) {
        return this.bad(line, 'CNAME without a target', a, b);
      } else if (eqWord(t, ds, de, 'rpz-tcp-only.') || eqWord(t, ds, de, 'rpz-tcp-only')) {
        return this.bad(line, 'rpz-tcp-only is not a block (cannot be expressed here)', a, b);
      } else {
        return this.bad(line, 'CNAME to another name is a rewrite, not a block (not supported)', a, b);
      }
    } else if (eqWord(t, i, te, 'a') || eqWord(t, i, te, 'aaaa')) {
      // local data: the name gets a fixed answer instead of its own; we block it
    } else {
      return this.bad(line, `unsupported RPZ record type ${t.slice(i, te)}`, a, b);
    }
    this.rpzOwner(os, oe, allow, line, a, b);
  }

  rpzDirective(a: number, b: number, line: number): void {
    const t = this.t;
    const we = wsAt(t, a, b);
    if (eqWord(t, a, we, '$ttl')) return this.ignore(IGNORE_REASONS.zone);
    if (eqWord(t, a, we, '$origin')) {
      const s = skipWs(t, we, b);
      let o = t.slice(s, wsAt(t, s, b)).toLowerCase();
      if (o.endsWith('.')) o = o.slice(0, -1);
      if (this.zoneOrigin === '' || !(o === this.zoneOrigin || o.endsWith('.' + this.zoneOrigin))) {
        this.zoneOrigin = o;
        this.originSuffix = '';
      } else {
        this.originSuffix = o === this.zoneOrigin ? '' : o.slice(0, o.length - this.zoneOrigin.length - 1);
      }
      return this.ignore(IGNORE_REASONS.zone);
    }
    return this.bad(line, `unsupported zone-file directive ${t.slice(a, we)}`, a, b);
  }

  rpzOwner(os: number, oe: number, allow: boolean, line: number, a: number, b: number): void {
    const t = this.t;
    let owner = t.slice(os, oe);
    if (this.zoneOrigin !== '') owner = owner.toLowerCase();
    if (owner.endsWith('.')) {
      owner = owner.slice(0, -1);
      const z = this.zoneOrigin;
      if (z !== '') {
        if (owner === z) return this.ignore(IGNORE_REASONS.zone);
        if (owner.endsWith('.' + z)) owner = owner.slice(0, owner.length - z.length - 1);
      }
    } else if (this.originSuffix !== '') {
      owner = owner + '.' + this.originSuffix;
    }
    if (owner === '*') return this.bad(line, 'wildcard for every name (cannot be a list entry)', a, b);
    if (owner.includes('rpz-') && /(^|\.)rpz-(ip|nsdname|nsip|client-ip)$/i.test(owner)) {
      return this.bad(line, 'not a QNAME trigger (rpz-ip/rpz-nsdname/rpz-nsip/rpz-client-ip cannot be expressed here)', a, b);
    }
    let s = 0;
    if (owner.charCodeAt(0) === STAR && owner.charCodeAt(1) === DOT) s = 2;
    if (owner.indexOf('*', s) >= 0) return this.bad(line, 'wildcard "*" inside a name (cannot be expressed in DNS)', a, b);
    this.emit(s === 0 ? owner : owner.slice(s), allow, line, a, b);
  }

  // ---- dnsmasq ----------------------------------------------------------------------------
  // address=/name[/name...]/[target], server=/name[/name...]/[upstream], local=/name[/name...]/
  dnsmasq(a: number, b: number, line: number): void {
    const t = this.t;
    if (t.charCodeAt(a) === HASH) return this.ignore(IGNORE_REASONS.comment);
    const eq = charIn(t, '=', a, b);
    if (eq < 0) return this.bad(line, 'not a dnsmasq directive (no "=")', a, b);
    let kind: 0 | 1 | 2; // address, server, local
    if (eqWord(t, a, eq, 'address')) kind = 0;
    else if (eqWord(t, a, eq, 'server')) kind = 1;
    else if (eqWord(t, a, eq, 'local')) kind = 2;
    else return this.bad(line, `unsupported dnsmasq directive "${t.slice(a, eq)}" (only address=, server=, local=)`, a, b);
    const vs = eq + 1;
    if (t.charCodeAt(vs) !== SLASH) {
      if (kind === 1) return this.ignore(IGNORE_REASONS.forward); // server=1.2.3.4: a global upstream
      return this.bad(line, `expected "/name/" after ${t.slice(a, eq)}=`, a, b);
    }
    const last = t.lastIndexOf('/', b - 1);
    if (last <= vs) return this.bad(line, `missing closing "/" after the name`, a, b);
    if (kind !== 0 && last + 1 < b) {
      // server=/name/1.2.3.4 forwards elsewhere; server=/name/# uses the standard servers.
      if (last + 2 === b && t.charCodeAt(last + 1) === HASH) return this.ignore(IGNORE_REASONS.standard);
      return this.ignore(IGNORE_REASONS.forward);
    }
    // address=/name/ (NXDOMAIN), /0.0.0.0, /::, /# or any other address: answered locally = blocked.
    const multi = charIn(t, '/', vs + 1, last) >= 0;
    let s = vs + 1;
    while (s <= last) {
      const e = t.indexOf('/', s);
      if (e === s) {
        this.bad(line, 'empty name between "//" (matches unqualified names; not a list entry)', a, b);
      } else if (e - s === 1 && t.charCodeAt(s) === HASH) {
        this.bad(line, '"#" matches every name (cannot be a list entry)', a, b);
      } else if (e - s >= 2 && t.charCodeAt(s) === STAR && t.charCodeAt(s + 1) === DOT) {
        this.emit(t.slice(s + 2, e), false, line, a, b, multi);
      } else {
        this.emit(t.slice(s, e), false, line, a, b, multi);
      }
      s = e + 1;
    }
  }
}

/** BIND-style TTL: digits, or digits with s/m/h/d/w units ("1h30m"). */
function isTtl(t: string, a: number, b: number): boolean {
  if (a >= b) return false;
  const c0 = t.charCodeAt(a);
  if (c0 < 48 || c0 > 57) return false;
  for (let i = a + 1; i < b; i++) {
    const c = t.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || c === 115 || c === 109 || c === 104 || c === 100 || c === 119)) return false;
  }
  return true;
}

/**
 * Adblock modifiers after "$" that leave "block/allow this name and its subdomains" intact.
 * $important, $all, $doc/$document and the party modifiers are accepted: at the DNS level we
 * cannot tell first- from third-party requests and the rule's subject is the whole host, so we
 * block it for every request. Content-type restrictions ($script, $image...), per-site rules
 * ($domain=, $denyallow=), per-client/type rules ($client=, $ctag=, $dnstype=) and $badfilter
 * change what the rule means in ways a name list cannot express.
 * Returns null if the modifiers are fine, else the reason the rule is rejected.
 */
function checkModifiers(t: string, a: number, b: number, allow: boolean): string | null {
  let s = a;
  while (s <= b) {
    let e = charIn(t, ',', s, b);
    if (e < 0) e = b;
    const m = t.slice(s, e).trim().toLowerCase();
    s = e + 1;
    if (m === '') continue;
    const eqi = m.indexOf('=');
    const key = eqi >= 0 ? m.slice(0, eqi) : m;
    switch (key) {
      case 'important':
      case 'all':
      case 'doc':
      case 'document':
      case 'third-party':
      case '3p':
      case 'first-party':
      case '1p':
        continue;
      case 'dnsrewrite': {
        const v = eqi >= 0 ? m.slice(eqi + 1) : '';
        if (!allow && (v === 'nxdomain' || v === 'refused' || v === 'servfail' || v === '0.0.0.0' || v === '::')) continue;
        return `$dnsrewrite=${v} is a rewrite, not a block (not supported)`;
      }
      case 'domain':
      case 'denyallow':
        return `$${key}= restricts the rule to some sites (cannot be expressed in DNS)`;
      case 'dnstype':
        return '$dnstype= restricts the rule to some query types (not supported)';
      case 'client':
      case 'ctag':
        return `$${key}= restricts the rule to some clients (use the policy's groups instead)`;
      case 'badfilter':
        return '$badfilter (disables another rule) is not supported';
      default:
        return `modifier $${key} restricts the rule to something DNS cannot see (cannot be expressed in DNS)`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------

/**
 * Parses a list. `format` 'auto' runs detectFormat first. Every entry is reported through
 * `onEntry(name, allow, line)` with `name` normalized (see normalizeName) and meaning the name and
 * all its subdomains; `line` is 1-based. A leading byte-order mark and CRLF line ends are fine.
 */
export function parseList(text: string, format: ListFormat | 'auto', onEntry: EntryCallback): ParseReport {
  const fmt: ListFormat = format === 'auto' ? detectFormat(text) : format;
  const p = new Parser(text, fmt, onEntry);
  const n = text.length;
  let pos = n > 0 && text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 0;
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    line++;
    let a = pos;
    let b = eol;
    while (a < b && isWs(text.charCodeAt(a))) a++;
    while (b > a && isWs(text.charCodeAt(b - 1))) b--;
    if (a === b) {
      if (!p.inParens) p.ignore(IGNORE_REASONS.blank);
      else p.ignore(IGNORE_REASONS.zone);
    } else {
      switch (fmt) {
        case 'plain':
        case 'wildcard':
          p.plain(a, b, line);
          break;
        case 'hosts':
          p.hosts(a, b, line);
          break;
        case 'adblock':
          p.adblock(a, b, line);
          break;
        case 'rpz':
          p.rpz(pos, a, b, line);
          break;
        case 'dnsmasq':
          p.dnsmasq(a, b, line);
          break;
      }
    }
    pos = eol + 1;
  }
  p.report.lines = line;
  return p.report;
}

// ---------------------------------------------------------------------------------------------

/**
 * Guesses a list's format from its first DETECT_LINES meaningful lines: each line votes for the
 * format its syntax belongs to and the majority wins ("[Adblock Plus]"-style headers decide at
 * once). A list with no meaningful line at all is 'plain'.
 */
export function detectFormat(text: string): ListFormat {
  const votes: Record<ListFormat, number> = { plain: 0, hosts: 0, adblock: 0, wildcard: 0, rpz: 0, dnsmasq: 0 };
  let seen = 0;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let bangComments = 0;
  let semiComments = 0;
  while (pos < n && seen < DETECT_LINES) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    let a = pos;
    let b = eol;
    pos = eol + 1;
    while (a < b && isWs(text.charCodeAt(a))) a++;
    while (b > a && isWs(text.charCodeAt(b - 1))) b--;
    if (a === b) continue;
    const c0 = text.charCodeAt(a);
    if (c0 === LBRACKET && text.charCodeAt(b - 1) === RBRACKET) {
      const h = text.slice(a, b).toLowerCase();
      if (h.includes('adblock') || h.includes('adguard') || h.includes('ublock')) return 'adblock';
      continue;
    }
    if (c0 === BANG) {
      bangComments++;
      continue;
    }
    if (c0 === SEMI) {
      semiComments++;
      continue;
    }
    if (c0 === HASH) {
      const c1 = text.charCodeAt(a + 1);
      if (c1 === HASH || c1 === AT) {
        votes.adblock++;
        seen++;
      }
      continue;
    }
    seen++;
    votes[classifyLine(text, a, b)]++;
  }
  let best: ListFormat = 'plain';
  let bestVotes = 0;
  // ties go to the earlier, more specific syntax
  for (const f of ['rpz', 'dnsmasq', 'adblock', 'hosts', 'wildcard', 'plain'] as const) {
    if (votes[f] > bestVotes) {
      best = f;
      bestVotes = votes[f];
    }
  }
  if (bestVotes === 0) {
    if (semiComments > 0) return 'rpz';
    if (bangComments > 0) return 'adblock';
  }
  return best;
}

function classifyLine(t: string, a: number, b: number): ListFormat {
  const c0 = t.charCodeAt(a);
  if (c0 === DOLLAR) return startsWithAt(t, a, b, '$TTL') || startsWithAt(t, a, b, '$ORIGIN') ? 'rpz' : 'plain';
  if (c0 === PIPE || startsWithAt(t, a, b, '@@')) return 'adblock';
  if (startsWithAt(t, a, b, 'address=/') || startsWithAt(t, a, b, 'server=/') || startsWithAt(t, a, b, 'local=/')) return 'dnsmasq';
  const we = wsAt(t, a, b);
  if (we < b) {
    if (looksLikeAddress(t, a, we)) return 'hosts';
    // owner [ttl] [class] TYPE ...
    let i = skipWs(t, we, b);
    for (let k = 0; k < 3 && i < b; k++) {
      const e = wsAt(t, i, b);
      if (eqWord(t, i, e, 'cname') || eqWord(t, i, e, 'soa') || eqWord(t, i, e, 'ns') || eqWord(t, i, e, 'a') || eqWord(t, i, e, 'aaaa')) return 'rpz';
      i = skipWs(t, e, b);
    }
    if (charIn(t, '^', a, b) >= 0) return 'adblock';
    return 'plain';
  }
  if (charIn(t, '^', a, b) >= 0) return 'adblock';
  if (c0 === STAR && t.charCodeAt(a + 1) === DOT) return 'wildcard';
  return 'plain';
}
