// A name blocked because its answer leads (CNAME) to a blocked name is logged with the
// category of that target, not with another: the filter's decision on the way back is the
// one the query log records.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { udpAskFrom } from '../helpers/client';
import { decode, dnsPacket, query } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const KIDS = '127.0.0.2';

describe('query log of a CNAME-cloaked block', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-cloaklog-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'adult.txt'), 'adult-site.example\n');
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\n');
    // adult is category bit 0: a decision left at 0 would be logged as "adult".
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  adult: { sources: [lists/adult.txt] }
  games: { sources: [lists/games.txt] }
groups:
  kids: { block: [adult, games] }
schools:
  - name: North
    networks: [{ cidr: ${KIDS}, group: kids }]
`);
    upstream = await ScriptedUpstream.start();
    upstream.records('cloak.school.example', 'A', [
      { name: 'cloak.school.example', type: 'CNAME', ttl: 300, class: 'IN', data: 'play.games-site.example' },
      { name: 'play.games-site.example', type: 'A', ttl: 300, class: 'IN', data: '198.51.100.77' },
    ] as dnsPacket.Answer[]);
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: path.join(dir, 'policy.yaml') },
      blocking: { sinkholeIPv4: '10.9.9.9' },
      state: { directory: path.join(dir, 'state') },
    });
  });
  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is logged with the target\'s category', async () => {
    const reply = await udpAskFrom(KIDS, r.udpPort, query('cloak.school.example', 'A'), 3000);
    expect(decode(reply).answers.map((a) => String(a.data))).toEqual(['10.9.9.9']);
    const file = path.join(dir, 'state', 'querylog.sqlite');
    let got: { name: string; category: string; action: string }[] = [];
    for (let i = 0; i < 80 && got.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
      if (!existsSync(file)) continue;
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try { got = db.prepare('SELECT name, category, action FROM queries').all() as typeof got; } finally { db.close(); }
    }
    expect(got).toEqual([{ name: 'cloak.school.example', category: 'games', action: 'blocked' }]);
  });
});
