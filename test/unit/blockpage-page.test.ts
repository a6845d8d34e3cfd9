// The block page's words and HTML, without sockets: language choice from Accept-Language,
// what the page says for each kind of block, escaping of everything from outside, and
// HTML5 validity checked by the Nu Html Checker (vnu.jar, the W3C's validator, run offline).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { blockFacts, hostName } from '../../src/blockpage/facts';
import { EN_FIRST, languageOrder, languageQualities, VI_FIRST } from '../../src/blockpage/language';
import { esc, renderBlockPage, renderProblem, renderThanks, REVIEW_PATH, STYLE_HASH } from '../../src/blockpage/page';
import { bindFix } from '../../src/blockpage/server';
import { formatDays } from '../../src/blockpage/texts';
import type { FilterState } from '../../src/filter/state';
import { TrieBuilder } from '../../src/lists/trie';
import { parsePolicy } from '../../src/policy/load';
import { compilePolicy } from '../../src/policy/policy';
import { ApprovalSet } from '../../src/requests/approvals';

const POLICY = `
timezone: Asia/Ho_Chi_Minh
categories:
  adult: { description: "Pornography and sexual content", sources: [adult.txt] }
  games: { description: "Online games and game portals", sources: [games.txt] }
  edu: { sources: [edu.txt] }
  weird: { description: "<img src=x onerror=alert(1)> & \\"quotes\\" 'single'", sources: [weird.txt] }
groups:
  primary:
    description: "Primary school, ages 6 to 10"
    allowCategories: [edu]
    block: [adult, weird]
    deny: [denied.example]
    schedules:
      - { categories: [games], days: [mon, tue, wed, thu, fri], from: "07:00", to: "17:00" }
  preschool:
    mode: allow-only
    allowCategories: [edu]
  staff:
    block: [adult]
schools:
  - name: "Trường <b>Hoa Sen</b> & \\"co\\""
    networks:
      - { cidr: 10.2.2.0/24, group: primary }
      - { cidr: 10.2.1.0/24, group: preschool }
      - { cidr: 10.2.9.0/24, group: staff }
defaultGroup: preschool
`;

function state(): FilterState {
  const spec = parsePolicy(POLICY, '/tmp/blockpage-test/policy.yaml');
  const policy = compilePolicy(spec);
  const b = new TrieBuilder();
  for (const [name, cat] of [['adult.example', 'adult'], ['game.example', 'games'], ['learn.example', 'edu'], ['odd.example', 'weird']]) {
    b.add(name!, policy.categories.indexOf(cat!), false);
  }
  for (const n of policy.inlineNames) b.add(n.name, n.bit, false);
  return { policy, trie: b.build(), sources: [], entriesPerCategory: [], builtAt: 0, buildMs: 0, fingerprint: 'x', policyText: POLICY, spec };
}

// Monday 30 November 2026, 09:00 in Hanoi (UTC+7), and the Saturday after.
const MONDAY_9 = Date.UTC(2026, 10, 30, 2, 0);
const SATURDAY_9 = Date.UTC(2026, 11, 5, 2, 0);
const PRIMARY = '10.2.2.7';

describe('Accept-Language', () => {
  it.each([
    [undefined, VI_FIRST],
    ['', VI_FIRST],
    ['en', EN_FIRST],
    ['EN-gb', EN_FIRST],
    ['en-US,en;q=0.9', EN_FIRST],
    ['vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7', VI_FIRST],
    ['en-US,en;q=0.9,vi;q=0.8', EN_FIRST],
    ['en;q=0.5, vi;q=0.6', VI_FIRST],
    ['en;q=0.9, vi;q=0.9', VI_FIRST], // a tie keeps Vietnamese first
    ['fr-FR, en;q=0.5', EN_FIRST], // Vietnamese not acceptable at all
    ['fr-FR, *;q=0.1, en;q=0.5', EN_FIRST],
    ['*', VI_FIRST],
    ['en;q=0', VI_FIRST],
    ['vi;q=0, en;q=0.001', EN_FIRST],
    ['en;q=1.5', VI_FIRST], // invalid q: the entry is skipped
    ['en;q=abc', VI_FIRST],
    ['en;q=0.1234', VI_FIRST], // at most three decimals
    ['en ; q = 0.8 , vi;q=0.5', EN_FIRST],
    ['<script>, en', EN_FIRST], // garbage entries are skipped, the rest still count
    ['english, en-', VI_FIRST], // not language ranges
  ])('%j puts %j first', (header, order) => {
    expect(languageOrder(header)).toEqual(order);
  });

  it('reads quality values', () => {
    expect(languageQualities('vi;q=0.3, en-US;q=0.7, en;q=0.2, *;q=0.1')).toEqual({ vi: 0.3, en: 0.7 });
    expect(languageQualities('*;q=0.4')).toEqual({ vi: 0.4, en: 0.4 });
    expect(languageQualities(undefined)).toEqual({ vi: 0, en: 0 });
  });
});

