import type { ErrorObject, ValidateFunction } from 'ajv';
import { DateTime, Duration } from './luxon.js';
import { configError } from '../airbyte/errors.js';
import type { ConnectorConfig } from '../generated/config.js';
import validateConfig from '../generated/config-validator.js';
import { clock } from './clock.js';
import { specSchema, type PropertySpec } from './spec.js';

/** How the connector signs in. */
export type Credentials =
  | {
      kind: 'api_token';
      apiToken: string;
      /** Where requests go, e.g. https://acme.pipedrive.com; paths /v1/... and /api/v2/... are appended. */
      origin: string;
    }
  | {
      kind: 'oauth';
      clientId: string;
      clientSecret: string;
      refreshToken: string;
      /** The access token the config carries, used while it is valid; otherwise the first request exchanges the
       * refresh token. */
      accessToken: ConfiguredAccessToken;
      tokenUrl: string;
      /** base_url if set; otherwise requests go to the `api_domain` each token comes with. */
      origin: string | undefined;
      /** Where a configured access token's requests go (no `api_domain` comes with it): base_url, the company's
       * domain, or api.pipedrive.com. */
      defaultOrigin: string;
    };

/** An OAuth access token in the config: usable until `expiresAt`, absent, or unusable (its expiry unreadable). */
export type ConfiguredAccessToken =
  { state: 'usable'; token: string; expiresAt: number } | { state: 'absent' } | { state: 'unusable'; why: string };

/** The configuration as the rest of the connector uses it: validated, defaults applied, values parsed. */
export interface SourceConfig {
  credentials: Credentials;
  /** The config file as given, to hand back to the platform with a rotated refresh token. */
  raw: Readonly<Record<string, unknown>>;
  /** Lower bound of the incremental streams' cursor. */
  startDate: DateTime;
  lookback: Duration;
  pageSize: number;
  maxConcurrentStreams: number;
  requestTimeoutMs: number;
  maxRetries: number;
  /** Custom fields as readable columns, or as the API returns them. */
  customFields: 'readable' | 'raw';
  /** Field key → the column a user pinned it to. */
  customFieldNames: ReadonlyMap<string, string>;
  /** The most daily-budget tokens one sync may spend. */
  tokenBudgetPerSync?: number;
}

export const DEFAULT_ORIGIN = 'https://api.pipedrive.com';
export const OAUTH_ORIGIN = 'https://oauth.pipedrive.com';
/** The product's documented default historical sync. */
export const DEFAULT_HISTORY = Duration.fromObject({ years: 1 });

/** A config that passed validation: ajv's `useDefaults` has filled in every property that has a default. */
type ValidConfig = ConnectorConfig &
  Required<
    Pick<
      ConnectorConfig,
      | 'lookback_window_minutes'
      | 'page_size'
      | 'max_concurrent_streams'
      | 'request_timeout_seconds'
      | 'max_retries'
      | 'custom_fields'
    >
  >;

/** The config's validator, compiled from spec.json ahead of time (scripts/generate-types.ts). */
const validate = validateConfig as ValidateFunction<ValidConfig>;

/** Validates a parsed config file against spec.json; throws a config_error that names every bad field. */
export function parseConfig(
  raw: unknown,
  now: DateTime = DateTime.fromMillis(clock.now(), { zone: 'utc' }),
): SourceConfig {
  const config = structuredClone(raw);
  if (!validate(config)) {
    const problems = relevant(validate.errors ?? [], config).map((e) => describe(e, config));
    throw configError(`Invalid configuration: ${[...new Set(problems)].join('; ')}.`);
  }
  return {
    credentials: credentialsOf(config),
    raw: raw as Record<string, unknown>,
    startDate: config.start_date ? parseStartDate(config.start_date) : now.minus(DEFAULT_HISTORY),
    lookback: Duration.fromObject({ minutes: config.lookback_window_minutes }),
    pageSize: config.page_size,
    maxConcurrentStreams: config.max_concurrent_streams,
    requestTimeoutMs: config.request_timeout_seconds * 1000,
    maxRetries: config.max_retries,
    customFields: config.custom_fields,
    customFieldNames: new Map((config.custom_field_names ?? []).map((entry) => [entry.field_key, entry.column_name])),
    tokenBudgetPerSync: config.token_budget_per_sync,
  };
}

/** How the config signs in: `credentials`, or the legacy flat `api_token`. */
function credentialsOf(config: ValidConfig): Credentials {
  const { credentials } = config;
  const apiToken = credentials?.auth_type === 'api_token' ? credentials.api_token : config.api_token;
  if (credentials?.auth_type === 'oauth2.0') {
    const { access_token, token_expiry_date } = credentials;
    return {
      kind: 'oauth',
      clientId: credentials.client_id.trim(),
      clientSecret: credentials.client_secret.trim(),
      refreshToken: credentials.refresh_token.trim(),
      accessToken: configuredAccessToken(access_token, token_expiry_date),
      tokenUrl: `${config.base_url ? resolveOrigin(config) : OAUTH_ORIGIN}/oauth/token`,
      origin: config.base_url ? resolveOrigin(config) : undefined,
      defaultOrigin: resolveOrigin(config),
    };
  }
  if (apiToken === undefined)
    throw configError(
      'Invalid configuration: `credentials` is required: an OAuth app (auth_type "oauth2.0" with client_id, client_secret and refresh_token) or an API token (auth_type "api_token" with api_token).',
    );
  return { kind: 'api_token', apiToken: apiToken.trim(), origin: resolveOrigin(config) };
}

