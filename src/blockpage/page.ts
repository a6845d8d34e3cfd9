// The block page's HTML: pure functions from facts to a complete HTML5 document. Every value
// that comes from a request (the Host header, the form, the query string) or from the policy
// file passes through esc(); the rest is constant text. No script, no external resource: the
// style sheet is inline and allowed by its hash in the Content-Security-Policy.
import { createHash } from 'node:crypto';
import { formatTimeOfDay } from '../policy/schedule';
import type { BlockFacts } from './facts';
import type { Lang, LangOrder } from './language';
import { categoryWords, formatDays, groupLabel, HOTLINES, REVIEW_PROBLEMS, T, thanks, type ReviewProblem } from './texts';
import { UNKNOWN_SCHOOL } from '../policy/policy';

/** Where the review form posts to (any other POST is refused). */
export const REVIEW_PATH = '/_school-dns/review';
/** Longest review message, in characters. */
export const MAX_MESSAGE_CHARS = 500;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML element content and quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const CSS = `
:root{color-scheme:light;--ink:#1d2733;--soft:#566474;--line:#d9e1ea;--brand:#2a6fd6;--help:#c62d4a}
*{box-sizing:border-box}
body{margin:0;background:#f3f6fa;color:var(--ink);font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
main{max-width:40rem;margin:0 auto;padding:1rem}
.card{background:#fff;border:1px solid var(--line);border-radius:14px;padding:1rem 1.1rem;margin:0 0 1rem}
.top{text-align:center}
.top svg{display:block;margin:.25rem auto .5rem}
h1{font-size:1.6rem;line-height:1.25;margin:.25rem 0}
h2{font-size:1.15rem;margin:0 0 .5rem}
p{margin:.4rem 0}
.second{color:var(--soft)}
.sub{font-size:1.15rem;color:var(--soft);margin:0}
.kid p:first-child{font-size:1.1rem}
.help{border:3px solid var(--help);background:#fff5f7}
.help h2{color:var(--help);font-size:1.3rem}
.lines{list-style:none;margin:.75rem 0 0;padding:0}
.lines li{margin:0 0 .6rem}
.call{display:block;text-decoration:none;color:#fff;background:var(--help);border-radius:12px;padding:.7rem .9rem}
.call:focus,.call:hover{background:#a3213b}
.num{display:block;font-size:clamp(1.5rem,8.5vw,2.1rem);font-weight:800;letter-spacing:.02em;line-height:1.15}
.who{display:block;font-size:.95rem}
.who.second{color:#ffe3e9}
dl{margin:0}
dt{font-weight:700;margin-top:.6rem;font-size:.95rem;color:var(--soft)}
dd{margin:0;overflow-wrap:anywhere}
.name{font-weight:700;font-size:1.1rem}
.note{font-size:.9rem;color:var(--soft)}
label{display:block;font-weight:600;margin:.6rem 0 .25rem}
textarea{width:100%;font:inherit;padding:.5rem;border:1px solid #9aa9b9;border-radius:8px}
button{margin-top:.7rem;width:100%;font:inherit;font-weight:700;color:#fff;background:var(--brand);border:0;border-radius:10px;padding:.75rem 1rem;cursor:pointer}
.msg{font-size:1.15rem;font-weight:600}
footer{text-align:center;font-size:.9rem;color:var(--soft);padding:.5rem 0 1.5rem}
footer a{color:var(--brand)}
@media (min-width:34rem){main{padding:2rem 1rem}h1{font-size:2rem}}
`.trim();

/** For the Content-Security-Policy: the only style the page may use is this one. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

const LOGO =
  '<svg width="72" height="72" viewBox="0 0 64 64" aria-hidden="true" focusable="false">' +
  '<path d="M32 3 7 12v18c0 15.5 10.4 27 25 31 14.6-4 25-15.5 25-31V12z" fill="#2a6fd6"/>' +
  '<path d="M32 45S19 37.5 19 28.5a7 7 0 0 1 13-3.6 7 7 0 0 1 13 3.6C45 37.5 32 45 32 45z" fill="#fff"/></svg>';

/** Both languages, the preferred one first, as two paragraphs. */
function pair(order: LangOrder, t: Readonly<Record<Lang, string>>, tag = 'p', cls = ''): string {
  const [a, b] = order;
  const c = cls ? ` ${cls}` : '';
  return `<${tag} lang="${a}"${cls ? ` class="${cls}"` : ''}>${esc(t[a])}</${tag}><${tag} lang="${b}" class="second${c}">${esc(t[b])}</${tag}>`;
}

