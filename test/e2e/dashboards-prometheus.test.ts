// The Grafana dashboards and the alert rules in dashboards/, against a real Prometheus
// (Debian's `prometheus` package) scraping a real school-dns every second: every panel
// query, every template variable and every alert expression is evaluated through
// Prometheus's HTTP API and must return data. Traffic comes from two age groups of one
// school (real UDP from distinct loopback addresses), with blocked, cached and failing
// (SERVFAIL) names; one category's list is downloaded from a list host on loopback, which
// then fails, and one reload fails on purpose. A second scrape target is a closed port, so
// "resolver down" has something to catch. `promtool` checks and unit-tests the rules.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { collectDefaultMetrics } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { udpAskFrom } from '../helpers/client';
import { ListHost } from '../helpers/list-host';
import { query, rcodeOf } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';
import { stopChild } from '../helpers/process';

const DASHBOARDS = path.resolve(__dirname, '..', '..', 'dashboards');
const DASHBOARD_FILES = ['school-dns-district.json', 'school-dns-school.json'];
const RULES = path.join(DASHBOARDS, 'alerts.yml');
const RULE_TESTS = path.join(DASHBOARDS, 'alerts.test.yml');
const JOB = 'school-dns';
const SCHOOL = 'Trường Tiểu học Hoà Bình';
const KIDS = '127.0.0.2';
const TEACHERS = '127.0.0.3';
/** Grafana's time-range variables, as concrete ranges for data a few seconds old. */
const RANGES: Record<string, string> = { __rate_interval: '1m', __range: '5m', __interval: '15s' };

/** A binary on PATH or in /usr/bin; throws with instructions when the package is missing. */
function findBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  throw new Error(`${name} is not installed: this test runs a real Prometheus. Install Debian's package with `
    + '`apt-get install -y prometheus` (.ci/run installs it in CI).');
}

interface Sample { metric: Record<string, string>; value: [number, string] }

type Json = Record<string, unknown>;
interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: Json; targets?: Json[] }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Json[] } }

const dashboards: Dashboard[] = DASHBOARD_FILES.map((f) => JSON.parse(readFileSync(path.join(DASHBOARDS, f), 'utf8')) as Dashboard);

/** Regex-escaped, then escaped for a PromQL string: what Grafana puts in `=~"$var"` for a multi-value variable. */
const regexValue = (v: string): string => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
/** Escaped for a PromQL string: what Grafana puts in `="$var"` for a single-value variable. */
const plainValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/**
 * A dashboard query with its variables replaced by real values. The dashboards use $job and
 * $instance only in regex matchers (=~, multi-value variables) and $school only in exact
 * ones (=): Grafana escapes each kind differently, so the test holds them to it.
 */
function substitute(expr: string, vars: Record<string, string>): string {
  let out = expr;
  for (const [name, range] of Object.entries(RANGES)) out = out.split(`$${name}`).join(range);
  out = out.replace(/(=~|=)"\$\{?(\w+)\}?"/g, (_m, op: string, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`unknown variable $${name} in ${expr}`);
    if ((name === 'school') !== (op === '=')) throw new Error(`$${name} used with ${op} in ${expr}`);
    return `${op}"${op === '=~' ? regexValue(v) : plainValue(v)}"`;
  });
  // Only label_replace's "$1" may remain.
  if (/\$(?!1")/.test(out)) throw new Error(`a variable was left in ${out}`);
  return out;
}

/**
 * The expression with every comparison turned into a 0/1 one (`> bool`): a sample for each
 * series compared, whether the threshold is crossed now or not. So "returns data" checks
 * each signal of an alert, and the `and` between them (their labels must match), without
 * having to make every alert fire.
 */
function withBool(expr: string): string {
  let out = '';
  let braces = 0;
  let quote: string | null = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote !== null) {
      out += c;
      if (c === '\\') out += expr[++i];
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') braces++;
    else if (c === '}') braces--;
    else if (braces === 0) {
      const op = /^(==|!=|>=|<=|>|<)/.exec(expr.slice(i))?.[1];
      if (op !== undefined) {
        out += op;
        i += op.length - 1;
        if (!/^\s*bool\b/.test(expr.slice(i + 1))) out += ' bool';
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** The operands of the top-level `and` / `or` / `unless` of an expression (itself when there is none). */
function operands(expr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let braces = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote !== null) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '{') braces++;
    else if (c === '}') braces--;
    else if (depth === 0 && braces === 0) {
      const m = /^\s(and|or|unless)\s+((on|ignoring)\s*\([^)]*\)\s*)?/.exec(expr.slice(i));
      if (m) {
        out.push(expr.slice(start, i).trim());
        start = i + m[0].length;
        i = start - 1;
      }
    }
  }
  out.push(expr.slice(start).trim());
  return out;
}

