// SafeSearch end to end, on real sockets: a real school-dns forwarding to a scripted upstream
// that serves the engines' SafeSearch names; clients in different age groups (distinct
// loopback source addresses) ask with dns2, an independent DNS implementation, and get the
// CNAME plus the target's addresses, or the real answer when their group has it off.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Dns2Packet, dns2Client, promValue, scrape, tcpAsk, udpAskFrom } from '../helpers/client';
import { decode, dnsPacket, query, rcodeOf } from '../helpers/packets';
import { drained, startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const STRICT = '127.0.0.2'; // search on, YouTube strict
const MODERATE = '127.0.0.3'; // search on, YouTube moderate
const OFF = '127.0.0.4'; // no safeSearch key
const NO_BING = '127.0.0.5'; // SafeSearch on, but blocks bing.com by category

// The SafeSearch names' addresses, as this test's upstream serves them.
const FORCESAFESEARCH_V4 = '216.239.38.120';
const FORCESAFESEARCH_V6 = '2001:4860:4802:32::78';
const RESTRICT_V4 = '216.239.38.120';
const RESTRICTMODERATE_V4 = '216.239.38.119';
const STRICT_BING_V4 = '204.79.197.220';
const SAFE_DDG_V4 = '198.51.100.80';
/** What the upstream answers for any other name (test/helpers/upstream.ts). */
const REAL_V4 = '192.0.2.1';
const SINKHOLE = '10.9.9.9';

interface Dns2Answer { name: string; type: number; ttl: number; domain?: string; address?: string }

/** Asks with a dns2-encoded query sent from `source`, and reads the reply with dns2. */
async function ask(source: string, port: number, name: string, type: keyof typeof Dns2Packet.TYPE = 'A'): Promise<{ rcode: number; question: string; answers: Dns2Answer[] }> {
  const p = new Dns2Packet();
  p.header.id = Math.floor(Math.random() * 65536);
  p.header.rd = 1;
  p.questions.push({ name, type: Dns2Packet.TYPE[type], class: Dns2Packet.CLASS.IN } as never);
  const reply = Dns2Packet.parse(await udpAskFrom(source, port, p.toBuffer(), 3000)) as unknown as {
    header: { id: number; rcode: number }; questions: { name: string }[]; answers: Dns2Answer[];
  };
  expect(reply.header.id).toBe(p.header.id);
  return { rcode: reply.header.rcode, question: reply.questions[0]!.name, answers: reply.answers };
}

/** [type name, CNAME target or address] per answer record. */
const brief = (answers: Dns2Answer[]): [string, string][] =>
  answers.map((a) => [a.type === Dns2Packet.TYPE.CNAME ? 'CNAME' : a.type === Dns2Packet.TYPE.A ? 'A' : a.type === Dns2Packet.TYPE.AAAA ? 'AAAA' : String(a.type), a.domain ?? a.address ?? '']);

describe('SafeSearch per age group, over real sockets', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-safesearch-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'search.txt'), 'bing.com\n');
    writeFileSync(path.join(dir, 'policy.yaml'), [
      'categories:',
      '  search: { sources: [lists/search.txt] }',
      'groups:',
      '  strict: { safeSearch: { search: true, youtube: strict } }',
      '  moderate: { safeSearch: { search: true, youtube: moderate } }',
      '  off: {}',
      '  nobing: { block: [search], safeSearch: { search: true, youtube: strict } }',
      'schools:',
      '  - name: "Test school"',
      '    networks:',
      '      - { cidr: 127.0.0.1, group: strict }',
      `      - { cidr: ${STRICT}, group: strict }`,
      `      - { cidr: ${MODERATE}, group: moderate }`,
      `      - { cidr: ${OFF}, group: off }`,
      `      - { cidr: ${NO_BING}, group: nobing }`,
      'defaultGroup: off',
      '',
    ].join('\n'));
    upstream = await ScriptedUpstream.start();
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: path.join(dir, 'policy.yaml') },
      blocking: { sinkholeIPv4: SINKHOLE, ttl: 30 },
    });
  });

  beforeEach(() => {
    upstream.reset();
    r.cache.clear();
    const a = (name: string, data: string) => upstream.records(name, 'A', [{ name, type: 'A', ttl: 300, class: 'IN', data }]);
    a('forcesafesearch.google.com', FORCESAFESEARCH_V4);
    upstream.records('forcesafesearch.google.com', 'AAAA', [{ name: 'forcesafesearch.google.com', type: 'AAAA', ttl: 300, class: 'IN', data: FORCESAFESEARCH_V6 }]);
    a('restrict.youtube.com', RESTRICT_V4);
    a('restrictmoderate.youtube.com', RESTRICTMODERATE_V4);
    a('strict.bing.com', STRICT_BING_V4);
    a('safe.duckduckgo.com', SAFE_DDG_V4);
  });

  afterEach(async () => drained(r));

  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const asked = (name: string): number => upstream.queries.filter((q) => q.name.toLowerCase() === name).length;

  it('answers www.google.com with a CNAME to forcesafesearch.google.com and its address, the question as asked', async () => {
    const res = await ask(STRICT, r.udpPort, 'WWW.Google.COM');
    expect(res.rcode).toBe(0);
    expect(res.question).toBe('WWW.Google.COM');
    expect(brief(res.answers)).toEqual([['CNAME', 'forcesafesearch.google.com'], ['A', FORCESAFESEARCH_V4]]);
    expect(res.answers[0]!.name).toBe('WWW.Google.COM');
    expect(res.answers[1]!.name).toBe('forcesafesearch.google.com');
    expect(res.answers[0]!.ttl).toBeLessThanOrEqual(300);
    // The upstream was asked for the SafeSearch name, never for the name the child typed.
    expect(asked('forcesafesearch.google.com')).toBe(1);
    expect(asked('www.google.com')).toBe(0);
  });

  it.each(['www.google.com.vn', 'google.com.vn', 'google.com', 'www.google.co.uk', 'www.google.de', 'www.google.cat'])(
    'maps the Google search domain %s', async (name) => {
      expect(brief((await ask(STRICT, r.udpPort, name)).answers)).toEqual([['CNAME', 'forcesafesearch.google.com'], ['A', FORCESAFESEARCH_V4]]);
    });

  it('answers AAAA through the CNAME with the target\'s IPv6 address', async () => {
    expect(brief((await ask(STRICT, r.udpPort, 'www.google.com', 'AAAA')).answers)).toEqual([['CNAME', 'forcesafesearch.google.com'], ['AAAA', FORCESAFESEARCH_V6]]);
  });

  it.each(['www.youtube.com', 'm.youtube.com', 'youtubei.googleapis.com', 'youtube.googleapis.com', 'www.youtube-nocookie.com'])(
    'sends %s to restrict.youtube.com for the strict group and to restrictmoderate.youtube.com for the moderate one', async (name) => {
      expect(brief((await ask(STRICT, r.udpPort, name)).answers)).toEqual([['CNAME', 'restrict.youtube.com'], ['A', RESTRICT_V4]]);
      expect(brief((await ask(MODERATE, r.udpPort, name)).answers)).toEqual([['CNAME', 'restrictmoderate.youtube.com'], ['A', RESTRICTMODERATE_V4]]);
    });

  it.each(['www.bing.com', 'bing.com'])('sends %s to strict.bing.com', async (name) => {
    expect(brief((await ask(MODERATE, r.udpPort, name)).answers)).toEqual([['CNAME', 'strict.bing.com'], ['A', STRICT_BING_V4]]);
  });

  it.each(['duckduckgo.com', 'www.duckduckgo.com', 'start.duckduckgo.com'])('sends %s to safe.duckduckgo.com', async (name) => {
    expect(brief((await ask(STRICT, r.udpPort, name)).answers)).toEqual([['CNAME', 'safe.duckduckgo.com'], ['A', SAFE_DDG_V4]]);
  });

  it('gives a group with SafeSearch off the real answers, and never serves them to a group with it on', async () => {
    for (const name of ['www.google.com', 'www.google.com.vn', 'www.youtube.com', 'www.bing.com', 'duckduckgo.com']) {
      expect(brief((await ask(OFF, r.udpPort, name)).answers)).toEqual([['A', REAL_V4]]);
    }
    // The real www.google.com answer is in the cache now; the strict group still gets the CNAME.
    expect(brief((await ask(STRICT, r.udpPort, 'www.google.com')).answers)).toEqual([['CNAME', 'forcesafesearch.google.com'], ['A', FORCESAFESEARCH_V4]]);
    // And the CNAME was not cached under www.google.com for the group that has SafeSearch off.
    expect(brief((await ask(OFF, r.udpPort, 'www.google.com')).answers)).toEqual([['A', REAL_V4]]);
    expect(asked('www.google.com')).toBe(1);
  });

  it('resolves the target once and serves it from the cache after that', async () => {
    for (let i = 0; i < 3; i++) await ask(STRICT, r.udpPort, 'www.google.com');
    await ask(MODERATE, r.udpPort, 'www.google.com.vn');
    expect(asked('forcesafesearch.google.com')).toBe(1);
  });

  it('keeps a name the group blocks blocked: the filter comes first', async () => {
    expect(brief((await ask(NO_BING, r.udpPort, 'www.bing.com')).answers)).toEqual([['A', SINKHOLE]]);
    expect(asked('strict.bing.com')).toBe(0);
    // The same group still gets SafeSearch for the engines it may reach.
    expect(brief((await ask(NO_BING, r.udpPort, 'www.google.com')).answers)).toEqual([['CNAME', 'forcesafesearch.google.com'], ['A', FORCESAFESEARCH_V4]]);
  });

  it('propagates the target\'s NXDOMAIN and SERVFAIL', async () => {
    upstream.nxdomain('safe.duckduckgo.com', 'A', 'duckduckgo.com', 300, 60);
    const nx = await udpAskFrom(STRICT, r.udpPort, query('duckduckgo.com', 'A', { edns: true }));
    expect(rcodeOf(nx)).toBe(3);
    const d = decode(nx);
    expect(d.answers.map((a) => [a.type, a.data])).toEqual([['CNAME', 'safe.duckduckgo.com']]);
    expect(d.authorities.map((a) => [a.name, a.type])).toEqual([['duckduckgo.com', 'SOA']]);
    expect(d.answers[0]!.ttl).toBeLessThanOrEqual(60);

    upstream.behave = (q) => (q.name.toLowerCase() === 'strict.bing.com' ? 'servfail' : 'answer');
    const sf = await udpAskFrom(MODERATE, r.udpPort, query('www.bing.com', 'A', { edns: true }));
    expect(rcodeOf(sf)).toBe(2);
    expect(decode(sf).answers).toHaveLength(0);
  });

  it('echoes EDNS as the rest of the server does: our OPT, the DO bit as asked', async () => {
    const out = await udpAskFrom(STRICT, r.udpPort, query('www.youtube.com', 'A', { edns: true, dnssecOk: true }));
    const d = decode(out);
    expect(d.answers.map((a) => a.type)).toEqual(['CNAME', 'A']);
    const opt = d.additionals.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number; flags: number };
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.flags & dnsPacket.DNSSEC_OK).toBe(dnsPacket.DNSSEC_OK);
    expect(upstream.queries.find((q) => q.name === 'restrict.youtube.com')?.edns).toBe(true);
  });

  it('works for dns2\'s own client (from 127.0.0.1, the strict group here) and over TCP', async () => {
    const res = await dns2Client(r.udpPort).resolveA('www.bing.com');
    expect(brief(res.answers as unknown as Dns2Answer[])).toEqual([['CNAME', 'strict.bing.com'], ['A', STRICT_BING_V4]]);
    const tcp = decode(await tcpAsk(r.tcpPort, query('www.google.com', 'A')));
    expect(tcp.answers.map((a) => [a.type, a.data])).toEqual([['CNAME', 'forcesafesearch.google.com'], ['A', FORCESAFESEARCH_V4]]);
  });

  it('answers a question of type CNAME with the alias alone', async () => {
    const out = decode(await udpAskFrom(STRICT, r.udpPort, query('www.google.com', 'CNAME')));
    expect(out.answers.map((a) => [a.name, a.type, a.data])).toEqual([['www.google.com', 'CNAME', 'forcesafesearch.google.com']]);
    expect(asked('forcesafesearch.google.com')).toBe(0);
  });

  it('counts rewrites by engine', async () => {
    const before = await scrape(r.adminPort!);
    const g0 = promValue(before, 'school_dns_safesearch_rewrites_total', { engine: 'google' });
    const y0 = promValue(before, 'school_dns_safesearch_rewrites_total', { engine: 'youtube' });
    await ask(STRICT, r.udpPort, 'www.google.com');
    await ask(STRICT, r.udpPort, 'www.google.com.vn');
    await ask(MODERATE, r.udpPort, 'm.youtube.com');
    await ask(OFF, r.udpPort, 'www.google.com');
    const after = await scrape(r.adminPort!);
    expect(promValue(after, 'school_dns_safesearch_rewrites_total', { engine: 'google' }) - g0).toBe(2);
    expect(promValue(after, 'school_dns_safesearch_rewrites_total', { engine: 'youtube' }) - y0).toBe(1);
    expect(promValue(after, 'school_dns_safesearch_rewrites_total', { engine: 'bing' })).toBeGreaterThanOrEqual(0);
  });
});
