// `school-dns lists status` and `school-dns lists update`: what each list source of a running
// school-dns gave, and fetching the URL sources now, with progress, through its admin API.
import { Command, Option } from 'commander';
import type { ListSourceView, ListsStatusBody, ListsUpdateEvent } from '../lists/fetch-routes';
import { adminFetch, adminRequest, bodyOf } from './admin-client';

/** Exit codes of the lists commands (4, the admin API unreachable, comes from the shared wrapper). */
export const LISTS_EXIT = { ok: 0, failed: 1, unreachable: 4, sourcesFailing: 5 } as const;

type Wrap = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;

const EXIT_HELP = `
Exit codes:
  0  every source is ok
  1  the command failed (filtering is off, or the reload failed for another reason)
  4  the admin API cannot be reached (is school-dns running? is --admin right?)
  5  at least one source is failing: its saved copy serves (stale) or nothing from it does`;

/** Adds `lists` with `status` and `update` to the program. */
export function addListsCommand(program: Command, adminOption: () => Option, viaAdmin: Wrap): void {
  const lists = program
    .command('lists')
    .description('the block lists of a running school-dns: what each source gave (status), or fetch the URL sources now (update)')
    .addHelpText('after', `
URL sources ("url:" in the policy) are fetched by the server itself, on start, on every
reload, and every lists.refreshInterval (24h by default, with jitter). The last good
version of each is kept in the state directory and serves while the list host is down.
A download with less than half the names of that copy is refused: if the list really
shrank, accept it with \`school-dns lists update --force\`.

Examples:
  school-dns lists status
  school-dns lists update
  school-dns lists update --force`);

  lists
    .command('status')
    .description('show every list source: ok, stale (failing; its saved copy serves) or failing (nothing serves), with ages')
    .addOption(adminOption())
    .option('--json', 'print the status as JSON')
    .addHelpText('after', EXIT_HELP)
    .action(viaAdmin(status));

  lists
    .command('update')
    .description('fetch every URL source now (conditional requests: unchanged lists are not downloaded again) and rebuild the lists if one changed')
    .option('--force', 'accept downloads that fail the sanity checks (shrank by more than half, or mostly not list lines)')
    .addOption(adminOption())
    .option('--json', 'print the outcome as JSON, without progress')
    .addHelpText('after', EXIT_HELP)
    .action(viaAdmin(update));
}

