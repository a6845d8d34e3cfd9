// The on-disk copy of the last good version of each URL list, in the state directory:
// <dir>/<sha256 of the URL>.txt (the list as downloaded, decompressed) and <dir>/<same>.json
// (its validators and counts). The server builds from the copy at startup when the list host
// is down, and whenever a download fails or is refused. Both files are written atomically
// (temporary file, fsync, rename), the text first: a crash between the two renames leaves the
// new text with the old metadata, whose size no longer matches, so the copy is not used as a
// baseline and the next download (unconditional then) repairs it.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface CopyMeta {
  readonly version: 1;
  readonly url: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  /** When this text was downloaded (Unix ms). */
  readonly fetchedAt: number;
  /** When the list host last confirmed it (a 200 with this text, or a 304); Unix ms. */
  readonly checkedAt: number;
  /** Bytes of the text file. */
  readonly size: number;
  /** Entries the list parser found in it (allow entries included). */
  readonly names: number;
  /** sha256 of the text, hex: what the lists were built from. */
  readonly sha256: string;
  readonly format: string;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function copyPaths(dir: string, url: string): { text: string; meta: string } {
  const base = path.join(dir, sha256(url));
  return { text: `${base}.txt`, meta: `${base}.json` };
}

/**
 * The metadata of the saved copy of `url`, or null when there is none usable: missing,
 * unreadable, not ours, or not matching its text file.
 */
export async function readCopyMeta(dir: string, url: string): Promise<CopyMeta | null> {
  const p = copyPaths(dir, url);
  let meta: CopyMeta;
  try {
    meta = JSON.parse(await fsp.readFile(p.meta, 'utf8')) as CopyMeta;
  } catch {
    return null;
  }
  if (!isMeta(meta) || meta.url !== url) return null;
  try {
    const st = await fsp.stat(p.text);
    if (!st.isFile() || st.size !== meta.size) return null;
  } catch {
    return null;
  }
  return meta;
}

function isMeta(m: unknown): m is CopyMeta {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  const strOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
  return o.version === 1 && typeof o.url === 'string' && strOrNull(o.etag) && strOrNull(o.lastModified)
    && typeof o.fetchedAt === 'number' && typeof o.checkedAt === 'number' && typeof o.size === 'number'
    && typeof o.names === 'number' && typeof o.sha256 === 'string' && typeof o.format === 'string';
}

export async function readCopyText(dir: string, url: string): Promise<Buffer> {
  return fsp.readFile(copyPaths(dir, url).text);
}

/** Saves a new good version: the text, then its metadata. */
export async function writeCopy(dir: string, body: Buffer, meta: CopyMeta): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const p = copyPaths(dir, meta.url);
  await writeAtomic(p.text, body);
  await writeAtomic(p.meta, Buffer.from(JSON.stringify(meta, null, 2) + '\n'));
  await syncDir(dir);
}

/** Makes the renames durable (best effort: not every file system lets a directory be synced). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch {
    // not supported here
  }
}

/** Records that the list host confirmed the copy (a 304), with any new validators it sent. */
export async function touchCopy(dir: string, meta: CopyMeta, checkedAt: number, etag: string | null, lastModified: string | null): Promise<CopyMeta> {
  const next: CopyMeta = { ...meta, checkedAt, etag: etag ?? meta.etag, lastModified: lastModified ?? meta.lastModified };
  await writeAtomic(copyPaths(dir, meta.url).meta, Buffer.from(JSON.stringify(next, null, 2) + '\n'));
  return next;
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
