// `school-dns report`: the most blocked names and categories per school and age group, from the
// query log of a running school-dns (through its admin API, never by opening the database), for
// staff who do not use Grafana.
import { Command, Option } from 'commander';
import { DEFAULT_SINCE, DEFAULT_TOP, MAX_TOP, type ReportBody } from '../querylog/admin-route';
import { DurationError, parseDuration } from '../querylog/duration';
import { adminRequest } from './admin-client';
import { clean, localTime, serverError } from './terminal';

const EXIT_FAILED = 1;
/** A bad option value, found before asking the server. */
const EXIT_USAGE = 2;

type Wrap = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;

interface ReportOptions { admin: string; since: string; school?: string; group?: string; top: string; json?: boolean }

/** Adds `report` to the program. */
export function addReportCommand(program: Command, adminOption: () => Option, viaAdmin: Wrap): void {
  program
    .command('report')
    .description('the most blocked names and categories per school and age group, from the query log of a running school-dns')
    .option('--since <duration>', 'how far back: 7d (days), 24h (hours), 30m (minutes), 2w (weeks), 1d12h', DEFAULT_SINCE)
    .option('--school <name>', 'only this school (as the policy names it)')
    .option('--group <name>', 'only this age group')
    .option('--top <n>', `names and categories listed per school and group (1 to ${MAX_TOP})`, String(DEFAULT_TOP))
    .addOption(adminOption())
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
The query log keeps blocked queries for queryLog.retentionDays days (30 by default).

Examples:
  school-dns report
  school-dns report --since 24h --school "Nguyen Du Primary"
  school-dns report --since 30d --group secondary --top 20`)
    .action(viaAdmin(report));
}

async function report(opts: ReportOptions): Promise<void> {
  try {
    parseDuration(opts.since);
  } catch (e) {
    if ((e as Partial<DurationError>).code !== 'BAD_DURATION') throw e;
    return usage(`--since: ${(e as Error).message}`);
  }
  if (!/^\d{1,4}$/.test(opts.top) || Number(opts.top) < 1 || Number(opts.top) > MAX_TOP) return usage(`--top must be a whole number from 1 to ${MAX_TOP} (got "${clean(opts.top, 20)}")`);
  const q = new URLSearchParams({ since: opts.since, top: opts.top });
  if (opts.school !== undefined) q.set('school', opts.school);
  if (opts.group !== undefined) q.set('group', opts.group);
  const { status, body } = await adminRequest(opts.admin, 'GET', `report?${q}`);
  if (status !== 200 || typeof body !== 'object' || body === null || !(body as { ok?: unknown }).ok) {
    if (opts.json) process.stdout.write((typeof body === 'string' ? body : JSON.stringify(body, null, 2)) + '\n');
    else failed(status, body);
    process.exitCode = EXIT_FAILED;
    return;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return;
  }
  process.stdout.write(render(body as ReportBody));
}

/** The report as text for a terminal. */
export function render(r: ReportBody): string {
  const scope = [r.school === null ? 'all schools' : `school "${clean(r.school, 60)}"`, r.group === null ? null : `group "${clean(r.group, 60)}"`].filter(Boolean).join(', ');
  const out: string[] = [];
  out.push(`Blocked queries, last ${r.window} (${localTime(r.since)} to ${localTime(r.until)}), ${scope}: ${r.blocked}`);
  const notes: string[] = [];
  const oldest = r.oldest === null ? null : Date.parse(r.oldest);
  if (oldest !== null && oldest > Date.parse(r.since)) notes.push(`the log goes back to ${localTime(r.oldest!)} only (it keeps ${r.retentionDays} days)`);
  if (r.dropped > 0 || r.failed > 0) notes.push(`${r.dropped + r.failed} records were lost since the server started (${r.dropped} dropped because the log could not keep up, ${r.failed} failed to write): counts may be low`);
  for (const n of notes) out.push(`Note: ${n}.`);
  if (r.groups.length === 0) out.push('', 'Nothing was blocked in this time.');
  for (const g of r.groups) {
    out.push('', `${clean(g.school, 60)} / ${clean(g.group, 40)}: ${g.blocked} blocked`);
    const width = String(Math.max(...g.categories.map((c) => c.count), ...g.names.map((n) => n.count), 1)).length;
    out.push('  top categories:');
    for (const c of g.categories) out.push(`    ${String(c.count).padStart(width)}  ${clean(c.category, 60)}`);
    out.push('  top names:');
    for (const n of g.names) out.push(`    ${String(n.count).padStart(width)}  ${clean(n.name, 100)}`);
  }
  return out.join('\n') + '\n';
}

function usage(message: string): void {
  process.stderr.write(`school-dns report: ${message}\n`);
  process.exitCode = EXIT_USAGE;
}

function failed(status: number, body: unknown): void {
  process.stderr.write(`school-dns: ${serverError(body)}${status >= 500 ? ` (HTTP ${status})` : ''}\n`);
}


