// The UDP sockets' address look-up: IP literals answered at once (synchronously, no tick),
// anything else handed to dns.lookup.
import { literalLookup } from '../../src/server/literal-lookup';

function lookup(address: string, family: number): Promise<{ sync: boolean; err: unknown; address: string; family: number }> {
  return new Promise((resolve) => {
    let returned = false;
    literalLookup(address, family, (err, a, f) => resolve({ sync: !returned, err, address: a, family: f }));
    returned = true;
  });
}

describe('literalLookup', () => {
  test.each([
    ['192.0.2.1', 4, 4],
    ['127.0.0.1', 4, 4],
    ['0.0.0.0', 4, 4],
    ['::1', 6, 6],
    ['2001:db8::53', 6, 6],
    ['::ffff:192.0.2.1', 6, 6],
  ])('answers the literal %s at once', async (address, asked, family) => {
    expect(await lookup(address, asked)).toEqual({ sync: true, err: null, address, family });
  });

  test('hands a host name to dns.lookup (answered later, from the system resolver)', async () => {
    const r = await lookup('localhost', 4);
    expect(r.sync).toBe(false);
    expect(r.err).toBeNull();
    expect(r.address).toBe('127.0.0.1');
    expect(r.family).toBe(4);
  });

  test('a name that starts with digits is not mistaken for an address (it goes to dns.lookup)', () => {
    let answered = false;
    literalLookup('1.example.invalid', 4, () => { answered = true; });
    expect(answered).toBe(false); // not answered at once; whatever the system resolver says comes later
  });
});
