// The handler chain: each link answers a query or passes it on with next(ctx).
// A link returns the reply bytes for the client, synchronously when it can (a cache hit
// never touches a promise) or as a promise when it has to wait.
import type { Answer } from '../dns/answer';
import { HEADER_SIZE } from '../dns/constants';
import { foldAsciiInPlace, readName } from '../dns/name';
import type { Query } from '../dns/query';
import type { Transport } from '../metrics/metrics';

export type Reply = Buffer;
export type Next = (ctx: QueryContext) => Reply | Promise<Reply>;
export type Handler = (ctx: QueryContext, next: Next) => Reply | Promise<Reply>;

/** Who is asking: filled in by the client-identification link. */
export interface ClientInfo {
  readonly school: string;
  readonly group: string;
}

export const UNKNOWN_CLIENT: ClientInfo = Object.freeze({ school: 'unknown', group: 'default' });

/** Where a reply came from, for logs and metrics. */
export type ReplySource = 'none' | 'cache' | 'upstream' | 'local' | 'blocked' | 'error';

const keyScratch = Buffer.allocUnsafe(HEADER_SIZE + 256 + 4);

export class QueryContext {
  client: ClientInfo = UNKNOWN_CLIENT;
  /** The canonical answer behind the reply, when it came from the cache or an upstream. */
  answer: Answer | null = null;
  source: ReplySource = 'none';
  /** The filter's decision for the question name (a CompiledPolicy code; see src/filter). */
  verdict = -1; // DECISION_PASS until the filter decides
  private keyText: string | undefined = undefined;
  private nameText: string | null | undefined = undefined;

  constructor(
    /** The query exactly as received. */
    readonly buf: Buffer,
    readonly query: Query,
    readonly transport: Transport,
    readonly remoteAddress: string,
    readonly remotePort: number,
    /** performance.now() when the query arrived. */
    readonly receivedAt: number,
    /** The listener's address the query arrived on ("" when unknown). */
    readonly localAddress: string = '',
  ) {}

  /**
   * The identity of the question for the cache and for coalescing: the question bytes
   * with ASCII case folded, plus the DO and CD bits, which change the answer's content.
   */
  get key(): string {
    if (this.keyText === undefined) {
      const q = this.query;
      const n = q.questionEnd - HEADER_SIZE;
      this.buf.copy(keyScratch, 0, HEADER_SIZE, q.questionEnd);
      foldAsciiInPlace(keyScratch, 0, q.qnameEnd - HEADER_SIZE);
      keyScratch[n] = 0x30 | (q.dnssecOk ? 1 : 0) | (q.flags & 0x10 ? 2 : 0);
      // latin1Slice: what toString('latin1') ends in, without its argument handling.
      this.keyText = (keyScratch as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(0, n + 1);
    }
    return this.keyText as string;
  }

  /** The question name, lowercase, without trailing dot ("" for the root). */
  get qname(): string {
    if (this.nameText === undefined) this.nameText = readName(this.buf, HEADER_SIZE, this.query.qnameEnd);
    return this.nameText ?? '';
  }

  /** The question section with ASCII case folded: what we ask upstream. */
  questionBytes(): Buffer {
    const out = Buffer.from(this.buf.subarray(HEADER_SIZE, this.query.questionEnd));
    foldAsciiInPlace(out, 0, this.query.qnameEnd - HEADER_SIZE);
    return out;
  }
}

/** A link given a name, so the chain can be logged at startup. */
export interface NamedHandler {
  readonly name: string;
  readonly handle: Handler;
}

/** Composes links into one Next, first link outermost; `last` runs when every link passed. */
export function compose(links: readonly NamedHandler[], last: Next): Next {
  let next = last;
  for (let i = links.length - 1; i >= 0; i--) {
    const handle = links[i].handle;
    const after = next;
    next = (ctx) => handle(ctx, after);
  }
  return next;
}
