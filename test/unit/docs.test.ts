// The guide exists twice, README.md (English) and README.vi.md (Vietnamese, for district staff),
// section for section. These tests fail when the two drift apart or when either goes stale:
// - the same ## and ### headings, in the same order (the words differ, the shape may not);
// - the same fenced code blocks, byte for byte, except the text of `#` comments: comments are
//   translated, commands, configuration and code are not (a `#` starts a comment at the start
//   of a line or after a space, outside quotes: shell, YAML, dnsmasq, nftables, RouterOS);
// - every relative link points at a file that exists, and every #anchor at a heading;
// - each links to the other before its first section;
// - the quick start is exactly `npm start` and `npm test`;
// - the hotlines 111 and 0243.2233111 are in both;
// - the configuration table lists every key of DEFAULTS (src/config/defaults.ts), and only
//   those, with its real default: the first code span of the "default" cell, read as YAML the
//   way the configuration file is, equals the value in DEFAULTS.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULTS } from '../../src/config/defaults';

const ROOT = path.resolve(__dirname, '..', '..');
const EN = 'README.md';
const VI = 'README.vi.md';

interface Heading { readonly level: number; readonly text: string; readonly line: number; readonly slug: string }
interface Block { readonly info: string; readonly lines: readonly string[]; readonly line: number }
interface Link { readonly target: string; readonly line: number }
interface Doc { readonly file: string; readonly lines: readonly string[]; readonly headings: Heading[]; readonly blocks: Block[]; readonly links: Link[] }

/** GitHub's heading anchors: lower case, punctuation dropped (letters of any script kept), spaces to hyphens, repeats numbered. */
function slugger(): (text: string) => string {
  const seen = new Map<string, number>();
  return (text) => {
    const base = text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  };
}

function parseDoc(file: string): Doc {
  const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const headings: Heading[] = [];
  const blocks: Block[] = [];
  const links: Link[] = [];
  const slug = slugger();
  let fence: { marker: string; info: string; line: number; body: string[] } | null = null;
  lines.forEach((text, i) => {
    const line = i + 1;
    const f = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/.exec(text);
    if (fence) {
      if (f && f[1].startsWith(fence.marker) && f[2] === '') {
        blocks.push({ info: fence.info, lines: fence.body, line: fence.line });
        fence = null;
      } else {
        fence.body.push(text);
      }
      return;
    }
    if (f) {
      fence = { marker: f[1], info: f[2], line, body: [] };
      return;
    }
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(text);
    if (h) {
      headings.push({ level: h[1].length, text: h[2], line, slug: slug(h[2]) });
      return;
    }
    // Links outside code spans: `[text](target)`.
    const prose = text.replace(/`+[^`]*`+/g, '``');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) links.push({ target: m[1], line });
  });
  if (fence) throw new Error(`${file}: the code block opened at line ${(fence as { line: number }).line} is never closed`);
  return { file, lines, headings, blocks, links };
}

/** A code line without its `#` comment (start of line or after whitespace, outside quotes), trailing spaces dropped. */
function withoutComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i).trimEnd();
    }
  }
  return line.trimEnd();
}

/** Lines from heading `index` to the next heading of the same or a higher level. */
function sectionRange(doc: Doc, index: number): [number, number] {
  const h = doc.headings[index];
  const next = doc.headings.slice(index + 1).find((x) => x.level <= h.level);
  return [h.line, next ? next.line : doc.lines.length + 1];
}

