// Builds and reads packets with dns-packet, an implementation independent of ours.
import * as dnsPacket from 'dns-packet';

export type Packet = dnsPacket.Packet;
export { dnsPacket };

export function query(name: string, type: string, opts: { id?: number; edns?: boolean; udpSize?: number; dnssecOk?: boolean; flags?: number } = {}): Buffer {
  const p: dnsPacket.Packet = {
    type: 'query',
    id: opts.id ?? 0x1234,
    flags: opts.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
  };
  if (opts.edns) {
    p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: opts.udpSize ?? 1232, flags: opts.dnssecOk ? dnsPacket.DNSSEC_OK : 0, options: [] } as unknown as dnsPacket.Answer];
  }
  return dnsPacket.encode(p);
}

/** A decoded record, loosely typed for assertions. */
export interface Rec {
  name: string;
  type: string;
  class: string;
  ttl: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  udpPayloadSize?: number;
  options?: { code: number; data?: Buffer }[];
}

export interface Decoded {
  id: number;
  rcode: string;
  flags: number;
  flag_qr: boolean; flag_aa: boolean; flag_tc: boolean; flag_rd: boolean; flag_ra: boolean; flag_ad: boolean; flag_cd: boolean;
  questions: { name: string; type: string; class: string }[];
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
}

export function decode(buf: Buffer): Decoded {
  const d = dnsPacket.decode(buf) as unknown as Decoded;
  d.questions ??= []; d.answers ??= []; d.authorities ??= []; d.additionals ??= [];
  return d;
}

/** rcode number of a reply (low 4 bits of the header). */
/** The addresses in a reply's answer section: its A and AAAA records, or only the types given. */
export function addressesOf(reply: Buffer, types: readonly string[] = ['A', 'AAAA']): string[] {
  return decode(reply).answers.filter((a) => types.includes(a.type)).map((a) => String(a.data));
}

export function rcodeOf(buf: Uint8Array): number {
  return buf[3] & 0x0f;
}
