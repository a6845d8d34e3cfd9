// The scripted authoritative server used by the recursor's e2e tests: its zone logic and its sockets.
import dgram from 'node:dgram';
import net from 'node:net';
import { hierarchySpecs, loadZone, lookupZones, startServers } from '../helpers/authority';
import { decode, query } from '../helpers/packets';

const zonesAt = (address: string) => hierarchySpecs({ ipv6: false }).find((s) => s.address === address)!.zones.map(loadZone);

describe('authority zone logic', () => {
  test('referral with in-zone glue and the junk additional', () => {
    const r = lookupZones(zonesAt('127.0.0.3'), 'www.example.com', 'A');
    expect(r.aa).toBe(false);
    expect(r.authorities.map((x) => [x.name, x.type, x.data])).toEqual([['example.com', 'NS', 'ns1.example.com']]);
    expect(r.additionals.map((x) => x.name)).toEqual(['ns1.example.com', 'www.victim.test', 'www.example.org']);
  });
  test('answer, NODATA, NXDOMAIN, wildcard, CNAME out of zone, DNAME', () => {
    const z = zonesAt('127.0.0.10');
    expect(lookupZones(z, 'www.example.com', 'A').answers[0].data).toBe('192.0.2.1');
    const nodata = lookupZones(z, 'www.example.com', 'MX');
    expect([nodata.rcode, nodata.answers.length, nodata.authorities[0].type]).toEqual([0, 0, 'SOA']);
    const ent = lookupZones(z, 'c.deep.example.com', 'A');
    expect([ent.rcode, ent.answers.length]).toEqual([0, 0]);
    expect(lookupZones(z, 'nope.example.com', 'A').rcode).toBe(3);
    const w = lookupZones(z, 'x.y.wild.example.com', 'A');
    expect(w.answers.map((a) => [a.name, a.data])).toEqual([['x.y.wild.example.com', '192.0.2.99']]);
    const c = lookupZones(zonesAt('127.0.0.14'), 'www.example.org', 'A');
    expect(c.answers.map((a) => a.type)).toEqual(['CNAME']);
    const d = lookupZones(zonesAt('127.0.0.14'), 'www.old.example.org', 'A');
    expect(d.answers.map((a) => [a.type, a.data])).toEqual([['DNAME', 'example.com'], ['CNAME', 'www.example.com']]);
  });
});

describe('authority sockets', () => {
  test('UDP answers, TC for a big answer, TCP answers in full, the log keeps the case', async () => {
    const h = await startServers(hierarchySpecs({ ipv6: false }).filter((s) => s.address === '127.0.0.10'));
    try {
      const ask = (name: string, type: string, edns: boolean) => new Promise<Buffer>((resolve) => {
        const s = dgram.createSocket('udp4');
        s.on('message', (m) => { s.close(); resolve(m); });
        s.send(query(name, type, { edns, flags: 0 }), h.port, '127.0.0.10');
      });
      const a = decode(await ask('WwW.Example.COM', 'A', false));
      expect(a.flag_aa).toBe(true);
      expect(a.questions[0].name).toBe('WwW.Example.COM');
      expect(a.answers[0].data).toBe('192.0.2.1');
      const big = decode(await ask('big.example.com', 'TXT', true));
      expect(big.flag_tc).toBe(true);
      const viaTcp = await new Promise<Buffer>((resolve, reject) => {
        const q = query('big.example.com', 'TXT', { flags: 0 });
        const framed = Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
        const sock = net.connect(h.port, '127.0.0.10', () => sock.write(framed));
        let buf = Buffer.alloc(0);
        sock.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { sock.destroy(); resolve(buf.subarray(2)); } });
        sock.on('error', reject);
      });
      expect(decode(viaTcp).answers).toHaveLength(24);
      expect(h.server('127.0.0.10').log.map((l) => [l.name, l.transport])).toEqual([['WwW.Example.COM', 'udp'], ['big.example.com', 'udp'], ['big.example.com', 'tcp']]);
    } finally {
      await h.close();
    }
  });
});
