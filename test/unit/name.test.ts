// encodeName: its plain-name fast path must give the same bytes and the same errors as the
// general path it skips (escapes and every error still go through the latter).
import { encodeName, nameWireLength, plainNameWireLength, readName, writeName, writePlainName } from '../../src/dns/name';

/** The wire form of an escape-free name, built label by label: the reference. */
function reference(name: string): Buffer {
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: number[] = [];
  if (text !== '') {
    for (const label of text.split('.')) {
      parts.push(label.length);
      for (const ch of label) parts.push(ch.charCodeAt(0));
    }
  }
  parts.push(0);
  return Buffer.from(parts);
}

describe('encodeName', () => {
  test.each([
    'example.com', 'www.example.com.', 'a', 'a.', 'xn--t-7ja.vn', 'UPPER.Case.Kept', 'a-b_c.d', `${'x'.repeat(63)}.vn`,
    'caf\u00e9.example', // U+00E9 is one octet (0xE9), as the general path writes it
  ])('%s: the plain path gives the reference bytes', (name) => {
    expect(plainNameWireLength(name)).toBe(reference(name).length);
    expect(encodeName(name)).toEqual(reference(name));
  });

  test('the root, as "" and as "."', () => {
    expect(encodeName('')).toEqual(Buffer.from([0]));
    expect(encodeName('.')).toEqual(Buffer.from([0]));
  });

  test('a name of exactly 255 octets is encoded; one more is refused', () => {
    const max = [`${'a'.repeat(63)}`, 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.'); // 64+64+64+62+1 = 255
    expect(encodeName(max)).toHaveLength(255);
    expect(encodeName(max)).toEqual(reference(max));
    expect(() => encodeName(`${max}e`)).toThrow(/longer than 255 octets/);
  });

  test.each([
    ['a..b', /empty label/],
    ['.a', /empty label/],
    ['a.b..', /empty label/],
    [`${'x'.repeat(64)}.vn`, /longer than 63 octets/],
    ['b\u1ea1n.vn', /non-ASCII/],
  ])('%s is refused with the general path\'s error', (name, why) => {
    expect(plainNameWireLength(name)).toBe(-1);
    expect(() => encodeName(name)).toThrow(RangeError);
    expect(() => encodeName(name)).toThrow(why);
  });

  test('escapes take the general path: \\. inside a label and \\DDD', () => {
    expect(plainNameWireLength('a\\.b.c')).toBe(-1);
    expect(encodeName('a\\.b.c')).toEqual(Buffer.from([3, 0x61, 0x2e, 0x62, 1, 0x63, 0]));
    expect(encodeName('\\065b')).toEqual(Buffer.from([2, 0x41, 0x62, 0]));
  });

  test('nameWireLength and writeName: the same bytes as encodeName, plain or escaped', () => {
    for (const name of ['www.example.com', 'a\\.b.c', '\\065b.vn', '']) {
      const out = Buffer.alloc(nameWireLength(name) + 2, 0xee);
      expect(writeName(name, out, 1)).toBe(1 + encodeName(name).length);
      expect(out.subarray(1, out.length - 1)).toEqual(encodeName(name));
      expect([out[0], out[out.length - 1]]).toEqual([0xee, 0xee]);
    }
  });

  test('writePlainName writes in place at an offset and returns the end', () => {
    const out = Buffer.alloc(20, 0xee);
    const end = writePlainName('ab.c', out, 3);
    expect(end).toBe(3 + 6);
    expect(out.subarray(3, end)).toEqual(Buffer.from([2, 0x61, 0x62, 1, 0x63, 0]));
    expect(out[2]).toBe(0xee);
    expect(out[end]).toBe(0xee);
  });
});

describe('readName', () => {
  const wire = (...parts: (number | string)[]): Buffer =>
    Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : Buffer.from(p, 'latin1'))));

  test('lowercases, follows a pointer, and gives "" for the root', () => {
    // "WWW" then a pointer to "Example.COM" at offset 0
    const buf = wire(7, 'Example', 3, 'COM', 0, 3, 'WWW', 0xc0, 0);
    expect(readName(buf, 13)).toBe('www.example.com');
    expect(readName(buf, 0)).toBe('example.com');
    expect(readName(Buffer.from([0]), 0)).toBe('');
  });

  test('bytes that need escapes: a dot inside a label, a backslash, a space, a byte above 0x7e', () => {
    expect(readName(wire(3, 'a.b', 1, 'c', 0), 0)).toBe('a\\.b.c');
    expect(readName(wire(2, 'a\\', 0), 0)).toBe('a\\\\');
    expect(readName(wire(3, 'a b', 0), 0)).toBe('a\\032b');
    expect(readName(wire(2, 'A\u00e9', 0), 0)).toBe('a\\233');
    // A plain first label, then one needing escapes behind a pointer: the whole name is right.
    const buf = wire(3, 'x y', 0, 2, 'Ok', 0xc0, 0);
    expect(readName(buf, 5)).toBe('ok.x\\032y');
  });

  test('malformed: a pointer forward or to itself, a label past the end, more than 254 octets', () => {
    expect(readName(Buffer.from([0xc0, 0]), 0)).toBeNull();
    expect(readName(Buffer.from([0xc0, 2, 0]), 0)).toBeNull();
    expect(readName(Buffer.from([5, 0x61, 0x62]), 0)).toBeNull();
    const long = Buffer.concat([...Array(5)].map(() => wire(50, 'x'.repeat(50))).concat([Buffer.from([0])])); // 255 octets of labels
    expect(readName(long, 0)).toBeNull();
    const ok = Buffer.concat([...Array(4)].map(() => wire(62, 'x'.repeat(62))).concat([wire(1, 'y', 0)])); // 252 + 2 = 254
    expect(readName(ok, 0)).toBe([...Array(4)].map(() => 'x'.repeat(62)).concat(['y']).join('.'));
  });
});
