// Interop with a real authoritative server: school-dns in recursive mode iterates from a
// root served by NSD (Debian's nsd, installed by .ci/run) down a hierarchy of NSD
// instances on 127.0.0.60–68, all on one port. Records of every common type, a CNAME chain
// across four zones and three servers, a glueless delegation, a wildcard, an IDN name,
// NXDOMAIN/NODATA with the SOA, a TTL-1 name, an RRset that only fits over TCP, 0x20 case
// randomisation against a server that echoes the question, the caches, and age-group
// filtering of the recursive answers. Without nsd installed this suite fails, on purpose.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { domainToASCII } from 'node:url';
import { dns2Client, promValue, scrape, sleep, tcpAsk, udpAskFrom } from '../helpers/client';
import { BIG_TXT, CNAME_CHAIN, IDN_NAME, IDN_UNICODE, NSD_ADDRESSES, NsdHierarchy, interopHierarchy, startNsdHierarchy } from '../helpers/nsd';
import { Decoded, decode, query, Rec } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';

const KIDS = '127.0.0.80';
const TEACHERS = '127.0.0.81';
const SINKHOLE = '10.9.9.9';

const askFrom = (source: string, port: number, msg: Buffer): Promise<Buffer> => udpAskFrom(source, port, msg, 5000);

const txt = (r: Rec): string[] => (r.data as Buffer[]).map((b) => b.toString('utf8'));
const types = (d: Decoded): string[] => d.answers.map((a) => a.type);
/** Names are compared without case (RFC 4343): see the note on 0x20 in the report of issue 4. */
const lc = (s: string): string => s.toLowerCase();