describe('Host header', () => {
  it.each([
    ['adult.example', 'adult.example'],
    ['Adult.EXAMPLE:80', 'adult.example'],
    ['adult.example.', 'adult.example'],
    ['adult.example:8080', 'adult.example'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['127.0.0.1', null],
    ['127.0.0.1:80', null],
    ['[::1]:80', null],
    ['', null],
    [undefined, null],
    ['<script>alert(1)</script>', null],
    ['a..b', null],
    ['name:port', null],
    ['x'.repeat(64) + '.example', null],
  ])('%j -> %j', (host, name) => {
    expect(hostName(host)).toBe(name);
  });
});

describe('what the page knows', () => {
  const s = state();

  it('a category blocked at all times, with its description and the group', () => {
    const f = blockFacts(s, 'adult.example', PRIMARY, undefined, MONDAY_9);
    expect(f).toMatchObject({
      name: 'adult.example', decision: 'block', category: 'adult', categoryDescription: 'Pornography and sexual content',
      reason: { kind: 'always' }, timezone: 'Asia/Ho_Chi_Minh',
      client: { school: 'Trường <b>Hoa Sen</b> & "co"', group: 'primary', groupDescription: 'Primary school, ages 6 to 10' },
    });
  });

  it('a category blocked by schedule: in the window, and not outside it', () => {
    const f = blockFacts(s, 'www.game.example', PRIMARY, undefined, MONDAY_9);
    expect(f.decision).toBe('block');
    expect(f.reason).toEqual({ kind: 'schedule', window: { days: 0b0111110, from: 7 * 60, to: 17 * 60 } });
    expect(blockFacts(s, 'www.game.example', PRIMARY, undefined, SATURDAY_9)).toMatchObject({ decision: 'open', category: null, reason: null });
  });

  it('a walled garden, a deny name, an allowed name, an unknown device', () => {
    expect(blockFacts(s, 'news.example', '10.2.1.5', undefined, MONDAY_9)).toMatchObject({ decision: 'block', category: 'not-allowlisted', reason: { kind: 'not-allowlisted' } });
    expect(blockFacts(s, 'denied.example', PRIMARY, undefined, MONDAY_9)).toMatchObject({ decision: 'block', category: 'denylist', reason: { kind: 'denylist' } });
    expect(blockFacts(s, 'learn.example', '10.2.1.5', undefined, MONDAY_9)).toMatchObject({ decision: 'open' });
    expect(blockFacts(s, 'adult.example', '192.0.2.1', undefined, MONDAY_9)).toMatchObject({ client: { school: 'unknown', group: 'preschool' }, category: 'not-allowlisted' });
    expect(blockFacts(s, 'adult.example', '::ffff:10.2.2.7', undefined, MONDAY_9).client?.group).toBe('primary');
  });

  it('a name staff opened through an approved review request is open for the groups it covers', () => {
    const approvals = new ApprovalSet([{ id: 7, name: 'adult.example', scope: 'school-group', school: 'Trường <b>Hoa Sen</b> & "co"', group: 'primary' }]);
    expect(blockFacts(s, 'www.adult.example', PRIMARY, undefined, MONDAY_9, approvals)).toMatchObject({ decision: 'open', category: null });
    expect(blockFacts(s, 'adult.example', '10.2.9.1', undefined, MONDAY_9, approvals)).toMatchObject({ decision: 'block', category: 'adult' });
  });

  it('without a name, or without filtering', () => {
    expect(blockFacts(s, '127.0.0.1', PRIMARY, undefined, MONDAY_9)).toMatchObject({ name: null, decision: 'unknown', client: { group: 'primary' } });
    expect(blockFacts(null, 'adult.example', PRIMARY, undefined, MONDAY_9)).toMatchObject({ name: 'adult.example', decision: 'unknown', client: null });
  });
});

/** Text of the HTML with tags removed, entities of the escaper decoded, whitespace collapsed. */
function text(html: string): string {
  return html.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<[^>]*>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

describe('the page', () => {
  const s = state();
  const opts = { reviewForm: true, chosenLang: null };

  it('Vietnamese first by default, English alongside; hotlines as tel: links', () => {
    const html = renderBlockPage(blockFacts(s, 'adult.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts);
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="vi">')).toBe(true);
    expect(html).toContain('<h1 lang="vi">Trang này đã bị chặn</h1>');
    expect(html).toContain('<p class="sub" lang="en">This page is blocked</p>');
    expect(html).toContain('<a class="call" href="tel:111"><span class="num">111</span>');
    expect(html).toContain('<a class="call" href="tel:02432233111"><span class="num">0243.2233111</span>');
    const t = text(html);
    for (const want of [
      'adult.example', 'Nội dung người lớn', 'Adult content', 'Pornography and sexual content',
      'Nhóm “Tiểu học” luôn chặn loại “Nội dung người lớn”.', '“Adult content” is blocked at all times for the group “Primary school”.',
      'Trường <b>Hoa Sen</b> & "co"', 'Primary school, ages 6 to 10',
      'Tổng đài quốc gia bảo vệ trẻ em', 'Hanoi social work centre and child protection fund',
      'Em không làm gì sai cả.', 'You did not do anything wrong.',
      'lúc 09:00 Thứ Hai, 30 tháng 11, 2026', 'Monday, 30 November 2026 at 09:00',
      'Trang này không nên bị chặn', 'This should not be blocked',
    ]) expect(t).toContain(want);
    // Vietnamese comes before English in each pair.
    expect(t.indexOf('Em không làm gì sai cả.')).toBeLessThan(t.indexOf('You did not do anything wrong.'));
    expect(html).toContain(`<form method="post" action="${REVIEW_PATH}">`);
    expect(html).toContain('<input type="hidden" name="name" value="adult.example">');
    expect(html).toContain('<a href="?lang=en" lang="en">English first</a>');
  });

  it('English first when asked', () => {
    const html = renderBlockPage(blockFacts(s, 'adult.example', PRIMARY, undefined, MONDAY_9), EN_FIRST, { reviewForm: true, chosenLang: 'en' });
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<h1 lang="en">This page is blocked</h1>');
    const t = text(html);
    expect(t.indexOf('You did not do anything wrong.')).toBeLessThan(t.indexOf('Em không làm gì sai cả.'));
    expect(html).toContain('<input type="hidden" name="lang" value="en">');
    expect(html).toContain('<a href="?lang=vi" lang="vi">Tiếng Việt trước</a>');
  });

  it('explains each kind of block for the group', () => {
    const sched = text(renderBlockPage(blockFacts(s, 'game.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts));
    expect(sched).toContain('Nhóm “Tiểu học” chặn loại “Trò chơi trực tuyến” trong giờ học (T2–T6, 07:00–17:00).');
    expect(sched).toContain('“Online games” is blocked for the group “Primary school” during school hours (Mon–Fri, 07:00–17:00).');
    const garden = text(renderBlockPage(blockFacts(s, 'news.example', '10.2.1.5', undefined, MONDAY_9), VI_FIRST, opts));
    expect(garden).toContain('Nhóm “Mầm non” chỉ mở được những trang học tập đã được chọn');
    expect(garden).toContain('Máy này chỉ mở được những trang học tập thầy cô đã chọn.');
    const denied = text(renderBlockPage(blockFacts(s, 'denied.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts));
    expect(denied).toContain('Nhà trường chặn riêng trang này cho nhóm “Tiểu học”.');
    const unknown = text(renderBlockPage(blockFacts(s, 'adult.example', '192.0.2.1', undefined, MONDAY_9), VI_FIRST, opts));
    expect(unknown).toContain('chưa xác định');
    const open = renderBlockPage(blockFacts(s, 'game.example', PRIMARY, undefined, SATURDAY_9), VI_FIRST, opts);
    expect(text(open)).toContain('Trang này không bị chặn cho nhóm của em lúc này.');
    expect(open).not.toContain('<form'); // nothing to review
  });

  it('no form without a review sink; a generic page without a name; no client facts without filtering', () => {
    expect(renderBlockPage(blockFacts(s, 'adult.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, { reviewForm: false, chosenLang: null })).not.toContain('<form');
    const generic = renderBlockPage(blockFacts(s, undefined, PRIMARY, undefined, MONDAY_9), VI_FIRST, opts);
    expect(text(generic)).toContain('Đây là trang của bộ lọc an toàn của trường.');
    expect(generic).not.toContain('<form');
    expect(generic).toContain('tel:111');
    const off = text(renderBlockPage(blockFacts(null, 'adult.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts));
    expect(off).toContain('adult.example');
    expect(off).not.toContain('Trường');
    expect(off).toContain('Monday, 30 November 2026 at 09:00');
  });

  it('escapes every value from the policy and the request', () => {
    expect(esc(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    const html = renderBlockPage(blockFacts(s, 'odd.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts);
    expect(html).toContain('Trường &lt;b&gt;Hoa Sen&lt;/b&gt; &amp; &quot;co&quot;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot; &#39;single&#39;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    const problem = renderProblem(VI_FIRST, 'INVALID', '<script>alert(1)</script>');
    expect(problem).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(problem).not.toMatch(/<script/i);
  });

  it('has no script and no external resource; the style is the one the CSP hash allows', () => {
    const html = renderBlockPage(blockFacts(s, 'adult.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts);
    expect(html).not.toMatch(/<script|javascript:|\son\w+=/i);
    expect(html).not.toMatch(/(?:src|href|action)="(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html.match(/<style>/g)).toHaveLength(1);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    const css = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    expect(STYLE_HASH).toBe(`'sha256-${createHash('sha256').update(css).digest('base64')}'`);
  });

  it('day ranges', () => {
    expect(formatDays(0b0111110, 'vi')).toBe('T2–T6');
    expect(formatDays(0b1000000, 'en')).toBe('Sat');
    expect(formatDays(0b1000011, 'en')).toBe('Mon, Sat, Sun');
    expect(formatDays(0b1111111, 'en')).toBe('Mon–Sun');
  });

  it('is valid HTML5 (Nu Html Checker), every variant', () => {
    const variants: Record<string, string> = {
      'always-vi': renderBlockPage(blockFacts(s, 'adult.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts),
      'schedule-en': renderBlockPage(blockFacts(s, 'game.example', PRIMARY, undefined, MONDAY_9), EN_FIRST, { reviewForm: true, chosenLang: 'en' }),
      'garden': renderBlockPage(blockFacts(s, 'news.example', '10.2.1.5', undefined, MONDAY_9), VI_FIRST, opts),
      'escaped': renderBlockPage(blockFacts(s, 'odd.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts),
      'open': renderBlockPage(blockFacts(s, 'game.example', PRIMARY, undefined, SATURDAY_9), VI_FIRST, opts),
      'generic': renderBlockPage(blockFacts(s, undefined, '192.0.2.1', undefined, MONDAY_9), EN_FIRST, opts),
      'no-filter': renderBlockPage(blockFacts(null, 'adult.example', PRIMARY, undefined, MONDAY_9), VI_FIRST, opts),
      'thanks': renderThanks(VI_FIRST, 42, false),
      'thanks-dup': renderThanks(EN_FIRST, 42, true),
      'problem': renderProblem(VI_FIRST, 'INVALID', '<script>x</script>'),
    };
    expect(nuCheck(variants)).toEqual([]);
  }, 120_000);
});

describe('what to do when an address cannot be bound', () => {
  it('names the privilege, the other program, the missing address, and the keys to change', () => {
    const acces = bindFix('EACCES', '10.0.0.53', 80, 'http');
    expect(acces).toContain('run school-dns as root, or give it CAP_NET_BIND_SERVICE');
    expect(acces).toContain('set blockPage.listen to a port above 1023');
    expect(acces).toContain('blockPage.enabled: false turns the block page off');
    expect(bindFix('EACCES', '10.0.0.53', 443, 'reset')).toContain('set blockPage.https.port to a port above 1023 and redirect port 443 to it in the firewall, or set blockPage.https.mode: off');
    expect(bindFix('EADDRINUSE', '2001:db8::53', 80, 'http')).toBe('another program already listens on [2001:db8::53]:80: stop it (a web server?), or set blockPage.listen to another address or port');
    expect(bindFix('EADDRNOTAVAIL', '10.0.0.53', 80, 'http')).toContain('10.0.0.53 is not an address of this machine: set blocking.sinkholeIPv4/sinkholeIPv6');
  });
});

/** Runs the Nu Html Checker on the documents; returns its errors and warnings ("name: message"). */
function nuCheck(docs: Record<string, string>): string[] {
  const jar = require('vnu-jar') as string;
  const dir = mkdtempSync(path.join(tmpdir(), 'blockpage-html-'));
  try {
    const files = Object.entries(docs).map(([name, html]) => {
      const f = path.join(dir, `${name}.html`);
      writeFileSync(f, html);
      return f;
    });
    // A short run: the client compiler alone and the serial collector start the JVM 2-3 times
    // faster; the checker needs a larger thread stack with them.
    const java = ['-Xss4m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-jar', String(jar)];
    const r = spawnSync('java', [...java, '--format', 'json', '--stdout', '--exit-zero-always', ...files], { encoding: 'utf8', timeout: 110_000 });
    if (r.error || r.status !== 0) throw new Error(`cannot run the HTML validator: ${r.error?.message ?? r.stderr}. It needs Java 11 or later: apt-get install default-jre-headless (.ci/run installs it)`);
    const out = JSON.parse(r.stdout) as { messages: { type: string; subType?: string; url?: string; message: string; extract?: string }[] };
    return out.messages
      .filter((m) => m.type === 'error' || (m.type === 'info' && m.subType === 'warning') || m.type === 'non-document-error')
      .map((m) => `${path.basename(m.url ?? '?')}: ${m.type}${m.subType ? `/${m.subType}` : ''}: ${m.message} [${m.extract ?? ''}]`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
