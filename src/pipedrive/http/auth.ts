// How requests prove who they are: a personal API token, or the access token of a Pipedrive OAuth app, refreshed
// before it expires and once on a 401, with every rotated refresh token handed back before it is needed again.
import http from 'node:http';
import https from 'node:https';
import fetch, { type Response } from 'node-fetch';
import { ConnectorError } from '../../airbyte/errors.js';
import { clock } from '../clock.js';
import type { ConfiguredAccessToken } from '../config.js';
import { scopesOf } from './scopes.js';
import { linkSignals } from './signals.js';
import { sleep } from './throttle.js';

/** What one request is sent with: where it goes and the header that authenticates it. */
export interface Authorization {
  /** The API's origin: the configured one, or the company's `api_domain` given with an OAuth token. */
  origin: string;
  headers: Readonly<Record<string, string>>;
}

export interface Authenticator {
  /** The authorization for the next request; an OAuth token about to expire is refreshed first. */
  authorize(): Promise<Authorization>;
  /** After a 401 to a request sent with `used`: the authorization to try once more, or null if none can help. */
  renew(used: Authorization): Promise<Authorization | null>;
  /** What to tell the user when Pipedrive answers 401 even so. */
  readonly rejected: string;
  /** What to do when Pipedrive refuses a request to `endpoint` with 403: the permission or scope it needs. */
  forbidden(endpoint: string): string;
}

/** A personal API token, in the `x-api-token` header (never the URL). */
export function apiTokenAuth(origin: string, token: string): Authenticator {
  const authorization = { origin, headers: { 'x-api-token': token } };
  return {
    authorize: async () => authorization,
    renew: async () => null,
    rejected:
      'Pipedrive rejected the API token (401 invalid API token). Copy the token again from Personal preferences → API in Pipedrive, and check that it belongs to this company.',
    forbidden: () =>
      "The API token's user lacks a permission this stream needs: use the API token of a Pipedrive global admin, or give its user that permission (Company settings → Permission sets).",
  };
}

export interface OAuthOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** The access token the config carries, used until shortly before it expires; otherwise exchange at first use. */
  accessToken: ConfiguredAccessToken;
  /** `https://oauth.pipedrive.com/oauth/token`, or `{base_url}/oauth/token`. */
  tokenUrl: string;
  /** The configured base_url, which API calls go to instead of each token's `api_domain`. */
  origin: string | undefined;
  /** Where a configured access token's calls go, without base_url: no `api_domain` came with it. */
  defaultOrigin: string;
  timeoutMs: number;
  /** What to tell the user to change when the token endpoint's address or answer points elsewhere, in the
   * configuration's words. */
  addressAdvice: string;
  /** The run's: once it aborts, no token request starts (one already on the wire is never cancelled). */
  signal: AbortSignal;
  /** Called with the tokens of each exchange: the old refresh token no longer works, so nothing else happens until
   * this has saved the new one (with the new access token, if the answer carried a usable one). */
  onExchanged(tokens: ExchangedTokens): Promise<void>;
  /** Called with each new secret (access and refresh tokens), so that no output shows it. */
  mask(secret: string): void;
}

export interface ExchangedTokens {
  refreshToken: string;
  accessToken: { token: string; expiresAt: number } | null;
}

/** Refreshes this long before an access token expires (at most a tenth of its life), so none expires in flight. */
const REFRESH_MARGIN_MS = 60_000;
const TOKEN_ATTEMPTS = 4;
/** The longest Retry-After of the token endpoint that is waited for. */
const MAX_TOKEN_WAIT_MS = 30_000;
const MAX_TOKEN_BODY_BYTES = 64 * 1024;
/** A refresh an hour needs no kept-alive connection (one would hold the process open after its work). */
const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

interface AccessToken {
  authorization: Authorization;
  /** Connector clock (epoch ms) after which the token is refreshed before use. */
  renewAt: number;
}

