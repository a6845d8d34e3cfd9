// Reads an age-group policy file (YAML) and checks it strictly, like the main configuration:
// unknown keys, wrong types, references to categories or groups that do not exist, bad
// prefixes, bad times, days and time zones are all collected and reported together, each as
// "FILE:LINE: key "a.b": what is wrong (got X)". Nothing is read but the policy file itself:
// list files are only named (their paths resolved against the policy file's folder), so a
// policy loads before its lists exist.
//
// The file format, with the reasons behind it, is described at the top of
// policies/school-dns-policy.yaml.
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { domainToASCII } from 'node:url';
import { closest, deepFreeze, describe, parseYaml, ProblemsError, readText, sortProblems, type Entry, type Node, type Problem } from '../config/yaml-tree';
import { parseAddress, parseCidr, formatWords } from './cidr';
import { DAY_NAMES, isValidTimeZone, parseTimeOfDay, type DayName } from './schedule';
import {
  GROUP_MODES,
  SOURCE_FORMATS,
  YOUTUBE_MODES,
  type CategorySpec,
  type GroupMode,
  type GroupSpec,
  type ListenerSpec,
  type NetworkSpec,
  type SafeSearchSpec,
  type PolicySpec,
  type ScheduleSpec,
  type SchoolSpec,
  type SourceFormat,
  type SourceSpec,
  type YoutubeMode,
} from './types';

export type { PolicySpec } from './types';
/** "FILE:LINE: key "a.b": message", as the main configuration loader writes problems. */
export { formatProblem } from '../config/yaml-tree';

export const DEFAULT_TIMEZONE = 'Asia/Ho_Chi_Minh';

/** Category bits available to the domain trie: two 32-bit words. */
export const MAX_CATEGORY_BITS = 64;

/** Names that decisions report besides category names; no category may take them. */
export const RESERVED_CATEGORY_NAMES: readonly string[] = ['denylist', 'not-allowlisted'];

/** Same shape as the main configuration's problems: line (1-based or null), dotted key path, message. */
export type PolicyProblem = Problem;

export class PolicyError extends ProblemsError {
  readonly code = 'POLICY_INVALID';
  override readonly name = 'PolicyError';

  constructor(source: string, problems: readonly PolicyProblem[], options?: { cause?: unknown }) {
    super('policy', source, problems, options);
  }
}

// ---------------------------------------------------------------------------
// Entry points

/** Reads and checks a policy file. Source paths are resolved against the file's folder. Throws PolicyError. */
export function loadPolicyFile(path: string): PolicySpec {
  return parsePolicy(readText(path, PolicyError), path);
}

export interface ParseOptions {
  /** The folder source paths are relative to; by default the folder of `source`. */
  readonly baseDir?: string;
}

/** Checks policy YAML text; `source` names it in messages (and places relative paths). Throws PolicyError. */
export function parsePolicy(text: string, source: string, options: ParseOptions = {}): PolicySpec {
  const parsed = parseYaml(text, 'groups');
  if ('syntax' in parsed) throw new PolicyError(source, parsed.syntax);
  const check = new Check(parsed.problems);
  const { root } = parsed;
  const baseDir = options.baseDir ?? dirname(resolve(source));
  const spec = build(check, { v: root, line: root.line, key: '' }, source, baseDir);
  if (check.problems.length > 0 || spec === undefined) throw new PolicyError(source, sortProblems(check.problems));
  return deepFreeze(spec);
}

/**
 * The strictest group, the default for clients no network or listener names: the allow-only
 * group that allows the fewest categories and names, else the group that blocks the most
 * categories at all times (then the most by schedule); the first in the file on a tie.
 */
