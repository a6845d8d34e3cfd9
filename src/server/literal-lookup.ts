// The address lookup for our UDP sockets. Node's dgram resolves every address it sends to or
// binds with dns.lookup(), which for an IP literal re-checks it with a regular expression and
// answers on the next tick; every reply to a client paid that. Our sockets only ever see IP
// literals (configured addresses, validated at load, and the sender addresses the kernel
// reports), so this answers at once; anything else still goes to dns.lookup.
import dns from 'node:dns';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

export function literalLookup(address: string, family: number | dns.LookupOneOptions | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof family === 'function' ? family : callback) as LookupCallback;
  if (address.includes(':')) return cb(null, address, 6);
  if (isDottedDigits(address)) return cb(null, address, 4);
  dns.lookup(address, typeof family === 'number' ? family : 0, cb as never);
}

function isDottedDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 46 && (c < 48 || c > 57)) return false;
  }
  return true;
}
