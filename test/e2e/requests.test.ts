// Review requests end to end, on real sockets: a real resolver forwarding to a scripted
// upstream, with a policy where loopback source addresses are pupils and teachers of two
// schools. A request is submitted from the block page's form (HTTP, from the pupil's address),
// listed and approved with the real CLI (a child process against the admin port), and the
// query that was sinkholed then resolves for the covered school and group only; a restart
// keeps the requests and the approval.
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CliRun, runCli } from '../helpers/cli';
import { loopback, startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';
import { promValue, scrape, udpAskFrom } from '../helpers/client';
import { decode, query } from '../helpers/packets';

const NORTH_KIDS = '127.0.0.2';
const NORTH_TEACHERS = '127.0.0.3';
const SOUTH_KIDS = '127.0.0.4';
const SINKHOLE = '10.9.9.9';
/** Tests that start the CLI several times: each start takes a second or more on a busy 2-core machine. */
const CLI_TEST_TIMEOUT = 90_000;

const addressOf = async (client: string, port: number, name: string): Promise<string | undefined> =>
  decode(await udpAskFrom(client, port, query(name, 'A'), 3000)).answers.find((a) => a.type === 'A')?.data as string | undefined;

/**
 * Waits (bounded) until no list-builder child of this process is left. close() stops the
 * builder with SIGTERM without waiting; a builder started again before the old one's exit
 * event arrived would get that event as its own failure (src/lists/build.ts settles the
 * pending request on any child's exit).
 */
async function builderGone(): Promise<void> {
  const { readdirSync: ls } = require('node:fs') as typeof import('node:fs');
  const mine = (): boolean => ls('/proc').some((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // An exited child not yet reaped (Z) has not had its exit event either.
      return Number(ppid) === process.pid && (state === 'Z' || readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('build-worker'));
    } catch {
      return false;
    }
  });
  for (let i = 0; i < 100 && mine(); i++) await new Promise((res) => setTimeout(res, 50));
}

