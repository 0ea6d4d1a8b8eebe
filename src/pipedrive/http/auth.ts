// How requests prove who they are: a personal API token, or the access token of a Pipedrive OAuth app, refreshed
// before it expires and once on a 401, with every rotated refresh token handed back before it is needed again.
import http from 'node:http';
import https from 'node:https';
import fetch, { type Response } from 'node-fetch';
import { ConnectorError } from '../../airbyte/errors.js';
import { clock } from '../clock.js';
import { scopesOf } from './scopes.js';
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
  /** `https://oauth.pipedrive.com/oauth/token`, or `{base_url}/oauth/token`. */
  tokenUrl: string;
  /** The configured base_url, which API calls go to instead of each token's `api_domain`. */
  origin: string | undefined;
  timeoutMs: number;
  /** Called with each new refresh token Pipedrive hands out; the old one no longer works, so no request is sent
   * until this has saved it. */
  onRotated(refreshToken: string): Promise<void>;
  /** Called with each new secret (access and refresh tokens), so that no output shows it. */
  mask(secret: string): void;
}

/** Refreshes this long before an access token expires (at most a tenth of its life), so none expires in flight. */
const REFRESH_MARGIN_MS = 60_000;
const TOKEN_ATTEMPTS = 3;
const MAX_TOKEN_BODY_BYTES = 64 * 1024;
/** A refresh an hour needs no kept-alive connection (one would hold the process open after its work). */
const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

interface AccessToken {
  authorization: Authorization;
  /** Connector clock (epoch ms) after which the token is refreshed before use. */
  renewAt: number;
}

/**
 * An OAuth session: the access token is obtained from the refresh token on first use and again before it expires;
 * concurrent requests share one refresh. Pipedrive exchanges a refresh token only once, so whenever it hands out a new
 * one, `onRotated` saves it before anything else happens.
 */
export class OAuthSession implements Authenticator {
  private token: AccessToken | null = null;
  private refreshing: Promise<AccessToken> | null = null;
  private refreshToken: string;
  private refused: ConnectorError | null = null;
  /** The scopes the latest token response granted, if it said. */
  grantedScopes: ReadonlySet<string> | undefined;

  readonly rejected =
    "Pipedrive rejected the OAuth access token (401) even right after refreshing it: the app may have been uninstalled or its access revoked. Re-authorise the source (in Airbyte: the source's settings → authenticate your Pipedrive account again).";

