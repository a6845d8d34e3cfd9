// The infrastructure cache: what the recursor knows about each authoritative server
// address (smoothed RTT, consecutive timeouts with exponential backoff, whether it
// answers FORMERR to EDNS) and which servers are lame for which zone. Keyed by address,
// not by name, and bounded by an LRU.
import { Lru } from '../cache/lru';
import type { HostPort } from '../config/types';

export interface ServerInfo {
  /** Smoothed round-trip time, ms (0 = never measured). */
  srtt: number;
  /** Consecutive timeouts. */
  timeouts: number;
  /** Until this time (ms) the server is tried only after every other. */
  backoffUntil: number;
  /** Answered FORMERR to a query with OPT: ask it without EDNS. */
  noEdns: boolean;
  /** The address with the port and family queries go to, made once (the recursor's). */
  target: HostPort | null;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 120_000;
const LAME_MS = 15 * 60_000;
/** Chance of trying a server other than the fastest, so a recovered server's RTT is relearned. */
const EXPLORE = 0.05;
/** The RTT assumed for a server never measured: tried before slow ones, after fast ones. */
const UNKNOWN_RTT_MS = 50;

export class ServerTable {
  private readonly info: Lru<string, ServerInfo>;
  private readonly lame: Lru<string, number>;

  constructor(maxServers = 10_000, private readonly random: () => number = Math.random) {
    this.info = new Lru(maxServers);
    this.lame = new Lru(maxServers);
  }

  /** Forgets every server's round-trip time, EDNS support and lameness. */
  clear(): void {
    this.info.clear();
    this.lame.clear();
  }

  get(address: string): ServerInfo {
    let s = this.info.get(address);
    if (!s) this.info.set(address, (s = { srtt: 0, timeouts: 0, backoffUntil: 0, noEdns: false, target: null }));
    return s;
  }

  /** The order to try `addresses` for `zone` now: usable by smoothed RTT, then backed-off, then lame. */
  order(addresses: readonly string[], zone: string, now: number): string[] {
    const scored = addresses.map((a) => {
      const s = this.info.get(a);
      return { a, tier: this.tierOf(s, a, zone, now), rtt: this.rttOf(s) };
    });
    scored.sort((x, y) => x.tier - y.tier || x.rtt - y.rtt);
    const out = scored.map((x) => x.a);
    const usable = scored.filter((x) => x.tier === 0).length;
    if (usable > 1 && this.random() < EXPLORE) {
      const i = 1 + Math.floor(this.random() * (usable - 1));
      [out[0], out[i]] = [out[i], out[0]];
    }
    return out;
  }

  /**
   * The server to ask first for `zone` now: `order(addresses, zone, now)[0]`, found in one
   * pass without sorting or allocating (this runs for every authoritative query).
   */
  best(addresses: readonly string[], zone: string, now: number): string | undefined {
    let best: string | undefined;
    let bestTier = 3;
    let bestRtt = Infinity;
    let usable = 0;
    for (const a of addresses) {
      const s = this.info.get(a);
      const tier = this.tierOf(s, a, zone, now);
      const rtt = this.rttOf(s);
      if (tier === 0) usable++;
      if (tier < bestTier || (tier === bestTier && rtt < bestRtt)) {
        best = a;
        bestTier = tier;
        bestRtt = rtt;
      }
    }
    if (usable > 1 && this.random() < EXPLORE) {
      // Now and then another usable server, so a recovered server's RTT is relearned.
      let pick = Math.floor(this.random() * (usable - 1));
      for (const a of addresses) {
        if (a === best || this.unusable(a, zone, now)) continue;
        if (pick-- === 0) return a;
      }
    }
    return best;
  }

  /** Whether the server is lame for the zone or backed off now. */
  unusable(address: string, zone: string, now: number): boolean {
    return this.tierOf(this.info.get(address), address, zone, now) !== 0;
  }

  /** 0: usable; 1: backed off after timeouts; 2: lame for `zone`. */
  private tierOf(s: ServerInfo | undefined, address: string, zone: string, now: number): number {
    if (this.lame.size > 0 && (this.lame.get(`${zone}|${address}`) ?? 0) > now) return 2;
    return s !== undefined && s.backoffUntil > now ? 1 : 0;
  }

  /** The smoothed RTT, or for a server never measured a value a little above UNKNOWN_RTT_MS, at random. */
  private rttOf(s: ServerInfo | undefined): number {
    return s && s.srtt > 0 ? s.srtt : UNKNOWN_RTT_MS + this.random();
  }

  rtt(address: string, ms: number): void {
    const s = this.get(address);
    s.srtt = s.srtt === 0 ? ms : 0.7 * s.srtt + 0.3 * ms;
    s.timeouts = 0;
    s.backoffUntil = 0;
  }

  timeout(address: string, timeoutMs: number, now: number): void {
    const s = this.get(address);
    s.timeouts++;
    s.srtt = Math.max(s.srtt * 2, timeoutMs);
    s.backoffUntil = now + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(s.timeouts - 1, 8));
  }

  markLame(zone: string, address: string, now: number, ms = LAME_MS): void {
    this.lame.set(`${zone}|${address}`, now + ms);
  }

  isLame(zone: string, address: string, now: number): boolean {
    return (this.lame.get(`${zone}|${address}`) ?? 0) > now;
  }
}
