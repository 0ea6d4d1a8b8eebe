import type { Logger } from '../../airbyte/logger.js';

/** Node's timers take at most 2^31 - 1 ms; a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolves after `ms` (clamped to what a timer can hold), or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    signal?.addEventListener('abort', abort, { once: true });
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
  });
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Resolves with `promise`, or rejects with the signal's reason once it aborts. */
function settledOrAborted(promise: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    });
  });
}

const WINDOW_MS = 2000;
/** Slack on top of the window: a request leaves our count a little after the server's (whose count began before the
 * response we stamp it with left). */
const MARGIN_MS = 10;
/** Until a response says otherwise, assume the smallest plan's burst limit (20 requests per 2 s per token). */
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1000;

type Headers = { get(name: string): string | null };

/**
 * Keeps every request of one API token inside Pipedrive's rolling 2-second burst window, shared by all streams, so
 * that a normal sync rarely sees a 429 (clients that keep going after 429s get blocked by Cloudflare).
 *
 * The window holds each of our requests from the moment it is sent until 2 s after its response's headers came in:
 * Pipedrive counts a request from when it handles it, somewhere between the two, and a burst of requests sent together
 * is handled over a spread of time, so only the response's arrival bounds when the server's window lets it go (its
 * body, and the parsing of it, may take a while longer on a busy event loop: not counted). It also
 * holds stand-ins for requests someone else made with the same token (another integration, the previous sync): a
 * response's `x-ratelimit-limit` minus `x-ratelimit-remaining` beyond our own count is foreign, and stays in the
 * window until `x-ratelimit-reset`. One slot is always left free. The very first request goes alone, to learn the
 * limit and the window before the rest follow.
 */
export class Throttle {
  private limit = DEFAULT_LIMIT;
  /** When each answered request (or foreign stand-in) leaves the window's count, less the window: sorted. */
  private readonly answered: number[] = [];
  private pausedUntil = 0;
  private inFlight = 0;
  private waiters = 0;
  private calibrated = false;
  private readonly calibration = deferred();
  /** Resolved, and replaced, whenever a response comes in: what a full window of requests in flight waits for. */
  private answer = deferred();

  constructor(private readonly logger?: Logger) {}

  /** Waits for a slot (or until `signal` aborts); call the returned function once the response's headers are in (or
   * the request failed): the slot leaves the window 2 s later. Only its first call counts. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      const now = Date.now();
      this.prune(now);
      const full = this.answered.length + this.inFlight >= Math.max(1, this.limit - 1);
      const oldest = this.answered[0];
      const wait = Math.max(
        this.pausedUntil - now,
        full && oldest !== undefined ? oldest + WINDOW_MS + MARGIN_MS - now : 0,
      );
      const calibrating = !this.calibrated && this.inFlight > 0;
      // Every slot is taken by a request still in flight: the first response frees one (2 s later).
      const awaitingAnswer = full && oldest === undefined;
      if (wait <= 0 && !calibrating && !awaitingAnswer) {
        this.inFlight++;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          this.release();
        };
      }
      this.waiters++;
      try {
        if (calibrating) await settledOrAborted(this.calibration.promise, signal);
        else if (awaitingAnswer) await settledOrAborted(this.answer.promise, signal);
        else await sleep(wait, signal);
      } finally {
        this.waiters--;
      }
    }
  }

  /** Requests are waiting for a slot: more requests at once would not make a read any faster. */
  get saturated(): boolean {
    return this.waiters > 0;
  }

  /** Learns the limit and any foreign usage from a response's headers; pauses when nothing is left. */
  observe(headers: Headers): void {
    const limit = Number(headers.get('x-ratelimit-limit'));
    const remaining = Number(headers.get('x-ratelimit-remaining') ?? NaN);
    const reset = Number(headers.get('x-ratelimit-reset'));
    // Headers no Pipedrive plan could send (its largest limit is 480) are ignored rather than trusted.
    if (!Number.isInteger(limit) || limit <= 0 || limit > MAX_LIMIT || !Number.isInteger(remaining) || remaining < 0)
      return;
    this.limit = limit;
    const now = Date.now();
    this.prune(now);
    const foreign = limit - remaining - this.answered.length - this.inFlight;
    // A stand-in leaves the window when Pipedrive's does, `reset` seconds from now, and at the latest with the window.
    const resetMs = Number.isFinite(reset) && reset > 1 ? Math.min(reset * 1000, WINDOW_MS) : 1000;
    const leaves = now + resetMs - WINDOW_MS - MARGIN_MS;
    for (let i = 0; i < foreign; i++) this.answered.splice(this.insertionPoint(leaves), 0, leaves);
    // Nothing left in the window: wait for it to pass. A reset beyond the 2-second window is not a burst limit's;
    // it is not honoured here (a 429 that asks for it is handled by the client).
    if (remaining === 0 && reset > 0) {
      if (reset * 1000 > WINDOW_MS)
        this.logger?.warn(
          `Pipedrive reported an x-ratelimit-reset of ${reset} s on a 2-second window; waiting ${WINDOW_MS / 1000} s`,
        );
      this.pause(Math.min(reset * 1000, WINDOW_MS));
    }
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  get burstLimit(): number {
    return this.limit;
  }

  private release(): void {
    this.inFlight--;
    const now = Date.now();
    this.answered.splice(this.insertionPoint(now), 0, now);
    const answer = this.answer;
    this.answer = deferred();
    answer.resolve();
    if (!this.calibrated) {
      this.calibrated = true;
      this.calibration.resolve();
    }
  }

  private prune(now: number): void {
    while ((this.answered[0] ?? Infinity) <= now - WINDOW_MS - MARGIN_MS) this.answered.shift();
  }

  private insertionPoint(time: number): number {
    let index = this.answered.length;
    while (index > 0 && (this.answered[index - 1] ?? -Infinity) > time) index--;
    return index;
  }
}