async function status(opts: { admin: string; json?: boolean }): Promise<void> {
  const { status: http, body } = await adminRequest(opts.admin, 'GET', 'lists');
  if (http !== 200 || typeof body !== 'object' || body === null) return failed(http, body);
  const b = body as ListsStatusBody;
  const bad = b.sources.filter((s) => s.state === 'stale' || s.state === 'failing');
  process.exitCode = bad.length > 0 ? LISTS_EXIT.sourcesFailing : LISTS_EXIT.ok;
  if (opts.json) {
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return;
  }
  const now = Date.parse(b.now);
  const out: string[] = [];
  const built = b.lists ? `${b.lists.names} names, built ${ago(now, b.lists.builtAt)}` : 'not loaded yet';
  const r = b.refresh;
  const refresh = r.intervalSeconds === null
    ? 'URL sources are fetched only on reload and `lists update`'
    : `URL sources are fetched every ${duration(r.intervalSeconds * 1000)} (±${Math.round(r.jitter * 100)}%)${r.nextAt ? `, next in ${duration(Date.parse(r.nextAt) - now)}` : ''}`;
  out.push(`Lists: ${built}. ${refresh}.`);
  let category = '';
  for (const s of b.sources) {
    if (s.category !== category) {
      category = s.category;
      out.push('', category);
    }
    out.push(...describeSource(s, now));
  }
  if (b.sources.length === 0) out.push('', 'The policy names no list sources (only names written in it).');
  out.push('');
  if (bad.length > 0) {
    out.push(`${bad.length} of ${b.sources.length} sources failing (exit code ${LISTS_EXIT.sourcesFailing}). Check the address and this server's`
      + ' network access to it, then try again with `school-dns lists update`.');
  } else {
    out.push(`All ${b.sources.length} sources ok.`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

function describeSource(s: ListSourceView, now: number): string[] {
  const mark = { ok: 'ok      ', stale: 'STALE   ', failing: 'FAILING ', pending: 'pending ' }[s.state];
  const head = `  ${mark} #${s.index} ${s.origin}${s.kind === 'file' ? ' (file)' : ''}`;
  const lines = [head];
  const pad = '           ';
  const size = (names: number | null, bytes: number | null): string => `${plural(names ?? 0, 'name')}${bytes !== null ? ` (${bytesText(bytes)})` : ''}`;
  if (s.kind === 'file') {
    if (s.state === 'ok') lines.push(`${pad}${size(s.names, s.bytes)}${s.modifiedAt ? `, file modified ${ago(now, s.modifiedAt)}` : ''}`);
    else if (s.error) lines.push(`${pad}${s.error}`);
    return lines;
  }
  if (s.state === 'pending') {
    lines.push(s.copy
      ? `${pad}serving the saved copy until the list host answers: ${size(s.copy.names, s.copy.size)}, downloaded ${ago(now, s.copy.fetchedAt)}`
      : `${pad}not fetched yet`);
    return lines;
  }
  if (s.state === 'ok') {
    const how = s.lastOutcome === 'not-modified' ? 'not modified' : 'downloaded';
    const fetched = s.copy ? `, this version downloaded ${ago(now, s.copy.fetchedAt)}` : '';
    lines.push(`${pad}${size(s.names, s.bytes)}; checked ${ago(now, s.lastAttemptAt)} (${how})${fetched}`);
    return lines;
  }
  const tries = s.consecutiveFailures ?? 1;
  const since = s.copyInUseSince ? ` for ${duration(now - Date.parse(s.copyInUseSince))}` : '';
  lines.push(`${pad}last try ${ago(now, s.lastAttemptAt)} ${s.lastOutcome === 'refused' ? 'refused' : 'failed'} (${tries} in a row)${s.code ? `: ${s.code}` : ''}`);
  if (s.error) lines.push(`${pad}${s.error}`);
  lines.push(`${pad}last success: ${s.lastSuccessAt ? ago(now, s.lastSuccessAt) : 'never'}`);
  if (s.state === 'stale' && s.copy) {
    lines.push(`${pad}serving the saved copy${since}: ${size(s.copy.names, s.copy.size)}, downloaded ${ago(now, s.copy.fetchedAt)}`);
  } else {
    lines.push(`${pad}no saved copy: its names are missing from the lists`);
  }
  return lines;
}

async function update(opts: { admin: string; force?: boolean; json?: boolean }): Promise<void> {
  const tty = !opts.json && Boolean(process.stdout.isTTY);
  let done: Extract<ListsUpdateEvent, { event: 'done' }> | null = null;
  let progressShown = false;
  const clear = (): void => {
    if (progressShown) process.stdout.write('\r\x1b[K');
    progressShown = false;
  };
  const say = (line: string): void => {
    if (opts.json) return;
    clear();
    process.stdout.write(line + '\n');
  };
  const result = await adminStream(opts.admin, `lists/update${opts.force ? '?force=1' : ''}`, (e) => {
    if (e.event === 'start') {
      const n = e.sources.length;
      say(n === 0 ? 'The policy has no URL sources; reloading the lists.' : `Fetching ${n} URL source${n === 1 ? '' : 's'}${e.force ? ' (--force: the sanity checks are off)' : ''}...`);
    } else if (e.event === 'progress') {
      if (!tty) return;
      const of = e.total ? ` of ${bytesText(e.total)} (${Math.floor((e.bytes / e.total) * 100)}%)` : '';
      process.stdout.write(`\r\x1b[K  downloading ${e.category} #${e.index} ${shorten(e.url, 60)}: ${bytesText(e.bytes)}${of}`);
      progressShown = true;
    } else if (e.event === 'source') {
      say(sourceLine(e));
    } else if (e.event === 'done') {
      done = e;
    }
  });
  clear();
  if (result.status !== 200 || result.body !== undefined) return failed(result.status, result.body);
  const d = done as Extract<ListsUpdateEvent, { event: 'done' }> | null;
  if (!d) {
    process.stderr.write('school-dns: the connection to school-dns ended before the update finished; see `school-dns lists status` and its log.\n');
    process.exitCode = LISTS_EXIT.failed;
    return;
  }
  const bad = d.sources.filter((s) => s.state === 'stale' || s.state === 'failing');
  process.exitCode = bad.length > 0 ? LISTS_EXIT.sourcesFailing : d.ok ? LISTS_EXIT.ok : LISTS_EXIT.failed;
  if (opts.json) {
    process.stdout.write(JSON.stringify(d, null, 2) + '\n');
    return;
  }
  const out: string[] = [];
  if (d.ok) {
    out.push(d.changed
      ? `Lists rebuilt in ${(d.durationMs / 1000).toFixed(1)} s: ${d.names} names.`
      : `Nothing changed: no list was rebuilt (${d.names} names).`);
  } else {
    out.push(`The reload FAILED; the previous lists keep serving: ${d.error}`);
  }
  if (bad.length > 0) {
    out.push(`${bad.length} source${bad.length === 1 ? '' : 's'} failing (exit code ${LISTS_EXIT.sourcesFailing}); \`school-dns lists status\` shows the details.`);
    if (bad.some((s) => s.code === 'SOURCE_SHRUNK' || s.code === 'SOURCE_NOT_A_LIST')) {
      out.push('A downloaded list was refused by the sanity checks. If it is right, accept it with `school-dns lists update --force`.');
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

function sourceLine(s: ListSourceView): string {
  const where = `${s.category} #${s.index} ${s.origin}`;
  const size = `${plural(s.names ?? 0, 'name')} (${bytesText(s.bytes ?? 0)})`;
  if (s.state === 'ok') return `  ok       ${where}: ${s.lastOutcome === 'not-modified' ? 'not modified' : 'downloaded'}, ${size}`;
  const what = s.lastOutcome === 'refused' ? 'REFUSED' : 'FAILED ';
  const instead = s.state === 'stale' ? `; the saved copy serves: ${size}` : '; no saved copy: nothing from it serves';
  return `  ${what}  ${where}: ${s.code ? `${s.code}: ` : ''}${s.error ?? ''}${instead}`;
}

/**
 * POSTs to a streaming admin route and hands each newline-delimited JSON event to `onEvent`.
 * A non-streaming answer (an error) comes back as status and body.
 */
async function adminStream(base: string, pathAndQuery: string, onEvent: (e: ListsUpdateEvent) => void): Promise<{ status: number; body?: unknown }> {
  // Large lists on slow links take a while; the server's own timeouts end a stuck download.
  const res = await adminFetch(base, 'POST', pathAndQuery, 3_600_000);
  if (!(res.headers.get('content-type') ?? '').startsWith('application/x-ndjson') || !res.body) {
    return { status: res.status, body: await bodyOf(res) };
  }
  const decoder = new TextDecoder();
  let buffered = '';
  const take = (line: string): void => {
    if (line.trim() === '') return;
    try {
      onEvent(JSON.parse(line) as ListsUpdateEvent);
    } catch {
      // not an event (the server failed mid-way): the missing "done" says so
    }
  };
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        take(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    }
  } catch {
    // the connection broke: the missing "done" says so
  }
  take(buffered);
  return { status: res.status };
}

function failed(status: number, body: unknown): void {
  const error = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : String(body).trim();
  const hint = status === 409 ? ' Set policy.file in the configuration to filter with lists.' : '';
  process.stderr.write(`school-dns: ${error || `HTTP status ${status}`}${hint}\n`);
  process.exitCode = LISTS_EXIT.failed;
}

function ago(now: number, when: string | null | undefined): string {
  if (!when) return 'never';
  const ms = now - Date.parse(when);
  return ms < 0 ? 'just now' : `${duration(ms)} ago`;
}

/** "45 s", "12 min", "5 h", "3 d". */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
