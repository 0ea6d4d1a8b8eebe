import { ACCEPTANCE } from '../../simulator/presets.js';
import { OAUTH_APP } from '../../simulator/oauth.js';
import { PipedriveSimulator, TOKENS, type SimulatorOptions } from '../../simulator/server.js';

/** The simulated company's "now" when a test's simulator starts (its clock moves on from there, and tests may move it):
 * the history is generated in the two years before it. The machine's date plays no part. */
export const ANCHOR = ACCEPTANCE.anchor;

/** Starts a simulator for the enclosing mocha suite (`each`: a fresh one for every test, for tests that change its
 * data); `sim()` returns it. */
export function useSimulator(options: SimulatorOptions = {}, each = false): () => PipedriveSimulator {
  let simulator: PipedriveSimulator | undefined;
  (each ? beforeEach : before)(async () => {
    simulator = new PipedriveSimulator({ anchor: ANCHOR, burstLimit: 1000, ...options });
    await simulator.start();
  });
  (each ? afterEach : after)(async () => simulator?.stop());
  return () => simulator!;
}

export const configFor = (simulator: PipedriveSimulator, extra: Record<string, unknown> = {}) => ({
  api_token: TOKENS.admin,
  base_url: simulator.origin,
  ...extra,
});

/** The config the platform's OAuth flow leaves when an admin installs the app: a refresh token, and an access token
 * valid until `expiresAt` (company time; default: a full life from now) with its expiry date. */
export function flowConfigFor(
  simulator: PipedriveSimulator,
  options: { expiresAt?: number; scopes?: readonly string[] } = {},
) {
  const { refreshToken, accessToken, expiresAt } = simulator.oauth.install(1, options.scopes, options.expiresAt);
  const config = oauthConfigFor(simulator, refreshToken);
  return {
    ...config,
    credentials: {
      ...config.credentials,
      access_token: accessToken,
      token_expiry_date: new Date(expiresAt).toISOString(),
    },
  };
}

/** A config that signs in with the simulator's OAuth app, with `refreshToken` (default: a fresh admin grant). */
export const oauthConfigFor = (
  simulator: PipedriveSimulator,
  refreshToken = simulator.oauth.issueRefreshToken(),
  extra: Record<string, unknown> = {},
) => ({
  credentials: {
    auth_type: 'oauth2.0',
    client_id: OAUTH_APP.clientId,
    client_secret: OAUTH_APP.clientSecret,
    refresh_token: refreshToken,
  },
  base_url: simulator.origin,
  ...extra,
});
