import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectFormat, HOSTS_PREAMBLE_NAMES, IGNORE_REASONS, ListFormat, parseList, ParseReport } from '../../src/lists/parse';
import { isNameError, normalizeName } from '../../src/lists/normalize';
import { readSource, SourceError, SourceErrorCode } from '../../src/lists/source';

type Entry = [name: string, allow: boolean, line: number];

function parse(text: string, format: ListFormat | 'auto'): { entries: Entry[]; report: ParseReport } {
  const entries: Entry[] = [];
  const report = parseList(text, format, (name, allow, line) => entries.push([name, allow, line]));
  return { entries, report };
}

/** Names only, in order. */
function names(text: string, format: ListFormat | 'auto'): string[] {
  return parse(text, format).entries.map((e) => e[0]);
}

function errorOf(raw: string): string {
  const r = normalizeName(raw);
  if (!isNameError(r)) throw new Error(`expected "${raw}" to be rejected, got "${r}"`);
  return r.error;
}

// ---------------------------------------------------------------------------------------------

describe('normalizeName', () => {
  it.each([
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['WWW.Example.Com.', 'www.example.com'],
    ['zip', 'zip'], // a whole TLD
    ['zip.', 'zip'],
    ['a_b.example.com', 'a_b.example.com'], // underscores occur in real lists
    ['_dns.resolver.arpa', '_dns.resolver.arpa'],
    ['-lead.example', '-lead.example'], // leading/trailing hyphens occur in real lists
    ['trail-.example', 'trail-.example'],
    ['0-0-0checkmate.com', '0-0-0checkmate.com'],
    ['123.example', '123.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    // IDN -> punycode (cross-checked against an independent punycode implementation)
    ['bücher.example', 'xn--bcher-kva.example'],
    ['BÜCHER.Example.', 'xn--bcher-kva.example'],
    ['trường.vn', 'xn--trng-rib8295b.vn'],
    ['bộgiáodục.vn', 'xn--bgiodc-rta7842dida.vn'],
    ['tiếngviệt.vn', 'xn--tingvit-5t4cyc.vn'],
    ['việtnam.vn', 'xn--vitnam-jk8b.vn'],
    ['пример.рф', 'xn--e1afmkfd.xn--p1ai'],
    ['日本語.jp', 'xn--wgv71a119e.jp'],
    ['a_b.bücher.example', 'a_b.xn--bcher-kva.example'],
  ])('%s -> %s', (raw, want) => {
    expect(normalizeName(raw)).toBe(want);
  });

  it('gives the same punycode for decomposed (NFD) Vietnamese as for composed (NFC)', () => {
    const nfd = 'trường.vn'.normalize('NFD');
    expect(nfd).not.toBe('trường.vn');
    expect(normalizeName(nfd)).toBe('xn--trng-rib8295b.vn');
  });

  it('returns the very same string when nothing changes (no allocation on the hot path)', () => {
    const s = ['ads', 'example', 'com'].join('.');
    expect(normalizeName(s)).toBe(s);
  });

  it.each([
    ['', /empty name/],
    ['.', /root/],
    ['example..com', /empty label/],
    ['.example.com', /empty label/],
    ['example.com..', /empty label/],
    ['1.2.3.4', /IPv4 address/],
    ['0.0.0.0', /IPv4 address/],
    ['255.255.255.255.', /IPv4 address/],
    ['1.2.3', /all-numeric/],
    ['123', /all-numeric/],
    ['::1', /IPv6 address/],
    ['::', /IPv6 address/],
    ['fe80::1%lo0', /IPv6 address/],
    ['[2001:db8::1]', /IPv6 address/],
    ['2001:db8::1', /IPv6 address/],
    ['exa mple.com', /whitespace/],
    ['example.com\t', /whitespace/],
    ['ex!ample.com', /invalid character "!"/],
    ['example.com/path', /invalid character "\/"/],
    ['*.example.com', /invalid character "\*"/],
    ['ex\u0000ample.com', /invalid character "\\x00"/],
    ['host:80', /invalid character ":"/],
    ['ü/x.example', /invalid character "\/"/], // must not reach the URL parser, which would cut at "/"
    ['bü cher.example', /whitespace/],
  ])('rejects %j', (raw, why) => {
    expect(errorOf(raw)).toMatch(why);
  });

  it('enforces 63-octet labels and 253-octet names, counting punycode octets', () => {
    const l63 = 'a'.repeat(63);
    expect(normalizeName(`${l63}.com`)).toBe(`${l63}.com`);
    expect(errorOf(`${'a'.repeat(64)}.com`)).toMatch(/label longer than 63/);
    expect(errorOf(`com.${'a'.repeat(64)}`)).toMatch(/label longer than 63/);
    // 4 x 63 + 3 dots = 255; trim to exactly 253
    const n253 = [l63, l63, l63, 'a'.repeat(61)].join('.');
    expect(n253.length).toBe(253);
    expect(normalizeName(n253)).toBe(n253);
    expect(normalizeName(`${n253}.`)).toBe(n253);
    expect(errorOf(`a.${n253}`)).toMatch(/name longer than 253/);
    // 61 characters, but its punycode label ("xn--" + 60 letters + "-" + code) is longer than 63 octets
    expect(errorOf(`${'a'.repeat(60)}ü.example`)).toMatch(/label longer than 63/);
  });
});

// ---------------------------------------------------------------------------------------------

interface Case {
  name: string;
  format: ListFormat;
  text: string;
  entries: Array<[string, boolean?, number?]>;
  invalid?: Array<[line: number, reason: RegExp]>;
  ignored?: number;
  ignoredReasons?: Partial<Record<keyof typeof IGNORE_REASONS, number>>;
}

const CASES: Case[] = [
  // ---- plain ----
  {
    name: 'plain: names, whole-line and inline # and ! comments, blank lines, CRLF',
    format: 'plain',
    text: '# header\r\n! also a comment\r\nexample.com\r\n\r\nfoo.example  # inline\r\nbar.example\t! inline too\r\n   spaced.example   \r\nUPPER.Example.\r\n',
    entries: [['example.com', false, 3], ['foo.example', false, 5], ['bar.example', false, 6], ['spaced.example', false, 7], ['upper.example', false, 8]],
    ignored: 3,
    ignoredReasons: { comment: 2, blank: 1 },
  },
  {
    name: 'plain: "*.name" and squidGuard ".name" mean the name and its subdomains',
    format: 'plain',
    text: '*.wild.example\n.squid.example\n',
    entries: [['wild.example'], ['squid.example']],
  },
  {
    name: 'plain: invalid lines with reasons and line numbers',
    format: 'plain',
    text: 'ok.example\n1.2.3.4\na.example b.example\n0.0.0.0 hosts.example\nexample.com#frag\nbad..example\n*.*.example\n::1\nfine.example\n',
    entries: [['ok.example', false, 1], ['fine.example', false, 9]],
    invalid: [
      [2, /IPv4 address/],
      [3, /more than one word/],
      [4, /hosts-style/],
      [5, /invalid character "#"/],
      [6, /empty label/],
      [7, /wildcard "\*" inside a name/],
      [8, /IPv6 address/],
    ],
  },
  {
    name: 'plain: byte-order mark and a last line without a newline',
    format: 'plain',
    text: '\ufeffbom.example\nlast.example',
    entries: [['bom.example', false, 1], ['last.example', false, 2]],
  },

  // ---- hosts ----
  {
    name: 'hosts: the localhost preamble is ignored, not blocked and not invalid',
    format: 'hosts',
    text: [
      '127.0.0.1 localhost',
      '127.0.0.1 localhost.localdomain',
      '127.0.0.1 local',
      '255.255.255.255 broadcasthost',
      '::1 localhost',
      '::1 ip6-localhost',
      '::1 ip6-loopback',
      'fe80::1%lo0 localhost',
      'ff00::0 ip6-localnet',
      'ff00::0 ip6-mcastprefix',
      'ff02::1 ip6-allnodes',
      'ff02::2 ip6-allrouters',
      'ff02::3 ip6-allhosts',
      '0.0.0.0 0.0.0.0',
      '127.0.0.1 LOCALHOST',
      '',
      '# Custom host records are listed here.',
      '0.0.0.0 ads.example',
    ].join('\n'),
    entries: [['ads.example', false, 18]],
    ignored: 17,
    ignoredReasons: { preamble: 15, blank: 1, comment: 1 },
  },
  {
    name: 'hosts: any address, inline comments, several names per line',
    format: 'hosts',
    text: [
      '0.0.0.0 a.example',
      '127.0.0.1 b.example',
      ':: c.example',
      '::1 d.example',
      'fe80::1%lo0 e.example',
      '255.255.255.255 f.example',
      '0.0.0.0 g.example  # ads with redirects',
      '0.0.0.0\th.example\ti.example j.example',
      '  # indented comment',
      '127.0.0.1 localhost mine.example',
      '0.0.0.0 k.example#not-a-comment',
    ].join('\n'),
    entries: [
      ['a.example', false, 1], ['b.example', false, 2], ['c.example', false, 3], ['d.example', false, 4],
      ['e.example', false, 5], ['f.example', false, 6], ['g.example', false, 7],
      ['h.example', false, 8], ['i.example', false, 8], ['j.example', false, 8],
      ['mine.example', false, 10],
    ],
    invalid: [[11, /invalid character "#"/]],
    ignored: 1,
  },
  {
    name: 'hosts: invalid lines; a bad name on a multi-name line does not lose the others',
    format: 'hosts',
    text: 'just-a-name.example\n0.0.0.0\n0.0.0.0   # only a comment\n0.0.0.0 1.2.3.4\n0.0.0.0 good.example bad!.example other.example\nnot-an-ip a.example\n',
    entries: [['good.example', false, 5], ['other.example', false, 5]],
    invalid: [
      [1, /does not start with an IP address/],
      [2, /no host name/],
      [3, /no host name/],
      [4, /IPv4 address/],
      [5, /^"bad!\.example": invalid character "!"/],
      [6, /does not start with an IP address/],
    ],
  },

  // ---- adblock ----
  {
    name: 'adblock: block and allow rules, accepted modifiers, TLD and "*." rules',
    format: 'adblock',
    text: [
      '[Adblock Plus 2.0]',
      '! Title: test',
      '||ads.example^',
      '@@||good.example^',
      '||imp.example^$important',
      '@@||imp2.example^$important',
      '||all.example^$all',
      '||tp.example^$third-party',
      '||doc.example^$doc,important',
      '||nx.example^$dnsrewrite=NXDOMAIN',
      '||zip^',
      '||*.mov^',
      '||*.sub.example^',
      '||pipe.example^|',
      '# a hosts-style comment',
      '||Mixed.Case.Example^',
      '@@||nohat.example', // no "^": taken as the name (a subset of what the rule matches)
    ].join('\n'),
    entries: [
      ['ads.example', false, 3], ['good.example', true, 4], ['imp.example', false, 5], ['imp2.example', true, 6],
      ['all.example', false, 7], ['tp.example', false, 8], ['doc.example', false, 9], ['nx.example', false, 10],
      ['zip', false, 11], ['mov', false, 12], ['sub.example', false, 13], ['pipe.example', false, 14],
      ['mixed.case.example', false, 16], ['nohat.example', true, 17],
    ],
    ignored: 3,
    ignoredReasons: { header: 1, comment: 2 },
  },
  {
    name: 'adblock: cosmetic rules are ignored; rules DNS cannot express are invalid',
    format: 'adblock',
    text: [
      'example.com##.banner', // 1 cosmetic
      '##.ad', // 2 cosmetic
      'example.com#@#.ad', // 3 cosmetic
      'example.com#?#div:has(> .ad)', // 4 cosmetic
      'example.com$$script[tag-content="ad"]', // 5 HTML filtering
      '||example.com/ads^', // 6 path
      '/ads[0-9]+\\.example/', // 7 regex
      '||x.example^$domain=y.example', // 8
      '||x.example^$denyallow=y.example', // 9
      '|https://x.example/', // 10
      'ads', // 11 substring
      '||1.1.1.1^', // 12 IP rule
      '@@||*-go.example.net^', // 13 wildcard inside a label
      '||x.example^$script', // 14 content type
      '||nohat', // 15 no ^ after a single label
      '||rw.example^$dnsrewrite=1.2.3.4', // 16 rewrite
      '||x.example^$dnstype=AAAA', // 17
      '||x.example^$client=192.168.1.0/24', // 18
      '||x.example^$badfilter', // 19
      '|*app1e*^', // 20
      '@@||w.*.example^', // 21
      '||ok.example^', // 22
    ].join('\n'),
    entries: [['ok.example', false, 22]],
    ignoredReasons: { cosmetic: 5 },
    invalid: [
      [6, /URL path/],
      [7, /regular expression/],
      [8, /\$domain=/],
      [9, /\$denyallow=/],
      [10, /address-anchored/],
      [11, /substring rule/],
      [12, /IPv4 address/],
      [13, /wildcard "\*" inside a name/],
      [14, /modifier \$script/],
      [15, /no "\^" after a single label/],
      // (only the first 10 are kept as samples)
      [16, /dnsrewrite=1\.2\.3\.4 is a rewrite/],
      [17, /\$dnstype=/],
      [18, /\$client=/],
      [19, /\$badfilter/],
      [20, /address-anchored/],
      [21, /wildcard/],
    ],
  },

  // ---- wildcard ----
  {
    name: 'wildcard: "*.name" and plain names, comments',
    format: 'wildcard',
    text: '# Syntax: Domains Wildcard\n*.a.example\nb.example\n*.c.example # note\n*.*.bad.example\n*\n',
    entries: [['a.example', false, 2], ['b.example', false, 3], ['c.example', false, 4]],
    invalid: [[5, /wildcard "\*" inside a name/], [6, /wildcard "\*" inside a name/]],
    ignored: 1,
  },

  // ---- rpz ----
  {
    name: 'rpz: HaGeZi-style zone; every action; TTL/class fields; inline comments',
    format: 'rpz',
    text: [
      '$TTL 3600',
      '@ SOA localhost. root.localhost. 1786780320 43200 3600 259200 3600',
      '  NS  localhost.',
      ';',
      '; Title: test',
      'blocked.example CNAME .',
      '*.blocked.example CNAME .',
      'nodata.example CNAME *.',
      'pass.example CNAME rpz-passthru.',
      'drop.example CNAME rpz-drop.',
      'local.example A 0.0.0.0',
      'local6.example 300 IN AAAA ::',
      'ttl.example 60 CNAME . ; inline comment',
      'UPPER.Example IN 1h CNAME .',
      '*.tld CNAME .',
      'redirect.example CNAME walled.example.', // 16
      'bad..example CNAME .', // 17
      'txt.example TXT "x"', // 18
      'tcp.example CNAME rpz-tcp-only.', // 19
      '* CNAME .', // 20
      '32.1.2.0.192.rpz-ip CNAME .', // 21
      'ns.example.rpz-nsdname CNAME .', // 22
    ].join('\n'),
    entries: [
      ['blocked.example', false, 6], ['blocked.example', false, 7], ['nodata.example', false, 8], ['pass.example', true, 9],
      ['drop.example', false, 10], ['local.example', false, 11], ['local6.example', false, 12], ['ttl.example', false, 13],
      ['upper.example', false, 14], ['tld', false, 15],
    ],
    invalid: [
      [16, /CNAME to another name is a rewrite/],
      [17, /empty label/],
      [18, /unsupported RPZ record type TXT/],
      [19, /rpz-tcp-only/],
      [20, /every name/],
      [21, /not a QNAME trigger/],
      [22, /not a QNAME trigger/],
    ],
    ignored: 5,
    ignoredReasons: { zone: 3, comment: 2 },
  },
  {
    name: 'rpz: $ORIGIN, absolute owners, multi-line SOA in parentheses',
    format: 'rpz',
    text: [
      '$ORIGIN rpz.school.',
      '@ IN SOA ns.rpz.school. admin.rpz.school. (',
      '    2024010101 ; serial',
      '    3600 600 86400 60 )',
      '@ IN NS ns.rpz.school.',
      'rel.example CNAME .',
      'abs.example.rpz.school. CNAME .',
      'rpz.school. NS ns.rpz.school.',
      '$ORIGIN sub.example.rpz.school.',
      'www CNAME .',
      '*.deep CNAME .',
      'other.example. CNAME .',
    ].join('\n'),
    entries: [['rel.example', false, 6], ['abs.example', false, 7], ['www.sub.example', false, 10], ['deep.sub.example', false, 11], ['other.example', false, 12]],
    ignored: 7,
  },

  // ---- dnsmasq ----
  {
    name: 'dnsmasq: address=, server=, local= blocks; multi-name; forwarding rules are ignored',
    format: 'dnsmasq',
    text: [
      '# comment',
      'address=/a.example/0.0.0.0',
      'address=/b.example/',
      'address=/c.example/::',
      'address=/d.example/127.0.0.1',
      'server=/e.example/',
      'local=/f.example/',
      'address=/g1.example/g2.example/0.0.0.0',
      'server=/fwd.example/1.2.3.4', // 9 forward: not a block
      'server=/std.example/#', // 10 standard servers: not a block
      'server=8.8.8.8', // 11 global upstream
      'address=/*.w.example/',
      'server=/fwd2.example/192.168.1.1#5353', // 13
      'local=/fwd3.example/10.0.0.1', // 14
    ].join('\n'),
    entries: [
      ['a.example', false, 2], ['b.example', false, 3], ['c.example', false, 4], ['d.example', false, 5], ['e.example', false, 6],
      ['f.example', false, 7], ['g1.example', false, 8], ['g2.example', false, 8], ['w.example', false, 12],
    ],
    ignored: 6,
    ignoredReasons: { comment: 1, forward: 4, standard: 1 },
  },
  {
    name: 'dnsmasq: invalid lines',
    format: 'dnsmasq',
    text: [
      'address=/#/0.0.0.0',
      'conf-file=/etc/x.conf',
      'address=/1.2.3.4/0.0.0.0',
      'address=example.com',
      'address=/ok.example/bad!.example/0.0.0.0',
      'no-equals-sign',
      'address=//0.0.0.0',
      'address=/unclosed.example',
    ].join('\n'),
    entries: [['ok.example', false, 5]],
    invalid: [
      [1, /"#" matches every name/],
      [2, /unsupported dnsmasq directive "conf-file"/],
      [3, /IPv4 address/],
      [4, /expected "\/name\/"/],
      [5, /^"bad!\.example": invalid character/],
      [6, /no "="/],
      [7, /empty name/],
      [8, /missing closing/],
    ],
  },
];

describe('parseList', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { entries, report } = parse(c.text, c.format);
    expect(report.format).toBe(c.format);
    const got = entries.map(([n, allow, line], i) => {
      const want = c.entries[i];
      return [n, want?.[1] === undefined ? undefined : allow, want?.[2] === undefined ? undefined : line];
    });
    expect(got).toEqual(c.entries.map(([n, allow, line]) => [n, allow, line]));
    expect(report.entries).toBe(entries.length);
    expect(report.allows).toBe(entries.filter((e) => e[1]).length);
    const invalid = c.invalid ?? [];
    expect(report.invalid).toBe(invalid.length);
    expect(report.invalidSamples.map((s) => s.line)).toEqual(invalid.slice(0, 10).map(([line]) => line));
    report.invalidSamples.forEach((s, i) => expect(s.reason).toMatch(invalid[i][1]));
    if (c.ignored !== undefined) expect(report.ignored).toBe(c.ignored);
    for (const [k, n] of Object.entries(c.ignoredReasons ?? {})) {
      expect(report.ignoredReasons?.[IGNORE_REASONS[k as keyof typeof IGNORE_REASONS]]).toBe(n);
    }
  });

  it('counts lines like wc -l plus an unterminated last line', () => {
    expect(parseList('', 'plain', () => {}).lines).toBe(0);
    expect(parseList('a.example', 'plain', () => {}).lines).toBe(1);
    expect(parseList('a.example\n', 'plain', () => {}).lines).toBe(1);
    expect(parseList('a.example\n\n', 'plain', () => {}).lines).toBe(2);
    expect(parseList('\n', 'plain', () => {}).lines).toBe(1);
  });

  it('keeps only the first 10 invalid lines as samples, trimmed and cut to 120 characters', () => {
    const lines: string[] = [];
    for (let i = 0; i < 25; i++) lines.push(`   bad!${i}.example   `);
    lines[3] = `  ${'x'.repeat(300)}!  `;
    lines.push('ok.example');
    const { entries, report } = parse(lines.join('\n'), 'plain');
    expect(entries.map((e) => e[0])).toEqual(['ok.example']);
    expect(report.invalid).toBe(25);
    expect(report.invalidSamples).toHaveLength(10);
    expect(report.invalidSamples.map((s) => s.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(report.invalidSamples[0].text).toBe('bad!0.example');
    expect(report.invalidSamples[3].text).toBe('x'.repeat(120));
    expect(report.invalidSamples[0].reason).toBe('invalid character "!" in name');
  });

  it('one bad line never rejects a list, whatever is in it', () => {
    const junk = ['\u0000\u0001', '||', '@@', '$', '[', '*', '.', '..', '/', '=', 'address=', 'server=/', '0.0.0.0 #', '\u00ff\u00fe!', '\ud800'];
    for (const f of ['plain', 'hosts', 'adblock', 'wildcard', 'rpz', 'dnsmasq'] as const) {
      const ok = { plain: 'ok.example', hosts: '0.0.0.0 ok.example', adblock: '||ok.example^', wildcard: '*.ok.example', rpz: 'ok.example CNAME .', dnsmasq: 'local=/ok.example/' }[f];
      const text = [...junk, ok, ...junk, ok].join('\n');
      const { entries, report } = parse(text, f);
      expect(entries.map((e) => e[0])).toEqual(['ok.example', 'ok.example']);
      expect(report.lines).toBe(2 * junk.length + 2);
    }
  });

  it('reports the detected format for "auto"', () => {
    const { entries, report } = parse('[Adblock Plus]\n||a.example^\n@@||b.example^\n', 'auto');
    expect(report.format).toBe('adblock');
    expect(entries).toEqual([['a.example', false, 2], ['b.example', true, 3]]);
  });

  it('the same names come out of every format (one meaning everywhere)', () => {
    const want = ['a.example', 'b.example', 'zip'];
    const forms: Record<ListFormat, string> = {
      plain: 'a.example\nb.example\nzip\n',
      wildcard: '*.a.example\n*.b.example\n*.zip\n',
      hosts: '0.0.0.0 a.example\n0.0.0.0 b.example zip\n',
      adblock: '||a.example^\n||*.b.example^\n||zip^\n',
      rpz: 'a.example CNAME .\n*.a.example CNAME .\nb.example CNAME .\n*.zip CNAME .\n',
      dnsmasq: 'address=/a.example/0.0.0.0\nserver=/b.example/\nlocal=/zip/\n',
    };
    for (const [f, text] of Object.entries(forms)) {
      expect([...new Set(names(text, f as ListFormat))].sort()).toEqual(want);
    }
  });

  it('HOSTS_PREAMBLE_NAMES holds the standard preamble', () => {
    for (const n of ['localhost', 'localhost.localdomain', 'local', 'broadcasthost', 'ip6-localhost', 'ip6-loopback', 'ip6-localnet', 'ip6-mcastprefix', 'ip6-allnodes', 'ip6-allrouters', 'ip6-allhosts', '0.0.0.0']) {
      expect(HOSTS_PREAMBLE_NAMES.has(n)).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('detectFormat', () => {
  it.each<[ListFormat, string]>([
    ['plain', '# Title: x\n#\nexample.com\nads.example.net\n'],
    ['plain', 'example.com\n'],
    ['plain', ''],
    ['plain', '# only comments\n\n'],
    ['hosts', '# hosts\n127.0.0.1 localhost\n::1 localhost\n0.0.0.0 ads.example\n0.0.0.0 t.example # c\n'],
    ['hosts', '0.0.0.0 a.example b.example c.example\n'],
    ['adblock', '[Adblock Plus 2.0]\nexample.com\n'],
    ['adblock', '! Title: x\n||ads.example^\n||t.example^$important\n'],
    ['adblock', '@@||good.example^\n'],
    ['adblock', '! only adblock comments\n!\n'],
    ['wildcard', '# Syntax: Domains Wildcard\n*.a.example\n*.b.example\n'],
    ['rpz', '$TTL 3600\n@ SOA localhost. root.localhost. 1 43200 3600 259200 3600\n  NS  localhost.\n;\na.example CNAME .\n*.a.example CNAME .\n'],
    ['rpz', 'a.example CNAME .\n'],
    ['rpz', 'a.example 300 IN A 0.0.0.0\n'],
    ['dnsmasq', '# x\nlocal=/a.example/\nlocal=/b.example/\n'],
    ['dnsmasq', 'server=/a.example/\n'],
    ['dnsmasq', 'address=/a.example/0.0.0.0\n'],
  ])('%s: %j', (want, text) => {
    expect(detectFormat(text)).toBe(want);
  });

  it('goes by the majority of the first lines', () => {
    const text = `0.0.0.0 a.example\n${'b.example\n'.repeat(5)}${'0.0.0.0 c.example\n'.repeat(10)}`;
    expect(detectFormat(text)).toBe('hosts');
  });
});

// ---------------------------------------------------------------------------------------------

/** The SourceError a promise rejects with. */
async function sourceError(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('expected readSource to fail');
}

describe('readSource: files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'school-dns-lists-'));
    mkdirSync(join(dir, 'lists'));
    writeFileSync(join(dir, 'lists', 'a.txt'), 'a.example\nbücher.example\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a path relative to baseDir', async () => {
    const src = await readSource({ path: 'lists/a.txt', format: 'plain' }, { baseDir: dir });
    expect(src.text).toBe('a.example\nbücher.example\n');
    expect(src.origin).toBe(join(dir, 'lists', 'a.txt'));
    expect(src.size).toBe(Buffer.byteLength(src.text));
    expect(typeof src.mtimeMs).toBe('number');
  });

  it('reads an absolute path as is', async () => {
    const src = await readSource({ path: join(dir, 'lists', 'a.txt'), format: 'auto' }, { baseDir: '/nonexistent' });
    expect(src.text.startsWith('a.example')).toBe(true);
  });

  it.each<[string, () => Promise<unknown>, SourceErrorCode, RegExp]>([
    ['a missing file', () => readSource({ path: 'lists/missing.txt', format: 'plain' }, { baseDir: dir }), 'SOURCE_UNREADABLE', /lists\/missing\.txt: .*ENOENT/],
    ['a directory', () => readSource({ path: 'lists', format: 'plain' }, { baseDir: dir }), 'SOURCE_UNREADABLE', /lists: not a regular file/],
    ['a file over maxBytes', () => readSource({ path: 'lists/a.txt', format: 'plain' }, { baseDir: dir, maxBytes: 10 }), 'SOURCE_TOO_LARGE', /a\.txt: 26 bytes is over the 10-byte limit/],
    ['neither path nor url', () => readSource({ format: 'plain' }, { baseDir: dir }), 'SOURCE_UNREADABLE', /needs a path or a url/],
    ['both path and url', () => readSource({ path: 'x', url: 'http://127.0.0.1/', format: 'plain' }, { baseDir: dir }), 'SOURCE_UNREADABLE', /either a path or a url/],
    ['a non-http URL', () => readSource({ url: 'ftp://127.0.0.1/x.txt', format: 'plain' }, { baseDir: dir }), 'SOURCE_UNREADABLE', /^ftp:\/\/127\.0\.0\.1\/x\.txt: unsupported URL scheme/],
    ['a malformed URL', () => readSource({ url: 'http//nope', format: 'plain' }, { baseDir: dir }), 'SOURCE_UNREADABLE', /not a valid URL/],
  ])('rejects %s', async (_what, run, code, msg) => {
    const e = await sourceError(run());
    expect(e.code).toBe(code);
    expect(e.message).toMatch(msg);
  });
});

describe('readSource: URLs (local HTTP server)', () => {
  let server: Server;
  let base: string;
  let bigFinished = false;
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/ok.txt': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT' });
      res.end('||a.example^\n||bücher.example^\n');
    },
    '/missing.txt': (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not here');
    },
    '/redirect': (_req, res) => {
      res.writeHead(302, { location: '/ok.txt' });
      res.end();
    },
    '/declared-big.txt': (_req, res) => {
      res.writeHead(200, { 'content-length': String(10_000) });
      res.end('x'.repeat(10_000));
    },
    // no Content-Length: the size is only known while streaming; keep sending until the client goes away
    '/streamed-big.txt': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const tick = setInterval(() => {
        if (res.destroyed || res.writableEnded) return clearInterval(tick);
        res.write('y.example\n'.repeat(100));
        sent += 1000;
        if (sent >= 1_000_000) {
          bigFinished = true;
          clearInterval(tick);
          res.end();
        }
      }, 2);
      res.on('close', () => clearInterval(tick));
    },
    '/slow-headers.txt': () => {
      // never answers
    },
    '/slow-body.txt': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a.example\n'); // then stalls
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => (routes[req.url ?? ''] ?? routes['/missing.txt'])(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads a 200 answer, with Last-Modified as mtimeMs', async () => {
    const src = await readSource({ url: `${base}/ok.txt`, format: 'adblock' }, { baseDir: '/' });
    expect(src.text).toBe('||a.example^\n||bücher.example^\n');
    expect(src.origin).toBe(`${base}/ok.txt`);
    expect(src.size).toBe(Buffer.byteLength(src.text));
    expect(src.mtimeMs).toBe(Date.UTC(2025, 0, 1));
    expect(names(src.text, 'auto')).toEqual(['a.example', 'xn--bcher-kva.example']);
  });

  it('follows redirects', async () => {
    const src = await readSource({ url: `${base}/redirect`, format: 'adblock' }, { baseDir: '/' });
    expect(src.text).toContain('||a.example^');
  });

  it('fails on a non-2xx status with the status and the origin', async () => {
    const e = await sourceError(readSource({ url: `${base}/missing.txt`, format: 'plain' }, { baseDir: '/' }));
    expect(e.code).toBe('SOURCE_HTTP_STATUS');
    expect(e.status).toBe(404);
    expect(e.origin).toBe(`${base}/missing.txt`);
    expect(e.message).toBe(`${base}/missing.txt: HTTP status 404 Not Found`);
  });

  it('refuses a body whose Content-Length is over maxBytes', async () => {
    const e = await sourceError(readSource({ url: `${base}/declared-big.txt`, format: 'plain' }, { baseDir: '/', maxBytes: 1000 }));
    expect(e.code).toBe('SOURCE_TOO_LARGE');
    expect(e.message).toMatch(/declared-big\.txt: Content-Length 10000 is over the 1000-byte limit/);
  });

  it('aborts a streamed body as soon as it passes maxBytes', async () => {
    const e = await sourceError(readSource({ url: `${base}/streamed-big.txt`, format: 'plain' }, { baseDir: '/', maxBytes: 5000 }));
    expect(e.code).toBe('SOURCE_TOO_LARGE');
    expect(e.message).toMatch(/streamed-big\.txt: more than 5000 bytes/);
    expect(bigFinished).toBe(false); // the server did not get to send the whole megabyte
  });

  it.each([['/slow-headers.txt'], ['/slow-body.txt']])('times out on %s', async (path) => {
    const t0 = Date.now();
    const e = await sourceError(readSource({ url: `${base}${path}`, format: 'plain' }, { baseDir: '/', timeoutMs: 200 }));
    expect(e.code).toBe('SOURCE_TIMEOUT');
    expect(e.message).toBe(`${base}${path}: no complete answer within 200 ms`);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('reports a refused connection as unreadable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const e = await sourceError(readSource({ url: `http://127.0.0.1:${port}/x.txt`, format: 'plain' }, { baseDir: '/' }));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/x\\.txt: fetch failed: .*ECONNREFUSED`));
  });
});

