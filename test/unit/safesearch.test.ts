// SafeSearch: the name data, the wire-name table, the alias reply and the chain link with a
// fake next (asserting both the reply and what next was asked).
import { policySafeSearch, SAFESEARCH_CNAME_TTL, safeSearchLink, safeSearchOff } from '../../src/chain/safesearch-link';
import type { QueryContext } from '../../src/chain/types';
import { answerFromMessage } from '../../src/dns/answer';
import { scanMessage } from '../../src/dns/message';
import { encodeName } from '../../src/dns/name';
import { Metrics } from '../../src/metrics/metrics';
import { parsePolicy } from '../../src/policy/load';
import {
  compilePolicy, SAFESEARCH_SEARCH, SAFESEARCH_YOUTUBE_MODERATE, SAFESEARCH_YOUTUBE_STRICT,
} from '../../src/policy/policy';
import {
  BING_NAMES, DUCKDUCKGO_NAMES, ENGINE_BING, ENGINE_DUCKDUCKGO, ENGINE_GOOGLE, ENGINE_NAMES, ENGINE_YOUTUBE,
  SAFESEARCH_TARGETS, safeSearchNames, YOUTUBE_NAMES,
} from '../../src/safesearch/engines';
import { GOOGLE_FORMER_DOMAINS, GOOGLE_SUPPORTED_DOMAINS } from '../../src/safesearch/google-domains';
import { WireNameTable } from '../../src/safesearch/name-table';
import { ctxFor, fakeNext } from '../helpers/context';
import { decode, dnsPacket, query, rcodeOf } from '../helpers/packets';

const ALL = SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_STRICT;

describe('the name data', () => {
  it('holds Google\'s published list: ".google." domains, sorted, each once', () => {
    expect(GOOGLE_SUPPORTED_DOMAINS).toHaveLength(190);
    for (const d of GOOGLE_SUPPORTED_DOMAINS) expect(d).toMatch(/^\.google\.((com|co)\.[a-z]{2}|[a-z]{2,3})$/);
    expect([...GOOGLE_SUPPORTED_DOMAINS].sort()).toEqual(GOOGLE_SUPPORTED_DOMAINS);
    expect(new Set(GOOGLE_SUPPORTED_DOMAINS).size).toBe(GOOGLE_SUPPORTED_DOMAINS.length);
    for (const d of ['.google.com', '.google.com.vn', '.google.co.uk', '.google.de', '.google.cat', '.google.co.za']) expect(GOOGLE_SUPPORTED_DOMAINS).toContain(d);
    for (const d of GOOGLE_FORMER_DOMAINS) expect(GOOGLE_SUPPORTED_DOMAINS).not.toContain(d);
  });

  it('maps every Google domain bare and with www, and the other engines\' documented names', () => {
    const names = safeSearchNames();
    const by = new Map(names.map((n) => [n.name, n.engine]));
    expect(by.size).toBe(names.length); // unique
    expect(names).toHaveLength(2 * (190 + 4) + 5 + 2 + 3);
    for (const n of ['google.com', 'www.google.com', 'www.google.com.vn', 'google.com.vn', 'www.google.co.uk', 'www.google.tk']) expect(by.get(n)).toBe(ENGINE_GOOGLE);
    for (const n of YOUTUBE_NAMES) expect(by.get(n)).toBe(ENGINE_YOUTUBE);
    expect([...YOUTUBE_NAMES].sort()).toEqual(['m.youtube.com', 'www.youtube-nocookie.com', 'www.youtube.com', 'youtube.googleapis.com', 'youtubei.googleapis.com']);
    expect([...BING_NAMES].sort()).toEqual(['bing.com', 'www.bing.com']);
    expect([...DUCKDUCKGO_NAMES].sort()).toEqual(['duckduckgo.com', 'start.duckduckgo.com', 'www.duckduckgo.com']);
    for (const n of BING_NAMES) expect(by.get(n)).toBe(ENGINE_BING);
    for (const n of DUCKDUCKGO_NAMES) expect(by.get(n)).toBe(ENGINE_DUCKDUCKGO);
    // A target is never itself mapped: resolving it cannot loop.
    for (const t of Object.values(SAFESEARCH_TARGETS)) expect(by.has(t)).toBe(false);
    expect(ENGINE_NAMES[ENGINE_GOOGLE]).toBe('google');
  });
});

