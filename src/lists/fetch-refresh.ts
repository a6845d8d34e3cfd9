// Fetches the URL list sources again on a period: each wait is the configured interval made
// randomly longer or shorter by up to `jitter` of it, so the servers of a district, started
// together, soon ask the list host at different times. A refresh is an ordinary reload
// (coalesced with any other); when the policy has no URL source, the tick does nothing.
import type { Logger } from '../log/logger';

export interface RefreshOptions {
  /** null: no refresh by itself. */
  readonly intervalMs: number | null;
  /** 0 to 0.5. */
  readonly jitter: number;
  /** Whether the policy in use has URL sources. */
  readonly hasUrlSources: () => boolean;
  readonly reload: () => Promise<{ ok: boolean; changed: boolean; error?: string }>;
  readonly log: Logger;
  /** For tests; Math.random by default. */
  readonly random?: () => number;
}

export class ListRefresher {
  private timer: NodeJS.Timeout | null = null;
  private next: number | null = null;
  private stopped = false;

  constructor(private readonly opts: RefreshOptions) {}

  /** Schedules the first refresh, one (jittered) interval from now. */
  start(): void {
    this.schedule();
  }

  /** When the next refresh is due (Unix ms), or null when none is scheduled. */
  get nextAt(): number | null {
    return this.next;
  }

  get intervalMs(): number | null {
    return this.opts.intervalMs;
  }

  get jitter(): number {
    return this.opts.jitter;
  }

  /** The wait before the next refresh: the interval plus or minus up to jitter times it. */
  delay(): number {
    const { intervalMs, jitter } = this.opts;
    const r = (this.opts.random ?? Math.random)();
    return Math.max(1000, Math.round(intervalMs! * (1 + jitter * (2 * r - 1))));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.next = null;
  }

  private schedule(): void {
    if (this.stopped || this.opts.intervalMs === null) return;
    const wait = this.delay();
    this.next = Date.now() + wait;
    this.timer = setTimeout(() => void this.tick(), wait);
    this.timer.unref(); // never what keeps the process alive
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    if (this.opts.hasUrlSources()) {
      this.opts.log.info('refreshing the lists', { everySeconds: Math.round(this.opts.intervalMs! / 1000) });
      try {
        const r = await this.opts.reload();
        // A failed reload has logged why; the old lists serve and the next period tries again.
        if (r.ok) this.opts.log.info(r.changed ? 'lists refreshed and rebuilt' : 'lists refreshed; nothing changed');
      } catch (e) {
        this.opts.log.error('list refresh failed', { err: e });
      }
    }
    this.schedule();
  }
}