// ---------------------------------------------------------------------------------------------

describe('the curated seed lists in lists/', () => {
  const LISTS = join(__dirname, '..', '..', 'lists');
  const CATEGORIES = ['adult', 'gambling', 'violence', 'drugs', 'dating', 'chat', 'social', 'games', 'bypass', 'malware', 'education-allow'];
  const read = (name: string): string => readFileSync(join(LISTS, `${name}.txt`), 'utf8');

  it.each(CATEGORIES)('%s.txt: plain, no invalid line, no duplicate, MIT seed header', (cat) => {
    const text = read(cat);
    expect(detectFormat(text)).toBe('plain');
    const { entries, report } = parse(text, 'plain');
    expect(report.invalid).toBe(0);
    expect(report.allows).toBe(0);
    expect(entries.length).toBeGreaterThanOrEqual(5);
    const list = entries.map((e) => e[0]);
    expect(new Set(list).size).toBe(list.length);
    const header = text.split('\n').filter((l) => l.startsWith('#')).slice(0, 12).join('\n');
    expect(header).toMatch(/License: MIT/);
    expect(header).toMatch(/SEED, not a complete list/);
    expect(header).toMatch(/lists\/SOURCES\.md/);
  });

  it('has what the categories are known for', () => {
    const has = (cat: string, name: string) => expect(names(read(cat), 'plain')).toContain(name);
    has('chat', 'zalo.me');
    has('social', 'facebook.com');
    has('social', 'tiktok.com');
    has('social', 'instagram.com');
    has('games', 'roblox.com');
    has('bypass', 'dns.google');
    has('bypass', 'cloudflare-dns.com');
    has('bypass', 'dns.quad9.net');
    // The encrypted-DNS signals are answered by the special link for every group, never sinkholed.
    for (const signal of ['use-application-dns.net', 'mask.icloud.com', 'mask-h2.icloud.com']) expect(names(read('bypass'), 'plain')).not.toContain(signal);
    has('education-allow', 'moet.gov.vn');
  });

  it('malware.txt holds only reserved names and public filter-test sites', () => {
    const testSites = new Set(['internetbadguys.com', 'examplemalwaredomain.com', 'examplebotnetdomain.com', 'testsafebrowsing.appspot.com', 'wicar.org']);
    for (const n of names(read('malware'), 'plain')) {
      expect(n.endsWith('.test') || n.endsWith('.example') || testSites.has(n)).toBe(true);
    }
  });

  it('no name is in two block categories (one name, one reason)', () => {
    const seen = new Map<string, string>();
    for (const cat of CATEGORIES.filter((c) => c !== 'education-allow')) {
      for (const n of names(read(cat), 'plain')) {
        expect(`${n} in ${seen.get(n) ?? cat}`).toBe(`${n} in ${cat}`);
        seen.set(n, cat);
      }
    }
  });

  it('SOURCES.md names every category and the licenses, and says fetched lists are never committed', () => {
    const md = readFileSync(join(LISTS, 'SOURCES.md'), 'utf8');
    for (const cat of CATEGORIES) expect(md).toContain(`lists/${cat}.txt`);
    for (const lic of ['CC BY-SA 4.0', 'Unlicense', 'GPL-3.0', 'MIT']) expect(md).toContain(lic);
    expect(md).toMatch(/Fetched lists are never committed/);
  });
});
