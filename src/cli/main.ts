// The school-dns command line. `serve` runs the resolver; later commands (reload, check,
// lists, query, report, requests) talk to a running server through its admin API.
import { Command, Option } from 'commander';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/load';
import type { Config } from '../config/types';
import { createLogger } from '../log/logger';
import { startResolver } from '../main';

const EXIT_CONFIG = 2;
const EXIT_START = 3;

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
    const hint = err.code === 'EADDRINUSE' ? ' (another program already uses this address and port)'
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
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('uncaughtException', (err) => {
    // A bug, not network input (the dispatcher answers those). Exit so systemd restarts us clean.
    log.error('uncaught exception; exiting', { err });
    process.exit(70);
  });
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
  return program;
}

export function run(argv: string[]): void {
  buildProgram().parseAsync(argv).catch((e) => {
    process.stderr.write(`school-dns: ${(e as Error).message}\n`);
    process.exit(1);
  });
}

if (require.main === module) run(process.argv);
