// `school-dns query NAME [TYPE]`: asks a DNS server one question and prints the answer as
// dig would, so staff can see what a pupil's device gets without installing dig. The
// message is built and read by dns2, an implementation independent of school-dns's own
// wire code; the Extended DNS Error (RFC 8914) that says why a name was blocked is read
// from the OPT record, which dns2 does not decode.
import type { Command } from 'commander';
import DNS from 'dns2';
import { tryParseHostPort } from '../config/load';
import type { HostPort } from '../config/types';
import { Flag, TYPE_NAMES } from '../dns/constants';
import { ExchangeResult, Probe, sendTcp, sendUdp } from '../upstream/transport';

export const QUERY_EXIT = { answered: 0, badInput: 1, noAnswer: 4 } as const;

const TYPE_NUMBERS: ReadonlyMap<string, number> = new Map([
  ...Object.entries(TYPE_NAMES).map(([n, name]) => [name, Number(n)] as [string, number]),
  ...Object.entries(DNS.Packet.TYPE as Record<string, number>).filter(([name]) => name !== 'EDNS'),
]);

const RCODES: Record<number, string> = Object.fromEntries(Object.entries(DNS.Packet.RCODE as Record<string, number>).map(([k, v]) => [v, k]));

/** A type given by name (A, aaaa, HTTPS) or as TYPE65 / 65. */
export function parseType(text: string): number | null {
  const t = text.toUpperCase();
  const named = TYPE_NUMBERS.get(t);
  if (named !== undefined) return named;
  const m = /^(?:TYPE)?(\d{1,5})$/.exec(t);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  return null;
}

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? (DNS.Packet.TYPE_NAME as Record<number, string>)[type] ?? `TYPE${type}`;
}

export interface QueryResult {
  readonly server: string;
  readonly transport: 'udp' | 'tcp';
  readonly ms: number;
  readonly id: number;
  readonly rcode: string;
  readonly flags: string[];
  readonly answers: string[];
  readonly authorities: string[];
  readonly additionals: string[];
  /** Extended DNS Errors: code and text. */
  readonly ede: { code: number; text: string }[];
}

function encodeQuery(name: string, type: number): Buffer {
  const p = new DNS.Packet();
  p.header.rd = 1;
  p.questions.push({ name, type, class: DNS.Packet.CLASS.IN } as unknown as DNS.Packet.Question);
  // EDNS with a 1232-octet size, so the server can say why it blocked a name (EDE).
  p.additionals.push(DNS.Packet.Resource.EDNS([], { udpPayloadSize: 1232 }));
  return p.toBuffer();
}

/** Our query with the exchange's random ID, and a reply accepted only with that ID. */
function probeFor(wire: Buffer): Probe {
  return {
    build: (id) => { const q = Buffer.from(wire); q.writeUInt16BE(id, 0); return q; },
    matches: (reply, id) => reply.length >= 2 && ((reply[0] << 8) | reply[1]) === id && (reply[2] & 0x80) !== 0,
  };
}

/** RFC 8914 options (code 15) in the reply's OPT record. */
function extendedErrors({ buf: reply, msg }: ExchangeResult): { code: number; text: string }[] {
  const opt = msg.opt;
  if (!opt) return [];
  const out: { code: number; text: string }[] = [];
  for (let at = opt.rdataOffset; at + 4 <= opt.rdataOffset + opt.rdlength;) {
    const code = reply.readUInt16BE(at);
    const len = reply.readUInt16BE(at + 2);
    if (code === 15 && len >= 2) out.push({ code: reply.readUInt16BE(at + 4), text: reply.subarray(at + 6, at + 4 + len).toString('utf8') });
    at += 4 + len;
  }
  return out;
}

type Rr = Record<string, unknown> & { name: string; type: number; class: number; ttl: number };

function rdataText(r: Rr): string {
  const v = (k: string): string => String(r[k]);
  switch (r.type) {
    case 1: case 28: return v('address');
    case 2: case 5: case 12: case 39: return `${v('ns' in r ? 'ns' : 'domain')}.`;
    case 6: return `${v('primary')}. ${v('admin')}. ${v('serial')} ${v('refresh')} ${v('retry')} ${v('expiration')} ${v('minimum')}`;
    case 15: return `${v('priority')} ${v('exchange')}.`;
    case 16: return (Array.isArray(r.data) ? r.data : [r.data]).map((s) => JSON.stringify(String(s))).join(' ');
    case 33: return `${v('priority')} ${v('weight')} ${v('port')} ${v('target')}.`;
    case 257: return `${v('flags')} ${v('tag')} ${JSON.stringify(v('value'))}`;
    default: {
      const data = r.data;
      if (Buffer.isBuffer(data)) return `\\# ${data.length} ${data.toString('hex')}`; // RFC 3597 form
      const rest = Object.fromEntries(Object.entries(r).filter(([k]) => !['name', 'type', 'class', 'ttl'].includes(k)));
      return JSON.stringify(rest);
    }
  }
}