/** Posts the block page's review form from `from`, as a browser on that device would. */
function postForm(port: number, from: string, fields: Record<string, string>): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/_school-dns/review', localAddress: from, agent: false, timeout: 5000,
      headers: { host: fields.name, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const cli = (args: string[]): Promise<CliRun> => runCli(args, { timeoutMs: 15_000 });

describe('review requests over real sockets', () => {
  let dir: string;
  let stateDir: string;
  let policyFile: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;
  let admin: string;

  const start = async (): Promise<TestResolver> => {
    const started = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: policyFile },
      blocking: { sinkholeIPv4: SINKHOLE, sinkholeIPv6: null, ttl: 30 },
      state: { directory: stateDir },
      blockPage: { enabled: true, listen: [loopback(0)], https: { mode: 'off', port: 443, cert: null, key: null }, reviewForm: true },
    });
    admin = `http://127.0.0.1:${started.adminPort}`;
    return started;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-requests-e2e-'));
    stateDir = path.join(dir, 'state'); // does not exist yet: created at start
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\nother-game.example\n');
    policyFile = path.join(dir, 'policy.yaml');
    writeFileSync(policyFile, `
categories:
  games:
    sources: [lists/games.txt]
groups:
  kids:
    block: [games]
  teachers:
    block: [games]
schools:
  - name: North
    networks:
      - { cidr: ${NORTH_KIDS}, group: kids }
      - { cidr: ${NORTH_TEACHERS}, group: teachers }
  - name: South
    networks:
      - { cidr: ${SOUTH_KIDS}, group: kids }
defaultGroup: kids
`);
    upstream = await ScriptedUpstream.start();
    r = await start();
  });

  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the state directory with mode 0700 and exposes the store', () => {
    expect(r.requests).not.toBeNull();
    expect(r.requests!.directory).toBe(stateDir);
    expect(require('node:fs').statSync(stateDir).mode & 0o777).toBe(0o700);
  });

  it('takes a request, lists it with the CLI, approves it, and the sinkholed name then resolves for that school and group only', async () => {
    for (const c of [NORTH_KIDS, NORTH_TEACHERS, SOUTH_KIDS]) expect(await addressOf(c, r.udpPort, 'www.games-site.example')).toBe(SINKHOLE);

    // The pupil asks from the block page: school and group come from the device's address.
    const page = r.blockPagePorts.http[0]!;
    const form = await postForm(page, NORTH_KIDS, { name: 'www.games-site.example', message: 'We use it in the maths lesson' });
    expect(form.status).toBe(200);
    expect(form.body).toContain('#1');
    expect((await postForm(page, NORTH_KIDS, { name: 'www.games-site.example', message: 'again' })).status).toBe(200); // the same request
    expect(r.requests!.list()).toHaveLength(1);
    expect(await r.requests!.submit({ name: 'other-game.example', school: 'North', group: 'kids', category: 'games', message: '' }, NORTH_KIDS)).toMatchObject({ ok: true, id: 2 });

    const list = await cli(['requests', 'list', '--admin', admin]);
    expect(list.code).toBe(0);
    const [header, row1, row2] = list.stdout.split('\n');
    expect(header).toMatch(/^ID\s+STATUS\s+ASKED\s+SCHOOL\s+GROUP\s+NAME\s+CATEGORY\s+MESSAGE$/);
    expect(row1).toMatch(/^#1\s+pending\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+North\s+kids\s+www\.games-site\.example\s+games\s+"We use it in the maths lesson"$/);
    expect(row2).toMatch(/^#2\s+pending/);
    expect(list.stdout).toContain('2 shown (pending 2, approved 0, rejected 0, revoked 0)');
    const json = JSON.parse((await cli(['requests', 'list', '--json', '--admin', admin])).stdout);
    expect(json.requests[0]).toMatchObject({ id: 1, name: 'www.games-site.example', school: 'North', group: 'kids', category: 'games', status: 'pending' });
    expect(JSON.stringify(json)).not.toContain(NORTH_KIDS); // no client address anywhere

    const approve = await cli(['requests', 'approve', '1', '--note', 'maths lesson', '--by', 'ms-lan', '--admin', admin]);
    expect(approve).toMatchObject({ code: 0, stderr: '' });
    expect(approve.stdout).toBe('approved request #1: www.games-site.example (and its subdomains) now resolves for group "kids" at school "North"\n');

    expect(await addressOf(NORTH_KIDS, r.udpPort, 'www.games-site.example')).toBe('192.0.2.1');
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'img.www.games-site.example')).toBe('192.0.2.1');
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'games-site.example')).toBe(SINKHOLE); // the parent was not approved
    expect(await addressOf(NORTH_TEACHERS, r.udpPort, 'www.games-site.example')).toBe(SINKHOLE); // another group
    expect(await addressOf(SOUTH_KIDS, r.udpPort, 'www.games-site.example')).toBe(SINKHOLE); // another school
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'other-game.example')).toBe(SINKHOLE); // still pending

    const check = await cli(['check', 'www.games-site.example', '--client', NORTH_KIDS, '--admin', admin]);
    expect(check.stdout).toContain('decision: ALLOW');
    expect(check.stdout).toContain('allowed by approved request #1 (www.games-site.example, for group "kids" at school "North"); it overrides games');
    expect((await cli(['check', 'www.games-site.example', '--client', SOUTH_KIDS, '--admin', admin])).stdout).toContain('decision: BLOCK (games)');
  }, CLI_TEST_TIMEOUT);

  it('rejects with the CLI, and says clearly when a request is not pending or does not exist', async () => {
    const reject = await cli(['requests', 'reject', '2', '--note', 'a game', '--admin', admin]);
    expect(reject).toMatchObject({ code: 0, stdout: 'rejected request #2 (other-game.example); nothing else changed\n' });
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'other-game.example')).toBe(SINKHOLE);

    const again = await cli(['requests', 'approve', '2', '--admin', admin]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^school-dns: request #2 is already rejected on \S+ by \S+; only pending requests can be approved\n$/);
    const missing = await cli(['requests', 'reject', '99', '--admin', admin]);
    expect(missing).toMatchObject({ code: 1, stderr: 'school-dns: there is no request #99\n' });
    const badId = await cli(['requests', 'approve', 'abc', '--admin', admin]);
    expect(badId).toMatchObject({ code: 1, stderr: expect.stringContaining('"abc" is not a request id') });
    const badScope = await cli(['requests', 'approve', '1', '--scope', 'everyone', '--admin', admin]);
    expect(badScope.code).not.toBe(0);
    expect(badScope.stderr).toContain('Allowed choices are school-group, school, group');
    expect(await cli(['requests', 'list', '--admin', 'http://127.0.0.1:1'])).toMatchObject({ code: 4 });

    const all = await cli(['requests', 'list', '--status', 'all', '--admin', admin]);
    expect(all.stdout).toMatch(/#1\s+approved/);
    expect(all.stdout).toMatch(/approved \d{4}-\d\d-\d\d \d\d:\d\d by ms-lan, for group "kids" at school "North": "maths lesson"/);
    expect(all.stdout).toMatch(/#2\s+rejected/);
    expect((await cli(['requests', 'list', '--admin', admin])).stdout).toBe('no pending review requests (pending 0, approved 1, rejected 1, revoked 0)\n');
  }, CLI_TEST_TIMEOUT);

  it('answers the admin API with JSON and 400/404/409 for bad requests', async () => {
    const post = (p: string, body?: string) => fetch(`${admin}${p}`, { method: 'POST', body, headers: body ? { 'content-type': 'application/json' } : {} });
    const s3 = await r.requests!.submit({ name: 'games-site.example', school: 'South', group: 'kids', category: 'games', message: '' }, SOUTH_KIDS);
    expect(s3).toMatchObject({ ok: true, id: 3 });
    expect((await fetch(`${admin}/requests?status=bogus`)).status).toBe(400);
    const pending = await (await fetch(`${admin}/requests`)).json() as { requests: { id: number }[]; counts: Record<string, number> };
    expect(pending.requests.map((x) => x.id)).toEqual([3]);
    expect(pending.counts).toEqual({ pending: 1, approved: 1, rejected: 1, revoked: 0 });
    expect((await post('/requests/3/approve', '{"scope": "planet"}')).status).toBe(400);
    expect((await post('/requests/3/approve', 'not json')).status).toBe(400);
    expect((await post('/requests/3/approve?color=red')).status).toBe(400);
    expect((await post('/requests/3/reject', '{"scope": "school"}')).status).toBe(400);
    const nf = await post('/requests/404/approve');
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ ok: false, code: 'NOT_FOUND', error: 'there is no request #404' });
    expect((await post('/requests/2/approve')).status).toBe(409);
    expect((await post('/requests/1/reject')).status).toBe(409);
    expect((await post('/requests/0/approve')).status).toBe(400);
    expect((await post('/requests/3/frobnicate')).status).toBe(405);
    // Group scope, given as a JSON body: that group at every school.
    const ok = await post('/requests/3/approve', JSON.stringify({ scope: 'group', note: 'district-wide', by: 'district office' }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, request: { id: 3, status: 'approved', scope: 'group', decidedBy: 'district office' } });
    expect(await addressOf(SOUTH_KIDS, r.udpPort, 'games-site.example')).toBe('192.0.2.1');
    expect(await addressOf(NORTH_TEACHERS, r.udpPort, 'games-site.example')).toBe(SINKHOLE);
    expect(promValue(await scrape(r.adminPort!), 'school_dns_review_requests_pending')).toBe(0);
  });

  it('keeps requests and approvals across a restart', async () => {
    await r.close();
    await builderGone();
    const journal = readFileSync(path.join(stateDir, 'requests.jsonl'), 'utf8');
    expect(journal).not.toMatch(/127\.0\.0\./); // no client address on disk
    r = await start();
    expect(r.requests!.list('all').map((x) => [x.id, x.status, x.scope])).toEqual([[1, 'approved', 'school-group'], [2, 'rejected', null], [3, 'approved', 'group']]);
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'www.games-site.example')).toBe('192.0.2.1');
    expect(await addressOf(SOUTH_KIDS, r.udpPort, 'games-site.example')).toBe('192.0.2.1');
    expect(await addressOf(NORTH_TEACHERS, r.udpPort, 'games-site.example')).toBe(SINKHOLE);
    expect(await r.requests!.submit({ name: 'new.example', school: 'North', group: 'teachers', category: null, message: '' }, NORTH_TEACHERS)).toMatchObject({ id: 4 });
    // A revoked approval closes the name again at once.
    const revoke = await cli(['requests', 'revoke', '1', '--admin', admin]);
    expect(revoke).toMatchObject({ code: 0, stdout: 'revoked the approval of request #1: www.games-site.example is filtered again for group "kids" at school "North"\n' });
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'www.games-site.example')).toBe('192.0.2.1'); // still open: #3 covers kids at every school
    await cli(['requests', 'revoke', '3', '--admin', admin]);
    expect(await addressOf(NORTH_KIDS, r.udpPort, 'www.games-site.example')).toBe(SINKHOLE);
  }, CLI_TEST_TIMEOUT);

  it('stops the start with a clear error when the state directory cannot be used', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    await expect(startTestResolver({ policy: { file: policyFile }, state: { directory: path.join(file, 'state') } }))
      .rejects.toMatchObject({ code: 'STARTUP_FAILED', message: expect.stringContaining(`the state directory ${path.join(file, 'state')} cannot be used: it cannot be created`) });
  });

  it('has no store and answers 409 when filtering is off', async () => {
    const off = await startTestResolver({ policy: { file: null } });
    try {
      expect(off.requests).toBeNull();
      const res = await fetch(`http://127.0.0.1:${off.adminPort}/requests`);
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ code: 'FILTERING_OFF' });
    } finally {
      await off.close();
    }
  });
});
