import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { transformSync } from '@swc/core';
import { encodeName } from '../../src/dns/name';
import { DomainTrie, MAX_CATEGORIES, nameKey, TrieBuilder, TrieData } from '../../src/lists/trie';

type Entry = [name: string, bit: number, exception?: boolean];

function build(entries: Entry[], expected?: number): DomainTrie {
  const b = new TrieBuilder(expected);
  for (const [name, bit, exc] of entries) b.add(name, bit, exc ?? false);
  return b.build();
}

/** Masks as [member lo, member hi, exception lo, exception hi] plus the return value. */
function look(t: DomainTrie, name: string): { hit: boolean; m: number[] } {
  const out = new Int32Array(4);
  const hit = t.lookupWire(encodeName(name), 0, out);
  const viaName = new Int32Array(4);
  expect(t.lookupName(name, viaName)).toBe(hit);
  expect([...viaName]).toEqual([...out]);
  return { hit, m: [...out] };
}

const bitMask = (...bits: number[]): number[] => {
  const m = [0, 0];
  for (const b of bits) m[b >>> 5] |= 1 << (b & 31);
  return m;
};
const masks = (member: number[], exception: number[] = []): number[] => [...bitMask(...member), ...bitMask(...exception)];
const NONE = [0, 0, 0, 0];