export function strictestGroup(groups: readonly GroupSpec[]): GroupSpec | undefined {
  let best: GroupSpec | undefined;
  const score = (g: GroupSpec): number[] =>
    g.mode === 'allow-only'
      ? [1, -g.allowCategories.length, -g.allow.length]
      : [0, g.block.length, new Set(g.schedules.flatMap((s) => s.categories)).size];
  for (const g of groups) {
    if (best === undefined) {
      best = g;
      continue;
    }
    const a = score(g);
    const b = score(best);
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        if (a[i]! > b[i]!) best = g;
        break;
      }
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Collecting problems, and the shapes every part of the file is made of

/** A value with where it is: its line (or its key's line) and its key path. */
interface Field {
  readonly v: Node;
  readonly line: number | null;
  readonly key: string;
}

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

class Check {
  constructor(readonly problems: PolicyProblem[]) {}

  at(line: number | null, key: string, message: string): void {
    this.problems.push({ line, key, message });
  }

  /** A problem about a value, ending "(got X)". Returns undefined for convenience. */
  bad(f: Field, what: string, v: Node = f.v): undefined {
    this.at(v.line ?? f.line, f.key, `${what} (got ${describe(v)})`);
    return undefined;
  }

  /** The keys of a mapping with fixed keys; unknown keys and missing required ones are problems. */
  fields(f: Field, known: readonly string[], required: readonly string[], what: string): Map<string, Field> | undefined {
    const empty = f.v.kind === 'scalar' && f.v.empty; // "name:" with nothing below: a section with no keys
    if (f.v.kind !== 'map' && !empty) return this.bad(f, what);
    const out = new Map<string, Field>();
    const unknown: Entry[] = [];
    for (const e of f.v.kind === 'map' ? f.v.entries : []) {
      if (!known.includes(e.key)) unknown.push(e);
      // "listeners:" with every entry commented out: an optional key written empty is as if left out
      else if (!(e.value.kind === 'scalar' && e.value.empty && !required.includes(e.key))) out.set(e.key, { v: e.value, line: e.keyLine, key: join(f.key, e.key) });
    }
    // a missing key is reported where the section is named
    for (const k of required) {
      if (!out.has(k)) this.at(f.line ?? f.v.line, f.key, `must have "${k}"`);
    }
    for (const e of unknown) {
      const hint = closest(e.key, known, { swaps: false });
      this.at(e.keyLine, join(f.key, e.key), `unknown key${hint ? `; did you mean "${join(f.key, hint)}"?` : ''}`);
    }
    return out;
  }

  /** The entries of a mapping whose keys the operator names (categories, groups). */
  named(f: Field, what: string): { name: string; field: Field }[] | undefined {
    if (f.v.kind !== 'map') return this.bad(f, what);
    return f.v.entries.map((e) => ({ name: e.key, field: { v: e.value, line: e.keyLine, key: join(f.key, e.key) } }));
  }

  /** The items of a list, each with its own key path "a.b[i]". */
  items(f: Field, what: string): Field[] | undefined {
    if (f.v.kind !== 'seq') return this.bad(f, what);
    return f.v.items.map((v, i) => ({ v, line: v.line ?? f.line, key: `${f.key}[${i}]` }));
  }

  /** A non-empty string. */
  text(f: Field, what: string): string | undefined {
    if (f.v.kind !== 'scalar' || typeof f.v.value !== 'string' || f.v.value.trim() === '') return this.bad(f, what);
    return f.v.value.trim();
  }

  /** A list of strings each parsed by `parse` (a value, or what is wrong); duplicates are problems. */
  list<T>(f: Field, what: string, parse: (text: string) => T | Bad, same: (t: T) => string = String): T[] | undefined {
    const items = this.items(f, `must be a list of ${what}${f.v.kind === 'scalar' && typeof f.v.value === 'string' ? `, even for one: [${f.v.value}]` : ''}`);
    if (items === undefined) return undefined;
    const out: T[] = [];
    const seen = new Set<string>();
    let ok = true;
    for (const item of items) {
      const text = this.text(item, `must be one of ${what}`);
      if (text === undefined) {
        ok = false;
        continue;
      }
      const r = parse(text);
      if (r instanceof Bad) {
        this.bad(item, r.message);
        ok = false;
      } else if (seen.has(same(r))) {
        this.bad(item, 'is listed more than once');
        ok = false;
      } else {
        seen.add(same(r));
        out.push(r);
      }
    }
    return ok ? out : undefined;
  }
}

/** What is wrong with a value, as a parser returns it. */
class Bad {
  constructor(readonly message: string) {}
}

/** A reference to a defined name, or what is wrong (with a suggestion). */
function reference(kind: 'category' | 'group', names: ReadonlySet<string>): (text: string) => string | Bad {
  return (text) => {
    if (names.has(text)) return text;
    const hint = closest(text, names, { swaps: false });
    const plural = kind === 'category' ? 'categories' : 'groups';
    return new Bad(`is not a ${kind} defined under ${plural}:${hint ? `; did you mean "${hint}"?` : ''}`);
  };
}

/** checkName() for list items. */
function domainName(text: string): string | Bad {
  const r = checkName(text);
  return 'name' in r ? r.name : new Bad(r.problem);
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** A domain name for allow/deny: lowercase ASCII, IDNs in punycode, no trailing dot; or what is wrong. */
export function checkName(text: string): { name: string } | { problem: string } {
  let t = text.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) return { problem: 'must be a domain name, not a web address: drop "http(s)://" and any path' };
  if (t.startsWith('*.')) return { problem: 'must be a plain domain name: a name covers its subdomains already, so write it without "*."' };
  if (t.endsWith('.')) t = t.slice(0, -1);
  if (isIP(t) !== 0) return { problem: 'is an IP address; the filter works on names' };
  const ascii = /^[\x21-\x7e]*$/.test(t) ? t.toLowerCase() : domainToASCII(t);
  const label = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
  if (ascii === '' || ascii.length > 253 || !ascii.split('.').every((l) => label.test(l))) {
    return { problem: 'is not a valid domain name' };
  }
  return { name: ascii };
}

// ---------------------------------------------------------------------------
// The policy

const TOP_KEYS = ['timezone', 'categories', 'groups', 'schools', 'listeners', 'defaultGroup'];
const CATEGORY_KEYS = ['description', 'sources'];
const SOURCE_KEYS = ['path', 'url', 'format'];
const GROUP_KEYS = ['description', 'mode', 'allowCategories', 'allow', 'block', 'deny', 'schedules', 'safeSearch'];
const SAFESEARCH_KEYS = ['search', 'youtube'];
const SCHEDULE_KEYS = ['categories', 'days', 'from', 'to'];
const SCHOOL_KEYS = ['name', 'networks'];
const NETWORK_KEYS = ['cidr', 'group'];
const LISTENER_KEYS = ['address', 'group', 'school'];

function build(check: Check, root: Field, source: string, baseDir: string): PolicySpec | undefined {
  if (root.v.kind === 'scalar' && root.v.value === null) {
    check.at(null, '', 'the policy is empty: it needs at least "groups:" (and usually "categories:" and "schools:")');
    return undefined;
  }
  const top = check.fields(root, TOP_KEYS, ['groups'], 'the file must hold the policy as "key: value" lines');
  if (top === undefined) return undefined;

  let timezone = DEFAULT_TIMEZONE;
  const tz = top.get('timezone');
  if (tz !== undefined) {
    const t = check.text(tz, 'must be a time zone name such as "Asia/Ho_Chi_Minh"');
    if (t !== undefined && !isValidTimeZone(t)) check.bad(tz, 'is not a time zone this system knows; use an IANA name such as "Asia/Ho_Chi_Minh"');
    else if (t !== undefined) timezone = t;
  }

  // Names first, so references can be checked even when a definition has problems of its own.
  const categoryEntries = top.has('categories') ? check.named(top.get('categories')!, 'must be a section of categories, each "name:" with its sources indented below') ?? [] : [];
  const groupEntries = top.has('groups') ? check.named(top.get('groups')!, 'must be a section of groups, each "name:" with its settings indented below') ?? [] : [];
  const categoryNames = new Set<string>();
  for (const c of categoryEntries) {
    if (!NAME_PATTERN.test(c.name)) check.at(c.field.line, c.field.key, 'a category name must be letters, digits, "-" and "_", starting with a letter or digit');
    else if (RESERVED_CATEGORY_NAMES.includes(c.name)) check.at(c.field.line, c.field.key, `"${c.name}" is reserved: decisions use it for names blocked outside any category`);
    categoryNames.add(c.name);
  }
  const groupNames = new Set<string>();
  for (const g of groupEntries) {
    if (!NAME_PATTERN.test(g.name)) check.at(g.field.line, g.field.key, 'a group name must be letters, digits, "-" and "_", starting with a letter or digit');
    groupNames.add(g.name);
  }
  if (top.has('groups') && groupEntries.length === 0 && top.get('groups')!.v.kind === 'map') {
    check.at(top.get('groups')!.line, 'groups', 'must define at least one group');
  }

  const categories = categoryEntries.map((c) => category(check, c.name, c.field, baseDir));
  const groups = groupEntries.map((g) => group(check, g.name, g.field, categoryNames));
  const schools = top.has('schools') ? schoolList(check, top.get('schools')!, groupNames) : [];
  const listeners = top.has('listeners') ? listenerList(check, top.get('listeners')!, groupNames) : [];

  let defaultGroup: string | undefined;
  const dg = top.get('defaultGroup');
  if (dg !== undefined) {
    const t = check.text(dg, 'must be the name of a group');
    if (t !== undefined) {
      const r = reference('group', groupNames)(t);
      if (r instanceof Bad) check.bad(dg, r.message);
      else defaultGroup = r;
    }
  }

  // The domain trie gives each name 64 bits: one per category, and one each for a group's
  // own allow names and deny names.
  const okGroups = groups.filter((g): g is GroupSpec => g !== undefined);
  const allowBits = okGroups.filter((g) => g.allow.length > 0).length;
  const denyBits = okGroups.filter((g) => g.deny.length > 0).length;
  const bits = categoryEntries.length + allowBits + denyBits;
  if (bits > MAX_CATEGORY_BITS) {
    const at = top.get('categories') ?? top.get('groups')!;
    check.at(at.line, at.key, `needs ${bits} category bits (${categoryEntries.length} categories, ${allowBits} groups with allow names, ${denyBits} groups with deny names); at most ${MAX_CATEGORY_BITS} fit: merge categories, or move names from allow/deny lists into categories`);
  }

  if (check.problems.length > 0) return undefined;
  const okCategories = categories as CategorySpec[];
  return {
    source,
    timezone,
    categories: okCategories,
    groups: okGroups,
    schools: schools as SchoolSpec[],
    listeners: listeners as ListenerSpec[],
    defaultGroup: defaultGroup ?? strictestGroup(okGroups)!.name,
  };
}

function category(check: Check, name: string, f: Field, baseDir: string): CategorySpec | undefined {
  const fields = check.fields(f, CATEGORY_KEYS, ['sources'], 'must be a section with "sources:" (and optionally "description:")');
  if (fields === undefined) return undefined;
  const description = optionalText(check, fields.get('description'), 'must be text describing the category');
  const sf = fields.get('sources');
  if (sf === undefined) return undefined;
  const items = check.items(sf, 'must be a list of list files or addresses, like [../lists/adult.txt]');
  if (items === undefined) return undefined;
  if (items.length === 0) return check.bad(sf, 'must name at least one list: a category without names never matches');
  const sources: SourceSpec[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const s = sourceSpec(check, item, baseDir);
    if (s === undefined) continue;
    const id = s.path ?? s.url!;
    if (seen.has(id)) check.bad(item, 'is listed more than once');
    seen.add(id);
    sources.push(s);
  }
  return sources.length === items.length ? { name, description: description ?? null, sources } : undefined;
}

function sourceSpec(check: Check, f: Field, baseDir: string): SourceSpec | undefined {
  const what = 'must be a path to a list file, or { path: FILE, format: FORMAT } or { url: ADDRESS, format: FORMAT }';
  if (f.v.kind === 'scalar') {
    const t = check.text(f, what);
    if (t === undefined) return undefined;
    if (/^https?:\/\//i.test(t)) return urlSource(check, f, t, 'auto');
    return { path: isAbsolute(t) ? t : resolve(baseDir, t), format: 'auto' };
  }
  const fields = check.fields(f, SOURCE_KEYS, [], what);
  if (fields === undefined) return undefined;
  let format: SourceFormat | undefined = 'auto';
  const ff = fields.get('format');
  if (ff !== undefined) {
    const t = check.text(ff, `must be one of ${SOURCE_FORMATS.map((x) => `"${x}"`).join(', ')}`);
    format = t === undefined ? undefined : (SOURCE_FORMATS as readonly string[]).includes(t) ? (t as SourceFormat) : check.bad(ff, `must be one of ${SOURCE_FORMATS.map((x) => `"${x}"`).join(', ')}`);
  }
  const pf = fields.get('path');
  const uf = fields.get('url');
  if ((pf === undefined) === (uf === undefined)) {
    check.at(f.v.line ?? f.line, f.key, 'must have exactly one of "path" and "url"');
    return undefined;
  }
  if (pf !== undefined) {
    const t = check.text(pf, 'must be the path of a list file');
    if (t === undefined || format === undefined) return undefined;
    return { path: isAbsolute(t) ? t : resolve(baseDir, t), format };
  }
  const t = check.text(uf!, 'must be an http:// or https:// address');
  if (t === undefined || format === undefined) return undefined;
  return urlSource(check, uf!, t, format);
}

function urlSource(check: Check, f: Field, text: string, format: SourceFormat): SourceSpec | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return check.bad(f, 'is not a valid web address');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return check.bad(f, 'must be an http:// or https:// address');
  return { url: url.href, format };
}

function optionalText(check: Check, f: Field | undefined, what: string): string | undefined {
  if (f === undefined) return undefined;
  if (f.v.kind === 'scalar' && (typeof f.v.value === 'string' || f.v.value === null)) return f.v.value === null ? undefined : (f.v.value as string);
  return check.bad(f, what);
}

function group(check: Check, name: string, f: Field, categoryNames: ReadonlySet<string>): GroupSpec | undefined {
  const fields = check.fields(f, GROUP_KEYS, [], 'must be a section of group settings (mode, allowCategories, allow, block, deny, schedules, safeSearch)');
  if (fields === undefined) return undefined;
  const before = check.problems.length;
  const description = optionalText(check, fields.get('description'), 'must be text describing the group');

  let mode: GroupMode | undefined = 'block-listed';
  const mf = fields.get('mode');
  if (mf !== undefined) {
    const t = mf.v.kind === 'scalar' && typeof mf.v.value === 'string' ? mf.v.value : undefined;
    mode = t !== undefined && (GROUP_MODES as readonly string[]).includes(t) ? (t as GroupMode) : check.bad(mf, `must be ${GROUP_MODES.map((m) => `"${m}"`).join(' or ')}`);
  }
  const cat = reference('category', categoryNames);
  const catList = (key: string): string[] => {
    const lf = fields.get(key);
    return lf === undefined ? [] : check.list(lf, 'category names', cat) ?? [];
  };
  const nameList = (key: string): string[] => {
    const lf = fields.get(key);
    return lf === undefined ? [] : check.list(lf, 'domain names', domainName) ?? [];
  };
  const allowCategories = catList('allowCategories');
  const allow = nameList('allow');
  const block = catList('block');
  const deny = nameList('deny');
  const schedules: ScheduleSpec[] = [];
  const sf = fields.get('schedules');
  const scheduleItems = sf === undefined ? [] : check.items(sf, 'must be a list of time windows, each { categories, days, from, to }') ?? [];
  const scheduleAt: Field[] = [];
  for (const item of scheduleItems) {
    const s = schedule(check, item, cat);
    if (s !== undefined) {
      schedules.push(s);
      scheduleAt.push(item);
    }
  }

  const ssf = fields.get('safeSearch');
  const safeSearch = ssf === undefined ? safeSearchOff() : safeSearchSpec(check, ssf);

  if (mode === 'allow-only') {
    // Everything outside the allowed categories and names is blocked already; a block, deny
    // or schedule would do nothing, and whoever wrote it expects it to.
    for (const key of ['block', 'deny', 'schedules']) {
      const kf = fields.get(key);
      if (kf !== undefined && !(kf.v.kind === 'seq' && kf.v.items.length === 0)) {
        check.at(kf.line, kf.key, 'has no effect in an allow-only group: everything not allowed is blocked already; remove it, or use mode "block-listed"');
      }
    }
  }
  // Contradictions: allow beats block within a group, so a category or name both allowed and
  // blocked would never be blocked; say so rather than let the block look effective.
  const allowedCats = new Set(allowCategories);
  const bf = fields.get('block');
  for (const c of mode === 'allow-only' ? [] : block) {
    if (allowedCats.has(c)) check.at(bf!.line, bf!.key, `"${c}" is also in allowCategories, and allowing wins: it would never be blocked`);
  }
  (mode === 'allow-only' ? [] : schedules).forEach((s, i) => {
    const at = scheduleAt[i]!;
    for (const c of s.categories) {
      if (allowedCats.has(c)) check.at(at.line, `${at.key}.categories`, `"${c}" is also in allowCategories, and allowing wins: it would never be blocked`);
      else if (block.includes(c)) check.at(at.line, `${at.key}.categories`, `"${c}" is blocked at all times by "block" already`);
    }
  });
  const allowedNames = new Set(allow);
  const df = fields.get('deny');
  for (const n of mode === 'allow-only' ? [] : deny) if (allowedNames.has(n) && df) check.at(df.line, df.key, `"${n}" is also in allow, and allowing wins: it would never be blocked`);

  if (check.problems.length > before || mode === undefined || safeSearch === undefined) return undefined;
  return { name, description: description ?? null, mode, allowCategories, allow, block, deny, schedules, safeSearch };
}

/** A group that does not write "safeSearch:" gets the search engines as they are. */
function safeSearchOff(): SafeSearchSpec {
  return { search: false, youtube: 'off' };
}

/**
 * "safeSearch: { search: BOOLEAN, youtube: off|moderate|strict }". Both keys are required: a
 * group that turns one on says what it wants for the other, instead of getting a silent default.
 */
function safeSearchSpec(check: Check, f: Field): SafeSearchSpec | undefined {
  const levels = YOUTUBE_MODES.map((m) => `"${m}"`).join(', ');
  const fields = check.fields(f, SAFESEARCH_KEYS, SAFESEARCH_KEYS, `must be { search: true or false, youtube: ${YOUTUBE_MODES.join(', ')} }`);
  if (fields === undefined) return undefined;
  const before = check.problems.length;
  let search: boolean | undefined;
  const sf = fields.get('search');
  if (sf !== undefined) {
    if (sf.v.kind === 'scalar' && typeof sf.v.value === 'boolean') search = sf.v.value;
    else check.bad(sf, 'must be true (Google, Bing and DuckDuckGo give SafeSearch results) or false');
  }
  let youtube: YoutubeMode | undefined;
  const yf = fields.get('youtube');
  if (yf !== undefined) {
    const t = yf.v.kind === 'scalar' && typeof yf.v.value === 'string' ? yf.v.value : undefined;
    if (t !== undefined && (YOUTUBE_MODES as readonly string[]).includes(t)) {
      youtube = t as YoutubeMode;
    } else if (yf.v.kind === 'scalar' && typeof yf.v.value === 'boolean') {
      check.bad(yf, `must be a Restricted Mode level, one of ${levels}, not true or false`);
    } else {
      const hint = t === undefined ? undefined : closest(t, YOUTUBE_MODES, { swaps: true });
      check.bad(yf, `must be one of ${levels}${hint ? `; did you mean "${hint}"?` : ''}`);
    }
  }
  if (check.problems.length > before || search === undefined || youtube === undefined) return undefined;
  return { search, youtube };
}

function schedule(check: Check, f: Field, cat: (t: string) => string | Bad): ScheduleSpec | undefined {
  const fields = check.fields(f, SCHEDULE_KEYS, SCHEDULE_KEYS, 'must be a time window: { categories: [...], days: [mon, ...], from: "HH:MM", to: "HH:MM" }');
  if (fields === undefined) return undefined;
  const before = check.problems.length;
  const cf = fields.get('categories');
  const categories = cf === undefined ? undefined : check.list(cf, 'category names', cat);
  if (categories !== undefined && categories.length === 0) check.bad(cf!, 'must name at least one category');
  const df = fields.get('days');
  const dayHint = `${DAY_NAMES.slice(1).join(', ')}, ${DAY_NAMES[0]}`;
  const days =
    df === undefined
      ? undefined
      : check.list<DayName>(df, `days (${dayHint})`, (t) => {
          if ((DAY_NAMES as readonly string[]).includes(t)) return t as DayName;
          const short = t.toLowerCase().slice(0, 3);
          return new Bad((DAY_NAMES as readonly string[]).includes(short) ? `must be a day written as three lower-case letters: "${short}"` : `must be one of ${dayHint}`);
        });
  if (days !== undefined && days.length === 0) check.bad(df!, 'must name at least one day');
  const time = (key: 'from' | 'to'): number | undefined => {
    const tf = fields.get(key);
    if (tf === undefined) return undefined;
    if (tf.v.kind !== 'scalar' || typeof tf.v.value !== 'string') return check.bad(tf, 'must be a time of day written "HH:MM", like "07:30"');
    const r = parseTimeOfDay(tf.v.value, key === 'to');
    return typeof r === 'string' ? check.bad(tf, r) : r;
  };
  const from = time('from');
  const to = time('to');
  if (from !== undefined && to !== undefined && from === to) {
    check.bad(fields.get('to')!, 'is the same time as "from"; a window needs a length (from "00:00" to "24:00" is the whole day)');
  }
  if (check.problems.length > before || categories === undefined || days === undefined || from === undefined || to === undefined) return undefined;
  return { categories, days, from, to };
}

function schoolList(check: Check, f: Field, groupNames: ReadonlySet<string>): (SchoolSpec | undefined)[] {
  const items = check.items(f, 'must be a list of schools, each "- name: ..." with its networks');
  if (items === undefined) return [];
  const schoolNames = new Map<string, number | null>();
  const prefixes = new Map<string, { school: string; line: number | null }>();
  const grp = reference('group', groupNames);
  return items.map((item) => {
    const fields = check.fields(item, SCHOOL_KEYS, SCHOOL_KEYS, 'must be a school: { name: "...", networks: [...] }');
    if (fields === undefined) return undefined;
    const before = check.problems.length;
    const nf = fields.get('name');
    const name = nf === undefined ? undefined : check.text(nf, 'must be the name of the school');
    if (name !== undefined) {
      if (schoolNames.has(name)) {
        const first = schoolNames.get(name);
        check.bad(nf!, `is the name of another school too${first ? ` (line ${first})` : ''}; names tell schools apart in metrics and logs`);
      } else {
        schoolNames.set(name, nf!.v.line ?? nf!.line);
      }
    }
    const networks: NetworkSpec[] = [];
    const wf = fields.get('networks');
    const netItems = wf === undefined ? [] : check.items(wf, 'must be a list of networks, each { cidr: PREFIX, group: GROUP }') ?? [];
    if (wf !== undefined && wf.v.kind === 'seq' && netItems.length === 0) check.bad(wf, 'must list at least one network');
    for (const ni of netItems) {
      const nfields = check.fields(ni, NETWORK_KEYS, NETWORK_KEYS, 'must be a network: { cidr: PREFIX, group: GROUP }');
      if (nfields === undefined) continue;
      const cf = nfields.get('cidr');
      const gf = nfields.get('group');
      let cidr: string | undefined;
      if (cf !== undefined) {
        const t = check.text(cf, 'must be an IP prefix like "10.1.0.0/24" or "2001:db8:1::/64"');
        if (t !== undefined) {
          const c = parseCidr(t);
          if (typeof c === 'string') {
            check.bad(cf, c);
          } else {
            cidr = c.text;
            const other = prefixes.get(c.text);
            if (other !== undefined) {
              const where = other.line === null ? '' : ` at line ${other.line}`;
              check.bad(cf, `is the same network as one given${where} to ${other.school === name ? 'this school' : `"${other.school}"`}; a network can have one group`);
            } else {
              prefixes.set(c.text, { school: name ?? '?', line: cf.v.line ?? cf.line });
            }
          }
        }
      }
      let groupName: string | undefined;
      if (gf !== undefined) {
        const t = check.text(gf, 'must be the name of a group');
        if (t !== undefined) {
          const r = grp(t);
          if (r instanceof Bad) check.bad(gf, r.message);
          else groupName = r;
        }
      }
      if (cidr !== undefined && groupName !== undefined) networks.push({ cidr, group: groupName });
    }
    if (check.problems.length > before || name === undefined) return undefined;
    return { name, networks };
  });
}

function listenerList(check: Check, f: Field, groupNames: ReadonlySet<string>): (ListenerSpec | undefined)[] {
  const items = check.items(f, 'must be a list of listening addresses, each { address: IP, group: GROUP, school: NAME }');
  if (items === undefined) return [];
  const seen = new Map<string, number | null>();
  const grp = reference('group', groupNames);
  return items.map((item) => {
    const fields = check.fields(item, LISTENER_KEYS, ['address', 'group'], 'must be a listener: { address: IP, group: GROUP, school: NAME }');
    if (fields === undefined) return undefined;
    const before = check.problems.length;
    const af = fields.get('address');
    let address: string | undefined;
    if (af !== undefined) {
      const t = check.text(af, 'must be an IP address this server listens on, like "10.9.0.53"');
      if (t !== undefined) {
        const a = t.includes('%') ? null : parseAddress(t);
        if (a === null) {
          const port = /^\[.*\]:\d+$|^[\d.]+:\d+$/.test(t);
          check.bad(af, port ? 'must be an address without a port: the group follows the address a query arrives on' : 'is not an IP address');
        } else {
          address = formatWords(a.family, a.words);
          if (seen.has(address)) {
            const first = seen.get(address);
            check.bad(af, `is listed twice${first ? ` (first at line ${first})` : ''}; an address can have one group`);
          } else {
            seen.set(address, af.v.line ?? af.line);
          }
        }
      }
    }
    const gf = fields.get('group');
    let groupName: string | undefined;
    if (gf !== undefined) {
      const t = check.text(gf, 'must be the name of a group');
      if (t !== undefined) {
        const r = grp(t);
        if (r instanceof Bad) check.bad(gf, r.message);
        else groupName = r;
      }
    }
    const sf = fields.get('school');
    const school = sf === undefined ? 'unknown' : check.text(sf, 'must be the name of the school behind this address');
    if (check.problems.length > before || address === undefined || groupName === undefined || school === undefined) return undefined;
    return { address, group: groupName, school };
  });
}
