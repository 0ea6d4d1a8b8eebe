import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import fetch, { type Response } from 'node-fetch';
import { ConnectorError, configError } from '../../airbyte/errors.js';
import type { Logger } from '../../airbyte/logger.js';
import type { Authenticator, Authorization } from './auth.js';
import { RequestStats } from './stats.js';
import { BudgetExhausted, TokenLedger } from './ledger.js';
import { ServerClock, humanDuration } from './server-clock.js';
import { AttemptTimeout, linkSignals } from './signals.js';
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
  /** What is wrong with a 200 body's data, judged by the shape the endpoint documents; null when nothing is. A
   * malformed body is retried like a broken one, then fails the request. */
  validate?: (body: ApiBody) => string | null;
  /** Ends the request, its retries and its waits when the stream that made it ends. */
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** How requests authenticate, and where they go. */
  auth: Authenticator;
  timeoutMs: number;
  maxRetries: number;
  logger?: Logger;
  maxSockets?: number;
  /** Told when a stream has to wait for the burst limit, and until when (epoch ms). */
  onRateLimited?: (stream: string, resumeAt: number) => void;
  /** The most daily-budget tokens this client may spend: no request that would pass it is sent. */
  tokenBudget?: number;
  /** What to tell the user to change, in the configuration's words (which this layer does not know). */
  advice?: ClientAdvice;
}

export interface ClientAdvice {
  /** When Pipedrive does not answer in time. */
  slow: string;
  /** When the address cannot be reached, or redirects to another host. */
  address: string;
  /** When the configured address itself misbehaves (redirects to itself). */
  misbehaving: string;
  /** When a page is too big to read. */
  hugePage: string;
  /** When the company's daily token budget is spent. */
  spend: string;
}

const GENERIC_ADVICE: ClientAdvice = {
  slow: 'Try again later.',
  address: 'Check the address the connector is configured with.',
  misbehaving: 'Check the address the connector is configured with, or try again later.',
  hugePage: 'Ask for smaller pages, or check the address the connector is configured with.',
  spend: 'To spend less, sync less often or read fewer streams.',
};

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

/** The token's own user: who it belongs to, and whether an admin. */
export const CURRENT_USER_ENDPOINT = '/v1/users/me';

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** The longest wait a server may dictate. Pipedrive's burst window is 2 s; a longer wait means the daily budget, a
 * block, maintenance or something broken: the request fails with a message that says when to try again. */
export const MAX_SERVER_WAIT_MS = 60_000;
/** Waits longer than this are logged. */
const LONG_WAIT_MS = 5_000;
const MAX_BURST_WAITS = 10;
/** The most bytes read of one response, decompressed: a page of 500 v2 records is about 0.5 MB; only notes with very
 * long content come near this. Past it, reading on would only grow memory (a huge, endless or gzip-bomb body). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

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
 * The Pipedrive HTTP client every command uses: the credentials go in a header (never the URL) and only ever to the
 * API's origin (redirects are not followed; an OAuth token is renewed once on a 401), connections are kept alive, every request passes the
 * shared burst throttle, transient failures are retried with exponential backoff and jitter, every body is bounded and
 * its envelope checked, every wait the server asks for is capped, and HTTP errors become ConnectorErrors that tell
 * the user what to do.
 */
export class PipedriveClient {
  readonly stats = new RequestStats();
  readonly throttle: Throttle;
  private readonly agents: { http: http.Agent; https: https.Agent };
  /** Set once the daily budget is spent or Cloudflare blocks the token: no request may be sent after that. */
  private stopped: ConnectorError | null = null;
  /** Aborted by close(): requests in flight end, and no retry or wait outlives the client. */
  private readonly closing = new AbortController();
  /** Pipedrive's clock beside this machine's. */
  private readonly serverClock: ServerClock;
  /** The tokens spent, against `tokenBudget`. */
  private readonly ledger: TokenLedger;
  private requestsInFlight = 0;

