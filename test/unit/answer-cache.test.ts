import { AnswerCache } from '../../src/cache/answer-cache';
import { answerFromMessage } from '../../src/dns/answer';
import { scanMessage } from '../../src/dns/message';
import { dnsPacket } from '../helpers/packets';

function answer(name: string, ttl: number, now: number, txtBytes = 0) {
  const answers = [{ name, type: 'A', ttl, data: '192.0.2.1' }] as dnsPacket.Answer[];
  if (txtBytes > 0) answers.push({ name, type: 'TXT', ttl, data: ['x'.repeat(txtBytes)] } as dnsPacket.Answer);
  const buf = dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ name, type: 'A', class: 'IN' }], answers } as dnsPacket.Packet);
  return answerFromMessage(buf, scanMessage(buf), { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, now);
}

describe('AnswerCache', () => {
  it('serves an answer until its lifetime runs out, then drops it', () => {
    const c = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
    expect(c.set('k', answer('a.example', 60, 1_000_000))).toBe(true);
    expect(c.get('k', 1_000_000 + 59_999)).toBeDefined();
    expect(c.get('k', 1_000_000 + 60_000)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('refuses answers that may not be reused', () => {
    const c = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
    expect(c.set('k', answer('a.example', 0, 0))).toBe(false);
    expect(c.size).toBe(0);
  });

  it('is bounded in entries, evicting the least recently used', () => {
    const c = new AnswerCache({ maxEntries: 3, maxBytes: 1 << 20 });
    const now = Date.now();
    for (const k of ['a', 'b', 'c']) c.set(k, answer(`${k}.example`, 60, now));
    c.get('a', now); // a is now the most recently used
    c.set('d', answer('d.example', 60, now));
    expect(c.size).toBe(3);
    expect(c.get('b', now)).toBeUndefined();
    expect(c.get('a', now)).toBeDefined();
  });

  it('is bounded in bytes, and refuses one answer bigger than the whole budget', () => {
    const c = new AnswerCache({ maxEntries: 1000, maxBytes: 4000 });
    const now = Date.now();
    for (let i = 0; i < 20; i++) c.set(`k${i}`, answer(`n${i}.example`, 60, now, 200));
    expect(c.bytes).toBeLessThanOrEqual(4000);
    expect(c.size).toBeLessThan(20);
    expect(c.size).toBeGreaterThan(5);
    expect(c.set('huge', answer('huge.example', 60, now, 5000))).toBe(false);
  });

  it('counts bytes exactly through replacement, deletion, expiry and eviction', () => {
    const c = new AnswerCache({ maxEntries: 4, maxBytes: 1 << 20 });
    const now = Date.now();
    const size = (key: string, a: ReturnType<typeof answer>) => a.wire.length + a.ttlOffsets.length * 6 + key.length + 200;
    const a1 = answer('a.example', 60, now);
    const a2 = answer('a.example', 60, now, 300);
    c.set('a', a1);
    expect(c.bytes).toBe(size('a', a1));
    c.set('a', a2); // replaced: counted once, at its new size
    expect(c.bytes).toBe(size('a', a2));
    const others = ['b', 'c', 'd', 'e'].map((k) => [k, answer(`${k}.example`, 60, now)] as const);
    for (const [k, a] of others) c.set(k, a); // 'a' is evicted by the entry bound
    expect(c.size).toBe(4);
    expect(c.bytes).toBe(others.reduce((n, [k, a]) => n + size(k, a), 0));
    c.delete('b');
    expect(c.get('c', now + 61_000)).toBeUndefined(); // expired: dropped
    expect(c.bytes).toBe(size('d', others[2][1]) + size('e', others[3][1]));
    // One that cannot fit at all also drops what its key held.
    const small = new AnswerCache({ maxEntries: 4, maxBytes: 600 });
    small.set('k', answer('k.example', 60, now));
    expect(small.set('k', answer('k.example', 60, now, 1000))).toBe(false);
    expect([small.size, small.bytes]).toEqual([0, 0]);
    c.clear();
    expect([c.size, c.bytes]).toEqual([0, 0]);
  });
});
