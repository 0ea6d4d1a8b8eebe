// A local Pipedrive: the endpoints the connector uses, over real HTTP on 127.0.0.1, with Pipedrive's pagination,
// auth, rate limits, daily token budget, deprecations and quirks, plus faults a test can inject.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { CompanyClock } from './clock.js';
import {
  ARCHIVED_BIT,
  DEAL_STATUSES,
  DELETED_BIT,
  Dataset,
  MAIL_FOLDERS,
  ORGANIZATION_COUNTS,
  PERSON_COUNTS,
  PROJECT_STATUSES,
  v1Time,
  type ChildName,
  type DatasetOptions,
} from './dataset.js';
import { v1Definition, v2Definition, v2StandardDefinition, type FieldEntity } from './fields.js';
import { OAuthServer } from './oauth.js';
import { Random } from './random.js';
import type { Table } from './table.js';

type Json = Record<string, unknown>;

export type FaultKind =
  | `http${400 | 402 | 403 | 404 | 408 | 410 | 429 | 500 | 502 | 503 | 504}`
  | 'reset'
  | 'truncate'
  | 'invalid-json'
  | 'latency'
  | 'burst429'
  | 'daily429'
  | 'cloudflare403'
  | 'expire-access' // every OAuth access token expires, then the request is answered as usual (a 401 for OAuth)
  // What no well-behaved Pipedrive does, as a proxy, a captive portal or an attacker might:
  | 'redirect' // `status` (default 302) to `location`
  | 'body' // `body` (a function gets the request's token) with `status` (default 200) and `headers`
  | 'headers' // the normal answer, with `headers` added
  | 'flood' // a 200 of `bytes` bytes (or endless), `gzip`-encoded if asked
  | 'slow-body'; // the normal answer's status and headers at once, its body `delayMs` later (a slow link, a busy proxy)

export interface Fault {
  kind: FaultKind;
  /** Only requests whose path starts with this (e.g. `/api/v2/deals`); default: every API request. The OAuth token
   * endpoint takes only faults that name it (`/oauth/token`): an http fault (no exchange happens), `latency`, or
   * `body`, whose function gets the OAuth server's own answer (the exchange happened). */
  path?: string;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Matching requests to let through first (default 0). */
  after?: number;
  /** Seconds: `x-ratelimit-reset` of a burst429, `retry-after` of a daily429, http429 or http503. */
  retryAfter?: number;
  /** Milliseconds, for `latency` and `slow-body`. */
  delayMs?: number;
  status?: number;
  location?: string;
  body?: string | ((token: string) => string);
  headers?: Record<string, string>;
  bytes?: number | 'endless';
  gzip?: boolean;
}

export interface SimulatorOptions extends DatasetOptions {
  /** Requests per token per rolling 2 s window (Pipedrive: 20 to 120 by plan). */
  burstLimit?: number;
  /** Daily token budget of the company (30,000 × plan multiplier × seats). */
  dailyBudget?: number;
  /** Added to every response, in ms. */
  latencyMs?: number;
  /** Share of requests (0..1) that fail at random with a 5xx, a reset or a truncated body; seeded. */
  faultRate?: number;
  /** Answer every request with 402, as for a company whose trial expired. */
  accountClosed?: boolean;
  /** 429 answers within 10 s after which a token is blocked by "Cloudflare" with HTML 403s for a minute. */
  cloudflareAfter?: number;
  /** Keep a log of every request (default true). */
  logRequests?: boolean;
  /** Serve https with this key and certificate (PEM) instead of http. */
  tls?: { key: string; cert: string };
  /** `/v1/goals/find`'s filters that mean "everyone's goals" (`assignee.type`, `expected_outcome.tracking_metric`)
   * filter by their value (default), or, as the documentation's wording also allows, only widen to everyone's. */
  goalFiltersIgnored?: boolean;
  /** The plan features and add-ons the company has (default: all). Without one, its endpoints answer 403 with
   * Pipedrive's JSON error body. Also settable later, on `simulator.features`. */
  features?: PlanFeatures;
}

/** Features a Pipedrive company may lack: the Projects add-on (projects, boards, phases, project fields and
 * templates, tasks), installments (Growth plan and above), call logs (a calling integration). */
export interface PlanFeatures {
  projects?: boolean;
  installments?: boolean;
  callLogs?: boolean;
}

/** The endpoints of each plan feature, and what Pipedrive says to a company without it. */
const FEATURE_ENDPOINTS: Record<keyof PlanFeatures, { path: RegExp; refusal: string }> = {
  projects: {
    path: /^\/api\/v2\/(projects|projects\/archived|boards|phases|projectFields|projectTemplates|tasks)$/,
    refusal: 'Projects are not available for this company: the Projects add-on is not enabled.',
  },
  installments: {
    path: /^\/api\/v2\/deals\/installments$/,
    refusal: 'Installments are only available in Growth and above plans.',
  },
  callLogs: {
    path: /^\/v1\/callLogs$/,
    refusal: 'Call logs are not available for this company.',
  },
};

export interface LoggedRequest {
  path: string;
  query: Record<string, string>;
  /** How the token came: `x-api-token` header, `api_token` query parameter, an OAuth `Authorization: Bearer`
   * header, or not at all. */
  tokenVia: 'header' | 'query' | 'bearer' | 'none';
  status: number;
  /** The machine's time of arrival (burst timing is real time), not the company's. */
  at: number;
}

/** Tokens the simulator accepts, and whose user they are: 1 is a global admin, 2 is not, 3 is an admin known only by
 * the legacy `is_admin` flag. */
export const TOKENS = {
  admin: 'sim-admin-0123456789abcdef0123456789abcdef',
  user: 'sim-user-0123456789abcdef0123456789abcdef',
  legacyAdmin: 'sim-legacy-0123456789abcdef0123456789abcd',
} as const;
/** How the simulator tells an OAuth access token from an API token internally. */
const BEARER = 'Bearer ';
const USER_OF_TOKEN: Record<string, number> = { [TOKENS.admin]: 1, [TOKENS.user]: 2, [TOKENS.legacyAdmin]: 3 };

