// The API client of one run, as check, discover and read create it: the config's credentials, limits and advice.
import type { Runtime } from '../airbyte/source.js';
import type { SourceConfig } from './config.js';
import { OAuthSession, apiTokenAuth, type Authenticator, type ExchangedTokens } from './http/auth.js';
import { PipedriveClient, type ClientAdvice, type ClientOptions } from './http/client.js';
import { SlicePool } from './streams/slices.js';
import { formatRfc3339 } from './time.js';

/** What to change when Pipedrive's address does not answer, or answers from elsewhere: the options that set it. */
const ADDRESS_ADVICE =
  'Check company_domain or base_url (set it to the address that answers directly), and that this machine can reach Pipedrive.';

const CLIENT_ADVICE: ClientAdvice = {
  slow: 'Try again later, or raise request_timeout_seconds.',
  address: ADDRESS_ADVICE,
  misbehaving: 'Check base_url, or try again later.',
  hugePage: 'Lower page_size, or check base_url.',
  spend:
    'To spend less, sync less often, set token_budget_per_sync, or deselect streams you do not need (email_messages costs one request per mail thread).',
};

/** A client for one run: it stops with the run (runtime.signal). */
export function createClient(config: SourceConfig, runtime: Runtime, options: Partial<ClientOptions> = {}) {
  const client = new PipedriveClient({
    auth: options.auth ?? authenticator(config, runtime),
    timeoutMs: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    // A request each for the slices at most, and a page ahead for each stream that is not sliced.
    maxSockets: SlicePool.MAX + config.maxConcurrentStreams * 2,
    logger: runtime.logger,
    advice: CLIENT_ADVICE,
    ...options,
  });
  const { signal } = runtime;
  if (signal.aborted) client.close(signal.reason as Error);
  else signal.addEventListener('abort', () => client.close(signal.reason as Error), { once: true });
  return client;
}

/** An API token as it is; an OAuth session whose rotated refresh tokens go back to the platform in the config. */
export function authenticator(config: SourceConfig, runtime: Runtime): Authenticator {
  const { credentials } = config;
  if (credentials.kind === 'api_token') return apiTokenAuth(credentials.origin, credentials.apiToken);
  if (credentials.accessToken.state === 'unusable')
    runtime.logger.warn(
      `The OAuth access token in the config is not used, as ${credentials.accessToken.why}: the refresh token is exchanged instead, and the new tokens saved.`,
    );
  return new OAuthSession({
    ...credentials,
    timeoutMs: config.requestTimeoutMs,
    addressAdvice: 'Check base_url (the OAuth server is at its origin), or set company_domain.',
    signal: runtime.signal,
    mask: runtime.mask,
    onExchanged: async (tokens) => {
      await runtime.saveConfig({ ...config.raw, credentials: exchangedCredentials(config, tokens) });
      runtime.logger.info(
        'Exchanged the OAuth refresh token; the new tokens were handed to the platform to save (the old refresh token no longer works).',
      );
    },
  });
}

/** The config's credentials with an exchange's tokens: an access token the answer lacked is removed, not kept. */
function exchangedCredentials(config: SourceConfig, { refreshToken, accessToken }: ExchangedTokens) {
  const {
    access_token: _token,
    token_expiry_date: _expiry,
    ...credentials
  } = config.raw.credentials as Record<string, unknown>;
  if (!accessToken) return { ...credentials, refresh_token: refreshToken };
  const expiry = formatRfc3339(accessToken.expiresAt);
  return { ...credentials, refresh_token: refreshToken, access_token: accessToken.token, token_expiry_date: expiry };
}

export const customFieldSettings = (config: SourceConfig) => ({
  mode: config.customFields,
  names: config.customFieldNames,
});
