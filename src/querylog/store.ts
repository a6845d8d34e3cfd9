// The query log's SQLite database: one table, written one transaction per batch, read for the
// report, trimmed by the retention pass. Only the writer thread (worker.ts) opens it in a
// running server; tests open it directly.
//
//   queries(time, school, age_group, category, name, qtype, action, rcode, client, count)
//     time      unix time in milliseconds when the (first) query arrived
//     category  the category that blocked it; null unless action is "blocked"
//     name      the question name, lower case, without the trailing dot
//     qtype     "A", "AAAA", ... (the number for types without a name)
//     action    blocked | allowed (an allow rule or an approved review request) | passed
//     rcode     the reply's response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...)
//     client    the client address as queryLog.clientAddress says (null for "omit")
//     count     how many such queries arrived within one write window (a second) from `time` on
//               (aggregate.ts); 1 for most rows
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Row } from './aggregate';

/** The schema version this code writes (PRAGMA user_version). */
export const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queries (
  time INTEGER NOT NULL,
  school TEXT NOT NULL,
  age_group TEXT NOT NULL,
  category TEXT,
  name TEXT NOT NULL,
  qtype TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('blocked', 'allowed', 'passed')),
  rcode INTEGER NOT NULL,
  client TEXT,
  count INTEGER NOT NULL DEFAULT 1
);
-- The retention pass deletes by time, and the report reads a time window. (One index only:
-- each index costs every insert.)
CREATE INDEX IF NOT EXISTS queries_time ON queries (time);
`;

/** Version 1 (one row per query, a covering index for the report) to 2. */
const MIGRATE_1_TO_2 = `
ALTER TABLE queries ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
DROP INDEX IF EXISTS queries_blocked;
`;

export interface ReportQuery {
  /** Unix ms: rows at or after this time. */
  readonly since: number;
  /** Unix ms: rows before this time. */
  readonly until: number;
  readonly school: string | null;
  readonly group: string | null;
  /** Names and categories listed per school and group. */
  readonly top: number;
}

export interface ReportGroup {
  readonly school: string;
  readonly group: string;
  readonly blocked: number;
  readonly categories: { readonly category: string; readonly count: number }[];
  readonly names: { readonly name: string; readonly count: number }[];
}

export interface ReportData {
  readonly blocked: number;
  /** Per school and group, by school then group. */
  readonly groups: ReportGroup[];
  /** Time of the oldest row kept (any action), or null when the log is empty. */
  readonly oldest: number | null;
}

export class StoreError extends Error {
  constructor(readonly code: 'QUERYLOG_UNUSABLE', message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class QueryLogStore {
  private readonly insertRow: Database.Statement;
  private readonly insertMany: (rows: readonly Row[]) => void;
  private readonly deleteChunk: Database.Statement;

  private constructor(private readonly db: Database.Database) {
    this.insertRow = db.prepare('INSERT INTO queries (time, school, age_group, category, name, qtype, action, rcode, client, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertMany = db.transaction((rows: readonly Row[]) => {
      for (const r of rows) this.insertRow.run(r.time, r.school, r.group, r.category, r.name, r.qtype, r.action, r.rcode, r.client, r.count);
    });
    this.deleteChunk = db.prepare('DELETE FROM queries WHERE rowid IN (SELECT rowid FROM queries WHERE time < ? LIMIT ?)');
  }

  /**
   * Opens (creating when missing, with mode 0600 in a directory made with mode 0700) the log at
   * `file`. Throws StoreError when it cannot be used.
   */
  static open(file: string): QueryLogStore {
    let db: Database.Database | undefined;
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // Made here first, so the database (and the -wal and -shm files SQLite gives the same
      // mode) is readable by this service's user only: it says which sites children asked for.
      closeSync(openSync(file, 'a', 0o600));
      // A write lock held elsewhere (someone's sqlite3 shell) is waited for this long; meanwhile
      // the queue on the event loop fills and drops, and after it the rows of that write are lost.
      db = new Database(file, { timeout: 10_000 });
      db.pragma('journal_mode = WAL');
      // WAL with synchronous NORMAL: a power cut may lose the last batches, never corrupt the file.
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`it was written by a newer school-dns (schema ${version}; this one knows ${SCHEMA_VERSION})`);
      }
      if (version === 1) db.exec(MIGRATE_1_TO_2);
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return new QueryLogStore(db);
    } catch (e) {
      try { db?.close(); } catch { /* already failing */ }
      const err = e as { code?: string; message: string };
      const why = err.code === 'SQLITE_NOTADB' ? 'it is not an SQLite database' : err.message;
      throw new StoreError('QUERYLOG_UNUSABLE', `the query log ${file} cannot be used: ${why}`, { cause: e });
    }
  }

  /** Writes rows in one transaction. */
  insert(rows: readonly Row[]): void {
    this.insertMany(rows);
  }

  /** Deletes at most `limit` rows older than `cutoff` (unix ms); returns how many. */
  deleteOlderThan(cutoff: number, limit: number): number {
    return this.deleteChunk.run(cutoff, limit).changes;
  }

  report(q: ReportQuery): ReportData {
    const where = ["action = 'blocked'", 'time >= @since', 'time < @until'];
    if (q.school !== null) where.push('school = @school');
    if (q.group !== null) where.push('age_group = @group');
    const params = { since: q.since, until: q.until, school: q.school, group: q.group, top: q.top };
    const bind = (sql: string): Record<string, unknown> => Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`@${k}`)));
    const filter = where.join(' AND ');
    const run = <T>(sql: string): T[] => this.db.prepare(sql).all(bind(sql)) as T[];
    const totals = run<{ school: string; age_group: string; n: number }>(
      `SELECT school, age_group, sum(count) AS n FROM queries WHERE ${filter} GROUP BY school, age_group ORDER BY school, age_group`);
    const topOf = (column: string): { school: string; age_group: string; v: string; n: number }[] => run(
      `SELECT school, age_group, v, n FROM (
         SELECT school, age_group, ${column} AS v, sum(count) AS n,
                row_number() OVER (PARTITION BY school, age_group ORDER BY sum(count) DESC, ${column}) AS rank
         FROM queries WHERE ${filter} GROUP BY school, age_group, ${column})
       WHERE rank <= @top ORDER BY school, age_group, rank`);
    const key = (r: { school: string; age_group: string }): string => `${r.school}\u0000${r.age_group}`;
    const groups = new Map<string, ReportGroup>();
    let blocked = 0;
    for (const t of totals) {
      blocked += t.n;
      groups.set(key(t), { school: t.school, group: t.age_group, blocked: t.n, categories: [], names: [] });
    }
    for (const r of topOf("coalesce(category, 'unknown')")) groups.get(key(r))?.categories.push({ category: r.v, count: r.n });
    for (const r of topOf('name')) groups.get(key(r))?.names.push({ name: r.v, count: r.n });
    const oldest = (this.db.prepare('SELECT min(time) FROM queries').pluck().get() as number | null) ?? null;
    return { blocked, groups: [...groups.values()], oldest };
  }

  close(): void {
    this.db.close();
  }
}