/**
 * An OAuth session: the configured access token is used while it is valid; the refresh token is exchanged only when
 * there is none, it expires or it is refused (401), and concurrent requests share one exchange. Pipedrive exchanges a
 * refresh token only once, so the tokens of each exchange are saved (`onExchanged`) before anything else happens.
 */
export class OAuthSession implements Authenticator {
  private token: AccessToken | null = null;
  private refreshing: Promise<AccessToken> | null = null;
  private refreshToken: string;
  /** The refusal of a refresh token: asking again with the same one would only be refused again. */
  private refused: { refreshToken: string; error: ConnectorError } | null = null;
  /** The scopes the latest token response granted, if one came and said. */
  grantedScopes: ReadonlySet<string> | undefined;

  readonly rejected =
    "Pipedrive rejected the OAuth access token (401) even right after refreshing it: the app may have been uninstalled or its access revoked. Re-authorise the source (in Airbyte: the source's settings → authenticate your Pipedrive account again).";

  constructor(private readonly options: OAuthOptions) {
    this.refreshToken = options.refreshToken;
    const configured = options.accessToken;
    if (configured.state === 'usable') {
      options.mask(configured.token);
      this.token = accessToken(configured.token, options.origin ?? options.defaultOrigin, configured.expiresAt);
    }
  }

  forbidden(endpoint: string): string {
    const scopes = scopesOf(endpoint);
    const needs = scopes.length > 0 ? `one of the OAuth scopes ${scopes.join(', ')}` : 'an OAuth scope';
    return `It needs ${needs}, and a user with the permission: add the scope to the app in Pipedrive's Developer Hub (OAuth & access scopes), then re-authorise the source as a global admin.`;
  }

  async authorize(): Promise<Authorization> {
    const token = this.token && clock.now() < this.token.renewAt ? this.token : await this.refresh();
    return token.authorization;
  }

  async renew(used: Authorization): Promise<Authorization> {
    // Another request may have refreshed meanwhile: its token is the one to try.
    if (this.token && this.token.authorization !== used) return this.token.authorization;
    return (await this.refresh()).authorization;
  }

  private refresh(): Promise<AccessToken> {
    if (this.refused?.refreshToken === this.refreshToken) return Promise.reject(this.refused.error);
    const refreshToken = this.refreshToken;
    this.refreshing ??= this.exchange()
      .catch((error: unknown) => {
        if (error instanceof ConnectorError && error.failureType === 'config_error')
          this.refused = { refreshToken, error };
        throw error;
      })
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** Exchanges the refresh token; whatever else the answer holds, a new refresh token in it is saved first. */
  private async exchange(): Promise<AccessToken> {
    const obtainedAt = clock.now();
    const answer = (await this.post()) as Record<string, unknown> | null;
    const refreshToken = nonEmpty(answer?.refresh_token);
    if (refreshToken === undefined) throw malformed('without a refresh_token', false);
    this.options.mask(refreshToken);
    const access = usableAccessToken(answer, obtainedAt);
    if (typeof access !== 'string') this.options.mask(access.token);
    await this.options.onExchanged({ refreshToken, accessToken: typeof access === 'string' ? null : access });
    this.refreshToken = refreshToken;
    try {
      if (typeof access === 'string') throw malformed(access, true);
      const origin = apiOrigin(answer?.api_domain, this.options.origin, this.options.addressAdvice);
      this.grantedScopes = grantedScopes(answer?.scope);
      this.token = accessToken(access.token, origin, access.expiresAt, access.expiresAt - obtainedAt);
      return this.token;
    } catch (error) {
      // Not again in this run: each exchange would rotate the refresh token for an answer as unusable.
      if (error instanceof ConnectorError) this.refused = { refreshToken, error };
      throw error;
    }
  }

  /**
   * The refresh-token grant, retried on network failures, 408, 429 and 5xx. Once the run is stopped no attempt starts,
   * but one on the wire is never cancelled: Pipedrive may have exchanged the token already, and its answer holds the
   * only copy of the new one.
   */
  private async post(): Promise<unknown> {
    const { tokenUrl, signal } = this.options;
    // Why an earlier attempt may have been exchanged without its answer reaching the connector.
    let lost: string | undefined;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw signal.reason;
      let response: Response;
      let text: string;
      try {
        ({ response, text } = await this.send());
      } catch (error) {
        if (attempt >= TOKEN_ATTEMPTS) throw unreachable(tokenUrl, error, attempt);
        lost = `${(error as Error).name} on attempt ${attempt}`;
        await sleep(backoffMs(attempt), signal);
        continue;
      }
      if (response.ok) return parseJson(text);
      if (!transient(response.status)) throw refusal(response.status, text, tokenUrl, lost, this.options.addressAdvice);
      if (attempt >= TOKEN_ATTEMPTS)
        throw new ConnectorError(
          `Pipedrive's OAuth server answered the token refresh with HTTP ${response.status} ${attempt} times in a row. Try again later.`,
          'transient_error',
        );
      if (response.status !== 429) lost = `HTTP ${response.status} on attempt ${attempt}`;
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(retryAfter > 0 ? Math.min(retryAfter * 1000, MAX_TOKEN_WAIT_MS) : backoffMs(attempt), signal);
    }
  }