function configuredAccessToken(token: string | undefined, expiry: string | undefined): ConfiguredAccessToken {
  if (token === undefined) return { state: 'absent' };
  if (expiry === undefined) return { state: 'unusable', why: 'it has no token_expiry_date' };
  const expiresAt = expiryMillis(expiry.trim());
  if (expiresAt === undefined)
    return { state: 'unusable', why: 'its token_expiry_date is not a date-time the connector can read' };
  return { state: 'usable', token: token.trim(), expiresAt };
}

/** RFC 3339 or ISO 8601 (`T` or a space between date and time; an offset, else UTC), or epoch seconds. */
function expiryMillis(value: string): number | undefined {
  if (/^\d{9,11}$/.test(value)) return Number(value) * 1000;
  const date = DateTime.fromISO(value.replace(' ', 'T'), { zone: 'utc' });
  return date.isValid ? date.toMillis() : undefined;
}

/** The errors worth showing: of a `oneOf` (credentials), only those of the variant its `auth_type` names; the
 * others would only say what a different kind of credentials needs. */
function relevant(errors: ErrorObject[], config: unknown): ErrorObject[] {
  return errors.filter((error) => {
    const variant = /\/oneOf\/(\d+)\//.exec(error.schemaPath)?.[1];
    const parent = /^#\/properties\/(\w+)\/oneOf/.exec(error.schemaPath)?.[1];
    if (parent === undefined) return true;
    const chosen = chosenVariant(parent, config);
    if (chosen === undefined) return error.keyword === 'oneOf' || error.instancePath.endsWith('/auth_type');
    return variant === String(chosen);
  });
}

/** The index of the `oneOf` variant of property `name` whose const `auth_type` the config gives, if any. */
function chosenVariant(name: string, config: unknown): number | undefined {
  const value = (config as Record<string, Record<string, unknown> | undefined>)[name];
  const index = (specSchema.properties[name]?.oneOf ?? []).findIndex(
    (variant) => variant.properties?.auth_type?.const === value?.auth_type,
  );
  return index < 0 ? undefined : index;
}

/** One ajv error as a sentence that names the field and what was expected, never echoing a secret. */
function describe(error: ErrorObject, config: unknown): string {
  const field = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const at = field ? `${field}.` : '';
  if (error.keyword === 'required') return `\`${at}${String(error.params.missingProperty)}\` is required`;
  if (error.keyword === 'oneOf' || (error.keyword === 'const' && field.endsWith('auth_type')))
    return `\`${field.replace(/\.auth_type$/, '')}.auth_type\` must be "oauth2.0" or "api_token"`;
  if (!field) return `the configuration ${error.message ?? 'is invalid'}`;
  const property = specSchema.properties[field.split('.')[0] ?? ''];
  const descriptor = error.keyword === 'pattern' ? schemaOf(error)?.pattern_descriptor : undefined;
  const expected = descriptor ? `must look like ${descriptor}` : (error.message ?? 'is invalid');
  // A nested value is never shown: it may be a secret.
  const value = (config as Record<string, unknown>)[field];
  const shown =
    property?.airbyte_secret || value === undefined ? '' : ` (got ${withoutCredentials(JSON.stringify(value))})`;
  return `\`${field}\` ${expected}${shown}`;
}

/** The spec's (sub)schema whose keyword an ajv error failed: its `schemaPath`, the keyword left off. */
function schemaOf(error: ErrorObject): PropertySpec | undefined {
  const steps = error.schemaPath.replace(/^#\//, '').split('/').slice(0, -1);
  const node = steps.reduce<unknown>((at, step) => (at as Record<string, unknown> | undefined)?.[step], specSchema);
  return node as PropertySpec | undefined;
}

/** A URL as it may be shown: any `user:password@` masked. */
const withoutCredentials = (text: string) => text.replace(/\/\/[^/\s"]*@/g, '//…@');

function parseStartDate(value: string): DateTime {
  const date = DateTime.fromISO(value, { zone: 'utc' });
  if (!date.isValid) throw configError(`Invalid configuration: \`start_date\` is not a valid date (got "${value}").`);
  return date.toUTC();
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

function resolveOrigin(config: ConnectorConfig): string {
  if (config.base_url) {
    let url: URL;
    try {
      url = new URL(config.base_url);
    } catch {
      throw configError(
        `Invalid configuration: \`base_url\` is not a valid URL (got "${withoutCredentials(config.base_url)}"; check the host and that the port is between 1 and 65535).`,
      );
    }
    if (url.protocol !== 'https:' && !LOOPBACK.test(url.hostname)) {
      throw configError(
        `Invalid configuration: \`base_url\` must use https:// (plain http is allowed only for a loopback host such as 127.0.0.1; got "${url.origin}").`,
      );
    }
    return config.base_url.replace(/\/+$/, '');
  }
  return config.company_domain ? `https://${config.company_domain.toLowerCase()}.pipedrive.com` : DEFAULT_ORIGIN;
}
