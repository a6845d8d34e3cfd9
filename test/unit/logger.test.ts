import { Writable } from 'node:stream';
import { createLogger, type Logger, type LogLevel } from '../../src/log/logger';

/** A writable stream that keeps what was written, one entry per write. */
class Capture extends Writable {
  readonly writes: string[] = [];
  isTTY?: boolean;
  constructor(tty = false) {
    super();
    if (tty) this.isTTY = true;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writes.push(chunk.toString('utf8'));
    done();
  }
  get lines(): string[] {
    return this.writes.join('').split('\n').slice(0, -1);
  }
  json(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

function logAll(log: Logger): void {
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
}

describe('createLogger: levels', () => {
  it.each<[LogLevel, string[]]>([
    ['debug', ['d', 'i', 'w', 'e']],
    ['info', ['i', 'w', 'e']],
    ['warn', ['w', 'e']],
    ['error', ['e']],
  ])('at %s writes %p', (level, expected) => {
    const out = new Capture();
    const log = createLogger({ level, format: 'json', stream: out });
    logAll(log);
    expect(out.json().map((l) => l.msg)).toEqual(expected);
    for (const l of LEVELS) expect(log.isLevelEnabled(l)).toBe(expected.includes(l[0]!));
  });

  it('builds nothing for a disabled level', () => {
    const out = new Capture();
    const log = createLogger({ level: 'warn', format: 'json', stream: out });
    const fields = {};
    const spy = jest.fn(() => 'x');
    Object.defineProperty(fields, 'probe', { get: spy, enumerable: true });
    log.debug('quiet', fields);
    log.info('quiet', fields);
    expect(spy).not.toHaveBeenCalled();
    expect(out.writes).toEqual([]);
    log.warn('loud', fields);
    expect(spy).toHaveBeenCalled();
  });

  it('rejects an unknown level', () => {
    expect(() => createLogger({ level: 'verbose' as LogLevel, format: 'json', stream: new Capture() })).toThrow('unknown log level');
  });
});

describe('createLogger: JSON lines', () => {
  it('writes one JSON object per line: time, level, msg, then the fields', () => {
    const out = new Capture();
    const log = createLogger({ level: 'debug', format: 'json', stream: out });
    const before = Date.now();
    log.info('listening', { port: 53, udp: true, host: '::1', nothing: null, list: [1, 'a'], nested: { a: { b: 2 } } });
    const after = Date.now();
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]!.endsWith('\n')).toBe(true);
    const [line] = out.json();
    expect(Object.keys(line!)).toEqual(['time', 'level', 'msg', 'port', 'udp', 'host', 'nothing', 'list', 'nested']);
    expect(line).toMatchObject({ level: 'info', msg: 'listening', port: 53, udp: true, host: '::1', nothing: null, list: [1, 'a'], nested: { a: { b: 2 } } });
    expect(line!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const t = Date.parse(line!.time as string);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });

  it('writes the level names in lower case', () => {
    const out = new Capture();
    logAll(createLogger({ level: 'debug', format: 'json', stream: out }));
    expect(out.json().map((l) => l.level)).toEqual(LEVELS);
  });

  it('keeps a line on one line whatever the message holds', () => {
    const out = new Capture();
    createLogger({ level: 'info', format: 'json', stream: out }).info('two\nlines', { also: 'a\nb' });
    expect(out.lines).toHaveLength(1);
    expect(out.json()[0]).toMatchObject({ msg: 'two\nlines', also: 'a\nb' });
  });

  it('does not let fields overwrite time, level or msg', () => {
    const out = new Capture();
    createLogger({ level: 'info', format: 'json', stream: out }).info('real', { msg: 'fake', level: 'error', time: 0 });
    expect(out.json()[0]).toMatchObject({ msg: 'real', level: 'info', _msg: 'fake', _level: 'error', _time: 0 });
  });

  it('serialises errors as {message, code, stack}', () => {
    const out = new Capture();
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:53'), { code: 'ECONNREFUSED', errno: -111 });
    createLogger({ level: 'info', format: 'json', stream: out }).error('upstream failed', { err, plain: new TypeError('bad') });
    const [line] = out.json();
    expect(line!.err).toEqual({ message: 'connect ECONNREFUSED 127.0.0.1:53', code: 'ECONNREFUSED', stack: err.stack });
    expect(line!.plain).toEqual({ message: 'bad', stack: expect.stringContaining('TypeError: bad') });
  });

  it('serialises errors nested in other values', () => {
    const out = new Capture();
    createLogger({ level: 'info', format: 'json', stream: out }).warn('many', { errors: [new Error('one')], wrapped: { cause: new Error('two') } });
    const [line] = out.json();
    expect((line!.errors as { message: string }[])[0]!.message).toBe('one');
    expect((line!.wrapped as { cause: { message: string } }).cause.message).toBe('two');
  });

  it('serialises errors from Node itself', () => {
    const out = new Capture();
    let err: unknown;
    try {
      require('node:fs').readFileSync('/nonexistent/school-dns');
    } catch (e) {
      err = e;
    }
    createLogger({ level: 'info', format: 'json', stream: out }).error('read failed', { err });
    expect(out.json()[0]!.err).toMatchObject({ code: 'ENOENT', message: expect.stringContaining('ENOENT') });
  });

  it('copes with bigints, bytes, cycles and repeated objects', () => {
    const out = new Capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const shared = { x: 1 };
    createLogger({ level: 'info', format: 'json', stream: out }).info('odd', {
      big: 2n ** 70n,
      bytes: Buffer.from([0xde, 0xad]),
      u8: new Uint8Array([1, 2]),
      cyclic,
      a: shared,
      b: shared,
    });
    expect(out.json()[0]).toMatchObject({
      big: '1180591620717411303424',
      bytes: 'dead',
      u8: '0102',
      cyclic: { name: 'loop', self: '[Circular]' },
      a: { x: 1 },
      b: { x: 1 },
    });
  });

  it('never throws because of a field', () => {
    const out = new Capture();
    const hostile = {
      toJSON() {
        throw new Error('nope');
      },
    };
    const log = createLogger({ level: 'info', format: 'json', stream: out });
    expect(() => log.info('still logged', { hostile })).not.toThrow();
    expect(out.json()[0]).toMatchObject({ msg: 'still logged', logFieldsUnprintable: 'Error: nope' });
  });
});

describe('createLogger: text lines', () => {
  it('writes "HH:MM:SS.mmm LEVEL msg key=value ..."', () => {
    const out = new Capture();
    const log = createLogger({ level: 'debug', format: 'text', stream: out });
    log.info('listening', { port: 53, host: '::1', ok: true, none: null, skipped: undefined, list: [1, 2] });
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO listening port=53 host=::1 ok=true none=null list=\[1,2\]$/);
  });

  it('labels every level', () => {
    const out = new Capture();
    logAll(createLogger({ level: 'debug', format: 'text', stream: out }));
    expect(out.lines.map((l) => l.split(' ')[1])).toEqual(['DEBUG', 'INFO', 'WARN', 'ERROR']);
  });

  it('quotes values with spaces, quotes or equals signs', () => {
    const out = new Capture();
    createLogger({ level: 'info', format: 'text', stream: out }).info('m', { a: 'two words', b: 'x=y', c: 'say "hi"', d: '' });
    expect(out.lines[0]).toMatch(/ m a="two words" b="x=y" c="say \\"hi\\"" d=""$/);
  });

  it('writes an error as its message and code, its stack indented below', () => {
    const out = new Capture();
    const err = Object.assign(new Error('boom happened'), { code: 'EBOOM' });
    createLogger({ level: 'info', format: 'text', stream: out }).error('failed', { err });
    const [first, ...rest] = out.lines;
    expect(first).toMatch(/ ERROR failed err="boom happened" err\.code=EBOOM$/);
    expect(rest.length).toBeGreaterThan(1);
    expect(rest[0]).toBe('    Error: boom happened');
    for (const l of rest) expect(l.startsWith('    ')).toBe(true);
  });
});

