// Structured logging: one JSON object per line for log collectors, or readable text
// lines on a terminal. Disabled levels are no-op functions, so a debug call on a
// production server costs a call and nothing else.
import { types } from 'node:util';
import type { LogLevel } from '../config/types';

export type { LogLevel };
export type LogFormat = 'auto' | 'json' | 'text';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger adding these fields to every line (fields given at the call win). */
  child(fields: LogFields): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  /** 'auto': text when the stream is a terminal, JSON lines otherwise. */
  format: LogFormat;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };
const LABEL: Readonly<Record<LogLevel, string>> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };
/** Keys every JSON line has; a field of the same name is written as "_name" instead. */
const RESERVED = new Set(['time', 'level', 'msg']);

export function createLogger(opts: LoggerOptions): Logger {
  const stream = opts.stream ?? process.stderr;
  if (!(opts.level in RANK)) throw new Error(`unknown log level ${JSON.stringify(opts.level)}`);
  const text = opts.format === 'text' || (opts.format === 'auto' && (stream as { isTTY?: boolean }).isTTY === true);
  return makeLogger(stream, RANK[opts.level], text ? textLine : jsonLine, undefined);
}

type Render = (level: LogLevel, msg: string, bound: LogFields | undefined, fields: LogFields | undefined) => string;

function makeLogger(stream: NodeJS.WritableStream, min: number, render: Render, bound: LogFields | undefined): Logger {
  const method = (level: LogLevel): ((msg: string, fields?: LogFields) => void) => {
    if (RANK[level] < min) return noop;
    return (msg, fields) => {
      let line: string;
      try {
        line = render(level, msg, bound, fields);
      } catch (err) {
        // Logging must never take the server down; say what went wrong instead.
        line = render(level, msg, undefined, { logFieldsUnprintable: String(err) });
      }
      stream.write(line + '\n');
    };
  };
  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    child: (fields) => makeLogger(stream, min, render, bound ? { ...bound, ...fields } : { ...fields }),
    isLevelEnabled: (level) => RANK[level] >= min,
  };
}

function noop(): void {}

function mergeFields(bound: LogFields | undefined, fields: LogFields | undefined): LogFields | undefined {
  if (!bound) return fields;
  if (!fields) return bound;
  return { ...bound, ...fields };
}

// ---------------------------------------------------------------------------
// JSON lines

function jsonLine(level: LogLevel, msg: string, bound: LogFields | undefined, fields: LogFields | undefined): string {
  const out: LogFields = { time: new Date().toISOString(), level, msg };
  const all = mergeFields(bound, fields);
  if (all) {
    for (const key of Object.keys(all)) out[RESERVED.has(key) ? `_${key}` : key] = all[key];
  }
  return safeStringify(out);
}

/** JSON.stringify that handles errors, bigints, byte arrays and cycles. */
function safeStringify(value: unknown): string {
  const seen: object[] = [];
  return JSON.stringify(value, function replacer(this: unknown, key: string, v: unknown): unknown {
    // `v` has been through toJSON already (a Buffer is {type, data} by now); look at the original.
    const original = key === '' ? v : (this as Record<string, unknown>)[key];
    if (typeof original === 'bigint') return original.toString();
    if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('hex');
    if (isError(original)) return serialiseError(original);
    if (v !== null && typeof v === 'object') {
      // Drop the ancestors we have left; what remains on the stack are v's ancestors.
      while (seen.length > 0 && seen[seen.length - 1] !== this) seen.pop();
      if (seen.includes(v)) return '[Circular]';
      seen.push(v);
    }
    return v;
  });
}

// ---------------------------------------------------------------------------
// Text lines: "HH:MM:SS.mmm LEVEL msg key=value ...", error stacks below

function textLine(level: LogLevel, msg: string, bound: LogFields | undefined, fields: LogFields | undefined): string {
  const d = new Date();
  const time = `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(d.getMilliseconds(), 3)}`;
  let line = `${time} ${LABEL[level]} ${msg}`;
  const stacks: string[] = [];
  const all = mergeFields(bound, fields);
  if (all) {
    for (const key of Object.keys(all)) {
      const v = all[key];
      if (v === undefined) continue;
      if (isError(v)) {
        const e = serialiseError(v);
        line += ` ${key}=${textValue(e.message)}`;
        if (e.code !== undefined) line += ` ${key}.code=${textValue(e.code)}`;
        if (e.stack) stacks.push(indent(e.stack));
      } else {
        line += ` ${key}=${textValue(v)}`;
      }
    }
  }
  return stacks.length > 0 ? `${line}\n${stacks.join('\n')}` : line;
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=\\]+$/.test(v) ? v : JSON.stringify(v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return safeStringify(v) ?? String(v);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function indent(stack: string): string {
  return stack
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

// ---------------------------------------------------------------------------
// Errors

interface SerialisedError {
  message: string;
  code?: unknown;
  stack?: string;
}

function isError(v: unknown): v is Error {
  // instanceof alone misses errors from another realm (vm contexts, jest's sandbox).
  return v instanceof Error || types.isNativeError(v);
}

function serialiseError(e: Error): SerialisedError {
  const out: SerialisedError = { message: String(e.message) };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (typeof e.stack === 'string') out.stack = e.stack;
  return out;
}
