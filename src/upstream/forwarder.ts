// Forwarding resolution: ask configured upstream resolvers, with timeouts, fail-over,
// TCP on truncation, EDNS fallback, and coalescing of identical queries in flight.
import type { HostPort } from '../config/types';
import { Answer, TtlPolicy, answerFromMessage } from '../dns/answer';
import { Flag, Rcode } from '../dns/constants';
import { MessageError } from '../dns/message';
import type { UpstreamOutcome } from '../metrics/metrics';
import { ExchangeError, ExchangeResult, QueryOptions, fmt, tcpExchange, udpExchange } from './transport';

export interface ForwarderOptions {
  readonly upstreams: readonly HostPort[];
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly totalTimeoutMs: number;
  readonly ttlPolicy: TtlPolicy;
  /** Told about every exchange (upstream as "host:port" text). */
  readonly observe?: (upstream: string, outcome: UpstreamOutcome, seconds?: number) => void;
  readonly onCoalesced?: () => void;
}

export class UpstreamError extends Error {
  readonly code = 'UPSTREAM_FAILED';
  constructor(message: string, readonly outcomes: readonly string[]) {
    super(message);
  }
}

export interface ForwardRequest {
  /** Identity of the question (see QueryContext.key): identical keys share one upstream query. */
  readonly key: string;
  readonly question: Buffer;
  readonly dnssecOk: boolean;
  readonly checkingDisabled: boolean;
}

interface ServerState {
  readonly server: HostPort;
  readonly label: string;
  /** Smoothed round-trip time in ms. */
  srtt: number;
  /** Until this Date.now(), the server is tried only after the healthy ones. */
  penaltyUntil: number;
  /** Consecutive failures, for backoff. */
  failures: number;
  /** Set when the server answered FORMERR to EDNS: ask it without OPT. */
  noEdns: boolean;
}

const PENALTY_BASE_MS = 5_000;
const PENALTY_MAX_MS = 120_000;

export class Forwarder {
  private readonly servers: ServerState[];
  /** Counts replies that were not ours (wrong address, ID or question) per server. */
  private readonly observers = new Map<ServerState, { mismatch(): void }>();
  private readonly inflight = new Map<string, Promise<Answer>>();

  constructor(private readonly opts: ForwarderOptions) {
    if (opts.upstreams.length === 0) throw new Error('no upstream servers configured');
    this.servers = opts.upstreams.map((server) => ({
      server, label: fmt(server), srtt: 0, penaltyUntil: 0, failures: 0, noEdns: false,
    }));
  }

  /** Resolves a question, sharing the upstream query with identical ones in flight. */
  resolve(req: ForwardRequest): Promise<Answer> {
    const existing = this.inflight.get(req.key);
    if (existing) {
      this.opts.onCoalesced?.();
      return existing;
    }
    const p = this.resolveUncoalesced(req).finally(() => this.inflight.delete(req.key));
    this.inflight.set(req.key, p);
    return p;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Servers in the order to try them now: healthy first by smoothed RTT, then penalised. */
  order(now = Date.now()): HostPort[] {
    return [...this.servers]
      .sort((a, b) => {
        const pa = a.penaltyUntil > now ? 1 : 0;
        const pb = b.penaltyUntil > now ? 1 : 0;
        return pa - pb || a.srtt - b.srtt;
      })
      .map((s) => s.server);
  }

  private async resolveUncoalesced(req: ForwardRequest): Promise<Answer> {
    const started = Date.now();
    const deadline = started + this.opts.totalTimeoutMs;
    const order = this.order(started).map((h) => this.servers.find((s) => s.server === h) as ServerState);
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < this.opts.attempts; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const state = order[attempt % order.length];
      const o: QueryOptions = { question: req.question, edns: !state.noEdns, dnssecOk: req.dnssecOk, checkingDisabled: req.checkingDisabled };
      const t0 = performance.now();
      try {
        let result = await udpExchange(state.server, o, Math.min(this.opts.timeoutMs, remaining), this.observerFor(state));
        if (result.msg.flags & Flag.TC) {
          this.observe(state, 'truncated');
          result = await tcpExchange(state.server, o, Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now())));
        }
        let rcode = result.msg.rcode;
        if (rcode === Rcode.FORMERR && o.edns) {
          // RFC 6891 §7: a server that does not understand EDNS answers FORMERR; ask again without it.
          this.observe(state, 'formerr');
          state.noEdns = true;
          result = await udpExchange(state.server, { ...o, edns: false }, Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now())), this.observerFor(state));
          if (result.msg.flags & Flag.TC) result = await tcpExchange(state.server, { ...o, edns: false }, Math.max(1, deadline - Date.now()));
          rcode = result.msg.rcode;
        }
        const rtt = performance.now() - t0;
        const outcome = classify(rcode);
        if (outcome !== 'ok') {
          this.fail(state, outcome, rtt);
          outcomes.push(`${state.label}: ${outcome}`);
          continue;
        }
        const answer = this.toAnswer(result);
        this.succeed(state, rtt);
        return answer;
      } catch (e) {
        const code = (e as { code?: string }).code;
        const outcome: UpstreamOutcome = code === 'timeout' ? 'timeout' : code === 'network' ? 'network' : 'malformed';
        if (!(e instanceof ExchangeError) && !(e instanceof MessageError) && code !== 'DNS_MALFORMED_MESSAGE') throw e;
        this.fail(state, outcome, performance.now() - t0);
        outcomes.push(`${state.label}: ${outcome}`);
      }
    }
    throw new UpstreamError(`every upstream failed (${outcomes.join('; ') || 'no time left'})`, outcomes);
  }

  private observerFor(state: ServerState): { mismatch(): void } {
    let o = this.observers.get(state);
    if (!o) {
      o = { mismatch: () => this.observe(state, 'mismatch') };
      this.observers.set(state, o);
    }
    return o;
  }

  private toAnswer(result: ExchangeResult): Answer {
    return answerFromMessage(result.buf, result.msg, this.opts.ttlPolicy, Date.now());
  }

  private succeed(state: ServerState, rttMs: number): void {
    state.srtt = state.srtt === 0 ? rttMs : 0.7 * state.srtt + 0.3 * rttMs;
    state.failures = 0;
    state.penaltyUntil = 0;
    this.opts.observe?.(state.label, 'ok', rttMs / 1000);
  }

  private fail(state: ServerState, outcome: UpstreamOutcome, rttMs: number): void {
    state.failures++;
    if (outcome === 'timeout' || outcome === 'network') {
      state.srtt = Math.max(state.srtt * 2, rttMs);
      state.penaltyUntil = Date.now() + Math.min(PENALTY_MAX_MS, PENALTY_BASE_MS * 2 ** Math.min(state.failures - 1, 5));
    }
    this.opts.observe?.(state.label, outcome);
  }

  private observe(state: ServerState, outcome: UpstreamOutcome): void {
    this.opts.observe?.(state.label, outcome);
  }
}

/** Rcodes that mean "ask someone else"; everything else is the answer. */
function classify(rcode: number): UpstreamOutcome {
  switch (rcode) {
    case Rcode.SERVFAIL: return 'servfail';
    case Rcode.REFUSED: case Rcode.NOTIMP: return 'refused';
    case Rcode.FORMERR: return 'formerr';
    default: return rcode > 15 ? 'malformed' : 'ok';
  }
}
