// `school-dns requests ...`: staff list, approve, reject and revoke the "this should not be
// blocked" review requests of a running school-dns, through its admin API.
import { Command, Option } from 'commander';
import { userInfo } from 'node:os';
import { APPROVAL_SCOPES, describeScope } from '../requests/approvals';
import type { RequestStatus, ReviewRequest } from '../requests/store';
import { adminRequest } from './admin-client';
import { clean, localTime, serverError } from './terminal';

const EXIT_FAILED = 1;
const STATUSES = ['pending', 'approved', 'rejected', 'revoked', 'all'] as const;

type Wrap = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;

interface ListBody {
  status: string;
  counts: Record<RequestStatus, number>;
  requests: ReviewRequest[];
}

interface DecisionOptions { admin: string; note?: string; by?: string; scope?: string; json?: boolean }

/** Adds `requests` and its subcommands to the program. */
export function addRequestsCommand(program: Command, adminOption: () => Option, viaAdmin: Wrap): void {
  const requests = program
    .command('requests')
    .description('review requests ("this should not be blocked") sent from the block page: list, approve, reject, revoke')
    .addHelpText('after', `
Scopes of an approval (who the name, and its subdomains, is opened for):
  school-group  the requesting age group at the requesting school (the default)
  school        every age group at the requesting school
  group         the requesting age group at every school
An approval takes effect at once, without editing the policy file. Devices may keep a
blocked answer for blocking.ttl seconds (60 by default) before they ask again.

Examples:
  school-dns requests list
  school-dns requests approve 12 --note "needed for the science class"
  school-dns requests approve 12 --scope group
  school-dns requests reject 13 --note "a game site, not for lessons"
  school-dns requests revoke 12`);

  requests
    .command('list')
    .description('list review requests (pending ones unless --status says otherwise), oldest first')
    .addOption(new Option('--status <status>', 'which requests').choices(STATUSES).default('pending'))
    .addOption(adminOption())
    .option('--json', 'print the requests as JSON')
    .action(viaAdmin(list));

  requests
    .command('approve')
    .description('approve a pending request: its name resolves from now on for the clients the scope covers')
    .argument('<id>', 'request number, as `requests list` shows it')
    .addOption(new Option('--scope <scope>', 'who the name is opened for').choices(APPROVAL_SCOPES).default('school-group'))
    .option('--note <text>', 'why (kept with the decision)')
    .option('--by <name>', 'who decides (kept with the decision; default: your user name)')
    .addOption(adminOption())
    .option('--json', 'print the result as JSON')
    .action(viaAdmin((id: string, opts: DecisionOptions) => decide('approve', id, opts)));

  requests
    .command('reject')
    .description('reject a pending request: recorded, nothing else changes')
    .argument('<id>', 'request number, as `requests list` shows it')
    .option('--note <text>', 'why (kept with the decision)')
    .option('--by <name>', 'who decides (kept with the decision; default: your user name)')
    .addOption(adminOption())
    .option('--json', 'print the result as JSON')
    .action(viaAdmin((id: string, opts: DecisionOptions) => decide('reject', id, opts)));

  requests
    .command('revoke')
    .description('withdraw an approval: the name is filtered again for the clients it covered')
    .argument('<id>', 'request number of an approved request')
    .option('--note <text>', 'why (kept with the decision)')
    .option('--by <name>', 'who decides (kept with the decision; default: your user name)')
    .addOption(adminOption())
    .option('--json', 'print the result as JSON')
    .action(viaAdmin((id: string, opts: DecisionOptions) => decide('revoke', id, opts)));
}

async function list(opts: { admin: string; status: string; json?: boolean }): Promise<void> {
  const { status, body } = await adminRequest(opts.admin, 'GET', `requests?status=${encodeURIComponent(opts.status)}`);
  if (status !== 200 || typeof body !== 'object' || body === null) return failed(status, body);
  if (opts.json) {
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return;
  }
  const b = body as ListBody;
  const counts = `pending ${b.counts.pending}, approved ${b.counts.approved}, rejected ${b.counts.rejected}, revoked ${b.counts.revoked}`;
  if (b.requests.length === 0) {
    process.stdout.write(`no ${opts.status === 'all' ? '' : `${opts.status} `}review requests (${counts})\n`);
    return;
  }
  const rows = b.requests.map((r) => [
    `#${r.id}`, r.status, localTime(r.createdAt), clean(r.school, 24), clean(r.group, 16), clean(r.name, 40), clean(r.category ?? '-', 20),
    r.message ? `"${clean(r.message, 60)}"` : '',
  ]);
  const head = ['ID', 'STATUS', 'ASKED', 'SCHOOL', 'GROUP', 'NAME', 'CATEGORY', 'MESSAGE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => width(row[i]))));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]))).join('  ').trimEnd();
  const out = [line(head)];
  b.requests.forEach((r, i) => {
    out.push(line(rows[i]));
    if (r.status !== 'pending' && r.decidedAt) {
      const who = r.decidedBy ? ` by ${clean(r.decidedBy, 40)}` : '';
      const scope = r.scope ? `, for ${describeScope({ scope: r.scope, school: clean(r.school, 40), group: clean(r.group, 40) })}` : '';
      const note = r.note ? `: "${clean(r.note, 80)}"` : '';
      out.push(`    ${r.status} ${localTime(r.decidedAt)}${who}${scope}${note}`);
    }
  });
  out.push(`${b.requests.length} shown (${counts})`);
  process.stdout.write(out.join('\n') + '\n');
}

async function decide(verb: 'approve' | 'reject' | 'revoke', id: string, opts: DecisionOptions): Promise<void> {
  const q = new URLSearchParams();
  if (verb === 'approve' && opts.scope) q.set('scope', opts.scope);
  if (opts.note !== undefined) q.set('note', opts.note);
  const by = opts.by ?? currentUser();
  if (by) q.set('by', by);
  const { status, body } = await adminRequest(opts.admin, 'POST', `requests/${encodeURIComponent(id)}/${verb}?${q}`);
  if (opts.json) {
    process.stdout.write((typeof body === 'string' ? body : JSON.stringify(body, null, 2)) + '\n');
    process.exitCode = status === 200 ? 0 : EXIT_FAILED;
    return;
  }
  if (status !== 200 || typeof body !== 'object' || body === null) return failed(status, body);
  process.stdout.write(`${clean(String((body as { message?: unknown }).message), 400)}\n`);
}

function failed(status: number, body: unknown): void {
  process.stderr.write(`school-dns: ${serverError(body)}${status >= 500 ? ` (HTTP ${status})` : ''}\n`);
  process.exitCode = EXIT_FAILED;
}

function currentUser(): string | null {
  try {
    return userInfo().username || null;
  } catch {
    return process.env.USER ?? null;
  }
}



function width(s: string): number {
  return Array.from(s).length;
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - width(s)));
}