const fixture = <T>(name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
const TOKEN_COSTS = fixture<Record<string, number>>('token-costs.json');
const OAUTH_SCOPES = fixture<Record<string, string[] | undefined>>('oauth-scopes.json');
const WINDOW_MS = 2000;
const DAY_MS = 86_400_000;

/** The v1 list endpoints Pipedrive retired in favour of v2. */
const RETIRED = /^\/v1\/(deals|persons|organizations|activities|products|pipelines|stages)(\/collection|\/archived)?$/;

/** Optional fields per v2 list: returned only when named in `include_fields`. */
const DEAL_OPTIONAL = [
  'next_activity_id',
  'last_activity_id',
  'first_won_time',
  'products_count',
  'files_count',
  'notes_count',
  'followers_count',
  'email_messages_count',
  'activities_count',
  'done_activities_count',
  'undone_activities_count',
  'participants_count',
  'last_incoming_mail_time',
  'last_outgoing_mail_time',
  'smart_bcc_email',
];
const CONTACT_IDS = ['next_activity_id', 'last_activity_id', 'smart_bcc_email'];
const PERSON_OPTIONAL = [...CONTACT_IDS, ...PERSON_COUNTS, 'last_incoming_mail_time', 'last_outgoing_mail_time'];
const ORGANIZATION_OPTIONAL = [...CONTACT_IDS, ...ORGANIZATION_COUNTS];

const FAULT_MESSAGES: Record<number, string> = {
  400: 'Request not understood',
  402: 'Payment required: your plan does not include this feature',
  403: 'You do not have permissions to do this.',
  404: 'Entity was not found',
  410: 'Old resource permanently unavailable',
  429: 'Request over limit',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const ok = (data: string, additional?: unknown): Reply => ({
  status: 200,
  body: `{"success":true,"data":${data}${additional === undefined ? '' : `,"additional_data":${JSON.stringify(additional)}`}}`,
});
const error = (status: number, message: string): Reply => ({
  status,
  body: JSON.stringify({
    success: false,
    error: message,
    error_info: 'Please check developers.pipedrive.com',
    data: null,
    additional_data: null,
    errorCode: status,
  }),
});

export class PipedriveSimulator {
  readonly dataset: Dataset;
  readonly requests: LoggedRequest[] = [];
  readonly stats = { requests: 0, connections: 0, tokensSpent: 0, burst429: 0, daily429: 0, blocked403: 0 };
  burstLimit: number;
  dailyBudget: number;
  latencyMs: number;
  accountClosed: boolean;
  /** How far the `Date` header is off the company's clock, in ms (a server or proxy whose clock is wrong). */
  dateSkewMs = 0;
  /** The plan features the company has; a test may switch one off (`simulator.features.projects = false`). */
  readonly features: Required<PlanFeatures>;
  private readonly faults: (Fault & { seen: number; left: number })[] = [];
  private readonly windows = new Map<string, number[]>();
  private readonly rejections = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();
  /** The daily budget spent on the company's current day (UTC, the company's clock). */
  private budget = { day: 0, spent: 0 };
  private readonly random: Random;
  private server?: http.Server;
  /** The OAuth server at /oauth/token; API requests may carry its access tokens. */
  readonly oauth: OAuthServer;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.dataset = new Dataset(options);
    this.burstLimit = options.burstLimit ?? 40;
    this.dailyBudget = options.dailyBudget ?? 600_000;
    this.latencyMs = options.latencyMs ?? 0;
    this.accountClosed = options.accountClosed ?? false;
    this.features = { projects: true, installments: true, callLogs: true, ...options.features };
    this.random = new Random(this.dataset.seed);
    this.oauth = new OAuthServer(this.dataset.clock, () => this.origin);
  }

  /** Starts listening on 127.0.0.1 (a random free port by default) and returns the origin, e.g. http://127.0.0.1:8089. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) =>
      void this.handle(request, response);
    const tls = this.options.tls;
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.server.on(tls ? 'secureConnection' : 'connection', () => this.stats.connections++);
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return this.origin;
  }

  /** The company's clock (the dataset's): tests set and advance it. */
  get clock(): CompanyClock {
    return this.dataset.clock;
  }

  get origin(): string {
    const { address, port } = this.server!.address() as AddressInfo;
    return `${this.options.tls ? 'https' : 'http'}://${address}:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
    this.server = undefined;
  }

  /** Makes the next matching requests fail in the given way. */
  inject(fault: Fault): void {
    this.faults.push({ ...fault, seen: 0, left: fault.times ?? 1 });
  }

  /** Forgets logged requests, counters, pending faults and spent budget (not the data). */
  reset(): void {
    this.requests.length = 0;
    this.faults.length = 0;
    Object.assign(this.stats, { requests: 0, connections: 0, tokensSpent: 0, burst429: 0, daily429: 0, blocked403: 0 });
    this.budget = { day: 0, spent: 0 };
    this.windows.clear();
    this.rejections.clear();
    this.blockedUntil.clear();
  }

  requestsTo(path: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Serialises every record once, so that serving them later costs the simulator almost nothing (benchmarks). */
  prewarm(): void {
    for (const table of Object.values(this.dataset.tables)) {
      for (const id of table.order('index')) table.json(id, '', JSON.stringify);
    }
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator');
    if (url.pathname.startsWith('/__simulator/')) return this.control(url.pathname, response);
    if (url.pathname === '/oauth/token' && request.method === 'POST') return this.tokenExchange(request, response);
    const path = url.pathname.replace(/^\/api\/v1\//, '/v1/').replace(/\/+$/, '');
    const query = Object.fromEntries(url.searchParams);
    const headerToken = request.headers['x-api-token'];
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const token = bearer
      ? `${BEARER}${bearer}`
      : typeof headerToken === 'string'
        ? headerToken
        : (query.api_token ?? '');
    const entry: LoggedRequest = {
      path,
      query,
      tokenVia: bearer ? 'bearer' : headerToken ? 'header' : query.api_token ? 'query' : 'none',
      status: 0,
      at: Date.now(),
    };
    this.stats.requests++;
    if (this.options.logRequests !== false) this.requests.push(entry);

    const fault = this.takeFault(path);
    if (fault?.kind === 'expire-access') this.oauth.expireAccessTokens();
    const delay = this.latencyMs + (fault?.kind === 'latency' ? (fault.delayMs ?? 1000) : 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    // A client that gave up meanwhile (a timeout) gets no answer, and the request is not counted.
    if (request.socket.destroyed) return;
    if (fault?.kind === 'reset') {
      entry.status = -1;
      request.socket.destroy();
      return;
    }
    if (fault?.kind === 'redirect') {
      entry.status = fault.status ?? 302;
      response.writeHead(entry.status, { location: fault.location ?? '/', 'content-type': 'text/html' });
      response.end('<html><body>Moved</body></html>');
      return;
    }
    if (fault?.kind === 'flood') {
      entry.status = 200;
      return flood(response, fault.bytes ?? 'endless', fault.gzip ?? false);
    }
    const reply = this.reply(path, url.searchParams, token, fault);
    entry.status = reply.status;
    const headers = {
      'content-type': 'application/json',
      date: new Date(this.clock.now() + this.dateSkewMs).toUTCString(),
      ...this.rateHeaders(token),
      ...reply.headers,
      ...(fault?.kind === 'headers' ? fault.headers : {}),
    };
    if (fault?.kind === 'truncate' && reply.status === 200) {
      // Promise the whole body, send half, then drop the connection.
      response.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(reply.body) });
      response.write(reply.body.slice(0, Math.floor(reply.body.length / 2)));
      setImmediate(() => request.socket.destroy());
      return;
    }
    response.writeHead(reply.status, headers);
    if (fault?.kind === 'slow-body') {
      response.flushHeaders();
      setTimeout(() => response.end(reply.body), fault.delayMs ?? 1000);
      return;
    }
    response.end(reply.body);
  }

  /** POST /oauth/token: the form body read whole (it is small), then the OAuth server's answer. */
  private async tokenExchange(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const fault = this.takeFault('/oauth/token', true);
    // As a real server: the exchange happens once the request is in, whatever becomes of its answer.
    let reply: Reply;
    if (fault?.kind.startsWith('http')) reply = this.reply('/oauth/token', new URLSearchParams(), '', fault);
    else {
      reply = this.oauth.token(request.headers.authorization, form);
      if (fault?.kind === 'body' && typeof fault.body === 'function')
        reply = { status: fault.status ?? reply.status, body: fault.body(reply.body) };
    }
    if (fault?.kind === 'latency') await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 1000));
    this.requests.push({ path: '/oauth/token', query: {}, tokenVia: 'none', status: reply.status, at: Date.now() });
    response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    response.end(reply.body);
  }

  /** For processes other than the test's own (benchmarks, the demo): GET /__simulator/stats, POST /__simulator/reset. */
  private control(path: string, response: http.ServerResponse): void {
    if (path === '/__simulator/reset') this.reset();
    const body = path === '/__simulator/requests' ? this.requests : this.stats;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  /** The fault for a request to `path`, if any; `named`: only a fault whose path names it. */
  private takeFault(path: string, named = false): Fault | undefined {
    for (const fault of this.faults) {
      if (fault.left <= 0 || (fault.path ? !path.startsWith(fault.path) : named)) continue;
      if (fault.seen++ < (fault.after ?? 0)) continue;
      fault.left--;
      return fault;
    }
    if (named) return undefined;
    if (this.options.faultRate && this.random.chance(this.options.faultRate)) {
      return { kind: this.random.pick(['http500', 'http503', 'reset', 'truncate'] as const) };
    }
    return undefined;
  }

  /** Everything between the connection and the route: faults, auth, rate limits, budget. */
  private reply(path: string, params: URLSearchParams, token: string, fault?: Fault): Reply {
    const now = Date.now();
    if (fault?.kind.startsWith('http')) {
      const status = Number(fault.kind.slice(4));
      const reply = error(status, FAULT_MESSAGES[status] ?? 'Requested service is not available');
      return fault.retryAfter ? { ...reply, headers: { 'retry-after': String(fault.retryAfter) } } : reply;
    }
    switch (fault?.kind) {
      case 'body': {
        const body = typeof fault.body === 'function' ? fault.body(token) : (fault.body ?? '');
        return { status: fault.status ?? 200, body, headers: fault.headers };
      }
      case 'invalid-json':
        return { status: 200, body: '{"success":true,"data":[{"id":1,' };
      case 'cloudflare403':
        return this.cloudflarePage();
      case 'burst429':
        return this.burstRejection(token, now, fault.retryAfter);
      case 'daily429':
        return this.dailyRejection(fault.retryAfter);
    }
    const grant = token.startsWith(BEARER) ? this.oauth.grantOf(token.slice(BEARER.length)) : undefined;
    const user = token.startsWith(BEARER) ? grant?.user : USER_OF_TOKEN[token];
    if (user === undefined)
      return { status: 401, body: '{"success":false,"error":"unauthorized access","errorCode":401}' };
    if ((this.blockedUntil.get(token) ?? 0) > now) return this.cloudflarePage();
    const window = this.window(token, now);
    window.push(now);
    if (window.length > this.limitOf(token)) return this.burstRejection(token, now);
    if (this.accountClosed) return error(402, 'Company account is not open');
    if (RETIRED.test(path)) return error(410, `${path} is no longer supported; use the API v2 endpoint instead.`);
    const endpoint = endpointOf(path);
    // Pipedrive answers an OAuth token without a scope the endpoint accepts with 403 (as Airbyte's users have seen).
    const accepted = OAUTH_SCOPES[`GET ${endpoint}`];
    if (grant && accepted && !accepted.some((scope) => grant.scopes.includes(scope)))
      return error(403, 'Scope and URL mismatch');
    const cost = TOKEN_COSTS[`GET ${endpoint}`] ?? 0;
    const today = Math.floor(this.clock.now() / DAY_MS);
    if (this.budget.day !== today) this.budget = { day: today, spent: 0 };
    if (this.budget.spent + cost > this.dailyBudget) return this.dailyRejection();
    let reply: Reply;
    try {
      reply = this.route(path, params, user);
    } catch (failure) {
      if (!(failure instanceof HttpError)) throw failure;
      reply = error(failure.status, failure.message);
    }
    // Pipedrive charges the endpoint's token cost for every request it serves.
    if (reply.status === 200) {
      this.stats.tokensSpent += cost;
      this.budget.spent += cost;
    }
    return reply;
  }

  private window(token: string, now: number): number[] {
    let window = this.windows.get(token);
    if (!window) this.windows.set(token, (window = []));
    while (window.length > 0 && window[0]! <= now - WINDOW_MS) window.shift();
    return window;
  }

  /** The burst limit of a token: an OAuth app's is four times an API token's, as on every Pipedrive plan. */
  private limitOf(token: string): number {
    return token.startsWith(BEARER) ? this.burstLimit * 4 : this.burstLimit;
  }

  private rateHeaders(token: string): Record<string, string> {
    const now = Date.now();
    const window = this.window(token, now);
    const reset = window.length > 0 ? Math.max(1, Math.ceil((window[0]! + WINDOW_MS - now) / 1000)) : 0;
    return {
      'x-ratelimit-limit': String(this.limitOf(token)),
      'x-ratelimit-remaining': String(Math.max(0, this.limitOf(token) - window.length)),
      'x-ratelimit-reset': String(reset),
    };
  }

  private burstRejection(token: string, now: number, resetSeconds?: number): Reply {
    this.stats.burst429++;
    // Clients that keep going after 429s end up blocked, as Pipedrive's Cloudflare does.
    const recent = (this.rejections.get(token) ?? []).filter((at) => at > now - 10_000);
    recent.push(now);
    this.rejections.set(token, recent);
    if (recent.length >= (this.options.cloudflareAfter ?? 20)) this.blockedUntil.set(token, now + 60_000);
    const reply = { status: 429, body: '{"success":false,"error":"Request over limit","errorCode":429}' };
    return resetSeconds
      ? { ...reply, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetSeconds) } }
      : reply;
  }

  /** The budget resets at the company's next midnight (UTC here; Pipedrive says "server's timezone"). */
  private dailyRejection(retryAfter?: number): Reply {
    this.stats.daily429++;
    const now = this.clock.now();
    const midnight = Math.ceil((now + 1) / DAY_MS) * DAY_MS;
    return {
      status: 429,
      body: '{"success":false,"error":"daily request budget exceeded","errorCode":429}',
      headers: { 'retry-after': String(retryAfter ?? Math.ceil((midnight - now) / 1000)) },
    };
  }

  private cloudflarePage(): Reply {
    this.stats.blocked403++;
    return {
      status: 403,
      body: '<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>This error is produced by Cloudflare. Sorry, you have been blocked.</body></html>',
      headers: { 'content-type': 'text/html; charset=UTF-8' },
    };
  }

  // ---------------------------------------------------------------- routes

  /** The endpoints the simulator serves, as a table: path → the answer, from the dataset's table of the same data.
   * A full-table list is one line: `'/v1/x': () => this.whole('x')`. */
  private readonly routes: Record<string, (params: URLSearchParams, user: number) => Reply> = {
    '/v1/users/me': (_, user) => this.currentUser(user),
    '/v1/users': (_, user) =>
      ok(
        list(
          rows(this.table('users')).map((id) =>
            JSON.stringify({ ...this.table('users').get(id), is_you: id === user }),
          ),
        ),
      ),
    '/v1/activityTypes': () => this.whole('activity_types'),
    '/v1/currencies': () => this.whole('currencies'),
    '/v1/filters': (params) =>
      this.whole(
        'filters',
        (record) => record.active_flag !== false && (!params.has('type') || record.type === params.get('type')),
      ),
    '/v1/goals/find': (params, user) => this.goals(params, user),
    '/v1/noteFields': () => this.v1Fields('note'),
    '/v1/notes': (params) => this.v1Notes(params),
    '/v1/files': (params) =>
      this.offsetPage(live(this.table('files'), sortedV1(this.table('files'), params.get('sort'))), params, 100, (id) =>
        this.table('files').json(id, '', JSON.stringify),
      ),
    '/v1/recents': (params) => this.recents(params),
    '/v1/leads': (params) => this.leads(params, false),
    '/v1/leads/archived': (params) => this.leads(params, true),
    '/v1/leadLabels': () => this.whole('lead_labels'),
    '/v1/leadSources': () => this.whole('lead_sources'),
    '/api/v2/deals/products': (params) => this.dealProducts(params),
    '/v1/mailbox/mailThreads': (params) => this.mailThreads(params),
    '/api/v2/activities': (params) =>
      this.v2List(this.table('activities'), params, { optional: ['attendees'], untilAllowed: true }),
    '/api/v2/deals': (params) =>
      this.v2List(this.table('deals'), params, {
        optional: DEAL_OPTIONAL,
        untilAllowed: true,
        keep: dealFilter(params, false),
      }),
    '/api/v2/deals/archived': (params) =>
      this.v2List(this.table('deals'), params, {
        optional: DEAL_OPTIONAL,
        untilAllowed: true,
        keep: dealFilter(params, true),
      }),
    '/api/v2/organizations': (params) =>
      this.v2List(this.table('organizations'), params, { optional: ORGANIZATION_OPTIONAL, untilAllowed: true }),
    '/api/v2/persons': (params) =>
      this.v2List(this.table('persons'), params, { optional: PERSON_OPTIONAL, untilAllowed: true }),
    '/api/v2/products': (params) => this.v2List(this.table('products'), params, { sinceAllowed: true }),
    '/api/v2/pipelines': (params) => this.v2List(this.table('pipelines'), params, { sinceAllowed: false }),
    '/api/v2/stages': (params) => {
      const pipeline = params.get('pipeline_id');
      const stages = this.table('stages');
      const keep = pipeline ? (id: number) => stages.get(id)?.pipeline_id === Number(pipeline) : undefined;
      return this.v2List(stages, params, { sinceAllowed: false, keep });
    },
    '/api/v2/deals/installments': (params) => this.installments(params),
    '/api/v2/projects': (params) => this.projects(params, false),
    '/api/v2/projects/archived': (params) => this.projects(params, true),
    // Boards and phases are not paged: everything in one response, `additional_data` null.
    '/api/v2/boards': () =>
      ok(list(rows(this.table('project_boards')).map((id) => this.recordJson('project_boards', id))), null),
    '/api/v2/phases': (params) => this.phases(params),
    '/api/v2/projectTemplates': (params) =>
      this.v2List(this.table('project_templates'), params, { sinceAllowed: false }),
    '/api/v2/tasks': (params) => this.tasks(params),
    '/v1/callLogs': (params) => this.callLogs(params),
    '/v1/leadFields': (params) => this.offsetList(this.dataset.leadFields(), params),
    '/v1/roles': (params) =>
      this.offsetPage(rows(this.table('roles')), params, 500, (id) => this.recordJson('roles', id)),
    '/v1/permissionSets': (params) =>
      this.whole('permission_sets', (set) => !params.has('app') || set.app === params.get('app')),
    '/v1/legacyTeams': (params) => this.legacyTeams(params),
  };

  private route(path: string, params: URLSearchParams, user: number): Reply {
    for (const [feature, { path: endpoints, refusal }] of Object.entries(FEATURE_ENDPOINTS))
      if (!this.features[feature as keyof PlanFeatures] && endpoints.test(path)) throw new HttpError(403, refusal);
    const fields = /^\/api\/v2\/(deal|person|organization|product|activity|project)Fields$/.exec(path);
    if (fields) return this.v2Fields(fields[1] as FieldEntity, params);
    const route = this.routes[path];
    if (route) return route(params, user);
    const messages = /^\/v1\/mailbox\/mailThreads\/([^/]+)\/mailMessages$/.exec(path);
    if (messages) return this.mailMessages(Number(messages[1]), params);
    const changelog = CHANGELOG.exec(path);
    if (changelog)
      return this.changelog(changelog[1] as 'deals' | 'persons' | 'organizations', Number(changelog[2]), params);
    const followers = /^\/api\/v2\/(deal|person|organization|product)s\/([^/]+)\/followers$/.exec(path);
    if (followers)
      return cursorPage(this.childrenOf(`${followers[1]}_followers` as ChildName, followers[2]!), params, 100);
    const variations = /^\/api\/v2\/products\/([^/]+)\/variations$/.exec(path);
    if (variations) return cursorPage(this.childrenOf('product_variations', variations[1]!), params, 100);
    const participants = /^\/v1\/deals\/([^/]+)\/participants$/.exec(path);
    if (participants) return this.participants(this.childrenOf('deal_participants', participants[1]!), params);
    const roleAssignments = /^\/v1\/roles\/([^/]+)\/assignments$/.exec(path);
    if (roleAssignments) return this.offsetList(this.childrenOf('role_assignments', roleAssignments[1]!), params);
    const setAssignments = /^\/v1\/permissionSets\/([^/]+)\/assignments$/.exec(path);
    if (setAssignments) {
      // One response, however many (start and limit are taken, and ignored); a set without any is "not found".
      const assignments = this.childrenOf('permission_set_assignments', setAssignments[1]!, false);
      if (assignments.length === 0) throw new HttpError(404, 'Not found');
      return ok(JSON.stringify(assignments));
    }
    throw new HttpError(404, 'Unknown method .');
  }

  /** A parent's child list (its id from the path: a number, or a permission set's UUID); 404 if there is no such
   * parent. */
  private childrenOf(stream: ChildName, id: string, numeric = true): Json[] {
    const parent = this.dataset.parentTableOf(stream)!;
    const key = numeric ? Number(id) : id;
    if (numeric && !(Number.isInteger(key) && this.table(parent).exists(key as number)))
      throw new HttpError(404, `${parent} ${id} not found`);
    const records = this.dataset.childrenOf(stream, key);
    if (!numeric && records.length === 0 && !this.dataset.recordsOf(parent).some((record) => record.id === id))
      throw new HttpError(404, `${parent} ${id} not found`);
    return records;
  }

  private recordJson(name: string, id: number): string {
    return this.table(name).json(id, '', JSON.stringify);
  }

  /** A list held whole, in v1 offset pages of up to `max`. */
  private offsetList(items: Json[], params: URLSearchParams, max = 500): Reply {
    return this.offsetPage(Int32Array.from(items.keys()), params, max, (i) => JSON.stringify(items[i]));
  }

  /** `/api/v2/deals/installments?deal_ids=1,2,…` (1 to 100 deals, comma-joined or repeated): their installments, in
   * cursor pages of up to 500, by `sort_by` (id, billing_date or deal_id; then id) and `sort_direction`. */
  private installments(params: URLSearchParams): Reply {
    const deals = params
      .getAll('deal_ids')
      .flatMap((ids) => ids.split(','))
      .filter(Boolean)
      .map(Number);
    if (deals.length === 0 || deals.length > 100 || deals.some((id) => !Number.isInteger(id)))
      throw new HttpError(400, 'deal_ids must list from 1 to 100 deal ids');
    const sortBy = params.get('sort_by') ?? 'id';
    if (!['id', 'billing_date', 'deal_id'].includes(sortBy)) throw new HttpError(400, `Invalid sort_by: ${sortBy}`);
    const direction = params.get('sort_direction') === 'desc' ? -1 : 1;
    const key = (record: Json) => record[sortBy] as number | string;
    const installments = [...new Set(deals)]
      .flatMap((deal) => this.dataset.childrenOf('deal_installments', deal))
      .sort((a, b) => direction * (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : Number(a.id) - Number(b.id)));
    return cursorPage(installments, params, 100);
  }

  /** `/api/v2/projects` (not archived) and `/api/v2/projects/archived`: by `status` (default all but deleted), by
   * id, in cursor pages. Projects take no time filter. */
  private projects(params: URLSearchParams, archived: boolean): Reply {
    const statuses = (params.get('status') ?? 'open,completed,canceled').split(',').map((status) => {
      const bits = PROJECT_STATUSES.indexOf(status as never);
      if (bits < 0) throw new HttpError(400, `Invalid status: ${status}`);
      return bits;
    });
    const keep = (id: number, table: Table<Json>) => {
      const facet = table.facet(id);
      return Boolean(facet & ARCHIVED_BIT) === archived && statuses.includes(facet & 3);
    };
    return this.v2List(this.table('projects'), params, { sinceAllowed: false, keep });
  }

  /** `/api/v2/phases?board_id=`: the board's phases (board_id is required), in one response. */
  private phases(params: URLSearchParams): Reply {
    const board = Number(params.get('board_id') ?? NaN);
    if (!Number.isInteger(board)) throw new HttpError(400, 'board_id is required');
    if (!this.table('project_boards').exists(board)) throw new HttpError(404, `Board ${board} not found`);
    return ok(list(this.dataset.phasesOf(board).map((id) => this.recordJson('project_phases', id))), null);
  }

  /** `/api/v2/tasks`, by id in cursor pages, filtered by project_id, assignee_id, is_done, is_milestone and
   * parent_task_id (`null`: root tasks only). */
  private tasks(params: URLSearchParams): Reply {
    const filters: ((task: Json) => boolean)[] = [];
    const project = params.get('project_id');
    if (project !== null) filters.push((task) => task.project_id === Number(project));
    const assignee = params.get('assignee_id');
    if (assignee !== null) filters.push((task) => (task.assignee_ids as number[]).includes(Number(assignee)));
    for (const flag of ['is_done', 'is_milestone']) {
      const value = params.get(flag);
      if (value !== null) filters.push((task) => task[flag] === (value === 'true' || value === '1'));
    }
    const parent = params.get('parent_task_id');
    if (parent !== null) filters.push((task) => task.parent_task_id === (parent === 'null' ? null : Number(parent)));
    const keep = filters.length
      ? (id: number, table: Table<Json>) => {
          const task = table.get(id)!;
          return filters.every((filter) => filter(task));
        }
      : undefined;
    return this.v2List(this.table('tasks'), params, { sinceAllowed: false, keep });
  }

  /** `/v1/callLogs`: v1 offset pages of at most 50 (a larger limit is served as 50). As Pipedrive's example shows,
   * the last page has a `next_start` too. */
  private callLogs(params: URLSearchParams): Reply {
    const capped = new URLSearchParams(params);
    capped.set('limit', String(Math.min(50, pageSize(params, 50, Number.MAX_SAFE_INTEGER))));
    const reply = this.offsetPage(rows(this.table('call_logs')), capped, 50, (id) => this.recordJson('call_logs', id));
    const body = JSON.parse(reply.body) as { data: unknown[]; additional_data: { pagination: Json } };
    const pagination = body.additional_data.pagination;
    pagination.next_start ??= Number(pagination.start) + body.data.length;
    return { ...reply, body: JSON.stringify(body) };
  }

  /** `/v1/deals/{id}/participants`: v1 offset pages, with the users, persons and organizations they name under
   * `related_objects`. */
  private participants(participants: Json[], params: URLSearchParams): Reply {
    const reply = this.offsetList(participants, params);
    const body = JSON.parse(reply.body) as { data: Json[] };
    const related: Record<'user' | 'person' | 'organization', Json> = { user: {}, person: {}, organization: {} };
    for (const participant of body.data) {
      const person = participant.person as Json;
      for (const user of [participant.added_by_user_id as Json, person.owner_id as Json])
        related.user[String(user.id)] = omit(user, ['value']);
      const summary = participant.person_id as Json;
      related.person[String(person.id)] = {
        active_flag: true,
        id: person.id,
        name: person.name,
        email: summary.email,
        phone: summary.phone,
        owner_id: (person.owner_id as Json).id,
      };
      const org = person.org_id as Json | null;
      if (org) related.organization[String(org.value)] = { id: org.value, ...omit(org, ['value']) };
    }
    return { ...reply, body: JSON.stringify({ ...body, related_objects: related }) };
  }

  /** `/v1/legacyTeams`, in one response: by `order_by` (id, name, manager_id, active_flag), without the member ids
   * if `skip_users=1`. */
  private legacyTeams(params: URLSearchParams): Reply {
    const orderBy = params.get('order_by') ?? 'id';
    if (!['id', 'name', 'manager_id', 'active_flag'].includes(orderBy))
      throw new HttpError(400, `Invalid order_by: ${orderBy}`);
    const skipUsers = params.get('skip_users') === '1';
    const teams = this.dataset
      .recordsOf('legacy_teams')
      .sort((a, b) => {
        const [x, y] = [a[orderBy] as number | string, b[orderBy] as number | string];
        return x < y ? -1 : x > y ? 1 : Number(a.id) - Number(b.id);
      })
      .map((team) => (skipUsers ? omit(team, ['users']) : team));
    return ok(JSON.stringify(teams));
  }

  /** An entity's field definitions, standard (named after its records' properties) and custom, v2's way: cursor
   * pages of up to 500. */
  private v2Fields(entity: FieldEntity, params: URLSearchParams): Reply {
    const all = [
      ...this.dataset.standardFields(entity).map(v2StandardDefinition),
      ...this.dataset.fields[entity].map(v2Definition),
    ].map((definition) => (entity === 'project' ? projectField(definition) : definition));
    const limit = pageSize(params, 100, 500);
    const start = params.get('cursor') ? Number(Buffer.from(params.get('cursor') ?? '', 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw new HttpError(400, 'Invalid cursor');
    const next = start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64url') : null;
    return ok(JSON.stringify(all.slice(start, start + limit)), { next_cursor: next });
  }

  /** An entity's field definitions v1's way (`/v1/noteFields`: one response). */
  private v1Fields(entity: FieldEntity): Reply {
    const standard = this.dataset.standardFields(entity).map((key) => ({ key, name: key, type: 'varchar' }));
    const all = [...standard, ...this.dataset.fields[entity]].map((field, i) => v1Definition(field, i + 1));
    return ok(JSON.stringify(all), { pagination: { start: 0, limit: all.length, more_items_in_collection: false } });
  }

  private table(name: string): Table<Json> {
    return this.dataset.table(name);
  }

  /** A whole list in one response (v1 lists without paging), optionally filtered. */
  private whole(name: string, keep: (record: Json) => boolean = () => true): Reply {
    const table = this.table(name);
    const ids = rows(table).filter((id) => keep(table.get(id) ?? {}));
    return ok(list(ids.map((id) => table.json(id, '', JSON.stringify))));
  }

  private currentUser(user: number): Reply {
    return ok(
      JSON.stringify({
        ...this.table('users').get(user),
        is_you: true,
        company_id: 7_001,
        company_name: 'Acme Simulated',
        company_domain: 'acme-sim',
        company_country: 'EE',
        company_industry: 'IT Services',
        language: { language_code: 'en', country_code: 'US' },
      }),
    );
  }

  /** v2 cursor pagination over a table, sorted by id or update_time, with updated_since/updated_until. */
  private v2List(
    table: Table<Json>,
    params: URLSearchParams,
    options: {
      optional?: string[];
      sinceAllowed?: boolean;
      untilAllowed?: boolean;
      keep?: (id: number, table: Table<Json>) => boolean;
    },
  ): Reply {
    const limit = pageSize(params, 100, 500);
    const sortBy = params.get('sort_by') ?? 'id';
    if (!['id', 'update_time', 'add_time', 'order_nr', 'name', 'due_date'].includes(sortBy))
      throw new HttpError(400, `Invalid sort_by: ${sortBy}`);
    const descending = params.get('sort_direction') === 'desc';
    const byTime = sortBy === 'update_time';
    const since = options.sinceAllowed === false ? undefined : rfc3339(params, 'updated_since');
    const until = options.untilAllowed ? rfc3339(params, 'updated_until') : undefined;
    const order = table.order(byTime ? 'time' : 'index');
    const key = (id: number) => (byTime ? table.time(id) : id);
    const after = decodeCursor(params.get('cursor'));
    // First position of the page (in ascending terms), found by binary search.
    let position: number;
    if (after) position = lowerBound(order, (id) => compare(key(id), id, after.v, after.id) > 0);
    else if (byTime && since !== undefined && !descending)
      position = lowerBound(order, (id) => table.time(id) >= since);
    else position = 0;
    if (descending)
      position = after ? lowerBound(order, (id) => compare(key(id), id, after.v, after.id) >= 0) - 1 : order.length - 1;

    const include = new Set((params.get('include_fields') ?? '').split(',').filter(Boolean));
    const drop = (options.optional ?? []).filter((field) => !include.has(field));
    const render = (record: Json) => JSON.stringify(drop.length ? omit(record, drop) : record);
    const variant = drop.join(',');
    const page: string[] = [];
    let last = -1;
    let more = false;
    for (let i = position; i >= 0 && i < order.length; i += descending ? -1 : 1) {
      const id = order[i]!;
      const time = table.time(id);
      // Sorted by time, the first record past `until` ends the page; in any other order it is only left out.
      if (until !== undefined && time >= until && byTime && !descending) break;
      if ((since !== undefined && time < since) || (until !== undefined && time >= until)) continue;
      if (options.keep && !options.keep(id, table)) continue;
      if (page.length === limit) {
        more = true;
        break;
      }
      page.push(table.json(id, variant, render));
      last = id;
    }
    return ok(list(page), { next_cursor: more ? encodeCursor({ v: key(last), id: last }) : null });
  }

  /** v1 offset pagination over ordered row ids. */
  private offsetPage(
    ids: ArrayLike<number>,
    params: URLSearchParams,
    maxLimit: number,
    render: (id: number) => string,
    extra: Json = {},
  ): Reply {
    const limit = pageSize(params, 100, maxLimit);
    const start = Math.max(0, Number(params.get('start') ?? 0) || 0);
    const page: string[] = [];
    for (let i = start; i < Math.min(ids.length, start + limit); i++) page.push(render(ids[i]!));
    const more = start + limit < ids.length;
    return ok(list(page), {
      ...extra,
      pagination: { start, limit, more_items_in_collection: more, ...(more ? { next_start: start + limit } : {}) },
    });
  }

  /** `/v1/leads` (not archived; `updated_since` inclusive) and `/v1/leads/archived` (no time filter), v1 offset pages of
   * up to 500 in the `sort` asked for. */
  private leads(params: URLSearchParams, archived: boolean): Reply {
    const leads = this.dataset.tables.leads;
    const since = archived ? undefined : rfc3339(params, 'updated_since');
    const ids = Array.prototype.filter.call(
      sortedV1(leads, params.get('sort')),
      (id: number) =>
        Boolean(leads.facet(id) & ARCHIVED_BIT) === archived && (since === undefined || leads.time(id) >= since),
    ) as number[];
    return this.offsetPage(ids, params, 500, (id) => leads.json(id, '', JSON.stringify));
  }

  /** `/api/v2/deals/products?deal_ids=1,2,…` (at most 100 deals): their products by id, in cursor pages of up to 500. */
  private dealProducts(params: URLSearchParams): Reply {
    const deals = (params.get('deal_ids') ?? '').split(',').filter(Boolean).map(Number);
    if (deals.length === 0 || deals.length > 100 || deals.some((id) => !Number.isInteger(id)))
      throw new HttpError(400, 'deal_ids must list from 1 to 100 deal ids');
    const products = deals
      .flatMap((deal) => this.dataset.dealProducts(deal))
      .sort((a, b) => Number(a.id) - Number(b.id));
    return cursorPage(products, params, 100);
  }

  /** `/v1/{deals,persons,organizations}/{id}/changelog`: the entity's changes, newest first, in cursor pages. */
  private changelog(entity: 'deals' | 'persons' | 'organizations', id: number, params: URLSearchParams): Reply {
    if (!this.dataset.tables[entity].exists(id)) throw new HttpError(404, `${entity} ${id} not found`);
    return cursorPage(this.dataset.changelog(entity, id), params, 100);
  }

  private v1Notes(params: URLSearchParams): Reply {
    const notes = this.dataset.tables.notes;
    let ids: ArrayLike<number> = live(notes, sortedV1(notes, params.get('sort')));
    const since = rfc3339(params, 'updated_since');
    if (since !== undefined)
      ids = Array.prototype.filter.call(ids, (id: number) => notes.time(id) >= since) as number[];
    return this.offsetPage(ids, params, 500, (id) => notes.json(id, '', JSON.stringify));
  }

  /** `/v1/recents`: changes after since_timestamp, but never more than a month back; purged items come with null data. */
  private recents(params: URLSearchParams): Reply {
    const raw = params.get('since_timestamp');
    const requested =
      raw && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(raw) ? Date.parse(`${raw.replace(' ', 'T')}Z`) : NaN;
    if (Number.isNaN(requested))
      throw new HttpError(400, 'since_timestamp is required, in the format YYYY-MM-DD HH:MM:SS');
    const monthAgo = new Date(this.clock.now());
    monthAgo.setUTCMonth(monthAgo.getUTCMonth() - 1);
    const since = Math.max(requested, monthAgo.getTime());
    const sources: Record<string, Table<Json>> = {
      file: this.dataset.tables.files,
      note: this.dataset.tables.notes,
      filter: this.dataset.tables.filters,
      activityType: this.dataset.tables.activity_types,
      user: this.dataset.tables.users,
    };
    const wanted = params.get('items')?.split(',') ?? Object.keys(sources);
    const items: { item: string; id: number; time: number; table?: Table<Json> }[] = [];
    for (const item of wanted) {
      const table = sources[item];
      if (!table) continue;
      const order = table.order('time');
      for (let i = lowerBound(order, (id) => table.time(id) > since); i < order.length; i++)
        items.push({ item, id: order[i]!, time: table.time(order[i]!), table });
      for (const [id, time] of table.purgedSince(since + 1)) items.push({ item, id, time });
    }
    items.sort((a, b) => a.time - b.time || a.id - b.id);
    const render = (i: number) => {
      const { item, id, table } = items[i]!;
      const record = table?.get(id);
      // Recents wraps users in a list, unlike every other item type.
      const data = record === undefined ? null : item === 'user' ? [record] : record;
      return JSON.stringify({ item, id, data });
    };
    const start = Number(params.get('start') ?? 0) || 0;
    const lastOnPage = items[Math.min(items.length, start + pageSize(params, 100, 500)) - 1];
    return this.offsetPage(Int32Array.from(items.keys()), params, 500, render, {
      since_timestamp: v1Time(since),
      last_timestamp_on_page: lastOnPage ? v1Time(lastOnPage.time) : null,
    });
  }

  private mailThreads(params: URLSearchParams): Reply {
    const threads = this.dataset.tables.email_threads;
    const folder = params.get('folder') ?? 'inbox';
    const bit = MAIL_FOLDERS.indexOf(folder as never);
    if (bit < 0) throw new HttpError(400, `Invalid folder: ${folder}`);
    // Ordered by the most recent message, newest first.
    const ids = Array.from(threads.order('time'))
      .filter((id) => threads.facet(id) & (1 << bit))
      .reverse();
    return this.offsetPage(ids, params, 500, (id) => threads.json(id, '', JSON.stringify));
  }

  private mailMessages(thread: number, params: URLSearchParams): Reply {
    if (!this.dataset.tables.email_threads.exists(thread)) throw new HttpError(404, 'Mail thread not found');
    const messages = this.dataset.tables.email_messages;
    const ids = this.dataset.messagesOf(thread);
    return this.offsetPage(ids, params, 500, (id) => messages.json(id, '', JSON.stringify));
  }

  /** Without a filter that means "everyone's", goals/find returns only the token user's; is_active defaults to true. */
  private goals(params: URLSearchParams, user: number): Reply {
    const goals = this.dataset.tables.goals;
    const everyone = [...params.keys()].some(
      (key) =>
        key === 'type.name' ||
        key === 'assignee.type' ||
        key.startsWith('expected_outcome.') ||
        key.startsWith('type.params.'),
    );
    const active = params.get('is_active') !== 'false';
    const assigneeId = params.get('assignee.id');
    const data = rows(goals)
      .map((id) => goals.get(id)!)
      .filter((goal) => {
        const assignee = goal.assignee as { id: number; type: string };
        if (goal.is_active !== active) return false;
        const filtered = !this.options.goalFiltersIgnored;
        if (filtered && params.has('assignee.type') && assignee.type !== params.get('assignee.type')) return false;
        const metric = params.get('expected_outcome.tracking_metric');
        if (filtered && metric && (goal.expected_outcome as { tracking_metric: string }).tracking_metric !== metric)
          return false;
        if (params.has('type.name') && (goal.type as { name: string }).name !== params.get('type.name')) return false;
        if (assigneeId) return assignee.id === Number(assigneeId);
        return everyone || (assignee.type === 'person' && assignee.id === user);
      });
    return {
      status: 200,
      body: JSON.stringify({
        success: true,
        statusCode: 20000,
        statusText: 'OK',
        service: 'statistics-goals-api',
        data: { goals: data },
      }),
    };
  }
}

/** A 200 that looks like the start of a list and goes on for `bytes` bytes (decompressed), or until the client hangs
 * up; gzip-encoded it is a decompression bomb (zeros compress a thousandfold). Written with backpressure, so the
 * simulator's own memory stays flat. */
function flood(response: http.ServerResponse, bytes: number | 'endless', gzip: boolean): void {
  response.writeHead(200, { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
  const out: NodeJS.WritableStream = gzip ? zlib.createGzip({ level: 1 }) : response;
  if (gzip) (out as zlib.Gzip).pipe(response);
  const chunk = Buffer.alloc(256 * 1024, gzip ? 0 : 0x20);
  let left = bytes === 'endless' ? Infinity : bytes;
  let stopped = false;
  response.on('close', () => (stopped = true));
  out.write('{"success":true,"data":[');
  const pump = () => {
    while (!stopped && left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!out.write(piece)) return void out.once('drain', pump);
    }
    if (!stopped) out.end();
  };
  pump();
}

const list = (items: string[]) => `[${items.join(',')}]`;
const CHANGELOG = /^\/v1\/(deals|persons|organizations)\/(\d+)\/changelog$/;

/** The lists of one record, and the endpoint template Pipedrive documents each under (its token cost and scopes). */
const TEMPLATES: [RegExp, string][] = [
  [/^\/v1\/mailbox\/mailThreads\/[^/]+\/mailMessages$/, '/v1/mailbox/mailThreads/{id}/mailMessages'],
  [CHANGELOG, '/v1/$1/{id}/changelog'],
  [/^\/v1\/deals\/[^/]+\/participants$/, '/v1/deals/{id}/participants'],
  [/^\/api\/v2\/(deals|persons|organizations|products)\/[^/]+\/followers$/, '/api/v2/$1/{id}/followers'],
  [/^\/api\/v2\/products\/[^/]+\/variations$/, '/api/v2/products/{id}/variations'],
  [/^\/v1\/(roles|permissionSets)\/[^/]+\/assignments$/, '/v1/$1/{id}/assignments'],
];
/** The endpoint a path is documented under: itself, or its template (`/v1/roles/2/assignments` →
 * `/v1/roles/{id}/assignments`). */
export function endpointOf(path: string): string {
  for (const [pattern, template] of TEMPLATES) if (pattern.test(path)) return path.replace(pattern, template);
  return path;
}

/** A field definition as /api/v2/projectFields lists it: no `description`; `ui_visibility`, `important_fields` and
 * `required_fields` included (its only parameters are `limit` and `cursor`). */
export function projectField(definition: Json): Json {
  return {
    ...omit(definition, ['description']),
    ui_visibility: { add_visible_flag: true, details_visible_flag: true },
    important_fields: { enabled: false, stage_ids: [] },
    required_fields: { enabled: definition.field_code === 'title' },
  };
}

/** One page of a list held whole, by an opaque cursor (a position) and `limit` (default `fallback`, at most 500). */
function cursorPage(items: Json[], params: URLSearchParams, fallback: number): Reply {
  const limit = pageSize(params, fallback, 500);
  const cursor = params.get('cursor');
  const start = cursor ? Number(Buffer.from(cursor, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new HttpError(400, 'Invalid cursor');
  const next = start + limit < items.length ? Buffer.from(String(start + limit)).toString('base64url') : null;
  return ok(JSON.stringify(items.slice(start, start + limit)), { next_cursor: next });
}
/** The rows of `ids` that are not deleted: v1 lists (notes, files, filters) leave deleted records out. */
const live = (table: Table<Json>, ids: ArrayLike<number>): ArrayLike<number> =>
  Array.prototype.filter.call(ids, (id: number) => !(table.facet(id) & DELETED_BIT)) as number[];
const rows = (table: Table<Json>) => Array.from(table.order('index'));

function omit(record: Json, fields: string[]): Json {
  return Object.fromEntries(Object.entries(record).filter(([field]) => !fields.includes(field)));
}

/** v1 `sort` ("update_time ASC", "id DESC", …): update_time or id order. */
function sortedV1(table: Table<Json>, sort: string | null): ArrayLike<number> {
  const [field, direction] = (sort ?? 'id ASC').trim().split(/\s+/);
  const ids = table.order(field === 'update_time' ? 'time' : 'index');
  return direction?.toUpperCase() === 'DESC' ? Int32Array.from(ids).reverse() : ids;
}

function pageSize(params: URLSearchParams, fallback: number, max: number): number {
  const limit = Number(params.get('limit') ?? fallback);
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new HttpError(400, `limit must be an integer from 1 to ${max}`);
  return limit;
}

function rfc3339(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null) return undefined;
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw new HttpError(400, `${name} must be an RFC 3339 date-time, e.g. 2025-01-01T10:20:00Z`);
  return time;
}

/** Deals by status (default: all but deleted) and by whether they are archived. */
function dealFilter(params: URLSearchParams, archived: boolean) {
  const statuses = (params.get('status') ?? 'open,won,lost').split(',').map((s) => DEAL_STATUSES.indexOf(s as never));
  return (id: number, table: Table<Json>) => {
    const facet = table.facet(id);
    return Boolean(facet & ARCHIVED_BIT) === archived && statuses.includes(facet & 3);
  };
}

const encodeCursor = (cursor: { v: number; id: number }) => Buffer.from(JSON.stringify(cursor)).toString('base64url');
export function decodeCursor(cursor: string | null): { v: number; id: number } | undefined {
  if (!cursor) return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { v: number; id: number };
    if (typeof decoded.v === 'number' && typeof decoded.id === 'number') return decoded;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'Invalid cursor');
}

const compare = (v: number, id: number, otherV: number, otherId: number) => v - otherV || id - otherId;

/** First index in `order` for which `pass` holds (`pass` is false, then true, along the order). */
function lowerBound(order: Int32Array, pass: (id: number) => boolean): number {
  let low = 0;
  let high = order.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (pass(order[mid]!)) high = mid;
    else low = mid + 1;
  }
  return low;
}