describe('WireNameTable', () => {
  const table = new WireNameTable(safeSearchNames().map((n) => ({ name: n.name, value: n.engine })));
  const look = (name: string): number => {
    const w = encodeName(name);
    // at an offset inside a bigger buffer, as in a packet
    const buf = Buffer.concat([Buffer.alloc(12, 0xee), w, Buffer.from([0, 1, 0, 1])]);
    return table.lookup(buf, 12, 12 + w.length);
  };

  it('finds every mapped name, in any case', () => {
    for (const n of safeSearchNames()) {
      expect(look(n.name)).toBe(n.engine);
      expect(look(n.name.toUpperCase())).toBe(n.engine);
    }
    expect(look('WwW.GoOgLe.CoM.Vn')).toBe(ENGINE_GOOGLE);
  });

  it.each([
    'mail.google.com', 'news.google.com', 'google', 'www.google', 'ww.google.com', 'www.google.comm', 'www.google.com.vn.example',
    'xwww.google.com', 'youtube.com', 'music.youtube.com', 'restrict.youtube.com', 'forcesafesearch.google.com', 'strict.bing.com',
    'safe.duckduckgo.com', 'duckduckgo.org', 'example.com', '', 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.example',
  ])('does not find %s', (name) => {
    expect(look(name || '.')).toBe(-1);
  });

  it('compares whole labels: a length byte never matches a letter', () => {
    const t = new WireNameTable([{ name: 'ab.c', value: 7 }]);
    // "ab.c" is 02 'a' 'b' 01 'c' 00; "a.bc" has the same letters and length
    const w = encodeName('a.bc');
    expect(t.lookup(w, 0, w.length)).toBe(-1);
    const v = encodeName('AB.C');
    expect(t.lookup(v, 0, v.length)).toBe(7);
  });

  it('refuses duplicates and negative values', () => {
    expect(() => new WireNameTable([{ name: 'a.example', value: 0 }, { name: 'A.example.', value: 1 }])).toThrow('twice');
    expect(() => new WireNameTable([{ name: 'a.example', value: -1 }])).toThrow('0 or more');
  });
});

// ------------------------------------------------------------------------------------------
// The link with a fake next

interface Target {
  readonly answers?: dnsPacket.Answer[];
  readonly authorities?: dnsPacket.Answer[];
  readonly rcode?: number;
  readonly ede?: { code: number; text: string };
}

/** A reply for the target question the link built, as the cache or resolver links would give it. */
function replyFor(ctx: QueryContext, t: Target): Buffer {
  const q = decode(ctx.buf).questions[0];
  const additionals: dnsPacket.Answer[] = [];
  if (ctx.query.edns) {
    const options = t.ede ? [{ code: 15, data: Buffer.concat([Buffer.from([t.ede.code >> 8, t.ede.code & 0xff]), Buffer.from(t.ede.text)]) }] : [];
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: ctx.query.dnssecOk ? dnsPacket.DNSSEC_OK : 0, options } as unknown as dnsPacket.Answer);
  }
  return dnsPacket.encode({
    type: 'response', id: ctx.query.id, flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED | (t.rcode ?? 0),
    questions: [q as dnsPacket.Question], answers: t.answers ?? [], authorities: t.authorities ?? [], additionals,
  } as dnsPacket.Packet);
}

const A = (name: string, data: string, ttl = 300): dnsPacket.Answer => ({ name, type: 'A', ttl, class: 'IN', data }) as dnsPacket.Answer;
const AAAA = (name: string, data: string, ttl = 300): dnsPacket.Answer => ({ name, type: 'AAAA', ttl, class: 'IN', data }) as dnsPacket.Answer;

function setup(flags: number, target: Target | ((ctx: QueryContext) => Buffer) = { answers: [] }, opts: { async?: boolean } = {}) {
  const metrics = new Metrics([], { processMetrics: false });
  const link = safeSearchLink(() => flags, metrics);
  const calls: QueryContext[] = [];
  const next = (ctx: QueryContext): Buffer | Promise<Buffer> => {
    calls.push(ctx);
    const out = typeof target === 'function' ? target(ctx) : replyFor(ctx, target);
    return opts.async ? Promise.resolve(out) : out;
  };
  return { link, next, calls, metrics };
}

