// Runs the built school-dns command (dist/cli/main.js) as a child process, as an operator would.
import { execFile } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface CliRun { code: number; stdout: string; stderr: string }

/**
 * `school-dns ARGS...`; resolves with the exit code and output, never rejects. The environment
 * is this process's without any admin token (a test gives one in `env` when it means to).
 */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  const env = { ...process.env };
  delete env.SCHOOL_DNS_ADMIN_TOKEN;
  delete env.SCHOOL_DNS_ADMIN_TOKEN_FILE;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...env, ...opts.env }, timeout: opts.timeoutMs ?? 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