describe('DomainTrie', () => {
  it('covers a name and all its subdomains, and nothing else', () => {
    const t = build([['example.com', 3]]);
    for (const n of ['example.com', 'a.example.com', 'a.b.example.com', 'x.y.z.w.example.com']) {
      expect(look(t, n)).toEqual({ hit: true, m: masks([3]) });
    }
    for (const n of ['notexample.com', 'com', 'example.org', 'example.com.evil', 'example', 'xample.com', 'examplf.com']) {
      expect(look(t, n)).toEqual({ hit: false, m: NONE });
    }
    expect(t.nameCount).toBe(1);
    expect(t.nodeCount).toBe(2);
  });

  it('ORs the masks of every terminal along the path', () => {
    const t = build([['com', 1], ['example.com', 2], ['b.example.com', 40]]);
    expect(look(t, 'a.example.com').m).toEqual(masks([1, 2]));
    expect(look(t, 'x.b.example.com').m).toEqual(masks([1, 2, 40]));
    expect(look(t, 'other.com').m).toEqual(masks([1]));
    expect(look(t, 'example.net').hit).toBe(false);
  });

  it('keeps exceptions apart from members', () => {
    const t = build([['example.com', 5], ['good.example.com', 5, true], ['x.org', 33, true]]);
    expect(look(t, 'good.example.com').m).toEqual(masks([5], [5]));
    expect(look(t, 'www.good.example.com').m).toEqual(masks([5], [5]));
    expect(look(t, 'bad.example.com').m).toEqual(masks([5]));
    expect(look(t, 'a.x.org')).toEqual({ hit: true, m: masks([], [33]) });
  });

  it('folds case from wire bytes without modifying the buffer', () => {
    const t = build([['www.example.com', 7]]);
    const wire = encodeName('WwW.ExAmPlE.CoM');
    const before = Buffer.from(wire);
    const out = new Int32Array(4);
    expect(t.lookupWire(wire, 0, out)).toBe(true);
    expect([...out]).toEqual(masks([7]));
    expect(wire.equals(before)).toBe(true);
    expect(look(t, 'SUB.WWW.EXAMPLE.COM').hit).toBe(true);
  });

  it('folds only ASCII letters (bytes that differ from a letter by 0x20 do not match)', () => {
    const t = build([['a-b_c.com', 1], ['at.com', 2]]);
    expect(look(t, 'A-B_C.COM').hit).toBe(true);
    // '@' (0x40) + 0x20 = '`' and '[' (0x5b) | 0x20 = '{': neither is a letter, so neither folds.
    const wire = encodeName('at.com');
    wire[1] = 0x40;
    expect(t.lookupWire(wire, 0, new Int32Array(4))).toBe(false);
    const b = build([['{x.com', 1]]);
    const w2 = encodeName('{x.com');
    w2[1] = 0x5b;
    expect(b.lookupWire(w2, 0, new Int32Array(4))).toBe(false);
  });

  it('reads a name in the middle of a bigger packet', () => {
    const t = build([['blocked.test', 9]]);
    const name = encodeName('Ads.Blocked.Test');
    const packet = Buffer.concat([Buffer.alloc(12, 0xff), name, Buffer.from([0, 1, 0, 1]), Buffer.alloc(40, 0x41)]);
    const out = new Int32Array(4);
    expect(t.lookupWire(packet, 12, out)).toBe(true);
    expect([...out]).toEqual(masks([9]));
    // A Uint8Array view with its own byteOffset works too.
    const view = new Uint8Array(packet.buffer, packet.byteOffset + 5, packet.length - 5);
    expect(t.lookupWire(view, 7, out)).toBe(true);
    expect(t.lookupWire(packet, 12 + name.length + 4, out)).toBe(false);
  });

  it('zeroes out before ORing into it', () => {
    const t = build([['a.test', 0]]);
    const out = Int32Array.from([-1, -1, -1, -1]);
    expect(t.lookupWire(encodeName('a.test'), 0, out)).toBe(true);
    expect([...out]).toEqual(masks([0]));
    expect(t.lookupWire(encodeName('b.test'), 0, out)).toBe(false);
    expect([...out]).toEqual(NONE);
  });

  it('matches nothing for the root name', () => {
    const t = build([['com', 1]]);
    const out = new Int32Array(4);
    expect(t.lookupWire(Uint8Array.of(0), 0, out)).toBe(false);
    expect([...out]).toEqual(NONE);
    expect(t.lookupName('.', out)).toBe(false);
    expect(t.lookupName('', out)).toBe(false);
  });

  it('handles single-label entries (a whole TLD)', () => {
    const t = build([['zip', 11]]);
    expect(look(t, 'zip').m).toEqual(masks([11]));
    expect(look(t, 'files.zip').m).toEqual(masks([11]));
    expect(look(t, 'FILES.ZIP').m).toEqual(masks([11]));
    expect(look(t, 'zip.com').hit).toBe(false);
    expect(look(t, 'zi').hit).toBe(false);
  });

  it("stores labels with '-' and '_' and digits", () => {
    const t = build([['xn--80ak6aa92e.com', 1], ['celsinho_v8.blogger.com.br', 2], ['0-1-x.009418154.xyz', 3]]);
    expect(look(t, 'XN--80AK6AA92E.com').m).toEqual(masks([1]));
    expect(look(t, 'celsinho_v8.blogger.com.br').m).toEqual(masks([2]));
    expect(look(t, 'celsinho-v8.blogger.com.br').hit).toBe(false);
    expect(look(t, 'a.0-1-x.009418154.xyz').m).toEqual(masks([3]));
  });

  it('handles 63-octet labels and a 253-octet name', () => {
    const l63 = 'a'.repeat(62) + 'b';
    const long = [l63, l63, l63, 'c'.repeat(61)].join('.');
    expect(long.length).toBe(253);
    expect(encodeName(long).length).toBe(255);
    const t = build([[`${l63}.com`, 4], [long, 5]]);
    expect(look(t, `${l63}.com`).m).toEqual(masks([4]));
    expect(look(t, `x.${l63}.com`).m).toEqual(masks([4]));
    expect(look(t, `${'a'.repeat(63)}.com`).hit).toBe(false);
    expect(look(t, long.toUpperCase()).m).toEqual(masks([5]));
    expect(look(t, long.slice(1)).hit).toBe(false);
    expect(t.matchedSuffix(long, 5)).toBe(long);
  });

  it('treats malformed wire names as misses instead of reading past the buffer', () => {
    const t = build([['com', 1]]);
    const out = new Int32Array(4);
    const full = encodeName('a.com');
    expect(t.lookupWire(full.subarray(0, full.length - 1), 0, out)).toBe(false); // no terminating 0
    expect(t.lookupWire(Uint8Array.of(0xc0, 0x0c), 0, out)).toBe(false); // compression pointer
    expect(t.lookupWire(Uint8Array.of(3, 0x63, 0x6f), 0, out)).toBe(false); // label cut short
    expect(t.lookupWire(full, 99, out)).toBe(false); // offset past the end
    const tooLong = new Uint8Array(300);
    for (let o = 0; o + 4 < 296; o += 4) tooLong.set([3, 0x61, 0x61, 0x61], o);
    tooLong.set([3, 0x63, 0x6f, 0x6d, 0], 292);
    expect(t.lookupWire(tooLong, 0, out)).toBe(false); // over 255 octets
  });

  it('merges duplicates (OR), counting each distinct name once', () => {
    const b = new TrieBuilder();
    b.add('example.com', 1);
    b.add('example.com', 1);
    b.add('example.com', 2);
    b.add('example.com', 2, true);
    b.add('a.example.com', 3);
    b.add('com', 4);
    expect(b.names).toBe(3);
    const t = b.build();
    expect(t.nameCount).toBe(3);
    expect(t.nodeCount).toBe(3);
    expect(look(t, 'example.com').m).toEqual(masks([1, 2, 4], [2]));
    expect(look(t, 'a.example.com').m).toEqual(masks([1, 2, 3, 4], [2]));
  });

  it('counts intermediate nodes that are not names', () => {
    const b = new TrieBuilder();
    b.add('a.b.c.d', 1);
    expect(b.names).toBe(1);
    expect(b.nodeCount).toBe(4);
    const t = b.build();
    expect(look(t, 'b.c.d').hit).toBe(false);
    expect(look(t, 'c.d').hit).toBe(false);
    expect(look(t, 'x.a.b.c.d').hit).toBe(true);
  });

  it('keeps bits 0, 31, 32 and 63 apart, as members and as exceptions', () => {
    const t = build([['b0.t', 0], ['b31.t', 31], ['b32.t', 32], ['b63.t', 63], ['e0.t', 0, true], ['e31.t', 31, true], ['e32.t', 32, true], ['e63.t', 63, true]]);
    expect(look(t, 'b0.t').m).toEqual([1, 0, 0, 0]);
    expect(look(t, 'b31.t').m).toEqual([1 << 31, 0, 0, 0]);
    expect(look(t, 'b32.t').m).toEqual([0, 1, 0, 0]);
    expect(look(t, 'b63.t').m).toEqual([0, 1 << 31, 0, 0]);
    expect(look(t, 'e0.t').m).toEqual([0, 0, 1, 0]);
    expect(look(t, 'e31.t').m).toEqual([0, 0, 1 << 31, 0]);
    expect(look(t, 'e32.t').m).toEqual([0, 0, 0, 1]);
    expect(look(t, 'e63.t').m).toEqual([0, 0, 0, 1 << 31]);
    const all = new TrieBuilder();
    for (let bit = 0; bit < MAX_CATEGORIES; bit++) {
      all.add('all.t', bit);
      all.add('all.t', bit, true);
    }
    expect(look(all.build(), 'x.all.t').m).toEqual([-1, -1, -1, -1]);
  });

  it('rejects bad bits and malformed names when adding', () => {
    const b = new TrieBuilder();
    expect(() => b.add('a.com', 64)).toThrow(RangeError);
    expect(() => b.add('a.com', -1)).toThrow(RangeError);
    expect(() => b.add('a.com', 1.5)).toThrow(RangeError);
    expect(() => b.add('', 1)).toThrow(RangeError);
    expect(() => b.add('a..com', 1)).toThrow(RangeError);
    expect(() => b.add('.com', 1)).toThrow(RangeError);
    expect(() => b.add('com.', 1)).toThrow(RangeError);
    expect(() => b.add(`${'a'.repeat(64)}.com`, 1)).toThrow(RangeError);
    expect(() => b.add('a b.com', 1)).toThrow(RangeError);
    expect(() => b.add('é.com', 1)).toThrow(RangeError);
    expect(() => b.add('x'.repeat(254), 1)).toThrow(RangeError);
    b.add('Upper.COM', 1); // uppercase is folded
    const t = b.build();
    expect(look(t, 'upper.com').hit).toBe(true);
    expect(() => b.add('late.com', 1)).toThrow(/after build/);
    expect(() => b.build()).toThrow(/twice/);
  });

  it('lookupName accepts a trailing dot and rejects names that cannot be DNS names', () => {
    const t = build([['example.com', 1]]);
    const out = new Int32Array(4);
    expect(t.lookupName('WWW.Example.COM.', out)).toBe(true);
    expect(t.lookupName('www..example.com', out)).toBe(false);
    expect(t.lookupName('.example.com', out)).toBe(false);
    expect(t.lookupName(`${'a'.repeat(64)}.example.com`, out)).toBe(false);
    expect(t.lookupName(`${'a.'.repeat(125)}example.com`, out)).toBe(false);
    expect(t.lookupName('ä.example.com', out)).toBe(true); // Latin-1 is a byte; the parent still matches
    expect(t.lookupName('😀.example.com', out)).toBe(false);
  });

  it('matchedSuffix names the most specific listed parent carrying the bit', () => {
    const t = build([['com', 1], ['example.com', 2], ['b.example.com', 2], ['c.b.example.com', 3], ['ok.b.example.com', 2, true]]);
    expect(t.matchedSuffix('a.b.example.com', 2)).toBe('b.example.com');
    expect(t.matchedSuffix('X.C.B.Example.COM.', 2)).toBe('b.example.com');
    expect(t.matchedSuffix('x.c.b.example.com', 3)).toBe('c.b.example.com');
    expect(t.matchedSuffix('a.example.com', 1)).toBe('com');
    expect(t.matchedSuffix('a.example.com', 2)).toBe('example.com');
    expect(t.matchedSuffix('example.com', 2)).toBe('example.com');
    expect(t.matchedSuffix('a.example.com', 3)).toBeNull();
    expect(t.matchedSuffix('a.ok.b.example.com', 2, true)).toBe('ok.b.example.com');
    expect(t.matchedSuffix('a.b.example.com', 2, true)).toBeNull();
    expect(t.matchedSuffix('example.org', 1)).toBeNull();
    expect(t.matchedSuffix('', 1)).toBeNull();
    expect(() => t.matchedSuffix('a.com', 64)).toThrow(RangeError);
  });

  it('tells apart names whose 32-bit keys collide (the key is only a filter)', () => {
    // Two names under one parent with equal keys (found by trying c0.test, c1.test, ... until
    // two keys were equal): same key, same home slot, same parent, so a lookup's candidate path
    // takes whichever was inserted first and must then notice that the label differs.
    const [a, b] = ['c693596.test', 'c1170850.test'];
    expect(nameKey(a)).toBe(nameKey(b));
    const onlyA = build([[a, 1]]);
    expect(look(onlyA, a).m).toEqual(masks([1]));
    expect(look(onlyA, b)).toEqual({ hit: false, m: NONE });
    expect(look(onlyA, `x.${b}`)).toEqual({ hit: false, m: NONE });
    expect(onlyA.matchedSuffix(b, 1)).toBeNull();
    for (const order of [[a, b], [b, a]]) {
      const both = build([[order[0], 1], [order[1], 2]]);
      expect(both.nameCount).toBe(2);
      expect(look(both, order[0]).m).toEqual(masks([1]));
      expect(look(both, `x.${order[1].toUpperCase()}`).m).toEqual(masks([2]));
      expect(both.matchedSuffix(`y.${order[1]}`, 2)).toBe(order[1]);
      expect(both.matchedSuffix(`y.${order[1]}`, 1)).toBeNull();
    }
  });

  it('an empty trie matches nothing', () => {
    for (const t of [DomainTrie.empty(), new TrieBuilder(1000).build()]) {
      expect(t.nameCount).toBe(0);
      expect(t.nodeCount).toBe(0);
      expect(look(t, 'example.com')).toEqual({ hit: false, m: NONE });
      expect(t.matchedSuffix('example.com', 0)).toBeNull();
    }
  });

  it('gives the same answers whatever the presizing (rehashes keep parents right)', () => {
    const entries: Entry[] = [];
    for (let i = 0; i < 3000; i++) entries.push([`n${i}.d${i % 7}.s${i % 13}.tld${i % 3}`, i % 64, i % 5 === 0]);
    const small = build(entries);
    const big = build(entries, 3000);
    const huge = build(entries, 100_000);
    for (const t of [small, big, huge]) {
      expect(t.nameCount).toBe(3000);
      expect(t.nodeCount).toBe(small.nodeCount);
      // load factor after build stays in [0.55, 0.75]
      expect(t.nodeCount / t.data.capacity).toBeGreaterThanOrEqual(0.55);
      expect(t.nodeCount / t.data.capacity).toBeLessThanOrEqual(0.75);
    }
    for (let i = 0; i < 3000; i += 7) {
      const n = `x.n${i}.d${i % 7}.s${i % 13}.tld${i % 3}`;
      expect(look(big, n)).toEqual(look(small, n));
      expect(look(huge, n)).toEqual(look(small, n));
    }
  });

  it('exposes its data as exact-size typed arrays and reports their size', () => {
    const t = build([['www.a.com', 1], ['www.b.com', 2]]);
    const d = t.data;
    expect(d.table.length).toBe(d.capacity * 4);
    expect(d.masks.length).toBe(d.maskCount * 4);
    expect(t.maskCount).toBe(3);
    const bufs = t.transferables();
    expect(bufs).toHaveLength(3);
    expect(new Set(bufs).size).toBe(3);
    expect(d.table.byteLength).toBe(d.table.buffer.byteLength);
    expect(d.labels.byteLength).toBe(d.labels.buffer.byteLength);
    expect(d.masks.byteLength).toBe(d.masks.buffer.byteLength);
    expect(t.byteSize).toBe(bufs.reduce((s, b) => s + b.byteLength, 0));
    // "www" under two parents is stored once: the unused byte 0, then [3]com [1]a [3]www [1]b
    expect(d.labels.length).toBe(1 + 4 + 2 + 4 + 2);
  });

  it('fromData rejects malformed data', () => {
    const d = build([['a.com', 1]]).data;
    expect(() => DomainTrie.fromData({ ...d, version: 99 })).toThrow(/version/);
    expect(() => DomainTrie.fromData({ ...d, table: new Uint32Array(d.table.length) as unknown as Int32Array })).toThrow(TypeError);
    expect(() => DomainTrie.fromData({ ...d, capacity: d.capacity + 1 })).toThrow(RangeError);
    expect(() => DomainTrie.fromData({ ...d, maskCount: 7 })).toThrow(RangeError);
    expect(() => DomainTrie.fromData({ ...d, nodeCount: d.capacity })).toThrow(RangeError);
    expect(() => DomainTrie.fromData(null as unknown as TrieData)).toThrow(TypeError);
    expect(DomainTrie.fromData({ ...d }).lookupName('x.a.com', new Int32Array(4))).toBe(true);
  });

  it('lookupWire allocates nothing (no GC over 2 M lookups)', () => {
    // A rough guard; bench/micro/trie.js measures it properly over 10 M lookups.
    const entries: Entry[] = [];
    for (let i = 0; i < 5000; i++) entries.push([`site${i}.com`, i % 64]);
    const t = build(entries);
    const names = ['www.google.com', 'site42.com', 'a.b.site7.com', 'nothing.org', 'SITE4999.COM'].map((n) => encodeName(n));
    const out = new Int32Array(4);
    let hits = 0;
    for (let i = 0; i < 200_000; i++) if (t.lookupWire(names[i % 5], 0, out)) hits++; // warm up, let the JIT settle
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2_000_000; i++) if (t.lookupWire(names[i % 5], 0, out)) hits++;
    const grown = process.memoryUsage().heapUsed - before;
    expect(hits).toBe(2_200_000 * 3 / 5);
    expect(grown).toBeLessThan(256 * 1024); // 2 M lookups allocating even 16 bytes each would be 32 MB
  });
});