describe('operands', () => {
  it.each([
    ['a > 1', ['a > 1']],
    ['a / b > 0.05 and c > 0.2', ['a / b > 0.05', 'c > 0.2']],
    ['x{k="a or b"} > y or min by (i) (z) == 0', ['x{k="a or b"} > y', 'min by (i) (z) == 0']],
    ['time() - min by (j) ({__name__=~"a|b"} > 0) > 5', ['time() - min by (j) ({__name__=~"a|b"} > 0) > 5']],
    ['a unless on (i) b', ['a', 'b']],
  ])('%s', (input, expected) => expect(operands(input)).toEqual(expected));
});

describe('withBool', () => {
  it.each([
    ['up{job="a"} == 0', 'up{job="a"} == bool 0'],
    ['a{x!="y",z=~"q"} / b > 0.05 and c > 0.2', 'a{x!="y",z=~"q"} / b > bool 0.05 and c > bool 0.2'],
    ['a > bool b', 'a > bool b'],
    ['x{s="a > b"} >= 1', 'x{s="a > b"} >= bool 1'],
  ])('%s', (input, expected) => expect(withBool(input)).toBe(expected));
});

describe('Grafana dashboards: structure', () => {
  it.each(DASHBOARD_FILES.map((f, i) => [f, dashboards[i]] as const))('%s: importable, data source a variable, no fixed uid', (_f, d) => {
    expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = d.templating.list.filter((v) => v.type === 'datasource');
    expect(ds).toEqual([expect.objectContaining({ name: 'datasource', query: 'prometheus' })]);
    // Every data source reference anywhere (panels, targets, variables) is the variable.
    const refs: unknown[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x !== null && typeof x === 'object') for (const [k, v] of Object.entries(x)) (k === 'datasource' ? refs.push(v) : walk(v));
    };
    walk({ panels: d.panels, templating: d.templating });
    expect(refs.length).toBeGreaterThan(d.panels.length);
    for (const r of refs) expect(r).toEqual({ type: 'prometheus', uid: '${datasource}' });
    // Panels: unique ids, inside the 24-column grid, none on top of another.
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      if (p.type !== 'row') expect(p.targets?.length).toBeGreaterThan(0);
    }
  });

  it('the per-school view is chosen by a $school variable filled from the metrics', () => {
    const school = dashboards[1].templating.list.find((v) => v.name === 'school');
    expect(school).toMatchObject({ type: 'query', multi: false, includeAll: false });
    expect(String(school!.query)).toMatch(/^label_values\(school_dns_school_queries_total\{.*\}, school\)$/);
    for (const p of dashboards[1].panels) for (const t of p.targets ?? []) {
      if (String(t.expr).includes('school_dns_school_queries_total') || String(t.expr).includes('school_dns_blocked_queries_total')) {
        expect(String(t.expr)).toContain('school="$school"');
      }
    }
  });
});

