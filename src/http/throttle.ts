export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const WINDOW_MS = 2000;
/** Slack on top of the window for latency jitter between our clock and Pipedrive's arrival times. */
const MARGIN_MS = 50;
/** Until a response says otherwise, assume the smallest plan's burst limit (20 requests per 2 s per token). */
const DEFAULT_LIMIT = 20;

/**
 * Keeps every request of one API token inside Pipedrive's rolling 2-second burst window, shared by all streams, so
 * that a normal sync rarely sees a 429 (clients that keep going after 429s get blocked by Cloudflare). The limit is
 * learned from `x-ratelimit-limit`; one slot is left free for whatever else uses the token. When the API reports
 * nothing left (`x-ratelimit-remaining: 0`) or answers 429, everyone waits out the reset.
 */
export class Throttle {
  private limit = DEFAULT_LIMIT;
  private readonly starts: number[] = [];
  private pausedUntil = 0;

  async acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.starts.length > 0 && this.starts[0]! <= now - WINDOW_MS - MARGIN_MS) this.starts.shift();
      const full = this.starts.length >= Math.max(1, this.limit - 1);
      const wait = Math.max(this.pausedUntil - now, full ? this.starts[0]! + WINDOW_MS + MARGIN_MS - now : 0);
      if (wait <= 0) {
        this.starts.push(now);
        return;
      }
      await sleep(wait);
    }
  }

  observe(headers: { get(name: string): string | null }): void {
    const limit = Number(headers.get('x-ratelimit-limit'));
    if (Number.isInteger(limit) && limit > 0) this.limit = limit;
    const remaining = headers.get('x-ratelimit-remaining');
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (remaining === '0' && reset > 0) this.pause(reset * 1000);
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  get burstLimit(): number {
    return this.limit;
  }
}
