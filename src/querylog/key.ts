// The key of the client address hash (queryLog.clientAddress: hash), kept in the state directory.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { HASH_KEY_BYTES } from './privacy';

/** The hash key: read, or made once (32 random bytes, mode 0600, never overwritten). */
export function loadOrCreateKey(file: string): { key: Buffer; created: boolean } {
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      const key = randomBytes(HASH_KEY_BYTES);
      writeSync(fd, key);
      return { key, created: true };
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const key = readFileSync(file);
  if (key.length !== HASH_KEY_BYTES) {
    throw new Error(`the hash key ${file} holds ${key.length} bytes, not ${HASH_KEY_BYTES}: it is damaged. Delete it and a new key is made (earlier client tokens will then no longer match new ones)`);
  }
  return { key, created: false };
}
