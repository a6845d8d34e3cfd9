// The school-dns command line. `serve` runs the resolver; later commands (reload, check,
// lists, query, report, requests) talk to a running server through its admin API.
import { Command, Option } from 'commander';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/load';
import type { Config } from '../config/types';
import { createLogger } from '../log/logger';
import { startResolver } from '../main';
import { adminRequest, DEFAULT_ADMIN } from './admin-client';
import { addRequestsCommand } from './requests';
import { addListsCommand } from './lists';
import { addReportCommand } from './report';
import { addQueryCommand } from './query';
import { addValidateCommand } from './validate';

const EXIT_FAILED = 1;
const EXIT_CONFIG = 2;
const EXIT_START = 3;
const EXIT_UNREACHABLE = 4;

function readConfig(path: string | undefined): Config {
  try {
    return path ? loadConfigFile(path) : defaultConfig();
  } catch (e) {
    if ((e as { code?: string }).code === 'CONFIG_INVALID') {
      process.stderr.write(`school-dns: the configuration could not be used; nothing was started.\n${(e as ConfigError).message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw e;
  }
}

async function serve(opts: { config?: string }): Promise<void> {
  const config = readConfig(opts.config);
  const log = createLogger({ level: config.log.level, format: config.log.format });
  let running: Awaited<ReturnType<typeof startResolver>>;
  try {
    running = await startResolver(config, log);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'STARTUP_FAILED' ? ''
      : err.code === 'EADDRINUSE' ? ' (another program already uses this address and port)'
      : err.code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
      : err.code === 'EADDRNOTAVAIL' ? ' (this machine has no such address)' : '';
    log.error(`could not start: ${err.message}${hint}`, { err });
    process.exit(EXIT_START);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    running.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading the policy and lists');
    void running.reload();
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('uncaughtException', (err) => {
    // A bug, not network input (the dispatcher answers those). Exit so systemd restarts us clean.
    log.error('uncaught exception; exiting', { err });
    process.exit(70);
  });
}

interface ReloadBody {
  ok: boolean; changed: boolean; durationMs: number; names: number; error?: string;
  categories: { name: string; entries: number }[];
  sources: { category: string; origin: string; format: string; entries: number; invalid: number; error?: string; invalidSamples: { line: number; reason: string }[] }[];
}

async function reload(opts: { admin: string; json?: boolean }): Promise<void> {
  const { status, body } = await adminRequest(opts.admin, 'POST', 'reload');
  const r = body as ReloadBody;
  if (opts.json) {
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
  } else if (typeof body !== 'object' || body === null) {
    process.stdout.write(`unexpected answer (HTTP ${status}): ${String(body)}\n`);
  } else if (!r.ok) {
    process.stdout.write(`reload FAILED: ${r.error}\nThe previous lists are still in use.\n`);
  } else {
    process.stdout.write(r.changed
      ? `reloaded in ${(r.durationMs / 1000).toFixed(1)} s: ${r.names} names\n`
      : `nothing changed since the last load: ${r.names} names\n`);
    for (const c of r.categories) process.stdout.write(`  ${c.name.padEnd(28)} ${String(c.entries).padStart(9)} entries\n`);
    for (const s of r.sources) {
      if (s.error) process.stdout.write(`  ! ${s.origin}: ${s.error}\n`);
      else if (s.invalid > 0) process.stdout.write(`  ${s.origin}: ${s.invalid} invalid lines skipped (first at line ${s.invalidSamples.map((x) => x.line).slice(0, 5).join(', ')})\n`);
    }
  }
  process.exitCode = status === 200 && r.ok ? 0 : EXIT_FAILED;
}

interface ExplainBody {
  name: string; client: { address: string; listener?: string | null; school: string; group: string };
  decision: 'pass' | 'allow' | 'block'; category: string | null; answer: string;
  matches: { category: string; matched: string; kind: 'block' | 'allow'; source: string | null; line: number | null }[];
  allowedBy: { category: string; matched: string; source: string | null; line: number | null } | null;
  overrode?: string | null;
  approvedBy?: { id: number; name: string; covers: string } | null;
}

async function check(name: string, opts: { client: string; listener?: string; admin: string; json?: boolean }): Promise<void> {
  const via = opts.listener ? `&listener=${encodeURIComponent(opts.listener)}` : '';
  const { status, body } = await adminRequest(opts.admin, 'GET', `explain?name=${encodeURIComponent(name)}&client=${encodeURIComponent(opts.client)}${via}`);
  if (opts.json || typeof body !== 'object' || body === null || status !== 200) {
    process.stdout.write((typeof body === 'string' ? body : JSON.stringify(body, null, 2)) + '\n');
    process.exitCode = status === 200 ? 0 : EXIT_FAILED;
    return;
  }
  const e = body as ExplainBody;
  const lines = [
    `name:     ${e.name}`,
    `client:   ${e.client.address}${e.client.listener ? ` (asking ${e.client.listener})` : ''} -> school "${e.client.school}", group "${e.client.group}"`,
    `decision: ${e.decision.toUpperCase()}${e.category ? ` (${e.category})` : ''}`,
    `answer:   ${e.answer}`,
  ];
  for (const m of e.matches) {
    lines.push(`  ${m.kind === 'allow' ? 'allow rule' : 'listed   '} ${m.matched} in ${m.category}${m.source ? ` (${m.source}${m.line ? `:${m.line}` : ''})` : ''}`);
  }
  if (e.approvedBy) lines.push(`  allowed by approved request #${e.approvedBy.id} (${e.approvedBy.name}, for ${e.approvedBy.covers})${e.overrode ? `; it overrides ${e.overrode}` : ''}`);
  if (e.allowedBy) lines.push(`  ${e.overrode ? `${e.overrode} ` : ''}overridden by the allow rule ${e.allowedBy.matched} (${e.allowedBy.category}${e.allowedBy.source ? `, ${e.allowedBy.source}${e.allowedBy.line ? `:${e.allowedBy.line}` : ''}` : ''})`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function flush(opts: { admin: string }): Promise<void> {
  const { status, body } = await adminRequest(opts.admin, 'POST', 'cache/flush');
  const b = body as { ok?: boolean; answers?: number; records?: number };
  if (status === 200 && b.ok) {
    process.stdout.write(`flushed: ${b.answers} cached answers${b.records ? ` and ${b.records} cached records and delegations` : ''}; names are resolved afresh from now on\n`);
  } else {
    process.stdout.write(`flush failed (HTTP ${status}): ${typeof body === 'string' ? body : JSON.stringify(body)}\n`);
    process.exitCode = EXIT_FAILED;
  }
}

/** Runs an admin-API command; an unreachable server is exit code 4 with advice. */
function viaAdmin<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ADMIN_UNREACHABLE') throw e;
      process.stderr.write(`school-dns: ${(e as Error).message}\n`);
      process.exitCode = EXIT_UNREACHABLE;
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('school-dns')
    .description('A recursive DNS resolver that keeps children away from harmful content at school.')
    .version(require('../../package.json').version as string)
    .showHelpAfterError();
  program
    .command('serve')
    .description('run the resolver (on the embedded default configuration unless --config is given)')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file').env('SCHOOL_DNS_CONFIG'))
    .action(serve);
  const adminOption = (): Option => new Option('--admin <url>', 'admin API of the running school-dns').default(DEFAULT_ADMIN).env('SCHOOL_DNS_ADMIN');
  program
    .command('reload')
    .description('reload the policy and rebuild every list in a running school-dns (the old lists keep serving if it fails)')
    .addOption(adminOption())
    .option('--json', 'print the full result as JSON')
    .action(viaAdmin(reload));
  program
    .command('check')
    .description('explain what a running school-dns decides for NAME when CLIENT asks')
    .argument('<name>', 'domain name, e.g. www.example.com')
    .requiredOption('--client <address>', 'client IP address (decides the school and age group)')
    .option('--listener <address>', 'the server address the client asks, for age groups set per listening address (the policy\'s listeners:)')
    .addOption(adminOption())
    .option('--json', 'print the explanation as JSON')
    .action(viaAdmin(check));
  program
    .command('flush')
    .description('empty the caches of a running school-dns (answers, records, delegations, server round-trip times), e.g. after a site fixed its DNS')
    .addOption(adminOption())
    .action(viaAdmin(flush));
  addRequestsCommand(program, adminOption, viaAdmin);
  addListsCommand(program, adminOption, viaAdmin);
  addReportCommand(program, adminOption, viaAdmin);
  addValidateCommand(program);
  addQueryCommand(program);
  return program;
}

export function run(argv: string[]): void {
  // Output piped into `head` and the like: a closed pipe is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  buildProgram().parseAsync(argv).catch((e) => {
    process.stderr.write(`school-dns: ${(e as Error).message}\n`);
    process.exit(1);
  });
}

if (require.main === module) run(process.argv);
