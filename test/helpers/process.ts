// Child processes the tests start (school-dns serve, dnsdist, Prometheus).
import type { ChildProcess } from 'node:child_process';

/**
 * Stops a child: SIGTERM, then SIGKILL if it is still running after `killAfterMs`, and
 * waits for it to exit. A child that has already exited (a failed start) is left as it is:
 * it has no 'exit' event left to wait for.
 */
export async function stopChild(child: ChildProcess, killAfterMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}