describe('createLogger: format auto', () => {
  it('writes JSON when the stream is not a terminal', () => {
    const out = new Capture(false);
    createLogger({ level: 'info', format: 'auto', stream: out }).info('hello');
    expect(out.json()[0]).toMatchObject({ level: 'info', msg: 'hello' });
  });

  it('writes text on a terminal', () => {
    const out = new Capture(true);
    createLogger({ level: 'info', format: 'auto', stream: out }).info('hello');
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO hello$/);
  });

  it('writes JSON to a terminal when asked to', () => {
    const out = new Capture(true);
    createLogger({ level: 'info', format: 'json', stream: out }).info('hello');
    expect(out.json()[0]!.msg).toBe('hello');
  });

  it('defaults to process.stderr', () => {
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      createLogger({ level: 'info', format: 'json' }).info('to stderr');
      expect(spy).toHaveBeenCalledTimes(1);
      expect(JSON.parse(String(spy.mock.calls[0]![0]))).toMatchObject({ msg: 'to stderr' });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('child loggers', () => {
  it('add their fields to every line', () => {
    const out = new Capture();
    const log = createLogger({ level: 'info', format: 'json', stream: out });
    const child = log.child({ conn: 7, proto: 'tcp' });
    child.info('query', { qname: 'example.org' });
    log.info('parent');
    const [c, p] = out.json();
    expect(c).toMatchObject({ msg: 'query', conn: 7, proto: 'tcp', qname: 'example.org' });
    expect(p).not.toHaveProperty('conn');
  });

  it('nest, and fields at the call win over bound ones', () => {
    const out = new Capture();
    const log = createLogger({ level: 'info', format: 'json', stream: out })
      .child({ a: 1, b: 1 })
      .child({ b: 2, c: 2 });
    log.info('x', { c: 3 });
    expect(out.json()[0]).toMatchObject({ a: 1, b: 2, c: 3 });
  });

  it('are not changed by later changes to the object they were given', () => {
    const out = new Capture();
    const fields: Record<string, unknown> = { a: 1 };
    const log = createLogger({ level: 'info', format: 'json', stream: out }).child(fields);
    fields.a = 2;
    log.info('x');
    expect(out.json()[0]!.a).toBe(1);
  });

  it('keep the level and format', () => {
    const out = new Capture();
    const child = createLogger({ level: 'warn', format: 'text', stream: out }).child({ k: 'v' });
    expect(child.isLevelEnabled('info')).toBe(false);
    expect(child.isLevelEnabled('warn')).toBe(true);
    child.info('hidden');
    child.warn('shown');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/ WARN shown k=v$/);
  });
});