/** Both languages inline: "a · b". */
function inline(order: LangOrder, t: Readonly<Record<Lang, string>>): string {
  const [a, b] = order;
  return t[a] === t[b] ? esc(t[a]) : `<span lang="${a}">${esc(t[a])}</span> · <span lang="${b}">${esc(t[b])}</span>`;
}

function document(order: LangOrder, title: Readonly<Record<Lang, string>>, body: string, switchHref: string | null): string {
  const [a, b] = order;
  const other = switchHref === null ? '' : `<p><a href="${esc(switchHref)}" lang="${b}">${esc(T.otherFirst[b])}</a></p>`;
  return '<!DOCTYPE html>\n' +
    `<html lang="${a}">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<meta name="robots" content="noindex">\n<title>${esc(title[a])} · ${esc(title[b])}</title>\n<style>${CSS}</style>\n</head>\n` +
    `<body>\n<main>\n${body}\n<footer>${other}<p>${inline(order, T.footer)}</p></footer>\n</main>\n</body>\n</html>\n`;
}

function hotlines(order: LangOrder): string {
  const [a, b] = order;
  const items = HOTLINES.map((h) =>
    `<li><a class="call" href="tel:${h.dial}"><span class="num">${esc(h.number)}</span>` +
    `<span class="who" lang="${a}">${esc(h[a])}</span><span class="who second" lang="${b}">${esc(h[b])}</span></a></li>`).join('');
  return `<section class="card help" aria-labelledby="help-title">\n<h2 id="help-title">${inline(order, T.helpTitle)}</h2>\n` +
    `${pair(order, T.helpText)}\n<ul class="lines">${items}</ul>\n</section>`;
}

function header(order: LangOrder, title: Readonly<Record<Lang, string>>): string {
  const [a, b] = order;
  return `<header class="card top">${LOGO}<h1 lang="${a}">${esc(title[a])}</h1><p class="sub" lang="${b}">${esc(title[b])}</p></header>`;
}

const TIME_FORMATS = new Map<string, Intl.DateTimeFormat>();

function localTime(lang: Lang, timezone: string, now: number): string {
  const key = `${lang} ${timezone}`;
  let f = TIME_FORMATS.get(key);
  if (f === undefined) {
    f = new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: timezone, dateStyle: 'full', timeStyle: 'short' });
    TIME_FORMATS.set(key, f);
  }
  return f.format(now);
}

/** Why the name is blocked for this group, in one language. */
function why(f: BlockFacts, lang: Lang): string {
  const group = f.client ? groupLabel(f.client.group)[lang] : '';
  const cat = f.category ? categoryWords(f.category, f.categoryDescription).label[lang] : '';
  const r = f.reason;
  if (r === null) return '';
  const vi = lang === 'vi';
  switch (r.kind) {
    case 'always':
      return vi ? `Nhóm “${group}” luôn chặn loại “${cat}”.` : `“${cat}” is blocked at all times for the group “${group}”.`;
    case 'schedule': {
      const when = `${formatDays(r.window.days, lang)}, ${formatTimeOfDay(r.window.from)}–${formatTimeOfDay(r.window.to)}`;
      return vi ? `Nhóm “${group}” chặn loại “${cat}” trong giờ học (${when}).` : `“${cat}” is blocked for the group “${group}” during school hours (${when}).`;
    }
    case 'not-allowlisted':
      return vi ? `Nhóm “${group}” chỉ mở được những trang học tập đã được chọn; trang này chưa có trong danh sách.`
        : `The group “${group}” can only open the learning sites chosen for it; this one is not on the list.`;
    case 'denylist':
      return vi ? `Nhà trường chặn riêng trang này cho nhóm “${group}”.` : `The school blocks this site for the group “${group}”.`;
  }
}

export interface PageOptions {
  /** Show the review form (a review sink is there and the form is on). */
  readonly reviewForm: boolean;
  /** The ?lang= the visitor chose, carried into links and the form; null when none. */
  readonly chosenLang: Lang | null;
}