async function rewrites(m: Metrics, engine: string): Promise<number> {
  const json = await m.registry.getMetricsAsJSON();
  const v = json.find((x) => x.name === 'school_dns_safesearch_rewrites_total')?.values.find((x) => x.labels.engine === engine);
  return v?.value ?? NaN;
}

describe('safesearch link', () => {
  it('answers www.google.com with a CNAME to forcesafesearch.google.com and the target\'s addresses', async () => {
    const { link, next, calls, metrics } = setup(SAFESEARCH_SEARCH, { answers: [A('forcesafesearch.google.com', '216.239.38.120', 240)] });
    const ctx = ctxFor(query('WWW.Google.com', 'A', { id: 0x4242 }));
    const out = link(ctx, next) as Buffer;
    // next was asked for the target, the same way
    expect(calls).toHaveLength(1);
    expect(calls[0]).not.toBe(ctx);
    expect(calls[0].qname).toBe('forcesafesearch.google.com');
    expect(calls[0].query).toMatchObject({ id: 0x4242, qtype: 1, qclass: 1, edns: false });
    expect(calls[0].client).toBe(ctx.client);
    const d = decode(out);
    expect(d.id).toBe(0x4242);
    expect(rcodeOf(out)).toBe(0);
    expect(d.flag_qr && d.flag_rd && d.flag_ra).toBe(true);
    expect(d.flag_aa || d.flag_ad || d.flag_tc).toBe(false);
    expect(d.questions).toEqual([{ name: 'WWW.Google.com', type: 'A', class: 'IN' }]);
    expect(d.answers.map((a) => [a.name, a.type, a.data, a.ttl])).toEqual([
      ['WWW.Google.com', 'CNAME', 'forcesafesearch.google.com', 240],
      ['forcesafesearch.google.com', 'A', '216.239.38.120', 240],
    ]);
    expect(d.additionals).toHaveLength(0);
    expect(await rewrites(metrics, 'google')).toBe(1);
    expect(await rewrites(metrics, 'youtube')).toBe(0);
  });

  it.each([
    ['www.google.com.vn', SAFESEARCH_SEARCH, 'forcesafesearch.google.com', 'google'],
    ['google.co.uk', SAFESEARCH_SEARCH, 'forcesafesearch.google.com', 'google'],
    ['www.youtube.com', SAFESEARCH_YOUTUBE_STRICT, 'restrict.youtube.com', 'youtube'],
    ['m.youtube.com', SAFESEARCH_YOUTUBE_MODERATE, 'restrictmoderate.youtube.com', 'youtube'],
    ['youtubei.googleapis.com', SAFESEARCH_YOUTUBE_STRICT, 'restrict.youtube.com', 'youtube'],
    ['youtube.googleapis.com', SAFESEARCH_YOUTUBE_MODERATE, 'restrictmoderate.youtube.com', 'youtube'],
    ['www.youtube-nocookie.com', SAFESEARCH_YOUTUBE_STRICT, 'restrict.youtube.com', 'youtube'],
    ['www.bing.com', SAFESEARCH_SEARCH, 'strict.bing.com', 'bing'],
    ['bing.com', SAFESEARCH_SEARCH, 'strict.bing.com', 'bing'],
    ['duckduckgo.com', SAFESEARCH_SEARCH, 'safe.duckduckgo.com', 'duckduckgo'],
    ['www.duckduckgo.com', SAFESEARCH_SEARCH, 'safe.duckduckgo.com', 'duckduckgo'],
    ['start.duckduckgo.com', SAFESEARCH_SEARCH, 'safe.duckduckgo.com', 'duckduckgo'],
  ])('maps %s (flags %d) to %s', async (name, flags, target, engine) => {
    const { link, next, calls, metrics } = setup(flags, { answers: [AAAA(target, '2001:db8::78')] });
    const out = link(ctxFor(query(name, 'AAAA')), next) as Buffer;
    expect(calls[0].qname).toBe(target);
    expect(calls[0].query.qtype).toBe(28);
    expect(decode(out).answers.map((a) => [a.name, a.type, a.data])).toEqual([[name, 'CNAME', target], [target, 'AAAA', '2001:db8::78']]);
    expect(await rewrites(metrics, engine)).toBe(1);
  });

  it('chooses restrict.youtube.com over restrictmoderate when both bits are somehow set', () => {
    const { link, next, calls } = setup(SAFESEARCH_YOUTUBE_STRICT | SAFESEARCH_YOUTUBE_MODERATE);
    link(ctxFor(query('www.youtube.com', 'A')), next);
    expect(calls[0].qname).toBe('restrict.youtube.com');
  });

  it.each([
    ['www.google.com', SAFESEARCH_YOUTUBE_STRICT | SAFESEARCH_YOUTUBE_MODERATE],
    ['www.bing.com', SAFESEARCH_YOUTUBE_STRICT],
    ['www.youtube.com', SAFESEARCH_SEARCH],
    ['duckduckgo.com', 0],
    ['www.example.com', ALL],
    ['mail.google.com', ALL],
    ['music.youtube.com', ALL],
  ])('passes %s on unchanged for flags %d', (name, flags) => {
    const { link, calls } = setup(flags);
    const ctx = ctxFor(query(name, 'A'));
    const reply = Buffer.from('the real answer');
    const next = fakeNext(reply);
    expect(link(ctx, next.fn)).toBe(reply);
    expect(next.calls).toEqual([ctx]);
    expect(calls).toHaveLength(0);
  });

  it('passes classes other than IN on', () => {
    const { link } = setup(ALL);
    const buf = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'www.google.com', type: 'A', class: 'CH' }] } as dnsPacket.Packet);
    const next = fakeNext(Buffer.from('x'));
    link(ctxFor(buf), next.fn);
    expect(next.calls[0].qname).toBe('www.google.com');
  });

  it('answers a CNAME question with the CNAME alone, without asking next', async () => {
    const { link, next, calls, metrics } = setup(SAFESEARCH_SEARCH);
    const ctx = ctxFor(query('www.bing.com', 'CNAME', { edns: true }));
    const out = link(ctx, next) as Buffer;
    expect(calls).toHaveLength(0);
    expect(ctx.source).toBe('local');
    const d = decode(out);
    expect(d.answers.map((a) => [a.name, a.type, a.data, a.ttl])).toEqual([['www.bing.com', 'CNAME', 'strict.bing.com', SAFESEARCH_CNAME_TTL]]);
    expect(d.additionals.map((a) => a.type)).toEqual(['OPT']);
    expect(await rewrites(metrics, 'bing')).toBe(1);
  });

  it('asks for the target with the client\'s EDNS, DO and CD bits, and echoes OPT as the server does', () => {
    const { link, next, calls } = setup(SAFESEARCH_SEARCH, { answers: [A('forcesafesearch.google.com', '216.239.38.120')] });
    const ctx = ctxFor(query('www.google.com', 'A', { edns: true, dnssecOk: true, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED }));
    const out = link(ctx, next) as Buffer;
    expect(calls[0].query).toMatchObject({ edns: true, dnssecOk: true });
    expect(calls[0].query.flags & 0x10).toBe(0x10);
    expect(calls[0].key).not.toBe(ctx.key);
    const d = decode(out);
    expect(d.flag_cd).toBe(true);
    const opt = d.additionals.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number; flags: number };
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.flags).toBe(dnsPacket.DNSSEC_OK);
  });

  it('keeps the target\'s CNAME chain, and the alias TTL is the smallest in it, at most its own', () => {
    const { link, next } = setup(SAFESEARCH_YOUTUBE_MODERATE, {
      answers: [
        { name: 'restrictmoderate.youtube.com', type: 'CNAME', ttl: 3600, class: 'IN', data: 'youtube-ui.l.google.com' } as dnsPacket.Answer,
        A('youtube-ui.l.google.com', '216.239.38.119', 90),
        A('youtube-ui.l.google.com', '216.239.38.118', 95),
      ],
    });
    const d = decode(link(ctxFor(query('www.youtube.com', 'A')), next) as Buffer);
    expect(d.answers.map((a) => [a.name, a.type, a.data, a.ttl])).toEqual([
      ['www.youtube.com', 'CNAME', 'restrictmoderate.youtube.com', 90],
      ['restrictmoderate.youtube.com', 'CNAME', 'youtube-ui.l.google.com', 3600],
      ['youtube-ui.l.google.com', 'A', '216.239.38.119', 90],
      ['youtube-ui.l.google.com', 'A', '216.239.38.118', 95],
    ]);
  });

  it('caps the alias TTL at its own when the target lives long', () => {
    const { link, next } = setup(SAFESEARCH_SEARCH, { answers: [A('strict.bing.com', '204.79.197.220', 86400)] });
    const d = decode(link(ctxFor(query('www.bing.com', 'A')), next) as Buffer);
    expect(d.answers.map((a) => a.ttl)).toEqual([SAFESEARCH_CNAME_TTL, 86400]);
  });

  it('propagates NXDOMAIN with the target\'s SOA', () => {
    const soa = { name: 'duckduckgo.com', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.duckduckgo.com', rname: 'hostmaster.duckduckgo.com', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } } as dnsPacket.Answer;
    const { link, next } = setup(SAFESEARCH_SEARCH, { rcode: 3, authorities: [soa] });
    const out = link(ctxFor(query('duckduckgo.com', 'A', { edns: true })), next) as Buffer;
    expect(rcodeOf(out)).toBe(3);
    const d = decode(out);
    expect(d.answers.map((a) => [a.type, a.data, a.ttl])).toEqual([['CNAME', 'safe.duckduckgo.com', 60]]);
    expect(d.authorities.map((a) => [a.name, a.type, a.ttl])).toEqual([['duckduckgo.com', 'SOA', 60]]);
    expect(d.authorities[0].data).toMatchObject({ mname: 'ns.duckduckgo.com', rname: 'hostmaster.duckduckgo.com' });
  });

  it('propagates a NODATA answer (no AAAA for the target) as CNAME + SOA, NOERROR', () => {
    const soa = { name: 'bing.com', type: 'SOA', ttl: 120, class: 'IN', data: { mname: 'ns1.bing.com', rname: 'h.bing.com', serial: 2, refresh: 1, retry: 1, expire: 1, minimum: 120 } } as dnsPacket.Answer;
    const { link, next } = setup(SAFESEARCH_SEARCH, { authorities: [soa] });
    const out = link(ctxFor(query('www.bing.com', 'AAAA')), next) as Buffer;
    expect(rcodeOf(out)).toBe(0);
    const d = decode(out);
    expect(d.answers.map((a) => a.type)).toEqual(['CNAME']);
    expect(d.authorities.map((a) => a.type)).toEqual(['SOA']);
  });

  it('propagates SERVFAIL with its Extended DNS Error, and no records', () => {
    const { link, next } = setup(SAFESEARCH_SEARCH, { rcode: 2, ede: { code: 22, text: 'no server answered' } });
    const out = link(ctxFor(query('www.google.com', 'A', { edns: true })), next) as Buffer;
    expect(rcodeOf(out)).toBe(2);
    const d = decode(out);
    expect(d.questions[0].name).toBe('www.google.com');
    expect(d.answers).toHaveLength(0);
    const o = d.additionals.find((a) => a.type === 'OPT')?.options?.find((x) => x.code === 15);
    expect(o?.data?.readUInt16BE(0)).toBe(22);
    expect(o?.data?.subarray(2).toString()).toBe('no server answered');
  });

  it('works with an async next, and hands the filter above the target\'s answer to check', async () => {
    const upstream = dnsPacket.encode({
      type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name: 'restrict.youtube.com', type: 'A', class: 'IN' }],
      answers: [{ name: 'restrict.youtube.com', type: 'CNAME', ttl: 300, class: 'IN', data: 'cdn.example' }, A('cdn.example', '192.0.2.9')],
    } as dnsPacket.Packet);
    const answer = answerFromMessage(upstream, scanMessage(upstream), { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, Date.now());
    const { link, next } = setup(SAFESEARCH_YOUTUBE_STRICT, (t) => {
      t.answer = answer;
      t.source = 'upstream';
      return replyFor(t, { answers: [{ name: 'restrict.youtube.com', type: 'CNAME', ttl: 300, class: 'IN', data: 'cdn.example' } as dnsPacket.Answer, A('cdn.example', '192.0.2.9')] });
    }, { async: true });
    const ctx = ctxFor(query('www.youtube.com', 'A'));
    const r = link(ctx, next);
    expect(r).toBeInstanceOf(Promise);
    const d = decode(await r);
    expect(d.answers.map((a) => a.data)).toEqual(['restrict.youtube.com', 'cdn.example', '192.0.2.9']);
    expect(ctx.answer).toBe(answer);
    expect(ctx.source).toBe('upstream');
  });

  it('writes the target\'s compressed names anew: every pointer in the reply points into the reply', () => {
    // The target's reply as a server writes it, with compression pointers into its own question:
    // forcesafesearch.google.com CNAME alias.google.com (pointer), alias.google.com A (pointer).
    const head = dnsPacket.encode({ type: 'response', id: 9, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ name: 'forcesafesearch.google.com', type: 'A', class: 'IN' }] } as dnsPacket.Packet);
    head.writeUInt16BE(2, 6); // ANCOUNT
    const googleCom = 12 + 1 + 'forcesafesearch'.length; // offset of "google.com" in the question
    const cnameRdata = Buffer.concat([Buffer.from([5]), Buffer.from('alias'), Buffer.from([0xc0, googleCom])]);
    const rr1 = Buffer.concat([Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 200, 0, cnameRdata.length]), cnameRdata]);
    const aliasAt = head.length + rr1.length - cnameRdata.length;
    const rr2 = Buffer.from([0xc0, aliasAt, 0, 1, 0, 1, 0, 0, 0, 100, 0, 4, 216, 239, 38, 120]);
    const targetReply = Buffer.concat([head, rr1, rr2]);
    expect(decode(targetReply).answers.map((a) => a.name)).toEqual(['forcesafesearch.google.com', 'alias.google.com']);
    const { link, next } = setup(SAFESEARCH_SEARCH, () => targetReply);
    const out = link(ctxFor(query('www.google.com.vn', 'A')), next) as Buffer;
    const d = decode(out);
    expect(d.answers.map((a) => [a.name, a.type, a.data, a.ttl])).toEqual([
      ['www.google.com.vn', 'CNAME', 'forcesafesearch.google.com', 100],
      ['forcesafesearch.google.com', 'CNAME', 'alias.google.com', 200],
      ['alias.google.com', 'A', '216.239.38.120', 100],
    ]);
    // Our own scanner agrees (every pointer goes backwards, inside this message).
    const scanned = scanMessage(out);
    expect(scanned.records).toHaveLength(3);
    expect(scanned.maxPointerTarget).toBeLessThan(out.length);
    // Names were compressed against names in this reply: smaller than writing each in full.
    expect(out.length).toBeLessThan(12 + 23 + 3 * 10 + 2 + 28 + 28 + 18 + 18 + 4);
  });
});

