// Starts a real school-dns in-process on ephemeral loopback ports, for end-to-end tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { defaultConfig } from '../../src/config/load';
import type { Config, HostPort } from '../../src/config/types';
import { createLogger } from '../../src/log/logger';
import { RunningResolver, startResolver } from '../../src/main';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestResolver extends RunningResolver {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** Log lines written so far, parsed from JSON. */
  readonly logs: Record<string, unknown>[];
}

export const loopback = (port: number, host = '127.0.0.1'): HostPort => ({ host, port, family: host.includes(':') ? 6 : 4 });

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = (base as Record<string, unknown>)[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && b !== null && typeof b === 'object' && !Array.isArray(b)
      ? merge(b, v as never) : v;
  }
  return out as T;
}

/**
 * Starts school-dns with the embedded defaults, overridden by `over`; it listens on
 * 127.0.0.1 (ephemeral port) unless `over.server.listen` says otherwise, admin on an
 * ephemeral port too, forwards (resolver.mode forward), filters nothing (policy.file null),
 * keeps its state in a fresh temporary directory (removed on close) unless `over.state` names
 * one, and logs JSON into `logs`.
 */
export async function startTestResolver(over: DeepPartial<Config> = {}): Promise<TestResolver> {
  const base = merge(defaultConfig(), {
    server: { listen: [loopback(0)] },
    admin: { listen: loopback(0) },
    // Forwarding unless a test asks for recursion: most tests script their upstream.
    resolver: { mode: 'forward' },
    // No filtering unless a test asks for a policy: the forwarding and server tests are about DNS.
    policy: { file: null },
    // No block page unless a test asks for one (on port 0): its default is port 80 and 443 on the sinkhole.
    blockPage: { enabled: false },
    log: { level: 'warn' },
  } as DeepPartial<Config>);
  const config = merge(base, over);
  const ownState = over.state?.directory === undefined ? mkdtempSync(path.join(tmpdir(), 'school-dns-state-')) : null;
  if (ownState) Object.assign(config, { state: { directory: ownState } });
  const removeState = (): void => { if (ownState) rmSync(ownState, { recursive: true, force: true }); };
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  const log = createLogger({ level: config.log.level, format: 'json', stream });
  let r: RunningResolver;
  try {
    r = await startResolver(config, log, { processMetrics: false });
  } catch (e) {
    removeState();
    throw e;
  }
  const close = r.close;
  return Object.assign(r, { udpPort: r.udpPorts[0], tcpPort: r.tcpPorts[0], logs, close: () => close().finally(removeState) });
}

/** Waits (bounded) until the resolver has no query in flight, so no upstream exchange outlives a test. */
export async function drained(r: RunningResolver): Promise<void> {
  for (let i = 0; i < 60 && r.metrics.inflight > 0; i++) await new Promise((res) => setTimeout(res, 50));
}