function recordText(r: Rr): string {
  return `${r.name}.\t${r.ttl}\tIN\t${typeName(r.type)}\t${rdataText(r)}`;
}

export async function query(name: string, type: number, server: HostPort, opts: { tcp?: boolean; timeoutMs?: number } = {}): Promise<QueryResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const probe = probeFor(encodeQuery(name, type));
  const t0 = performance.now();
  let transport: 'udp' | 'tcp' = opts.tcp ? 'tcp' : 'udp';
  let result = transport === 'tcp' ? await sendTcp(server, probe, timeoutMs) : await sendUdp(server, probe, timeoutMs);
  if (transport === 'udp' && (result.msg.flags & Flag.TC)) {
    transport = 'tcp'; // TC: the answer did not fit; ask again over TCP, as resolvers do
    result = await sendTcp(server, probe, timeoutMs);
  }
  const reply = result.buf;
  const ms = performance.now() - t0;
  const p = DNS.Packet.parse(reply);
  const h = p.header as unknown as Record<string, number>;
  const flags = ['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'].filter((f) => h[f]);
  const show = (rs: unknown[]): string[] => (rs as Rr[]).filter((r) => r && r.type !== DNS.Packet.TYPE.EDNS).map(recordText);
  return {
    server: server.family === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`,
    transport, ms, id: h.id, rcode: RCODES[h.rcode] ?? `RCODE${h.rcode}`, flags,
    answers: show(p.answers), authorities: show(p.authorities), additionals: show(p.additionals), ede: extendedErrors(result),
  };
}

export function formatResult(name: string, type: number, r: QueryResult): string {
  const out = [
    `;; ${name} ${typeName(type)} asked ${r.server} over ${r.transport.toUpperCase()} in ${r.ms.toFixed(1)} ms`,
    `;; status: ${r.rcode}, id: ${r.id}, flags: ${r.flags.join(' ')}`,
  ];
  for (const e of r.ede) out.push(`;; extended error ${e.code}: ${e.text}`);
  for (const [title, rs] of [['ANSWER', r.answers], ['AUTHORITY', r.authorities], ['ADDITIONAL', r.additionals]] as const) {
    if (rs.length === 0) continue;
    out.push('', `;; ${title}`, ...rs);
  }
  return out.join('\n') + '\n';
}

export function addQueryCommand(program: Command): void {
  program
    .command('query')
    .description('ask a DNS server (school-dns or any other) one question and print the answer, as dig would (exit 0 answered, 1 bad input, 4 no answer)')
    .argument('<name>', 'domain name, e.g. www.example.com')
    .argument('[type]', 'record type: A, AAAA, MX, TXT, HTTPS, ... or a number', 'A')
    .option('-s, --server <address>', 'server address, "IP" or "IP:PORT" ("[IPv6]:PORT"); port 53 when none is given', process.env.SCHOOL_DNS_SERVER ?? '127.0.0.1')
    .option('--tcp', 'ask over TCP')
    .option('--timeout <ms>', 'milliseconds to wait for the answer', '3000')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, typeText: string, opts: { server: string; tcp?: boolean; timeout: string; json?: boolean }) => {
      const type = parseType(typeText);
      const server = tryParseHostPort(opts.server, 53);
      const timeoutMs = Number(opts.timeout);
      const problem = type === null ? `unknown record type "${typeText}" (write e.g. A, AAAA, MX, HTTPS, or TYPE65)`
        : typeof server === 'string' ? `--server ${opts.server}: ${server}`
        : !Number.isInteger(timeoutMs) || timeoutMs <= 0 ? `--timeout ${opts.timeout} is not a positive number of milliseconds` : null;
      if (problem) {
        process.stderr.write(`school-dns: ${problem}\n`);
        process.exitCode = QUERY_EXIT.badInput;
        return;
      }
      try {
        const r = await query(name, type!, server as HostPort, { tcp: opts.tcp, timeoutMs });
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : formatResult(name, type!, r));
        process.exitCode = QUERY_EXIT.answered;
      } catch (e) {
        process.stderr.write(`school-dns: no answer from ${opts.server}: ${(e as Error).message}\n`);
        process.exitCode = QUERY_EXIT.noAnswer;
      }
    });
}
