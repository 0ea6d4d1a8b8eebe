// The connector's commands: spec, check, discover and read, independent of how they are invoked.
import { DEFAULT_ORIGIN, parseConfig, spec, type SourceConfig } from './config.js';
import { ConnectorError } from './errors.js';
import { PipedriveClient, objectData, type ClientOptions } from './http/client.js';
import type { Logger } from './protocol/logger.js';
import {
  catalogMessage,
  connectionStatusMessage,
  specMessage,
  type AirbyteMessage,
} from './protocol/messages.js';
import { discoverCatalog } from './streams/catalog.js';

export const specCommand = (): AirbyteMessage => specMessage(spec);

export const discoverCommand = (rawConfig: unknown): AirbyteMessage => {
  parseConfig(rawConfig);
  return catalogMessage(discoverCatalog());
};

export function createClient(config: SourceConfig, logger: Logger, options: Partial<ClientOptions> = {}) {
  return new PipedriveClient({
    origin: config.origin,
    apiToken: config.apiToken,
    timeoutMs: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    maxSockets: config.maxConcurrentStreams * 2,
    logger,
    ...options,
  });
}

interface TokenUser {
  name?: string;
  email?: string;
  access?: { app?: string; admin?: boolean }[];
  is_admin?: number | boolean;
  company_name?: string;
  company_domain?: string;
}

/** Admin rights are in `access[]` (app "global"); accounts from before 2022 may only carry the legacy `is_admin`. */
const isAdmin = (user: TokenUser) =>
  Array.isArray(user.access)
    ? user.access.some((grant) => grant.app === 'global' && grant.admin === true)
    : user.is_admin === 1 || user.is_admin === true;

/**
 * SUCCEEDED only when the token works and belongs to a global admin; every expected failure (bad config, bad token,
 * non-admin, closed account, unreachable host, spent budget) is a FAILED status that says what to do.
 */
export async function checkCommand(rawConfig: unknown, logger: Logger): Promise<AirbyteMessage> {
  let config: SourceConfig;
  try {
    config = parseConfig(rawConfig);
  } catch (error) {
    if (error instanceof ConnectorError) return connectionStatusMessage('FAILED', error.message);
    throw error;
  }
  // A check should answer within seconds, not after a long backoff.
  const client = createClient(config, logger, { maxRetries: Math.min(config.maxRetries, 2) });
  try {
    const body = await client.get({ endpoint: '/v1/users/me', stream: 'check', validate: objectData });
    const user = body.data as TokenUser;
    const who = `${user.name ?? 'unknown user'}${user.email ? ` <${user.email}>` : ''}`;
    if (!isAdmin(user)) {
      return connectionStatusMessage(
        'FAILED',
        `The API token belongs to ${who}, who is not a Pipedrive admin. A non-admin token sees only what that user may see, so syncs would silently miss other users' deals, persons, activities and more. Use the API token of a global admin, or have an admin give ${user.name ?? 'this user'} admin rights (Company settings → Manage users).`,
      );
    }
    const tip =
      config.origin === DEFAULT_ORIGIN && user.company_domain
        ? ` Tip: set company_domain to "${user.company_domain}" so requests go straight to your company's data centre.`
        : '';
    return connectionStatusMessage(
      'SUCCEEDED',
      `Connected to Pipedrive company "${user.company_name ?? 'unknown'}" as admin ${who}.${tip}`,
    );
  } catch (error) {
    if (error instanceof ConnectorError) return connectionStatusMessage('FAILED', error.message);
    throw error;
  } finally {
    client.close();
  }
}