  /** One attempt, its body read whole, within the request timeout (of a real timer). */
  private async send(): Promise<{ response: Response; text: string }> {
    const { clientId, clientSecret, tokenUrl, timeoutMs } = this.options;
    const timeout = linkSignals([], timeoutMs);
    try {
      const response = await fetch(tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.refreshToken }).toString(),
        agent: (url) => (url.protocol === 'http:' ? agents.http : agents.https),
        // The client secret must never reach another host.
        redirect: 'manual',
        size: MAX_TOKEN_BODY_BYTES,
        signal: timeout.signal,
      });
      return { response, text: await response.text() };
    } finally {
      timeout.dispose();
    }
  }
}

function accessToken(token: string, origin: string, expiresAt: number, lifeMs = Infinity): AccessToken {
  return {
    authorization: { origin, headers: { authorization: `Bearer ${token}` } },
    renewAt: expiresAt - Math.min(REFRESH_MARGIN_MS, lifeMs / 10),
  };
}

const nonEmpty = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
const transient = (status: number) => status === 408 || status === 429 || status >= 500;
const backoffMs = (attempt: number) => 1000 * 2 ** (attempt - 1);

/** The answer's access token and when it expires, or what is wrong with them. */
function usableAccessToken(
  answer: Record<string, unknown> | null,
  obtainedAt: number,
): { token: string; expiresAt: number } | string {
  const token = nonEmpty(answer?.access_token);
  const expiresIn = answer?.expires_in;
  if (token === undefined) return 'without an access_token';
  if (typeof expiresIn !== 'number' || !(expiresIn > 0) || expiresIn > 366 * 86_400)
    return `with an expires_in that is not a number of seconds (${JSON.stringify(expiresIn)?.slice(0, 40)})`;
  return { token, expiresAt: obtainedAt + expiresIn * 1000 };
}

function malformed(what: string, saved: boolean): ConnectorError {
  return new ConnectorError(
    `Pipedrive's OAuth server answered the token refresh ${what}.${saved ? ' The new refresh token it carried was saved to the configuration, so the next sync can go on.' : ''} Try again later.`,
    'transient_error',
  );
}

/** Pipedrive lists granted scopes comma-separated ("base,deals:read"); OAuth's standard separator is a space. */
const grantedScopes = (scope: unknown) =>
  typeof scope === 'string' ? new Set(scope.split(/[\s,]+/).filter(Boolean)) : undefined;