describe('dashboards and alert rules against a real Prometheus scraping school-dns', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let listHost: ListHost;
  let r: TestResolver;
  let prom: ChildProcess | null = null;
  let promUrl = '';
  let promLog = '';
  let live = '';
  let dead = '';
  let vars: Record<string, string>;

  const api = async (p: string, params: Record<string, string> = {}): Promise<Json> => {
    const res = await fetch(`${promUrl}${p}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as Json;
    if (body.status !== 'success') throw new Error(`${p} ${JSON.stringify(params)}: ${String(body.errorType)}: ${String(body.error)}`);
    return body.data as Json;
  };
  const instant = async (expr: string): Promise<Sample[]> => {
    const data = await api('/api/v1/query', { query: expr });
    if (data.resultType !== 'vector') throw new Error(`${expr}: a ${String(data.resultType)}, not a vector`);
    return data.result as Sample[];
  };
  const waitFor = async (what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!(await ok().catch(() => false))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; Prometheus said:\n${promLog.slice(-2000)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  };
  const scalar = async (expr: string): Promise<number> => {
    const v = await instant(expr);
    return v.length === 1 ? Number(v[0].value[1]) : NaN;
  };

  let sent = 0;
  const ask = async (from: string, name: string, expectRcode: number): Promise<void> => {
    const reply = await udpAskFrom(from, r.udpPort, query(name, 'A'));
    expect(rcodeOf(reply)).toBe(expectRcode);
    sent++;
  };
  /** Pages (cached after the first ask), a blocked adult site, a game blocked for kids only, and a name whose upstream fails. */
  const wave = async (): Promise<void> => {
    for (const from of [KIDS, TEACHERS]) {
      for (let i = 0; i < 6; i++) await ask(from, `page${i % 2}.school-site.example`, 0);
      await ask(from, 'adult-site.example', 0);
      await ask(from, 'games-site.example', 0);
      await ask(from, 'broken.example', 2);
    }
  };

  beforeAll(async () => {
    const prometheus = findBinary('prometheus');
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-prom-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'adult.txt'), 'adult-site.example\n');
    listHost = await ListHost.start();
    listHost.set('/games.txt', { body: 'games-site.example\n' });
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  adult: { sources: [lists/adult.txt] }
  games: { sources: [{ url: "${listHost.url('/games.txt')}", format: plain }] }
groups:
  kids: { block: [adult, games] }
  teachers: { block: [adult] }
schools:
  - name: ${SCHOOL}
    networks:
      - { cidr: ${KIDS}/32, group: kids }
      - { cidr: ${TEACHERS}/32, group: teachers }
defaultGroup: kids
`);
    upstream = await ScriptedUpstream.start();
    for (const name of ['page0.school-site.example', 'page1.school-site.example', 'games-site.example']) {
      upstream.records(name, 'A', [{ name, type: 'A', ttl: 300, class: 'IN', data: '192.0.2.10' }]);
    }
    upstream.behave = (q) => (q.name.toLowerCase() === 'broken.example' ? 'servfail' : 'answer');
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 300, attempts: 2, totalTimeoutMs: 1000 },
      policy: { file: path.join(dir, 'policy.yaml') },
    });
    // The helper turns Node's process metrics off (many servers share a test process); the
    // dashboards chart them, so this one server has them, as `school-dns serve` does.
    collectDefaultMetrics({ register: r.metrics.registry });
    live = `127.0.0.1:${r.adminPort}`;
    // A port nobody listens on: a resolver that is down.
    const closed = net.createServer();
    await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
    dead = `127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise<void>((res) => closed.close(() => res()));
    vars = { job: JOB, instance: live, school: SCHOOL };

    mkdirSync(path.join(dir, 'tsdb'));
    writeFileSync(path.join(dir, 'prometheus.yml'), `
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [${JSON.stringify(RULES)}]
scrape_configs:
  - job_name: ${JOB}
    static_configs:
      - targets: [${JSON.stringify(live)}, ${JSON.stringify(dead)}]
