// What the two strict YAML loaders share: the main configuration (config/load.ts) and the
// age-group policy (policy/load.ts). Each reads its file into a tree of plain nodes that keep
// their line numbers, collects every problem as "FILE:LINE: key "a.b": what is wrong (got X)",
// and reports them all together, in line order, in one error. What keys a file has, how its
// values are read and how its keys are checked against each other stays with its loader.
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';

export interface Problem {
  /** 1-based line in the file; null when the problem has no place in it. */
  readonly line: number | null;
  /** Dotted key path ("resolver.timeoutMs"); "" for problems not about one key. */
  readonly key: string;
  /** What is wrong, usually ending "(got X)". */
  readonly message: string;
}

/** Every problem with a file, as one error: "invalid WHAT SOURCE (N problems):" and a line each. */
export class ProblemsError extends Error {
  readonly source: string;
  readonly problems: readonly Problem[];

  constructor(what: string, source: string, problems: readonly Problem[], options?: { cause?: unknown }) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`invalid ${what} ${source} (${count}):\n${problems.map((p) => formatProblem(source, p)).join('\n')}`, options);
    this.source = source;
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ ...p })));
  }
}

/** One problem as "FILE:LINE: key "a.b": what is wrong (got X)". */
export function formatProblem(source: string, p: Problem): string {
  const where = p.line === null ? source : `${source}:${p.line}`;
  const key = p.key === '' ? '' : `key "${p.key}": `;
  return `${where}: ${key}${p.message}`;
}

/** A file's text. A file that cannot be read is one problem, thrown as an `error` (ConfigError, PolicyError). */
export function readText(path: string, error: new (source: string, problems: readonly Problem[], options: { cause: unknown }) => ProblemsError): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    // Node's message ends ", open '<path>'"; the path is already in front of ours.
    const message = (err as { message?: unknown } | null)?.message;
    const why = typeof message === 'string' ? message.replace(/, \w+ '.*'$/, '') : String(err);
    throw new error(path, [{ line: null, key: '', message: `cannot read the file: ${why}` }], { cause: err });
  }
}

export function sortProblems(problems: readonly Problem[]): Problem[] {
  // Stable: problems on the same line keep the order they were found in.
  return [...problems].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------
// The document as plain nodes with line numbers

export type Node =
  | { readonly kind: 'scalar'; readonly value: unknown; readonly line: number | null; readonly empty: boolean }
  | { readonly kind: 'map'; readonly entries: readonly Entry[]; readonly line: number | null }
  | { readonly kind: 'seq'; readonly items: readonly Node[]; readonly line: number | null };

export interface Entry {
  readonly key: string;
  readonly keyLine: number | null;
  readonly value: Node;
}

/** Nothing written ("key:" with no value, or an empty file). */
const NOTHING: Node = { kind: 'scalar', value: null, line: null, empty: true };

/**
 * Parses YAML text. A file with syntax errors gives those alone (in line order), and no tree.
 * Otherwise the tree comes with the problems found building it: keys that are not plain names,
 * reported with `keyExample` as the example ("listen" for "like "listen:"").
 */
export function parseYaml(text: string, keyExample: string): { syntax: Problem[] } | { root: Node; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  const syntax: Problem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    syntax.push({ line: lineAt(e.pos[0]), key: '', message: `YAML syntax error: ${yamlMessage(e.code, e.message)}` });
  }
  if (syntax.length > 0) return { syntax: sortProblems(syntax) };

  const problems: Problem[] = [];
  const badKey = `keys must be plain names, like "${keyExample}:"`;
  const toNode = (node: unknown, depth: number): Node => {
    if (node === null || node === undefined) return NOTHING;
    if (depth > 64) return NOTHING; // aliases nested absurdly deep; validation will complain about the shape
    if (isAlias(node)) return toNode(node.resolve(doc), depth + 1);
    const range = (node as { range?: readonly number[] | null }).range;
    const line = range ? lineAt(range[0]!) : null;
    if (isScalar(node)) {
      const empty = node.value === null && (node.source === undefined || node.source === '');
      return { kind: 'scalar', value: node.value, line: empty ? null : line, empty };
    }
    if (isSeq(node)) return { kind: 'seq', items: node.items.map((i) => toNode(i, depth + 1)), line };
    if (isMap(node) || isPair(node)) {
      const entries: Entry[] = [];
      for (const pair of isPair(node) ? [node] : node.items) {
        let key: unknown = pair.key;
        if (isAlias(key)) key = key.resolve(doc);
        const keyRange = (key as { range?: readonly number[] | null } | null)?.range;
        const keyLine = keyRange ? lineAt(keyRange[0]!) : line;
        if (!isScalar(key) || key.value === null || typeof key.value === 'object') {
          problems.push({ line: keyLine, key: '', message: badKey });
          continue;
        }
        entries.push({ key: String(key.value), keyLine, value: toNode(pair.value, depth + 1) });
      }
      return { kind: 'map', entries, line };
    }
    return NOTHING;
  };
  return { root: toNode(doc.contents, 0), problems };
}

function yamlMessage(code: string, message: string): string {
  switch (code) {
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document (a second "---"); keep one';
    case 'DUPLICATE_KEY':
      return 'the same key appears twice in one section';
    default:
      return message;
  }
}

/** A value as "(got X)" shows it. */
export function describe(v: Node): string {
  switch (v.kind) {
    case 'map':
      return 'a mapping of keys';
    case 'seq':
      return v.items.length === 0 ? 'an empty list' : 'a list';
    case 'scalar':
      if (v.value === null) return v.empty ? 'nothing' : 'null';
      if (typeof v.value === 'string') return JSON.stringify(v.value.length > 60 ? `${v.value.slice(0, 57)}...` : v.value);
      return String(v.value);
  }
}

// ---------------------------------------------------------------------------
// "Did you mean"

/** Whether two names are the same but for case, "-", "_" and spaces. */
export function sameName(a: string, b: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '');
  return norm(a) === norm(b);
}

/**
 * The known name closest to an unknown one, if it is close enough: sameName(), or a few edits
 * away (one for each three letters of the known name, at least one). With `swaps`, two
 * neighbouring letters swapped count as one edit rather than two. On a tie the first known
 * name wins.
 */
export function closest(unknown: string, known: Iterable<string>, { swaps }: { swaps: boolean }): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = sameName(k, unknown) ? 0 : editDistance(unknown.toLowerCase(), k.toLowerCase(), swaps);
    if (d <= Math.max(1, Math.floor(k.length / 3)) && d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Edits (insert, delete or change a letter) from a to b; with `swaps`, swapping two neighbours is one edit (optimal string alignment). */
function editDistance(a: string, b: string, swaps: boolean): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (swaps && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
