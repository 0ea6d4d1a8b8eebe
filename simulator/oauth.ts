// Pipedrive's OAuth server, as a connector meets it: POST /oauth/token exchanges a refresh token (Basic auth with the
// app's client id and secret) for an access token that expires, and hands out a new refresh token each time, the old
// one refused from then on ("already exchanged"). API requests then carry `Authorization: Bearer <access token>`.
import { randomBytes } from 'node:crypto';
import type { CompanyClock } from './clock.js';

/** The simulated OAuth app, and the refresh token an admin's installation of it left (a fresh simulator's). */
export const OAUTH_APP = {
  clientId: 'sim-client-0123456789abcdef',
  clientSecret: 'sim-client-secret-0123456789abcdef0123456789',
  refreshToken: '1:1:sim-refresh-0123456789abcdef0123456789abcdef',
} as const;

/** Every scope the app may be granted: what the connector's streams need, and `admin`. */
export const ALL_SCOPES = [
  'base',
  'deals:read',
  'activities:read',
  'contacts:read',
  'products:read',
  'users:read',
  'mail:read',
  'goals:read',
  'recents:read',
  'leads:read',
  'projects:read',
  'phone-integration',
  'admin',
];

export interface Grant {
  user: number;
  scopes: readonly string[];
}

interface Reply {
  status: number;
  body: string;
}

const refusal = (status: number, error: string, message: string): Reply => ({
  status,
  body: JSON.stringify({ success: false, error, message }),
});

export class OAuthServer {
  /** Access tokens last this long (Pipedrive: 3599 s); tests shorten it. */
  accessTokenTtlSeconds = 3599;
  readonly stats = { exchanges: 0, refused: 0 };
  private readonly refreshTokens = new Map<string, Grant>([[OAUTH_APP.refreshToken, { user: 1, scopes: ALL_SCOPES }]]);
  private readonly accessTokens = new Map<string, Grant & { expiresAt: number }>();
  /** Every token handed out, for tests that check none leaks. */
  readonly issued: string[] = [];

  constructor(
    private readonly clock: CompanyClock,
    private readonly apiDomain: () => string,
  ) {}

  /** A refresh token, as an installation of the app by `user` with `scopes` would leave. */
  issueRefreshToken(user = 1, scopes: readonly string[] = ALL_SCOPES): string {
    const token = `1:${user}:${randomBytes(20).toString('hex')}`;
    this.refreshTokens.set(token, { user, scopes });
    this.issued.push(token);
    return token;
  }

  /** What the platform's OAuth flow ends with when an admin installs the app (the authorization-code exchange): a
   * refresh token, and an access token that expires at `expiresAt` (company time; default: a full life from now). */
  install(
    user = 1,
    scopes: readonly string[] = ALL_SCOPES,
    expiresAt = this.clock.now() + this.accessTokenTtlSeconds * 1000,
  ): { refreshToken: string; accessToken: string; expiresAt: number } {
    const refreshToken = this.issueRefreshToken(user, scopes);
    const accessToken = `v1u:${randomBytes(32).toString('base64url')}`;
    this.accessTokens.set(accessToken, { user, scopes, expiresAt });
    this.issued.push(accessToken);
    return { refreshToken, accessToken, expiresAt };
  }

  /** The grant of a valid, unexpired access token: its user and scopes. */
  grantOf(accessToken: string): Grant | undefined {
    const grant = this.accessTokens.get(accessToken);
    return grant && grant.expiresAt > this.clock.now() ? grant : undefined;
  }

  /** Ends the life of every access token handed out so far, as if they had expired. */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  /** POST /oauth/token. */
  token(authorization: string | undefined, form: URLSearchParams): Reply {
    const basic = /^Basic (.+)$/.exec(authorization ?? '')?.[1];
    const [clientId, clientSecret] = Buffer.from(basic ?? '', 'base64')
      .toString('utf8')
      .split(':');
    if (clientId !== OAUTH_APP.clientId || clientSecret !== OAUTH_APP.clientSecret) {
      this.stats.refused++;
      return refusal(401, 'invalid_client', 'Invalid client: client is invalid');
    }
    const grantType = form.get('grant_type');
    if (!grantType) return refusal(400, 'invalid_request', 'Missing parameter: grant_type');
    if (grantType !== 'refresh_token')
      return refusal(400, 'unsupported_grant_type', 'Unsupported grant type: grant_type is invalid');
    const old = form.get('refresh_token') ?? '';
    const grant = this.refreshTokens.get(old);
    if (!grant) {
      this.stats.refused++;
      return refusal(400, 'invalid_grant', 'Invalid grant: refresh token is invalid');
    }
    // Single use: the old refresh token is exchanged for good.
    this.refreshTokens.delete(old);
    const refreshToken = `1:${grant.user}:${randomBytes(20).toString('hex')}`;
    const accessToken = `v1u:${randomBytes(32).toString('base64url')}`;
    this.refreshTokens.set(refreshToken, grant);
    this.accessTokens.set(accessToken, { ...grant, expiresAt: this.clock.now() + this.accessTokenTtlSeconds * 1000 });
    this.issued.push(refreshToken, accessToken);
    this.stats.exchanges++;
    return {
      status: 200,
      body: JSON.stringify({
        access_token: accessToken,
        token_type: 'Bearer',
        refresh_token: refreshToken,
        scope: grant.scopes.join(','),
        expires_in: this.accessTokenTtlSeconds,
        api_domain: this.apiDomain(),
      }),
    };
  }
}