describe('policySafeSearch', () => {
  const policy = compilePolicy(parsePolicy([
    'groups:',
    '  kids: { safeSearch: { search: true, youtube: strict } }',
    '  teens: { safeSearch: { search: true, youtube: moderate } }',
    '  staff: {}',
    'schools:',
    '  - name: S',
    '    networks:',
    '      - { cidr: 10.0.1.0/24, group: kids }',
    '      - { cidr: 10.0.2.0/24, group: teens }',
    '      - { cidr: 10.0.3.0/24, group: staff }',
    'defaultGroup: teens',
  ].join('\n'), '/p.yaml'));
  const modes = policySafeSearch(() => policy);

  it('reads the flags of the identified client\'s group', () => {
    expect(modes(policy.identify('10.0.1.5'))).toBe(SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_STRICT);
    expect(modes(policy.identify('10.0.2.5'))).toBe(SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_MODERATE);
    expect(modes(policy.identify('10.0.3.5'))).toBe(0);
    expect(modes(policy.identify('192.0.2.1'))).toBe(SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_MODERATE);
  });

  it('finds the group by name when the index is another policy\'s, and gives 0 without a policy', () => {
    expect(modes({ school: 'S', group: 'kids', groupIndex: 2 } as never)).toBe(SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_STRICT);
    expect(modes({ school: 'S', group: 'staff' })).toBe(0);
    expect(policySafeSearch(() => null)({ school: 'S', group: 'kids' })).toBe(0);
    expect(safeSearchOff({ school: 'S', group: 'kids' })).toBe(0);
  });
});
