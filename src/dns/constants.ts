// Numbers from the IANA DNS parameters registry (RFC 1035, 2136, 6891, 6895, 8914).

export const HEADER_SIZE = 12;
export const MAX_NAME_WIRE = 255;
export const MAX_LABEL = 63;
/** Largest UDP payload we advertise and send (DNS Flag Day 2020). */
export const DEFAULT_EDNS_UDP_SIZE = 1232;
export const MIN_UDP_SIZE = 512;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
  6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 16: 'BADVERS',
};

export const Type = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11,
  PTR: 12, HINFO: 13, MINFO: 14, MX: 15, TXT: 16, RP: 17, AFSDB: 18, SIG: 24, KEY: 25,
  AAAA: 28, LOC: 29, NXT: 30, SRV: 33, NAPTR: 35, KX: 36, CERT: 37, A6: 38, DNAME: 39,
  OPT: 41, DS: 43, SSHFP: 44, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, NSEC3PARAM: 51,
  TLSA: 52, SMIMEA: 53, CDS: 59, CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63,
  SVCB: 64, HTTPS: 65, SPF: 99, TKEY: 249, TSIG: 250, IXFR: 251, AXFR: 252, MAILB: 253,
  MAILA: 254, ANY: 255, URI: 256, CAA: 257,
} as const;

export const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Type).map(([name, num]) => [num, name]),
);

export const Class = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** Header flag bits in the 16-bit flags word (bytes 2..3). */
export const Flag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

/** EDNS option codes. */
export const EdnsOption = { COOKIE: 10, PADDING: 12, EDE: 15 } as const;

/** Extended DNS Error info codes (RFC 8914). */
export const Ede = {
  OTHER: 0,
  STALE_ANSWER: 3,
  PROHIBITED: 18,
  BLOCKED: 15,
  FILTERED: 17,
  NOT_READY: 14,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
} as const;

/**
 * Types whose RDATA may hold compressed names (RFC 1035 types, plus those RFC 3597 §4
 * says a receiver must still decompress). Every other type's RDATA is opaque (RFC 3597).
 */
export const COMPRESSED_RDATA_TYPES: ReadonlySet<number> = new Set([
  Type.NS, Type.MD, Type.MF, Type.CNAME, Type.SOA, Type.MB, Type.MG, Type.MR, Type.PTR,
  Type.MINFO, Type.MX, Type.RP, Type.AFSDB, Type.SIG, Type.NXT, Type.SRV, Type.NAPTR, Type.KX,
  Type.DNAME, 21 /* RT */, 26 /* PX */,
]);