/**
 * Where the token's calls go: base_url if configured; else the company's `api_domain`, which must be a Pipedrive
 * address (https://….pipedrive.com) or the configured base_url's origin, since the token travels to it.
 */
function apiOrigin(value: unknown, configured: string | undefined, advice: string): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    // not a URL
  }
  const pipedrive = url?.protocol === 'https:' && /(^|\.)pipedrive\.com$/i.test(url.hostname);
  const ours = configured !== undefined && url?.origin === new URL(configured).origin;
  if (!url || !(pipedrive || ours))
    throw new ConnectorError(
      `Pipedrive's OAuth server answered the token refresh with an api_domain that is not a Pipedrive address (https://….pipedrive.com): ${JSON.stringify(String(value)).slice(0, 100)}. Nothing was sent there; the new refresh token was saved. ${advice}`,
      'system_error',
    );
  return configured ?? url.origin;
}

function unreachable(tokenUrl: string, error: unknown, attempts: number): ConnectorError {
  return new ConnectorError(
    `Could not reach Pipedrive's OAuth server at ${new URL(tokenUrl).origin} to refresh the access token (${(error as Error).name}; ${attempts} attempts). Check that this machine can reach it, or try again later.`,
    'transient_error',
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConnectorError(
      `Pipedrive's OAuth server answered the token refresh with a body that is not JSON (${text.length} bytes). Try again later.`,
      'transient_error',
    );
  }
}

/** A refused refresh as what to do: only a refused grant or client is the configuration's fault. `lost`: why an
 * earlier attempt of this exchange may have used the token up without its answer arriving. */
function refusal(
  status: number,
  text: string,
  tokenUrl: string,
  lost: string | undefined,
  advice: string,
): ConnectorError {
  const said = oauthError(text);
  const internalMessage = `HTTP ${status} from POST ${new URL(tokenUrl).pathname}: ${said.slice(0, 200)}`;
  if (/invalid.?grant/i.test(said) && lost)
    return new ConnectorError(
      `Pipedrive refused the OAuth refresh token ("${said.slice(0, 200)}") when the connector asked again after an attempt that got no usable answer (${lost}): Pipedrive most likely exchanged it then, and its answer, with the new refresh token, was lost on the way. Re-authorise the source (in Airbyte: the source's settings → authenticate your Pipedrive account again) to get a new refresh token.`,
      'config_error',
      { internalMessage },
    );
  if (/invalid.?grant/i.test(said))
    return new ConnectorError(
      `Pipedrive refused the OAuth refresh token ("${said.slice(0, 200)}"): it was already exchanged (each one works once, and the connector saves every new one through Airbyte), unused for 60 days, or the app was uninstalled. Re-authorise the source (in Airbyte: the source's settings → authenticate your Pipedrive account again) to get a new refresh token.`,
      'config_error',
      { internalMessage },
    );
  if (/invalid.?client/i.test(said))
    return new ConnectorError(
      `Pipedrive's OAuth server rejected the client_id or client_secret ("${said.slice(0, 200)}"). Copy both again from your app in Pipedrive's Developer Hub.`,
      'config_error',
      { internalMessage },
    );
  const redirect = status >= 300 && status < 400;
  return new ConnectorError(
    redirect
      ? `Pipedrive's OAuth server at ${new URL(tokenUrl).origin} answered with a redirect (HTTP ${status}); the connector never follows one with the client secret. ${advice}`
      : `Pipedrive's OAuth server answered the token refresh with HTTP ${status}${said ? ` ("${said.slice(0, 200)}")` : ''}, which the connector does not expect. Try again later; if it persists, re-authorise the source.`,
    'system_error',
    { internalMessage },
  );
}

/** The message of an OAuth error body (`{"success": false, "message": …}` or OAuth's `error`, `error_description`). */
function oauthError(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    return [body.error, body.error_description, body.message].filter((part) => typeof part === 'string').join(': ');
  } catch {
    return '';
  }
}