describe('DomainTrie through a worker thread', () => {
  // The worker needs JavaScript: compile src/lists/trie.ts with SWC here (so the test checks the
  // current source, not whatever is in dist/) and evaluate it as a CommonJS module in the worker.
  const js = transformSync(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'lists', 'trie.ts'), 'utf8'), {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  }).code;
  const WORKER = `
    const { parentPort, workerData } = require('node:worker_threads');
    const mod = { exports: {} };
    new Function('module', 'exports', 'require', workerData.js)(mod, mod.exports, require);
    const { TrieBuilder, DomainTrie } = mod.exports;
    parentPort.on('message', (msg) => {
      if (msg.kind === 'build') {
        const b = new TrieBuilder();
        for (const [name, bit, exc] of msg.entries) b.add(name, bit, exc);
        const trie = b.build();
        const bufs = trie.transferables();
        parentPort.postMessage({ kind: 'built', data: trie.data }, bufs);
        // After the transfer the worker's own copy is detached: empty, and it must not hang.
        const out = new Int32Array(4);
        parentPort.postMessage({ kind: 'after', sizes: bufs.map((x) => x.byteLength), hit: trie.lookupName(msg.entries[0][0], out) });
      } else if (msg.kind === 'lookup') {
        const trie = DomainTrie.fromData(msg.data);
        const out = new Int32Array(4);
        parentPort.postMessage({ kind: 'looked', results: msg.names.map((n) => [trie.lookupName(n, out), ...out]) });
      }
    });
  `;

  it('builds in a worker, transfers with zero copy, and the main thread uses it (and back)', async () => {
    const entries: Entry[] = [['example.com', 1, false], ['ok.example.com', 1, true], ['zip', 63, false], ['deep.a.b.c.test', 32, false]];
    for (let i = 0; i < 20_000; i++) entries.push([`w${i}.example.net`, i % 64, false]);
    const worker = new Worker(WORKER, { eval: true, workerData: { js } });
    const messages: Array<Record<string, unknown>> = [];
    let wake: () => void = () => undefined;
    worker.on('message', (m: Record<string, unknown>) => {
      messages.push(m);
      wake();
    });
    const next = async (): Promise<Record<string, unknown>> => {
      while (messages.length === 0) await new Promise<void>((r) => (wake = r));
      return messages.shift() as Record<string, unknown>;
    };
    try {
      worker.postMessage({ kind: 'build', entries });
      const built = await next();
      expect(built.kind).toBe('built');
      const trie = DomainTrie.fromData(built.data as TrieData);
      expect(trie.nameCount).toBe(entries.length);
      const after = await next();
      expect(after).toEqual({ kind: 'after', sizes: [0, 0, 0], hit: false });

      const local = build(entries);
      expect(trie.byteSize).toBe(local.byteSize);
      const names = ['a.example.com', 'a.ok.example.com', 'files.zip', 'x.deep.a.b.c.test', 'a.b.c.test', 'w123.example.net', 'w20000.example.net', 'google.com'];
      const out = new Int32Array(4);
      const mine = names.map((n) => [trie.lookupName(n, out), ...out]);
      expect(mine).toEqual(names.map((n) => [local.lookupName(n, out), ...out]));
      expect(mine[0]).toEqual([true, ...masks([1])]);
      expect(mine[1]).toEqual([true, ...masks([1], [1])]);
      expect(mine[2]).toEqual([true, ...masks([63])]);
      expect(mine[4]).toEqual([false, ...NONE]);
      expect(mine[7]).toEqual([false, ...NONE]);

      // The other direction: the main thread's trie, transferred to the worker.
      worker.postMessage({ kind: 'lookup', data: local.data, names }, local.transferables());
      const looked = await next();
      expect(looked.results).toEqual(mine);
      expect(local.data.table.byteLength).toBe(0);
      expect(local.lookupName('a.example.com', out)).toBe(false); // detached: empty, no hang
    } finally {
      await worker.terminate();
    }
  });
});