/** The block page for one request. */
export function renderBlockPage(f: BlockFacts, order: LangOrder, opts: PageOptions): string {
  const [a, b] = order;
  const parts: string[] = [header(order, T.title)];

  const kid: string[] = [];
  if (f.name === null) kid.push(pair(order, T.filterPage));
  if (f.decision === 'open') kid.push(pair(order, T.notBlocked, 'p', 'msg'));
  else {
    kid.push(pair(order, T.kind));
    if (f.category) kid.push(pair(order, categoryWords(f.category, f.categoryDescription).child));
    kid.push(pair(order, T.askTeacher));
  }
  parts.push(`<div class="card kid">\n${kid.join('\n')}\n</div>`);
  parts.push(hotlines(order));

  const rows: string[] = [];
  const row = (label: Readonly<Record<Lang, string>>, value: string, cls = ''): void => {
    rows.push(`<dt>${inline(order, label)}</dt><dd${cls ? ` class="${cls}"` : ''}>${value}</dd>`);
  };
  if (f.displayName !== null) row(T.site, esc(f.displayName), 'name');
  if (f.category !== null) {
    const words = categoryWords(f.category, f.categoryDescription);
    row(T.category, inline(order, words.label) + (f.categoryDescription ? `<br><span class="note">${esc(f.categoryDescription)}</span>` : ''));
  }
  if (f.reason !== null) row(T.why, `<span lang="${a}">${esc(why(f, a))}</span><br><span lang="${b}" class="second">${esc(why(f, b))}</span>`);
  if (f.client !== null) {
    row(T.school, f.client.school === UNKNOWN_SCHOOL ? inline(order, T.unknownSchool) : esc(f.client.school));
    const desc = f.client.groupDescription ? `<br><span class="note">${esc(f.client.groupDescription)}</span>` : '';
    row(T.group, inline(order, groupLabel(f.client.group)) + desc);
  }
  row(T.time, `<span lang="${a}">${esc(localTime(a, f.timezone, f.now))}</span><br><span lang="${b}" class="second">${esc(localTime(b, f.timezone, f.now))}</span>`);
  parts.push(`<section class="card" aria-labelledby="details-title">\n<h2 id="details-title">${inline(order, T.detailsTitle)}</h2>\n<dl>\n${rows.join('\n')}\n</dl>\n</section>`);

  if (opts.reviewForm && f.decision === 'block' && f.name !== null) {
    const langField = opts.chosenLang ? `<input type="hidden" name="lang" value="${opts.chosenLang}">` : '';
    parts.push(`<section class="card" aria-labelledby="review-title">\n<h2 id="review-title">${inline(order, T.reviewTitle)}</h2>\n${pair(order, T.reviewText)}\n` +
      `<form method="post" action="${REVIEW_PATH}">\n<input type="hidden" name="name" value="${esc(f.name)}">${langField}\n` +
      `<label for="message">${inline(order, T.messageLabel)}</label>\n` +
      `<textarea id="message" name="message" rows="3" maxlength="${MAX_MESSAGE_CHARS}"></textarea>\n` +
      `<button type="submit">${inline(order, T.reviewButton)}</button>\n</form>\n</section>`);
  }
  return document(order, T.title, parts.join('\n'), `?lang=${b}`);
}

/** After a review request was taken. */
export function renderThanks(order: LangOrder, id: number, duplicate: boolean): string {
  const body = [
    header(order, T.thanksTitle),
    `<div class="card">${pair(order, thanks(id, duplicate), 'p', 'msg')}<p><a href="/">${inline(order, T.back)}</a></p></div>`,
    hotlines(order),
  ].join('\n');
  return document(order, T.thanksTitle, body, null);
}

/** When a review request was not taken: the reason, in both languages; `detail` is the store's own words (English). */
export function renderProblem(order: LangOrder, problem: ReviewProblem, detail: string | null = null): string {
  const note = detail ? `<p class="note" lang="en">${esc(detail)}</p>` : '';
  const body = [
    header(order, T.reviewTitle),
    `<div class="card">${pair(order, REVIEW_PROBLEMS[problem], 'p', 'msg')}${note}<p><a href="/">${inline(order, T.back)}</a></p></div>`,
    hotlines(order),
  ].join('\n');
  return document(order, T.reviewTitle, body, null);
}
