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
});
