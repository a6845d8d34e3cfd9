// The query log from the configuration: opened when it is on and can record something.
import path from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log/logger';
import type { Metrics } from '../metrics/metrics';
import type { CompiledPolicy } from '../policy/policy';
import { QueryLog } from './querylog';

export interface QueryLogSetup {
  /** The running log, or null. */
  readonly log: QueryLog | null;
  /** Why there is none (for the admin API's answer), when log is null. */
  readonly offReason: string;
}

/** The SQLite file: queryLog.path, else querylog.sqlite in the state directory. */
export function databasePath(config: Config): string {
  return config.queryLog.path ?? path.join(config.state.directory, 'querylog.sqlite');
}

/** The hash key's file: in the state directory, wherever the database is. */
export function keyPath(config: Config): string {
  return path.join(config.state.directory, 'querylog.key');
}

/**
 * Opens the query log for `config`. Throws QueryLogError (code QUERYLOG_UNUSABLE) when it is
 * on and cannot be opened: the operator asked for a log, so it is a startup error.
 */
export async function openQueryLog(config: Config, log: Logger, metrics: Metrics, policy: () => CompiledPolicy | null | undefined): Promise<QueryLogSetup> {
  const c = config.queryLog;
  if (!c.enabled) return { log: null, offReason: 'queryLog.enabled is false in the configuration' };
  if (config.policy.file === null && !c.allQueries) {
    // Nothing is ever blocked without a policy, and only blocked queries would be logged.
    return { log: null, offReason: 'filtering is off (policy.file is null), so nothing is blocked, and queryLog.allQueries is false' };
  }
  const category = (verdict: number): string | null => {
    const p = policy();
    if (!p) return null;
    try {
      return p.describeDecision(verdict).category;
    } catch {
      return null; // a code from a policy that a reload replaced
    }
  };
  const q = await QueryLog.start({
    path: databasePath(config), keyPath: keyPath(config), allQueries: c.allQueries, retentionDays: c.retentionDays,
    clientMode: c.clientAddress, queueSize: c.queueSize, log, metrics, category,
  });
  if (c.clientAddress === 'full') log.warn('the query log keeps full client addresses (queryLog.clientAddress: full): these are children\'s devices');
  return { log: q, offReason: '' };
}