  constructor(private readonly options: OAuthOptions) {
    this.refreshToken = options.refreshToken;
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
    if (this.refused) return Promise.reject(this.refused);
    this.refreshing ??= this.exchange()
      .catch((error: unknown) => {
        // A refusal is for good: asking again would only be refused again (and look like an attack).
        if (error instanceof ConnectorError && error.failureType === 'config_error') this.refused = error;
        throw error;
      })
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async exchange(): Promise<AccessToken> {
    const obtainedAt = clock.now();
    const body = await this.post();
    const token = tokenResponse(body, this.options.origin);
    this.grantedScopes = token.scopes;
    this.options.mask(token.accessToken);
    if (token.refreshToken !== this.refreshToken) {
      this.options.mask(token.refreshToken);
      await this.options.onRotated(token.refreshToken);
      this.refreshToken = token.refreshToken;
    }
    const lifeMs = token.expiresIn * 1000;
    this.token = {
      authorization: { origin: token.origin, headers: { authorization: `Bearer ${token.accessToken}` } },
      renewAt: obtainedAt + lifeMs - Math.min(REFRESH_MARGIN_MS, lifeMs / 10),
    };
    return this.token;
  }

  /** The refresh-token grant, retried on network failures and 5xx (not on an answer that refuses it). */
  private async post(): Promise<unknown> {
    const { clientId, clientSecret, tokenUrl, timeoutMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      let text: string;
      try {
        response = await fetch(tokenUrl, {
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
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        if (attempt >= TOKEN_ATTEMPTS)
          throw new ConnectorError(
            `Could not reach Pipedrive's OAuth server at ${new URL(tokenUrl).origin} to refresh the access token (${(error as Error).name}; ${attempt} attempts). Check that this machine can reach it, or try again later.`,
            'transient_error',
          );
        await sleep(1000 * attempt);
        continue;
      }
      if (response.status >= 500 && attempt < TOKEN_ATTEMPTS) {
        await sleep(1000 * attempt);
        continue;
      }
      if (response.ok) return parseJson(text);
      throw refusal(response.status, text, tokenUrl);
    }
  }
}

interface TokenResponse {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  origin: string;
  scopes: ReadonlySet<string> | undefined;
}

/** The fields of a token response the connector relies on, each checked. */
function tokenResponse(body: unknown, configuredOrigin: string | undefined): TokenResponse {
  const { access_token, refresh_token, expires_in, api_domain, scope } = (body ?? {}) as Record<string, unknown>;
  const malformed = (what: string) =>
    new ConnectorError(
      `Pipedrive's OAuth server answered the token refresh without ${what}. Try again later.`,
      'transient_error',
    );
  if (typeof access_token !== 'string' || access_token === '') throw malformed('an access_token');
  if (typeof refresh_token !== 'string' || refresh_token === '') throw malformed('a refresh_token');
  if (typeof expires_in !== 'number' || !(expires_in > 0)) throw malformed('a positive expires_in');
  return {
    accessToken: access_token,
    refreshToken: refresh_token,
    expiresIn: expires_in,
    origin: configuredOrigin ?? apiDomain(api_domain),
    // Pipedrive lists them comma-separated ("base,deals:read"); OAuth's standard separator is a space.
    scopes: typeof scope === 'string' ? new Set(scope.split(/[\s,]+/).filter(Boolean)) : undefined,
  };
}

/** The company's API origin from a token response: https only, as the token travels to it. */
function apiDomain(value: unknown): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    // not a URL
  }
  if (!url || url.protocol !== 'https:')
    throw new ConnectorError(
      `Pipedrive's OAuth server answered the token refresh with an api_domain that is not an https:// address (${JSON.stringify(String(value)).slice(0, 100)}). Set base_url to your company's address (https://yourcompany.pipedrive.com) to use it instead.`,
      'system_error',
    );
  return url.origin;
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

/** A refused refresh as what to do: a refresh token already exchanged, expired or revoked means re-authorising. */
function refusal(status: number, text: string, tokenUrl: string): ConnectorError {
  const said = oauthError(text);
  const internalMessage = `HTTP ${status} from POST ${new URL(tokenUrl).pathname}: ${said.slice(0, 200)}`;
  if (/invalid.?grant|refresh.?token/i.test(said))
    return new ConnectorError(
      `Pipedrive refused the OAuth refresh token ("${said.slice(0, 200)}"): it was already exchanged (each one works once, and the connector saves every new one through Airbyte), unused for 60 days, or the app was uninstalled. Re-authorise the source (in Airbyte: the source's settings → authenticate your Pipedrive account again) to get a new refresh token.`,
      'config_error',
      { internalMessage },
    );
  if (/invalid.?client/i.test(said) || status === 401)
    return new ConnectorError(
      `Pipedrive's OAuth server rejected the client_id or client_secret ("${said.slice(0, 200)}"). Copy both again from your app in Pipedrive's Developer Hub.`,
      'config_error',
      { internalMessage },
    );
  if (status >= 300 && status < 400)
    return new ConnectorError(
      `Pipedrive's OAuth server at ${new URL(tokenUrl).origin} answered with a redirect (HTTP ${status}); the connector never follows one with the client secret. Check base_url.`,
      'config_error',
      { internalMessage },
    );
  return new ConnectorError(
    `Pipedrive's OAuth server answered the token refresh with HTTP ${status}${said ? ` ("${said.slice(0, 200)}")` : ''}. Try again later; if it persists, re-authorise the source.`,
    status >= 500 ? 'transient_error' : 'config_error',
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
