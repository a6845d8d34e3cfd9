// Turning a name as written in a blocklist into the one form the filter stores: lowercase ASCII
// (IDNs as punycode, RFC 3492 / UTS #46 via WHATWG URL), no trailing dot, validated.
//
// This runs once per list entry on every reload (about 1.5 million times for a large policy),
// so the common case - an already-lowercase ASCII name - is one pass over its char codes and
// returns the input string itself without allocating.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export interface NameError {
  error: string;
}

/** Longest name in presentation form without the trailing dot (RFC 1035 §2.3.4: 255 octets on the wire). */
export const MAX_NAME_LENGTH = 253;
/** Longest label (RFC 1035 §2.3.4). */
export const MAX_LABEL_LENGTH = 63;

/** Narrows a normalizeName result. */
export function isNameError(r: string | NameError): r is NameError {
  return typeof r !== 'string';
}

// The errors without a variable part are shared, frozen objects: bad lines must not cost allocations either.
const ERR_EMPTY: NameError = Object.freeze({ error: 'empty name' });
const ERR_ROOT: NameError = Object.freeze({ error: 'the root name "." cannot be an entry' });
const ERR_EMPTY_LABEL: NameError = Object.freeze({ error: 'empty label (two dots in a row, or a leading dot)' });
const ERR_LABEL_LONG: NameError = Object.freeze({ error: `label longer than ${MAX_LABEL_LENGTH} octets` });
const ERR_NAME_LONG: NameError = Object.freeze({ error: `name longer than ${MAX_NAME_LENGTH} octets` });
const ERR_IPV4: NameError = Object.freeze({ error: 'IPv4 address, not a name' });
const ERR_IPV6: NameError = Object.freeze({ error: 'IPv6 address, not a name' });
const ERR_NUMERIC: NameError = Object.freeze({ error: 'all-numeric name (no such top-level domain; looks like a malformed IP address)' });
const ERR_IDN: NameError = Object.freeze({ error: 'invalid internationalized name (IDNA conversion failed)' });

function invalidChar(s: string, i: number): NameError {
  const c = s.charCodeAt(i);
  if (s.includes(':')) {
    // "::1", "fe80::1%lo0", "[2001:db8::1]": say what it is rather than "invalid character".
    let ip = s;
    if (ip.charCodeAt(0) === 91 /* [ */ && ip.charCodeAt(ip.length - 1) === 93 /* ] */) ip = ip.slice(1, -1);
    const pct = ip.indexOf('%');
    if (pct >= 0) ip = ip.slice(0, pct);
    if (isIP(ip) === 6) return ERR_IPV6;
  }
  if (c === 32 || c === 9) return { error: 'whitespace inside a name' };
  const shown = c < 32 || c === 127 ? `\\x${c.toString(16).padStart(2, '0')}` : s[i];
  return { error: `invalid character "${shown}" in name` };
}

/**
 * Normalizes one list entry: lowercase, one trailing dot removed, non-ASCII (IDN) names converted
 * to punycode with `domainToASCII`, then validated:
 * - labels are 1..63 octets of [a-z0-9-_] (underscore and leading/trailing hyphens occur in real
 *   lists and are accepted; empty labels, spaces and any other character are not);
 * - the whole name is at most 253 octets;
 * - IPv4/IPv6 literals and all-numeric names are rejected (no top-level domain is all-numeric);
 * - a single label ("zip") is a valid entry - it blocks a whole TLD - but the empty/root name is not.
 * Returns the normalized name (the same string when it was already normalized) or `{ error }`.
 */
export function normalizeName(raw: string): string | NameError {
  return check(raw, true);
}

function check(raw: string, allowIdn: boolean): string | NameError {
  let s = raw;
  let len = s.length;
  if (len === 0) return ERR_EMPTY;
  if (s.charCodeAt(len - 1) === 46 /* . */) {
    if (len === 1) return ERR_ROOT;
    len--;
    s = s.slice(0, len);
  }

  let upper = false;
  let nonAscii = false;
  let letters = false; // anything other than digits and dots seen
  let labelLen = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 /* a */ && c <= 122 /* z */) {
      letters = true;
    } else if (c >= 48 /* 0 */ && c <= 57 /* 9 */) {
      // digit
    } else if (c === 46 /* . */) {
      if (labelLen === 0) return ERR_EMPTY_LABEL;
      if (labelLen > MAX_LABEL_LENGTH && !nonAscii) return ERR_LABEL_LONG;
      labelLen = 0;
      continue;
    } else if (c === 45 /* - */ || c === 95 /* _ */) {
      letters = true;
    } else if (c >= 65 /* A */ && c <= 90 /* Z */) {
      upper = true;
      letters = true;
    } else if (c >= 128 && allowIdn) {
      nonAscii = true;
      letters = true;
    } else {
      return invalidChar(s, i);
    }
    labelLen++;
  }
  if (labelLen === 0) return ERR_EMPTY_LABEL; // "a..", or a name that was only "." after the strip above

  if (nonAscii) {
    // Only ASCII letters, digits, "-", "_" and "." got here alongside the non-ASCII characters, so
    // the URL host parser cannot cut the input at a "/" or "?" and silently return a prefix.
    const ascii = domainToASCII(s);
    if (ascii === '') return ERR_IDN;
    return check(ascii, false);
  }
  if (labelLen > MAX_LABEL_LENGTH) return ERR_LABEL_LONG;
  if (len > MAX_NAME_LENGTH) return ERR_NAME_LONG;
  if (!letters) return isIP(s) === 4 ? ERR_IPV4 : ERR_NUMERIC;
  return upper ? s.toLowerCase() : s;
}
