import http from 'node:http';
import https from 'node:https';
import fetch, { type Response } from 'node-fetch';
import { clock } from '../clock.js';
import { ConnectorError, configError } from '../errors.js';
import { readJson } from '../paths.js';
import type { Logger } from '../protocol/logger.js';
import { RequestStats } from './stats.js';
import { Throttle, sleep } from './throttle.js';

export type Query = Record<string, string | number | boolean | undefined>;

/** Pipedrive's response envelope. */
export interface ApiBody {
  success?: boolean;
  data?: unknown;
  additional_data?: {
    next_cursor?: string | null;
    pagination?: { start?: number; limit?: number; more_items_in_collection?: boolean; next_start?: number };
    [key: string]: unknown;
  } | null;
  error?: string;
}

export interface Request {
  /** Endpoint as documented, e.g. `/api/v2/deals` or `/v1/mailbox/mailThreads/{id}/mailMessages`. */
  endpoint: string;
  pathParams?: Record<string, string | number>;
  query?: Query;
  /** The stream the request is made for, for the counts in `stats`. */
  stream: string;
}

export interface ClientOptions {
  origin: string;
  apiToken: string;
  timeoutMs: number;
  maxRetries: number;
  logger?: Logger;
  maxSockets?: number;
  /** Told when a stream has to wait for the burst limit, and until when (epoch ms). */
  onRateLimited?: (stream: string, resumeAt: number) => void;
}

/** An HTTP error status that a stream may want to tolerate (for example 404 for a mail thread deleted mid-sync). */
export class HttpStatusError extends ConnectorError {
  constructor(
    readonly status: number,
    message: string,
    failureType: ConstructorParameters<typeof ConnectorError>[1],
    internalMessage: string,
  ) {
    super(message, failureType, { internalMessage });
  }
}

/** Endpoint → its `x-token-cost` in Pipedrive's OpenAPI documents. */
const TOKEN_COSTS = readJson<Record<string, number>>(new URL('./token-costs.json', import.meta.url));
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A 429 that asks for a longer wait than this is the daily budget, not the 2-second burst window. */
const DAILY_BUDGET_RETRY_AFTER_S = 60;
const MAX_BURST_WAITS = 10;

/** A failure worth another attempt: `reason` for the retry log, `giveUp` for the user once attempts run out. */
class Retryable extends Error {
  constructor(
    readonly reason: string,
    readonly giveUp: (attempts: number) => string,
    readonly waitMs?: number,
  ) {
    super(reason);
  }
}

/**
 * The Pipedrive HTTP client every command uses: the token goes in the `x-api-token` header (never the URL),
 * connections are kept alive, every request passes the shared burst throttle, transient failures are retried with
 * exponential backoff and jitter, and HTTP errors become ConnectorErrors that tell the user what to do.
 */
export class PipedriveClient {
  readonly stats = new RequestStats();
  readonly throttle = new Throttle();
  private readonly agents: { http: http.Agent; https: https.Agent };
  /** Set once the daily budget is spent or Cloudflare blocks the token: no request may be sent after that. */
  private stopped: ConnectorError | null = null;
  private clockOffsetMs = 0;
  private serverTimeKnown = false;
  private requestsInFlight = 0;