  constructor(private readonly options: ClientOptions) {
    // Every request in flight listens to it.
    setMaxListeners(0, this.closing.signal);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 8 };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    this.throttle = new Throttle(options.logger);
    this.serverClock = new ServerClock(options.logger);
    this.ledger = new TokenLedger(options.tokenBudget);
  }

  private get advice(): ClientAdvice {
    return this.options.advice ?? GENERIC_ADVICE;
  }

  /** Requests sent whose response has not been read yet. */
  get inFlight(): number {
    return this.requestsInFlight;
  }

  /** Pipedrive's clock, estimated from the latest `Date` header (serverClock). */
  serverNow(): number {
    return this.serverClock.now();
  }

  /** An instant of the connector's clock by the earliest of the clocks seen (serverClock). */
  earliest(ms: number): number {
    return this.serverClock.earliest(ms);
  }

  /** Now by the latest of the clocks seen (serverClock). */
  latestNow(): number {
    return this.serverClock.latestNow();
  }

  /** Pipedrive's clock for a decision that must not rest on the machine's clock: if no response has told the time
   * yet, one request to `/v1/users/me` (2 tokens) does, counted for `stream`. */
  async knownServerNow(stream: string): Promise<number> {
    if (!this.serverClock.isKnown) await this.get({ endpoint: CURRENT_USER_ENDPOINT, stream, validate: objectData });
    return this.serverClock.now();
  }

  /** Why no request is sent any more, if the tokens ran out. */
  get budgetStop(): BudgetExhausted | undefined {
    return this.stopped instanceof BudgetExhausted ? this.stopped : undefined;
  }

  /** Tokens this client may still spend (Infinity without a budget; 0 once the tokens ran out). */
  get tokensLeft(): number {
    return this.stopped instanceof BudgetExhausted ? 0 : this.ledger.left;
  }

  /** Counts a request against the budget before it is sent; past the budget, stops the client instead. */
  private commit(endpoint: string): number {
    try {
      return this.ledger.commit(endpoint);
    } catch (error) {
      if (error instanceof BudgetExhausted) this.stopped = error;
      throw error;
    }
  }

  /** Ends every request in flight and every one still to come, with `reason`. */
  close(reason: Error = new ConnectorError('The connector stopped reading from Pipedrive.', 'system_error')): void {
    this.closing.abort(reason);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  async get(request: Request): Promise<ApiBody> {
    const linked = linkSignals([this.closing.signal, request.signal]);
    try {
      return await this.attempts(request, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  private async attempts(request: Request, signal: AbortSignal): Promise<ApiBody> {
    const counts = this.stats.of(request.stream);
    let burstWaits = 0;
    let renewed = false;
    for (let attempt = 0; ;) {
      this.assertOpen(signal);
      const release = await this.throttle.acquire(signal);
      let authorization: Authorization;
      let cost: number;
      try {
        this.assertOpen(signal);
        // Authorised only now that a slot is free: a token taken before the wait could expire during it.
        authorization = await this.options.auth.authorize();
        this.assertOpen(signal);
        cost = this.commit(request.endpoint);
      } catch (error) {
        release();
        throw error;
      }
      counts.requests++;
      const outcome = await this.exchange(authorization, request, signal, release)
        .catch((error: unknown) => {
          this.ledger.refund(cost);
          throw error;
        })
        .finally(release);
      if ('body' in outcome) {
        counts.tokens += cost;
        return outcome.body;
      }
      // Pipedrive charges the requests it serves.
      this.ledger.refund(cost);
      if ('unauthorized' in outcome) {
        // Once: a token refreshed just now that is refused again will not do better the next time.
        if (renewed || !(await this.options.auth.renew(authorization))) throw configError(this.options.auth.rejected);
        renewed = true;
        continue;
      }
      if ('waitMs' in outcome) {
        counts.rateLimited++;
        if (++burstWaits > MAX_BURST_WAITS) {
          throw new ConnectorError(
            `Pipedrive kept answering 429 (burst rate limit) on ${request.endpoint}; stopped to avoid being blocked. Another integration may be using the same API token heavily.`,
            'transient_error',
          );
        }
        this.logWait(outcome.waitMs, `GET ${request.endpoint} (${request.stream}): rate limited (429)`);
        this.throttle.pause(outcome.waitMs);
        this.options.onRateLimited?.(request.stream, Date.now() + outcome.waitMs);
        continue;
      }
      const { retry } = outcome;
      if (retry.waitMs !== undefined && retry.waitMs > MAX_SERVER_WAIT_MS) {
        throw new ConnectorError(
          `Pipedrive answered GET ${request.endpoint} with "${retry.reason}" and asked to wait ${humanDuration(retry.waitMs / 1000)}; stopped instead of waiting that long. Try again after ${this.serverTimeIn(retry.waitMs)}.`,
          'transient_error',
          { internalMessage: `GET ${request.endpoint}: ${retry.reason}; retry-after ${retry.waitMs / 1000} s` },
        );
      }
      if (attempt >= this.options.maxRetries) {
        throw new ConnectorError(retry.giveUp(attempt + 1), 'transient_error', {
          internalMessage: `GET ${request.endpoint}: ${retry.reason}`,
        });
      }
      const backoff = Math.max(
        retry.waitMs ?? 0,
        Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.5 + Math.random() / 2),
      );
      attempt++;
      counts.retries++;
      this.options.logger?.warn(
        `GET ${request.endpoint} (${request.stream}): ${retry.reason}; retrying in ${Math.round(backoff)} ms`,
      );
      await sleep(backoff, signal);
    }
  }

  private assertOpen(signal: AbortSignal): void {
    if (this.stopped) throw this.stopped;
    if (signal.aborted) throw signal.reason;
  }

  private logWait(ms: number, why: string): void {
    if (ms > LONG_WAIT_MS) this.options.logger?.warn(`${why}; waiting ${Math.round(ms / 1000)} s as Pipedrive asked`);
  }

  /** When `ms` from now is in Pipedrive's time, for messages: `2026-11-01 10:20 UTC`. */
  private serverTimeIn(ms: number): string {
    const at = new Date(this.serverNow() + Math.min(ms, 10 * 365 * 86_400_000));
    return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  }

  /** One HTTP request and its response: a body, a burst-limit wait, or a failure worth retrying. Anything else
   * (an HTTP error, a redirect, a spent daily budget) is thrown. */
  private async exchange(
    authorization: Authorization,
    request: Request,
    signal: AbortSignal,
    /** Frees the request's throttle slot: called once the response's headers are in (the server has counted it). */
    answered: () => void,
  ): Promise<{ body: ApiBody } | { waitMs: number } | { retry: Retryable } | { unauthorized: true }> {
    this.requestsInFlight++;
    const url = this.url(authorization.origin, request);
    // The timeout covers the whole exchange, the body included (a body that trickles in forever).
    const attempt = linkSignals([signal], this.options.timeoutMs);
    try {
      const response = await this.send(url, authorization, request.endpoint, attempt.signal, signal);
      answered();
      if (response.status >= 300 && response.status < 400)
        throw await this.redirectError(response, url, request.endpoint);
      if (response.status === 401) {
        await response.text().catch(() => '');
        return { unauthorized: true };
      }
      if (response.status === 429) {
        return { waitMs: this.rateLimitWait(response, await response.text().catch(() => ''), request.endpoint) };
      }
      return { body: await this.parse(response, request) };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof Retryable) return { retry: error };
      if (attempt.signal.aborted) return { retry: this.networkFailure(error, url, request.endpoint) };
      throw error;
    } finally {
      attempt.dispose();
      this.requestsInFlight--;
    }
  }

  private url(origin: string, request: Request): string {
    const path = request.endpoint.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(String(request.pathParams?.[name] ?? '')),
    );
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) query.set(key, String(value));
    }
    const search = query.toString();
    return `${origin}${path}${search ? `?${search}` : ''}`;
  }

  /** `signal` ends this attempt (its timeout, or `parent`); `parent` is the request's own, whose end is not retried. */
  private async send(
    url: string,
    authorization: Authorization,
    endpoint: string,
    signal: AbortSignal,
    parent: AbortSignal,
  ): Promise<Response> {
    try {
      const response = await fetch(url, {
        headers: { ...authorization.headers, accept: 'application/json' },
        agent: (parsed) => (parsed.protocol === 'http:' ? this.agents.http : this.agents.https),
        // Credentials must never reach another host: a redirect is an error (see redirectError), never followed.
        redirect: 'manual',
        size: MAX_BODY_BYTES,
        signal,
      });
      this.throttle.observe(response.headers);
      this.serverClock.observe(response.headers.get('date'));
      return response;
    } catch (error) {
      if (parent.aborted) throw parent.reason;
      throw this.networkFailure(error, url, endpoint);
    }
  }

  private networkFailure(error: unknown, url: string, endpoint: string): Retryable {
    const { name, code, message } = error as { name?: string; code?: string; message?: string };
    const { timeoutMs } = this.options;
    const { origin } = new URL(url);
    if (name === 'AbortError' || name === 'TimeoutError' || error instanceof AttemptTimeout) {
      return new Retryable(
        `no answer within ${timeoutMs / 1000} s`,
        (n) =>
          `Pipedrive did not answer GET ${endpoint} within ${timeoutMs / 1000} s (${n} attempts). ${this.advice.slow}`,
      );
    }
    const reason = code ?? message ?? 'network error';
    return new Retryable(
      `connection failed (${reason})`,
      (n) => `Could not reach Pipedrive at ${origin} (${reason}; ${n} attempts). ${this.advice.address}`,
    );
  }

  /** A redirect is never followed, since the token would go with it: an error that names where it pointed. Another
   * host is a configuration to fix; the same host, a server that misbehaves. */
  private async redirectError(response: Response, url: string, endpoint: string): Promise<ConnectorError> {
    await response.text().catch(() => '');
    const origin = new URL(url);
    let target: URL | null = null;
    try {
      target = new URL(response.headers.get('location') ?? '', url);
    } catch {
      // no usable Location
    }
    const where = target ? `${target.protocol}//${target.host}` : 'an unusable address';
    const internalMessage = `HTTP ${response.status} on GET ${endpoint} to ${where}`;
    const told = `Pipedrive's address ${origin.protocol}//${origin.host} answered GET ${endpoint} with a redirect (HTTP ${response.status}) to ${where}. The connector never follows redirects, so that the API token goes nowhere but the configured address.`;
    if (target && target.host !== origin.host) {
      return new ConnectorError(`${told} ${this.advice.address}`, 'config_error', { internalMessage });
    }
    return new ConnectorError(`${told} ${this.advice.misbehaving}`, 'system_error', {
      internalMessage,
    });
  }

  private async parse(response: Response, request: Request): Promise<ApiBody> {
    const { endpoint } = request;
    const broken = (reason: string) =>
      new Retryable(
        reason,
        (n) => `Pipedrive sent a broken response to GET ${endpoint} ${n} times in a row (${reason}). Try again later.`,
      );
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if ((error as { type?: string }).type === 'max-size') {
        throw new ConnectorError(
          `Pipedrive's answer to GET ${endpoint} was larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB; stopped reading it. No Pipedrive page is that big unless its records are huge (notes with very long content). ${this.advice.hugePage}`,
          'system_error',
          { internalMessage: `body over ${MAX_BODY_BYTES} bytes on GET ${endpoint}` },
        );
      }
      throw broken(`the body was cut off: ${(error as Error).message}`);
    }
    if (response.ok) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw broken(`the body is not valid JSON (${text.length} bytes)`);
      }
      const problem = envelopeProblem(body) ?? request.validate?.(body as ApiBody) ?? null;
      if (problem) throw broken(`malformed response: ${problem}`);
      return body as ApiBody;
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
    if (status === 402) {
      return new HttpStatusError(
        402,
        `Pipedrive refused GET ${endpoint} (402 Payment Required${apiMessage ? `: "${apiMessage}"` : ''}): the company's plan may not include this feature, or the account is not open (a trial that expired, missing payment details). An admin can check under Company settings → Billing.`,
        'config_error',
        internal,
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
        `Pipedrive refused GET ${endpoint} (403): "${apiMessage ?? 'forbidden'}". ${this.options.auth.forbidden(endpoint)}`,
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

  /** How long to wait after a burst 429. A spent daily budget, or a wait longer than a burst window can explain,
   * stops the client instead: waiting cannot help, and asking again risks a block. */
  private rateLimitWait(response: Response, text: string, endpoint: string): number {
    const retryAfter = seconds(response.headers.get('retry-after'));
    const reset = seconds(response.headers.get('x-ratelimit-reset'));
    const waitMs = (retryAfter ?? reset ?? 2) * 1000;
    const daily = /daily request budget/i.test(text);
    if (!daily && waitMs <= MAX_SERVER_WAIT_MS) return waitMs;
    const when =
      retryAfter !== undefined
        ? `in about ${humanDuration(retryAfter)} (around ${this.serverTimeIn(retryAfter * 1000)})`
        : "at midnight in Pipedrive's server time zone";
    this.stopped =
      daily || retryAfter !== undefined
        ? new BudgetExhausted(
            'daily',
            `Pipedrive's daily API token budget for this company is used up (429 on GET ${endpoint}). It resets ${when}; the next sync continues from the saved state. ${this.advice.spend}`,
            `HTTP 429 daily budget; retry-after ${retryAfter ?? 'absent'}`,
          )
        : new ConnectorError(
            `Pipedrive answered 429 to GET ${endpoint} and asked to wait ${humanDuration(waitMs / 1000)}, far longer than its 2-second burst window; stopped instead of waiting. Try again after ${this.serverTimeIn(waitMs)}; the next sync continues from the saved state.`,
            'transient_error',
            { internalMessage: `HTTP 429; x-ratelimit-reset ${reset}` },
          );
    throw this.stopped;
  }
}

/** A header's whole seconds, or undefined when absent, not a number or not positive. */
function seconds(value: string | null): number | undefined {
  const n = Number(value);
  return value !== null && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** What is wrong with a 200 body's envelope (every Pipedrive answer is an object with `success: true`), or null. */
function envelopeProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return `the body is ${describeJson(body)}, not an object`;
  const { success, error } = body as ApiBody;
  if (success !== true)
    return `success is ${JSON.stringify(success)}${typeof error === 'string' ? ` ("${error.slice(0, 200)}")` : ''}`;
  return null;
}

/** A validator for endpoints whose `data` is one object (such as `/v1/users/me`). */
export const objectData = (body: ApiBody): string | null =>
  typeof body.data === 'object' && body.data !== null && !Array.isArray(body.data)
    ? null
    : `data is ${describeJson(body.data)}, not an object`;

/** A JSON value's kind, for messages (never its content, which could be anything). */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
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