`);
    prom = spawn(prometheus, [
      `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
      '--web.listen-address=127.0.0.1:0', '--log.level=info',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Prometheus did not start listening within 15 s:\n${promLog}`)), 15_000);
      prom!.stderr!.on('data', (chunk: Buffer) => {
        promLog += chunk.toString();
        const m = /msg="Listening on" address=127\.0\.0\.1:(\d+)/.exec(promLog);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      });
      prom!.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Prometheus exited (${code}):\n${promLog}`)); });
    });
    promUrl = `http://127.0.0.1:${port}`;
    await waitFor('Prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`)).status === 200);
    // A scrape before any traffic, so rates have a starting point.
    await waitFor('the first scrape', async () => (await scalar(`up{instance="${live}"}`)) === 1);

    await wave();
    // The list host fails: the reload keeps the saved copy of its list.
    listHost.mode('/games.txt', 'error');
    expect((await r.reload())!.ok).toBe(true);
    writeFileSync(path.join(dir, 'policy.yaml'), 'groups: [');
    expect((await r.reload())!.ok).toBe(false); // the previous lists keep serving
    await waitFor('a scrape after the first wave', async () => (await scalar(`sum(school_dns_queries_total{instance="${live}"})`)) >= sent
      && (await scalar(`school_dns_list_reloads_total{instance="${live}",result="failed"}`)) === 1
      && (await scalar(`school_dns_list_source_up{instance="${live}",category="games"}`)) === 0);
    await wave();
    await waitFor('a scrape after the second wave', async () => (await scalar(`sum(school_dns_queries_total{instance="${live}"})`)) >= sent);
  }, 60_000);

  afterAll(async () => {
    if (prom) await stopChild(prom);
    await r?.close();
    await upstream?.close();
    await listHost?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 15_000);

  it('scrapes the series the dashboards are built on', async () => {
    expect(await scalar(`sum(school_dns_school_queries_total{instance="${live}",school="${SCHOOL}"})`)).toBe(sent);
    expect(await scalar(`sum(school_dns_blocked_queries_total{instance="${live}",school="${SCHOOL}",group="kids"})`)).toBe(4);
    expect(await scalar(`sum(school_dns_blocked_queries_total{instance="${live}",school="${SCHOOL}",group="teachers",category="adult"})`)).toBe(2);
    expect(await scalar(`sum(school_dns_responses_total{instance="${live}",rcode="SERVFAIL"})`)).toBe(4);
    expect(await scalar(`sum(school_dns_request_duration_seconds_count{instance="${live}",source="cached"})`)).toBeGreaterThanOrEqual(16);
    expect(await scalar(`up{instance="${dead}"}`)).toBe(0);
  });

  it.each(dashboards.map((d) => [d.title, d] as const))('%s: every template variable lists real values', async (_t, d) => {
    const expected: Record<string, string> = { job: JOB, instance: live, school: SCHOOL };
    for (const v of d.templating.list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(String(v.query));
      expect(m).not.toBeNull();
      const values = (await api(`/api/v1/label/${m![2]}/values`, { 'match[]': substitute(m![1], vars) })) as unknown as string[];
      expect(values).toContain(expected[String(v.name)]);
    }
  });

  it.each(dashboards.map((d) => [d.title, d] as const))('%s: every panel query returns data', async (_t, d) => {
    const targets = d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: String(t.expr) })));
    expect(targets.length).toBeGreaterThan(10);
    const empty: string[] = [];
    for (const t of targets) {
      const result = await instant(substitute(t.expr, vars));
      // At least one series with a number (0/0 gives NaN: a ratio of nothing is not data).
      if (!result.some((s) => Number.isFinite(Number(s.value[1])))) empty.push(`${t.panel}: ${t.expr} -> ${JSON.stringify(result)}`);
    }
    expect(empty).toEqual([]);
  });

  it('loads every alert rule, healthy, and each signal of every alert expression returns data', async () => {
    const file = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string; labels: { severity: string }; annotations: { summary: string; description: string } }[] }[] };
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.map((x) => x.alert).sort()).toEqual(['SchoolDnsDown', 'SchoolDnsListRefreshFailing', 'SchoolDnsListsStale', 'SchoolDnsProxyHeadersRejected', 'SchoolDnsServfailRatioHigh', 'SchoolDnsSlowAnswers']);
    for (const rule of rules) {
      expect(['critical', 'warning']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
      expect(rule.annotations.description.length).toBeGreaterThan(80);
    }
    // Prometheus loaded them from the same file and evaluated each without error.
    await waitFor('every rule evaluated', async () => {
      const loaded = ((await api('/api/v1/rules')) as { groups: { rules: { name: string; health: string; lastEvaluation: string }[] }[] }).groups.flatMap((g) => g.rules);
      return loaded.length === rules.length && loaded.every((x) => x.health === 'ok' && !x.lastEvaluation.startsWith('0001'));
    });
    // The whole expression, and each operand of its and/or on its own, for this resolver.
    const empty: string[] = [];
    for (const rule of rules) {
      for (const expr of [rule.expr, ...operands(rule.expr)].map(withBool)) {
        const result = await instant(expr);
        if (!result.some((s) => Number.isFinite(Number(s.value[1])) && s.metric.instance === live)) empty.push(`${rule.alert}: ${expr} -> ${JSON.stringify(result)}`);
      }
    }
    expect(empty).toEqual([]);
  });

  it('catches the resolver that is down and the reload that failed', async () => {
    expect((await instant(file('SchoolDnsDown'))).map((s) => s.metric.instance)).toEqual([dead]);
    expect((await instant(file('SchoolDnsListRefreshFailing'))).map((s) => s.metric.instance)).toEqual([live]);
    await waitFor('both alerts pending', async () => {
      const alerts = ((await api('/api/v1/alerts')) as { alerts: { labels: Record<string, string>; state: string }[] }).alerts;
      const has = (name: string, instance: string) => alerts.some((a) => a.labels.alertname === name && a.labels.instance === instance && a.state === 'pending');
      return has('SchoolDnsDown', dead) && has('SchoolDnsListRefreshFailing', live) && !alerts.some((a) => a.labels.alertname === 'SchoolDnsDown' && a.labels.instance === live);
    });
  });

  it('promtool accepts the rules file and its unit tests pass', () => {
    const promtool = findBinary('promtool');
    const check = spawnSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8', timeout: 15_000 });
    expect(`${check.stdout}${check.stderr}`).toContain('SUCCESS: 6 rules found');
    expect(check.status).toBe(0);
    const unit = spawnSync(promtool, ['test', 'rules', RULE_TESTS], { encoding: 'utf8', timeout: 15_000 });
    expect(`${unit.stdout}${unit.stderr}`).toContain('SUCCESS');
    expect(unit.status).toBe(0);
  });
});

/** An alert's expression as written in the rules file. */
function file(alert: string): string {
  const rules = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
  const r = rules.find((x) => x.alert === alert);
  if (!r) throw new Error(`no alert ${alert}`);
  return r.expr;
}