  constructor(private readonly options: ClientOptions) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 8 };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  }

  /** Requests sent whose response has not been read yet. */
  get inFlight(): number {
    return this.requestsInFlight;
  }

  /** Pipedrive's clock, estimated from the `Date` header of the latest response (the connector's own clock until a
   * response has come). The header has whole seconds, so the estimate errs early by up to a second. */
  serverNow(): number {
    return this.toServerTime(clock.now());
  }

  /** An instant of the connector's clock (`clock.now()`) in Pipedrive's time. */
  toServerTime(ms: number): number {
    return ms + this.clockOffsetMs;
  }

  /** Pipedrive's clock for a decision that must not rest on the machine's clock: if no response has told the time
   * yet, one request to `/v1/users/me` (2 tokens) does, counted for `stream`. */
  async knownServerNow(stream: string): Promise<number> {
    if (!this.serverTimeKnown) await this.get({ endpoint: '/v1/users/me', stream });
    return this.serverNow();
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  async get(request: Request): Promise<ApiBody> {
    const url = this.url(request);
    const counts = this.stats.of(request.stream);
    let burstWaits = 0;
    for (let attempt = 0; ; ) {
      if (this.stopped) throw this.stopped;
      const release = await this.throttle.acquire();
      if (this.stopped) {
        release();
        throw this.stopped;
      }
      counts.requests++;
      const outcome = await this.exchange(url, request.endpoint).finally(release);
      if ('body' in outcome) {
        counts.tokens += TOKEN_COSTS[`GET ${request.endpoint}`] ?? 0;
        return outcome.body;
      }
      if ('waitMs' in outcome) {
        counts.rateLimited++;
        if (++burstWaits > MAX_BURST_WAITS) {
          throw new ConnectorError(
            `Pipedrive kept answering 429 (burst rate limit) on ${request.endpoint}; stopped to avoid being blocked. Another integration may be using the same API token heavily.`,
            'transient_error',
          );
        }
        this.throttle.pause(outcome.waitMs);
        this.options.onRateLimited?.(request.stream, Date.now() + outcome.waitMs);
        continue;
      }
      const { retry } = outcome;
      if (attempt >= this.options.maxRetries) {
        throw new ConnectorError(retry.giveUp(attempt + 1), 'transient_error', {
          internalMessage: `GET ${request.endpoint}: ${retry.reason}`,
        });
      }
      const backoff = Math.max(retry.waitMs ?? 0, Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.5 + Math.random() / 2));
      attempt++;
      counts.retries++;
      this.options.logger?.warn(`GET ${request.endpoint} (${request.stream}): ${retry.reason}; retrying in ${Math.round(backoff)} ms`);
      await sleep(backoff);
    }
  }

  /** One HTTP request and its response: a body, a burst-limit wait, or a failure worth retrying. Anything else
   * (an HTTP error, a spent daily budget) is thrown. */
  private async exchange(url: string, endpoint: string): Promise<{ body: ApiBody } | { waitMs: number } | { retry: Retryable }> {
    this.requestsInFlight++;
    try {
      const response = await this.send(url, endpoint);
      if (response.status === 429) {
        return { waitMs: this.rateLimitWait(response, await response.text().catch(() => ''), endpoint) };
      }
      return { body: await this.parse(response, endpoint) };
    } catch (error) {
      if (error instanceof Retryable) return { retry: error };
      throw error;
    } finally {
      this.requestsInFlight--;
    }
  }

  private url(request: Request): string {
    const path = request.endpoint.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(String(request.pathParams?.[name] ?? '')),
    );
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) query.set(key, String(value));
    }
    const search = query.toString();
    return `${this.options.origin}${path}${search ? `?${search}` : ''}`;
  }

  private async send(url: string, endpoint: string): Promise<Response> {
    try {
      const response = await fetch(url, {
        headers: { 'x-api-token': this.options.apiToken, accept: 'application/json' },
        agent: (parsed) => (parsed.protocol === 'http:' ? this.agents.http : this.agents.https),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      this.throttle.observe(response.headers);
      const date = Date.parse(response.headers.get('date') ?? '');
      if (!Number.isNaN(date)) {
        this.clockOffsetMs = date - clock.now();
        this.serverTimeKnown = true;
      }
      return response;
    } catch (error) {
      throw this.networkFailure(error, endpoint);
    }
  }

  private networkFailure(error: unknown, endpoint: string): Retryable {
    const { name, code, message } = error as { name?: string; code?: string; message?: string };
    const { origin, timeoutMs } = this.options;
    if (name === 'AbortError' || name === 'TimeoutError') {
      return new Retryable(
        `no answer within ${timeoutMs / 1000} s`,
        (n) =>
          `Pipedrive did not answer GET ${endpoint} within ${timeoutMs / 1000} s (${n} attempts). Try again later, or raise request_timeout_seconds.`,
      );
    }
    const reason = code ?? message ?? 'network error';
    return new Retryable(
      `connection failed (${reason})`,
      (n) =>
        `Could not reach Pipedrive at ${origin} (${reason}; ${n} attempts). Check company_domain or base_url, and that this machine can reach Pipedrive.`,
    );
  }

  private async parse(response: Response, endpoint: string): Promise<ApiBody> {
    const broken = (reason: string) =>
      new Retryable(
        reason,
        (n) => `Pipedrive sent a broken response to GET ${endpoint} ${n} times in a row (${reason}). Try again later.`,
      );
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw broken(`the body was cut off: ${(error as Error).message}`);
    }
    if (response.ok) {
      try {
        return JSON.parse(text) as ApiBody;
      } catch {
        throw broken(`the body is not valid JSON (${text.length} bytes)`);
      }
    }
    if (response.status === 408 || response.status >= 500) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new Retryable(
        `HTTP ${response.status}`,
        (n) =>
          `Pipedrive answered HTTP ${response.status} to GET ${endpoint} ${n} times in a row; it may be down or in maintenance. Try again later.`,
        retryAfter > 0 ? retryAfter * 1000 : undefined,
      );
    }
    throw this.statusError(response, text, endpoint);
  }

  private statusError(response: Response, text: string, endpoint: string): ConnectorError {
    const status = response.status;
    const internal = `HTTP ${status} on GET ${endpoint}`;
    const apiMessage = apiError(text);
    if (status === 401) {
      return configError(
        'Pipedrive rejected the API token (401 invalid API token). Copy the token again from Personal preferences → API in Pipedrive, and check that it belongs to this company.',
      );
    }
    if (status === 402) {
      return configError(
        'The Pipedrive company account is not open (402): the trial may have expired or payment details are missing. An admin can reopen it under Company settings → Billing.',
      );
    }
    if (status === 403 && isHtml(response, text)) {
      this.stopped = new ConnectorError(
        "Pipedrive's Cloudflare protection is blocking this API token (HTTP 403 with an HTML page). This is rate-limit blocking, not a permission problem: it happens when requests keep coming after 429 answers. Wait a few minutes before the next sync, and check whether another tool uses the same token at the same time.",
        'transient_error',
        { internalMessage: internal },
      );
      return this.stopped;
    }
    if (status === 403) {
      return new HttpStatusError(
        403,
        `Pipedrive refused GET ${endpoint} (403): "${apiMessage ?? 'forbidden'}". The API token's user lacks a permission this stream needs; use the token of a Pipedrive admin.`,
        'config_error',
        internal,
      );
    }
    return new HttpStatusError(
      status,
      `Pipedrive answered HTTP ${status} to GET ${endpoint}${apiMessage ? `: "${apiMessage}"` : ''}.`,
      'system_error',
      internal,
    );
  }

  /** How long to wait after a burst 429; a spent daily budget stops the client instead (waiting cannot help). */
  private rateLimitWait(response: Response, text: string, endpoint: string): number {
    const retryAfter = Number(response.headers.get('retry-after'));
    const reset = Number(response.headers.get('x-ratelimit-reset'));
    if (/daily request budget/i.test(text) || retryAfter > DAILY_BUDGET_RETRY_AFTER_S) {
      const when =
        retryAfter > 0
          ? `in about ${humanDuration(retryAfter)} (around ${new Date(this.serverNow() + retryAfter * 1000).toISOString().slice(0, 16)}Z)`
          : "at midnight in Pipedrive's server time zone";
      this.stopped = new ConnectorError(
        `Pipedrive's daily API token budget for this company is used up (429 on GET ${endpoint}). It resets ${when}; the next sync continues from the saved state. To spend less, sync less often or deselect streams you do not need (email_messages costs one request per mail thread).`,
        'transient_error',
        { internalMessage: `HTTP 429 daily budget; retry-after ${retryAfter || 'absent'}` },
      );
      throw this.stopped;
    }
    return (retryAfter > 0 ? retryAfter : reset > 0 ? reset : 2) * 1000;
  }
}

function apiError(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as ApiBody;
    return typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

const isHtml = (response: Response, text: string) =>
  (response.headers.get('content-type') ?? '').includes('text/html') || text.trimStart().startsWith('<');

function humanDuration(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