/** DEFAULTS flattened to dotted keys; arrays and null are values, objects are walked. */
function leaves(value: unknown, prefix = ''): [string, unknown][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

/** Rows of the configuration table: `| \`key\` | default | meaning |` with a key under a DEFAULTS section. */
function configRows(doc: Doc): { key: string; cell: string; line: number }[] {
  const sections = new Set(Object.keys(DEFAULTS));
  const rows: { key: string; cell: string; line: number }[] = [];
  doc.lines.forEach((text, i) => {
    const m = /^\|\s*`([A-Za-z][\w.]*)`\s*\|([^|]*)\|/.exec(text);
    if (m && m[1].includes('.') && sections.has(m[1].split('.')[0])) rows.push({ key: m[1], cell: m[2].trim(), line: i + 1 });
  });
  return rows;
}

const docs = { en: parseDoc(EN), vi: parseDoc(VI) };
const both = [docs.en, docs.vi];

describe('README.md and README.vi.md are kept in step', () => {
  test('the same ## and ### headings, in the same order', () => {
    const shape = (d: Doc) => d.headings.filter((h) => h.level === 2 || h.level === 3);
    const en = shape(docs.en);
    const vi = shape(docs.vi);
    const rows = Array.from({ length: Math.max(en.length, vi.length) }, (_, i) =>
      `${en[i] ? `${'#'.repeat(en[i].level)} ${en[i].text} (line ${en[i].line})` : '(none)'}  <->  ${vi[i] ? `${'#'.repeat(vi[i].level)} ${vi[i].text} (line ${vi[i].line})` : '(none)'}`);
    const firstDiff = rows.findIndex((_, i) => en[i]?.level !== vi[i]?.level);
    if (firstDiff >= 0) {
      throw new Error(`the headings differ from heading ${firstDiff + 1} on: add or translate the section in both files.\n${rows.slice(Math.max(0, firstDiff - 2), firstDiff + 3).join('\n')}`);
    }
    expect(vi.map((h) => h.level)).toEqual(en.map((h) => h.level));
    expect(en.length).toBeGreaterThan(20);
  });

  test('the same code blocks; only the text of # comments may be translated', () => {
    const strip = (b: Block) => ({ info: b.info, code: b.lines.map(withoutComment).join('\n') });
    expect(docs.vi.blocks.length).toBe(docs.en.blocks.length);
    docs.en.blocks.forEach((b, i) => {
      const v = docs.vi.blocks[i];
      const where = `code block ${i + 1}: ${EN} line ${b.line}, ${VI} line ${v.line}`;
      expect({ where, ...strip(v) }).toEqual({ where, ...strip(b) });
    });
  });

  test('each links to the other before its first section', () => {
    for (const [doc, other] of [[docs.en, VI], [docs.vi, EN]] as const) {
      const firstSection = doc.headings.find((h) => h.level === 2)!.line;
      expect({ file: doc.file, linksToOther: doc.links.some((l) => l.line < firstSection && l.target === other) }).toEqual({ file: doc.file, linksToOther: true });
    }
  });

  test('the quick start is exactly `npm start` and `npm test`', () => {
    const index = docs.en.headings.findIndex((h) => h.level === 2 && h.text === 'Quick start');
    expect(index).toBeGreaterThanOrEqual(0);
    for (const doc of both) {
      // The Vietnamese quick start is the section in the same place (the headings are in step).
      const [from, to] = sectionRange(doc, index);
      const blocks = doc.blocks.filter((b) => b.line > from && b.line < to);
      const commands = blocks.flatMap((b) => b.lines.map(withoutComment).map((l) => l.trim()).filter((l) => l !== ''));
      expect({ file: doc.file, section: doc.headings[index].text, blocks: blocks.length, commands })
        .toEqual({ file: doc.file, section: doc.headings[index].text, blocks: 1, commands: ['npm start', 'npm test'] });
    }
  });

  test('the child-protection hotlines 111 and 0243.2233111 are in both', () => {
    for (const doc of both) {
      const text = doc.lines.join('\n');
      expect({ file: doc.file, national: /(^|[^\d.])111([^\d.]|$)/m.test(text), hanoi: text.includes('0243.2233111') })
        .toEqual({ file: doc.file, national: true, hanoi: true });
    }
  });
});

describe('links in the guide', () => {
  const external = /^[a-z][a-z0-9+.-]*:/i;
  const headingCache = new Map<string, Set<string>>();
  const anchorsOf = (file: string): Set<string> => {
    let s = headingCache.get(file);
    if (!s) {
      s = new Set(parseDoc(file).headings.map((h) => h.slug));
      headingCache.set(file, s);
    }
    return s;
  };

  test.each([EN, VI])('every relative link in %s points at an existing file and heading', (file) => {
    const doc = file === EN ? docs.en : docs.vi;
    const broken: string[] = [];
    for (const link of doc.links) {
      if (external.test(link.target)) continue;
      const [target, anchor] = link.target.split('#', 2);
      const resolved = target === '' ? file : path.normalize(target);
      if (!existsSync(path.join(ROOT, resolved))) {
        broken.push(`line ${link.line}: ${link.target} (no such file)`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(decodeURIComponent(anchor))) {
        broken.push(`line ${link.line}: ${link.target} (no heading with that anchor in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
    expect(doc.links.length).toBeGreaterThan(10);
  });
});

describe('the configuration table', () => {
  const expected = leaves(DEFAULTS);

  test('DEFAULTS has the keys the table is checked against', () => {
    expect(expected.length).toBeGreaterThan(50);
    expect(expected.map(([k]) => k)).toContain('resolver.serveStale.maxStaleSeconds');
  });

  test.each([EN, VI])('%s lists every configuration key once, with its real default', (file) => {
    const doc = file === EN ? docs.en : docs.vi;
    const rows = configRows(doc);
    const byKey = new Map<string, typeof rows>();
    for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);

    const known = new Set(expected.map(([k]) => k));
    const problems: string[] = [];
    for (const [key, value] of expected) {
      const found = byKey.get(key);
      if (!found) { problems.push(`${key}: missing (default ${JSON.stringify(value)})`); continue; }
      if (found.length > 1) problems.push(`${key}: listed ${found.length} times (lines ${found.map((r) => r.line).join(', ')})`);
      const code = /^`([^`]*)`/.exec(found[0].cell);
      if (!code) { problems.push(`${key} (line ${found[0].line}): the default cell must start with the value in backticks, e.g. \`${JSON.stringify(value)}\``); continue; }
      let written: unknown;
      try { written = parseYaml(code[1]); } catch (e) { problems.push(`${key} (line ${found[0].line}): \`${code[1]}\` is not YAML: ${(e as Error).message}`); continue; }
      if (JSON.stringify(written) !== JSON.stringify(value)) {
        problems.push(`${key} (line ${found[0].line}): the table says \`${code[1]}\`, the default is ${JSON.stringify(value)}`);
      }
    }
    for (const r of rows) if (!known.has(r.key)) problems.push(`${r.key} (line ${r.line}): not a configuration key (src/config/defaults.ts has no such key)`);
    expect(problems).toEqual([]);
  });

  test('the comment rule keeps code and drops only comments', () => {
    expect(withoutComment('npm start     # first run installs')).toBe('npm start');
    expect(withoutComment('# a whole comment line')).toBe('');
    expect(withoutComment('  - { cidr: 10.2.1.0/24, group: preschool }   # Mầm non')).toBe('  - { cidr: 10.2.1.0/24, group: preschool }');
    expect(withoutComment('echo "a # b" # c')).toBe('echo "a # b"');
    expect(withoutComment('curl http://x/#frag')).toBe('curl http://x/#frag');
    expect(withoutComment("uci set firewall.@rule[-1].name='No other DNS'")).toBe("uci set firewall.@rule[-1].name='No other DNS'");
  });
});