describe('school-dns recursing through a real NSD hierarchy', () => {
  let nsd: NsdHierarchy;
  let r: TestResolver;
  let dir: string;
  const ask = async (name: string, type: string, from = TEACHERS): Promise<Decoded> =>
    decode(await askFrom(from, r.udpPort, query(name, type, { edns: true })));
  const metrics = async (): Promise<string> => scrape(r.adminPort!);
  const event = (text: string, labels: Record<string, string>): number => {
    const v = promValue(text, 'school_dns_recursor_events_total', labels);
    return Number.isNaN(v) ? 0 : v;
  };
  /** Authoritative queries sent so far, UDP and TCP. */
  const authQueries = async (): Promise<number> => {
    const text = await metrics();
    return event(text, { kind: 'query', detail: 'udp' }) + event(text, { kind: 'query', detail: 'tcp' });
  };

  beforeAll(async () => {
    // Fails here, with instructions, when nsd is not installed.
    nsd = await startNsdHierarchy(interopHierarchy());
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-interop-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'play.example.org\n');
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  games: { sources: [lists/games.txt] }
groups:
  kids: { block: [games] }
  teachers: {}
schools:
  - name: THPT Le Quy Don
    networks:
      - { cidr: ${KIDS}, group: kids }
      - { cidr: ${TEACHERS}, group: teachers }
defaultGroup: teachers
`);
    r = await startTestResolver({
      resolver: {
        mode: 'recursive', rootHints: [NSD_ADDRESSES.root], authPort: nsd.port,
        // NSD echoes the question's case exactly, so 0x20 must work against it.
        caseRandomisation: true, qnameMinimisation: true, timeoutMs: 800, totalTimeoutMs: 4000,
      },
      policy: { file: path.join(dir, 'policy.yaml') },
      blocking: { sinkholeIPv4: SINKHOLE, sinkholeIPv6: 'fd00::9', ttl: 30 },
    });
  }, 30000);

  afterAll(async () => {
    await r?.close();
    await nsd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a real NSD', () => {
    expect(nsd.version).toMatch(/^NSD version \d+\.\d+/);
    expect(nsd.servers.map((s) => s.address)).toEqual(Object.values(NSD_ADDRESSES));
  });

  it('resolves A from the root down (dns2 client), then answers from its cache without asking NSD again', async () => {
    const client = dns2Client(r.udpPort);
    const first = await client.resolveA('www.example.com');
    expect(first.answers.map((a) => a.address).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    const before = await authQueries();
    expect(before).toBeGreaterThanOrEqual(3); // root, com, example.com at least
    const again = await client.resolveA('www.example.com');
    expect(again.answers.map((a) => a.address).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    expect(await authQueries()).toBe(before);
    // Another name in the same zone: the delegation is cached, so one query to example.com's server.
    expect((await ask('mail.example.com', 'A')).answers.map((a) => a.data)).toEqual(['192.0.2.25']);
    expect(await authQueries()).toBe(before + 1);
  });

  it('resolves AAAA', async () => {
    const d = await ask('www.example.com', 'AAAA');
    expect(d.rcode).toBe('NOERROR');
    expect(d.answers.map((a) => [a.type, a.data])).toEqual([['AAAA', '2001:db8::10']]);
    const school = await ask('lequydon.edu.vn', 'AAAA');
    expect(school.answers.map((a) => a.data)).toEqual(['2001:db8:5c::10']);
  });

  it('resolves MX, TXT (multi-string), SRV and CAA from the school zone under edu.vn', async () => {
    const mx = await ask('lequydon.edu.vn', 'MX');
    // Exact case: under 0x20 the names NSD compresses against our randomised question must come back folded.
    expect(mx.answers.map((a) => a.data).sort((x, y) => x.preference - y.preference)).toEqual([
      { preference: 10, exchange: 'mail.lequydon.edu.vn' },
      { preference: 20, exchange: 'mail2.lequydon.edu.vn' },
    ]);
    const t = await ask('lequydon.edu.vn', 'TXT');
    expect(t.answers.map(txt).sort()).toEqual([['school=THPT Le Quy Don', 'city=Da Nang'], ['v=spf1 mx -all']]);
    const srv = await ask('_imaps._tcp.lequydon.edu.vn', 'SRV');
    expect(srv.answers.map((a) => ({ ...a.data, target: lc(a.data.target) }))).toEqual([{ priority: 10, weight: 5, port: 993, target: 'mail.lequydon.edu.vn' }]);
    const sip = await ask('_sip._udp.lequydon.edu.vn', 'SRV');
    expect(sip.answers.map((a) => ({ ...a.data, target: lc(a.data.target) }))).toEqual([{ priority: 20, weight: 0, port: 5060, target: 'voip.lequydon.edu.vn' }]);
    const caa = await ask('lequydon.edu.vn', 'CAA');
    expect(caa.answers.map((a) => ({ flags: a.data.flags, tag: a.data.tag, value: a.data.value })).sort((x, y) => x.flags - y.flags)).toEqual([
      { flags: 0, tag: 'issue', value: 'ca.example.net' },
      { flags: 128, tag: 'iodef', value: 'mailto:security@lequydon.edu.vn' },
    ]);
  });

  it('resolves an IDN name given in punycode', async () => {
    expect(domainToASCII(IDN_UNICODE)).toBe(IDN_NAME);
    const d = await ask(IDN_NAME, 'A');
    expect(d.questions[0].name).toBe(IDN_NAME);
    expect(d.answers.map((a) => [a.name, a.data])).toEqual([[IDN_NAME, '203.0.113.40']]);
  });

  it('echoes the question with the client\'s case, and answers it like the lowercase name', async () => {
    const d = await ask('wWw.ExAmPlE.cOm', 'A');
    expect(d.questions[0].name).toBe('wWw.ExAmPlE.cOm');
    expect(d.answers.map((a) => a.name.toLowerCase())).toEqual(['www.example.com', 'www.example.com']);
    expect(d.answers.map((a) => a.data).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    const idn = await ask(IDN_NAME.toUpperCase(), 'A');
    expect(idn.questions[0].name).toBe(IDN_NAME.toUpperCase());
    expect(idn.answers.map((a) => a.data)).toEqual(['203.0.113.40']);
  });

  it('resolves a glueless delegation (NS name in another TLD, its address only from org)', async () => {
    const d = await ask('host.glueless.com', 'A');
    expect(d.rcode).toBe('NOERROR');
    expect(d.answers.map((a) => [a.name, a.data])).toEqual([['host.glueless.com', '192.0.2.70']]);
  });

  it('synthesises from a wildcard, answers NODATA for another type there and for the empty non-terminal', async () => {
    const alice = await ask('alice.users.example.com', 'A');
    expect(alice.answers.map((a) => [a.name, a.type, a.data])).toEqual([['alice.users.example.com', 'A', '192.0.2.99']]);
    const deep = await ask('a.b.users.example.com', 'TXT');
    expect(deep.answers.map((a) => [a.name, txt(a)])).toEqual([['a.b.users.example.com', ['wildcard user page']]]);
    const mx = await ask('alice.users.example.com', 'MX');
    expect(mx.rcode).toBe('NOERROR');
    expect(mx.answers).toEqual([]);
    expect(mx.authorities.map((a) => [a.name, a.type])).toEqual([['example.com', 'SOA']]);
    const ent = await ask('users.example.com', 'A');
    expect(ent.rcode).toBe('NOERROR');
    expect(ent.answers).toEqual([]);
    expect(ent.authorities.map((a) => [a.name, a.type])).toEqual([['example.com', 'SOA']]);
  });

  it('answers NXDOMAIN and NODATA with the zone\'s SOA, its TTL min(SOA TTL, minimum), and again from the negative cache', async () => {
    const nx = await ask('nothere.example.com', 'A');
    expect(nx.rcode).toBe('NXDOMAIN');
    expect(nx.answers).toEqual([]);
    expect(nx.authorities).toHaveLength(1);
    expect(nx.authorities[0]).toMatchObject({ name: 'example.com', type: 'SOA', data: { minimum: 60 } });
    expect([nx.authorities[0].data.mname, nx.authorities[0].data.rname]).toEqual(['ns1.example.com', 'hostmaster.example.com']);
    expect(nx.authorities[0].ttl).toBeLessThanOrEqual(60); // SOA TTL 300, minimum 60
    expect(nx.authorities[0].ttl).toBeGreaterThanOrEqual(55);

    const nodata = await ask('mail.example.com', 'AAAA');
    expect(nodata.rcode).toBe('NOERROR');
    expect(nodata.answers).toEqual([]);
    expect(nodata.authorities.map((a) => [a.name, a.type])).toEqual([['example.com', 'SOA']]);
    expect(nodata.authorities[0].ttl).toBeLessThanOrEqual(60);

    // hosting.org: SOA TTL 45 below its minimum 3600: the SOA TTL wins.
    const gone = await ask('gone.hosting.org', 'A');
    expect(gone.rcode).toBe('NXDOMAIN');
    expect(gone.authorities[0]).toMatchObject({ name: 'hosting.org', type: 'SOA', data: { minimum: 3600 } });
    expect(gone.authorities[0].ttl).toBeLessThanOrEqual(45);
    expect(gone.authorities[0].ttl).toBeGreaterThanOrEqual(40);

    // Below an NXDOMAIN (RFC 8020) and the same questions again: no more queries to NSD.
    const before = await authQueries();
    expect((await ask('nothere.example.com', 'A')).rcode).toBe('NXDOMAIN');
    expect((await ask('mail.example.com', 'AAAA')).rcode).toBe('NOERROR');
    expect((await ask('gone.hosting.org', 'A')).rcode).toBe('NXDOMAIN');
    expect(await authQueries()).toBe(before);
  });

  it('honours a TTL of 1: the answer expires and is fetched again', async () => {
    const first = await ask('tick.example.com', 'A');
    expect(first.answers.map((a) => a.data)).toEqual(['192.0.2.111']);
    expect(first.answers[0].ttl).toBeLessThanOrEqual(1);
    const before = await authQueries();
    await sleep(1300);
    const second = await ask('tick.example.com', 'A');
    expect(second.answers.map((a) => a.data)).toEqual(['192.0.2.111']);
    expect(second.answers[0].ttl).toBeLessThanOrEqual(1);
    expect(await authQueries()).toBe(before + 1);
  });

  it('retries over TCP when NSD truncates, and gives the client the whole TXT RRset over TCP', async () => {
    const m0 = await metrics();
    // A client without EDNS over UDP: 512 octets are not enough, so school-dns truncates too.
    const udp = decode(await askFrom(TEACHERS, r.udpPort, query('big.example.org', 'TXT')));
    expect(udp.flag_tc).toBe(true);
    const m1 = await metrics();
    expect(event(m1, { kind: 'truncated' })).toBe(event(m0, { kind: 'truncated' }) + 1);
    expect(event(m1, { kind: 'query', detail: 'tcp' })).toBe(event(m0, { kind: 'query', detail: 'tcp' }) + 1);
    const before = await authQueries();
    const tcp = decode(await tcpAsk(r.tcpPort, query('big.example.org', 'TXT')));
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.rcode).toBe('NOERROR');
    expect(tcp.answers).toHaveLength(BIG_TXT.length);
    expect(tcp.answers.map((a) => txt(a).join('')).sort()).toEqual([...BIG_TXT].sort());
    expect(await authQueries()).toBe(before); // the retry was answered from the cache
  });

  it('follows a CNAME chain across four zones in order; kids are blocked on it, teachers get it, both from one resolution', async () => {
    // Kids first: the chain's end play.example.org is in their blocked category.
    const kids = await ask(CNAME_CHAIN[0], 'A', KIDS);
    expect(kids.rcode).toBe('NOERROR');
    expect(kids.answers.map((a) => [a.type, a.data])).toEqual([['A', SINKHOLE]]);
    const before = await authQueries();
    const teachers = await ask(CNAME_CHAIN[0], 'A', TEACHERS);
    expect(types(teachers)).toEqual(['CNAME', 'CNAME', 'CNAME', 'CNAME', 'A']);
    expect(teachers.answers.map((a) => a.name)).toEqual(CNAME_CHAIN);
    expect(teachers.answers.map((a) => a.data)).toEqual([...CNAME_CHAIN.slice(1), '192.0.2.80']);
    // The blocked name itself, and kids again: from the cache, still blocked.
    expect((await ask('play.example.org', 'A', KIDS)).answers.map((a) => a.data)).toEqual([SINKHOLE]);
    expect((await ask(CNAME_CHAIN[0], 'A', KIDS)).answers.map((a) => a.data)).toEqual([SINKHOLE]);
    expect(await authQueries()).toBe(before);
    // A chain starting in the middle, over the server that also serves the next zone.
    const mid = await ask('media.hosting.org', 'A', TEACHERS);
    expect(mid.answers.map((a) => a.name)).toEqual(CNAME_CHAIN.slice(2));
    const text = await metrics();
    expect(promValue(text, 'school_dns_blocked_queries_total', { group: 'kids', category: 'games' })).toBeGreaterThanOrEqual(3);
  });

  it('blocks a CNAME target whatever its case: compressed against the (0x20) question, or written in capitals in the zone', async () => {
    // alias.example.org → play.example.org in one NSD answer; the target's labels point into the question.
    expect((await ask('alias.example.org', 'A', KIDS)).answers.map((a) => [a.type, a.data])).toEqual([['A', SINKHOLE]]);
    const alias = await ask('alias.example.org', 'A', TEACHERS);
    expect(alias.answers.map((a) => [a.type, lc(a.name), lc(a.data)])).toEqual([['CNAME', 'alias.example.org', 'play.example.org'], ['A', 'play.example.org', '192.0.2.80']]);
    // shout.lequydon.edu.vn → PLAY.Example.ORG (teachers first this time).
    const shout = await ask('shout.lequydon.edu.vn', 'A', TEACHERS);
    expect(shout.answers.map((a) => [a.type, lc(a.name), lc(a.data)])).toEqual([['CNAME', 'shout.lequydon.edu.vn', 'play.example.org'], ['A', 'play.example.org', '192.0.2.80']]);
    expect((await ask('shout.lequydon.edu.vn', 'A', KIDS)).answers.map((a) => [a.type, a.data])).toEqual([['A', SINKHOLE]]);
  });

  it('met no timeouts, lame servers, malformed replies, 0x20 mismatches or limits on the way', async () => {
    const text = await metrics();
    for (const kind of ['timeout', 'network', 'malformed', 'mismatch', 'lame', 'servfail', 'formerr', 'limit']) {
      expect([kind, event(text, { kind })]).toEqual([kind, 0]);
    }
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
