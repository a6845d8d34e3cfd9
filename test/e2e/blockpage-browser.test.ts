// The block page in a real browser: Debian's headless Chromium, driven by playwright-core
// (never a downloaded browser). school-dns answers the blocked name with the sinkhole; the
// browser resolves the same name to the block page's port (--host-resolver-rules), so the
// Host header is the blocked name, as on a school network. The test reads the texts a child
// sees, checks the style sheet was allowed by the CSP (the hotline buttons are red), that the
// page fits a phone's width, sends a review request by clicking the button (no JavaScript on
// the page), and saves screenshots in test/artifacts/.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import { udpAskFrom } from '../helpers/client';
import { decode, query } from '../helpers/packets';
import { loopback, startTestResolver, type TestResolver } from '../helpers/resolver';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const BLOCKED = 'adult.example';
const POLICY = `
categories:
  adult: { description: "Pornography and sexual content", sources: [adult.txt] }
groups:
  primary: { description: "Primary school, ages 6 to 10", block: [adult] }
schools:
  - name: "Trường Tiểu học Hoa Sen"
    networks:
      - { cidr: 127.0.0.0/8, group: primary }
defaultGroup: primary
`;

jest.setTimeout(120_000);

/** What the browser-side functions use (the project's TypeScript has no DOM types). */
interface BrowserGlobals {
  getComputedStyle(el: unknown): { backgroundColor: string };
}

let dir: string;
let r: TestResolver;
let server: BrowserServer | null = null;
let browser: Browser | null = null;
let pid: number | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: this test needs Debian's Chromium. Install it with "apt-get install -y chromium" (.ci/run does).`);
  }
  dir = mkdtempSync(path.join(tmpdir(), 'blockpage-browser-'));
  writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
  writeFileSync(path.join(dir, 'adult.txt'), `${BLOCKED}\n`);
  r = await startTestResolver({
    policy: { file: path.join(dir, 'policy.yaml') },
    blocking: { sinkholeIPv4: '127.0.0.1', sinkholeIPv6: null, ttl: 60 },
    blockPage: { enabled: true, listen: [loopback(0)], https: { mode: 'reset', port: 0, cert: null, key: null }, reviewForm: true },
  });
  server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    timeout: 60_000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      `--host-resolver-rules=MAP ${BLOCKED} 127.0.0.1:${r.blockPagePorts.http[0]}`,
    ],
  });
  pid = server.process().pid;
  browser = await chromium.connect(server.wsEndpoint(), { timeout: 60_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close().catch(() => undefined);
  if (pid !== undefined) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await r?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(opts: { locale: string; width?: number }): Promise<{ page: Page; errors: string[] }> {
  const context = await browser!.newContext({ locale: opts.locale, viewport: { width: opts.width ?? 1000, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const res = await page.goto(`http://${BLOCKED}/some/path`, { timeout: 15_000 });
  expect(res?.status()).toBe(200);
  return { page, errors };
}

it('school-dns answers the blocked name with the sinkhole', async () => {
  const reply = decode(await udpAskFrom('127.0.0.1', r.udpPort, query(BLOCKED, 'A'), 3000));
  expect(reply.answers.filter((a) => a.type === 'A').map((a) => a.data)).toEqual(['127.0.0.1']);
});

it('Chromium shows the block page with the name, category, group and hotlines', async () => {
  const { page, errors } = await open({ locale: 'vi-VN' });
  const text = await page.locator('body').innerText();
  for (const want of [
    BLOCKED, 'Trang này đã bị chặn', 'This page is blocked',
    'Nội dung người lớn', 'Adult content', 'Pornography and sexual content',
    'Trường Tiểu học Hoa Sen', 'Tiểu học', 'Primary school',
    '111', 'Tổng đài quốc gia bảo vệ trẻ em', '0243.2233111', 'Hanoi social work centre and child protection fund',
    'Em không làm gì sai cả.', 'You did not do anything wrong.',
    'Trang này không nên bị chặn', 'This should not be blocked',
  ]) expect(text).toContain(want);
  expect(text.indexOf('Trang này đã bị chặn')).toBeLessThan(text.indexOf('This page is blocked'));
  expect(await page.locator('html').getAttribute('lang')).toBe('vi');
  // The hotlines are visible links a phone can dial, styled as big red buttons: the inline
  // style sheet got past the Content-Security-Policy.
  for (const tel of ['tel:111', 'tel:02432233111']) {
    const link = page.locator(`a[href="${tel}"]`);
    expect(await link.isVisible()).toBe(true);
    expect(await link.evaluate((el) => (globalThis as unknown as BrowserGlobals).getComputedStyle(el).backgroundColor)).toBe('rgb(198, 45, 74)');
  }
  expect(errors).toEqual([]);
  await page.screenshot({ path: path.join(ARTIFACTS, 'blockpage-vi.png'), fullPage: true });
  await page.context().close();
});

it('English first for an English browser; fits a phone without sideways scrolling', async () => {
  const { page } = await open({ locale: 'en-US', width: 320 });
  expect(await page.locator('html').getAttribute('lang')).toBe('en');
  const text = await page.locator('body').innerText();
  expect(text.indexOf('This page is blocked')).toBeLessThan(text.indexOf('Trang này đã bị chặn'));
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(320);
  await page.screenshot({ path: path.join(ARTIFACTS, 'blockpage-en-phone.png'), fullPage: true });
  await page.context().close();
});

it('the review button sends a request without JavaScript, and the thank-you page shows its number', async () => {
  const { page, errors } = await open({ locale: 'vi-VN' });
  await page.locator('textarea[name="message"]').fill('Cần cho bài học');
  await Promise.all([page.waitForNavigation({ timeout: 15_000 }), page.locator('button[type="submit"]').click()]);
  const text = await page.locator('body').innerText();
  const id = Number(/Yêu cầu số (\d+) đã được gửi/.exec(text)?.[1]);
  expect(id).toBeGreaterThan(0);
  expect(r.requests!.get(id)).toMatchObject({ name: BLOCKED, school: 'Trường Tiểu học Hoa Sen', group: 'primary', category: 'adult', message: 'Cần cho bài học' });
  expect(errors).toEqual([]);
  await page.screenshot({ path: path.join(ARTIFACTS, 'blockpage-thanks.png'), fullPage: true });
  await page.context().close();
});
