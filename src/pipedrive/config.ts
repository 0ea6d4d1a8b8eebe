import { Ajv, type ErrorObject } from 'ajv';
import { DateTime, Duration } from 'luxon';
import { configError } from '../airbyte/errors.js';
import { packageFile, readJson } from '../airbyte/paths.js';
import type { ConnectorSpecification } from '../generated/airbyte-protocol.js';
import type { ConnectorConfig } from '../generated/config.js';
import { clock } from './clock.js';

export const spec = readJson<ConnectorSpecification>(packageFile('spec.json'));

/** The configuration as the rest of the connector uses it: validated, defaults applied, values parsed. */
export interface SourceConfig {
  apiToken: string;
  /** Where requests go, e.g. https://acme.pipedrive.com; paths /v1/... and /api/v2/... are appended. */
  origin: string;
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
/** The product's documented default historical sync. */
export const DEFAULT_HISTORY = Duration.fromObject({ years: 1 });

type PropertySpec = { pattern_descriptor?: string; airbyte_secret?: boolean };
const specSchema = spec.connectionSpecification as { properties: Record<string, PropertySpec> };

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

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });
ajv.addVocabulary(['airbyte_secret', 'order', 'pattern_descriptor']);
const validate = ajv.compile<ValidConfig>(specSchema);

/** The values of the config's `airbyte_secret` properties, to mask in every message. */
export function secretsOf(raw: unknown): string[] {
  if (raw === null || typeof raw !== 'object') return [];
  return Object.entries(specSchema.properties)
    .filter(([, property]) => property.airbyte_secret)
    .map(([name]) => (raw as Record<string, unknown>)[name])
    .flatMap((value) => (typeof value === 'string' ? [value, value.trim()] : []));
}

/** Validates a parsed config file against spec.json; throws a config_error that names every bad field. */
export function parseConfig(
  raw: unknown,
  now: DateTime = DateTime.fromMillis(clock.now(), { zone: 'utc' }),
): SourceConfig {
  const config = structuredClone(raw);
  if (!validate(config)) {
    const problems = (validate.errors ?? []).map((e) => describe(e, config));
    throw configError(`Invalid configuration: ${problems.join('; ')}.`);
  }
  return {
    apiToken: config.api_token.trim(),
    origin: resolveOrigin(config),
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

/** One ajv error as a sentence that names the field and what was expected, never echoing a secret. */
function describe(error: ErrorObject, config: unknown): string {
  const field = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (error.keyword === 'required') return `\`${String(error.params.missingProperty)}\` is required`;
  if (!field) return `the configuration ${error.message ?? 'is invalid'}`;
  const property = specSchema.properties[field.split('.')[0] ?? ''];
  const expected =
    error.keyword === 'pattern' && property?.pattern_descriptor
      ? `must look like ${property.pattern_descriptor}`
      : (error.message ?? 'is invalid');
  const value = (config as Record<string, unknown>)[field];
  const shown =
    property?.airbyte_secret || value === undefined ? '' : ` (got ${withoutCredentials(JSON.stringify(value))})`;
  return `\`${field}\` ${expected}${shown}`;
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