describe('DomainTrie against a reference implementation', () => {
  // Deterministic PRNG (mulberry32) so a failure can be reproduced.
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('agrees with a Set-based suffix walk on 50 k random names', () => {
    const rand = rng(20261129);
    const int = (n: number): number => Math.floor(rand() * n);
    // A small alphabet and short labels make shared suffixes, siblings and hash-neighbours common.
    const alphabet = 'abcde-_0129';
    const label = (): string => {
      const len = 1 + int(rand() < 0.9 ? 5 : 63);
      let s = '';
      for (let i = 0; i < len; i++) s += alphabet[int(alphabet.length)];
      return s;
    };
    const tlds = ['com', 'net', 'org', 'zip', 'de', 'co', 'xn--p1ai'];
    const randomName = (): string => {
      for (;;) {
        const depth = int(4);
        const parts = [tlds[int(tlds.length)]];
        for (let i = 0; i <= depth; i++) parts.unshift(label());
        const name = parts.join('.');
        if (name.length <= 253) return name;
      }
    };

    const reference = new Map<string, number[]>();
    const builder = new TrieBuilder(); // not presized: the table grows (and rehashes) many times
    const listed: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Some entries are bare TLDs or parents of earlier entries; some repeat.
      let name = randomName();
      const r = rand();
      if (r < 0.002) name = ['zip', 'xn--p1ai'][int(2)];
      else if (r < 0.1 && listed.length > 0) {
        const parts = listed[int(listed.length)].split('.');
        if (parts.length > 2) name = parts.slice(1).join('.'); // a parent domain, but never a whole TLD
      }
      else if (r < 0.15 && listed.length > 0) name = listed[int(listed.length)];
      const bit = rand() < 0.3 ? [0, 31, 32, 63][int(4)] : int(64);
      const exception = rand() < 0.2;
      builder.add(name, bit, exception);
      listed.push(name);
      const m = reference.get(name) ?? [0, 0, 0, 0];
      m[(exception ? 2 : 0) + (bit >>> 5)] |= 1 << (bit & 31);
      reference.set(name, m);
    }
    expect(builder.names).toBe(reference.size);
    const trie = builder.build();
    expect(trie.nameCount).toBe(reference.size);

    const refLookup = (name: string): { hit: boolean; m: number[] } => {
      const labels = name.toLowerCase().split('.');
      const m = [0, 0, 0, 0];
      let hit = false;
      for (let i = labels.length - 1; i >= 0; i--) {
        const e = reference.get(labels.slice(i).join('.'));
        if (e) {
          hit = true;
          for (let k = 0; k < 4; k++) m[k] |= e[k];
        }
      }
      return { hit, m };
    };
    const refSuffix = (name: string, bit: number): string | null => {
      const labels = name.toLowerCase().split('.');
      for (let i = 0; i < labels.length; i++) {
        const s = labels.slice(i).join('.');
        const e = reference.get(s);
        if (e && (e[bit >>> 5] & (1 << (bit & 31))) !== 0) return s;
      }
      return null;
    };
    const randomCase = (s: string): string => s.replace(/[a-z]/g, (c) => (rand() < 0.3 ? c.toUpperCase() : c));

    // Queries: listed names, subdomains of listed names, and unrelated names, in random case,
    // encoded at random offsets inside a bigger buffer.
    const packet = Buffer.alloc(600, 0xaa);
    const out = new Int32Array(4);
    let hits = 0;
    for (let i = 0; i < 50_000; i++) {
      const r = rand();
      let q: string;
      if (r < 0.35) q = listed[int(listed.length)];
      else if (r < 0.7) q = `${label()}.${listed[int(listed.length)]}`;
      else q = randomName();
      if (q.length > 253) continue;
      q = randomCase(q);
      const wire = encodeName(q);
      const off = int(600 - wire.length);
      wire.copy(packet, off);
      const snapshot = Buffer.from(packet);
      const hit = trie.lookupWire(packet, off, out);
      const want = refLookup(q);
      if (hit !== want.hit || out[0] !== want.m[0] || out[1] !== want.m[1] || out[2] !== want.m[2] || out[3] !== want.m[3]) {
        throw new Error(`mismatch for ${q}: got ${hit} ${[...out]}, want ${want.hit} ${want.m}`);
      }
      if (!packet.equals(snapshot)) throw new Error(`buffer modified looking up ${q}`);
      if (hit) hits++;
      if (i % 10 === 0) {
        const bit = rand() < 0.5 ? int(64) : [0, 31, 32, 63][int(4)];
        expect(trie.matchedSuffix(q, bit)).toBe(refSuffix(q, bit));
      }
    }
    expect(hits).toBeGreaterThan(30_000); // the mix did exercise hits and misses
    expect(hits).toBeLessThan(49_000);
  });
});
