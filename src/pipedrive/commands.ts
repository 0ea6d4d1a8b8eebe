// The Pipedrive source's commands, loaded by the command line when one needs them (./source.ts): check, discover, and
// read, whose engine loads only for a read.
import type { Runtime, Source } from '../airbyte/source.js';
import { OAuthSession, type Authenticator } from './http/auth.js';
import { DEFAULT_ORIGIN, parseConfig, type SourceConfig } from './config.js';
import { authenticator, createClient, customFieldSettings } from './connection.js';
import { scopesOf } from './http/scopes.js';
import { CURRENT_USER_ENDPOINT, HttpStatusError, objectData } from './http/client.js';
import { discoverCatalog, syncModesOf } from './streams/catalog.js';
import { CustomFieldColumns } from './streams/custom-fields/columns.js';
import { refusedFeature } from './streams/features.js';
import { STREAMS, endpointsOf, isCarrier } from './streams/table.js';

export const commands: Source<SourceConfig> = {
  streams: STREAMS.map((stream) => ({ name: stream.name, syncModes: syncModesOf(stream) })),
  configure: (raw) => parseConfig(raw),
  check,
  discover,
  read: async (input) => (await import('./read.js')).planRead(input),
};

/** The catalog: in readable mode, each stream that carries custom fields declares a column per field, from the field
 * definitions (one list per entity); in raw mode, no request. A stream the grant's scopes cannot read is left out,
 * with a warning. A field list Pipedrive refuses (403, or a plan that lacks the feature) leaves its streams in, with the API's
 * shape of custom fields and a warning: their reads then fail loudly, where a stream left out would stop syncing
 * unnoticed. */
async function discover(config: SourceConfig, runtime: Runtime) {
  const auth = authenticator(config, runtime);
  const client = createClient(config, runtime, { auth });
  try {
    const columns = new CustomFieldColumns(client, customFieldSettings(config));
    const catalog = await discoverCatalog(async (stream) => {
      if (!isCarrier(stream)) return undefined;
      try {
        return await columns.schemaOf(stream);
      } catch (error) {
        const feature = refusedFeature(stream, error);
        if (!(feature || (error instanceof HttpStatusError && error.status === 403))) throw error;
        const lacking = feature ? ` (the company may lack Pipedrive's ${stream.planFeature})` : '';
        runtime.logger.warn(
          `${stream.name}: its custom fields are declared as the API returns them, as Pipedrive refused their definitions${lacking}. ${error.message}`,
        );
        return undefined;
      }
    });
    const gaps = scopeGaps(auth);
    if (gaps.size > 0)
      runtime.logger.warn(
        `Left out of the catalog, as these credentials cannot read them: ${[...gaps].map(([stream, scopes]) => `${stream} (it needs the OAuth scope ${scopes.join(' and ')})`).join('; ')}.`,
      );
    return { streams: catalog.streams.filter((stream) => !gaps.has(stream.name)) };
  } finally {
    client.close();
  }
}

/** The streams an OAuth grant cannot read, each with the scopes it lacks (one of each endpoint's), when the grant's
 * scopes are known (the run exchanged the refresh token); none otherwise. */
function scopeGaps(auth: Authenticator): Map<string, string[]> {
  const gaps = new Map<string, string[]>();
  const granted = auth instanceof OAuthSession ? auth.grantedScopes : undefined;
  if (!granted) return gaps;
  for (const stream of STREAMS) {
    const lacking = endpointsOf(stream)
      .map(scopesOf)
      .filter((scopes) => scopes.length > 0 && !scopes.some((scope) => granted.has(scope)));
    if (lacking.length > 0) gaps.set(stream.name, [...new Set(lacking.map((scopes) => scopes[0] ?? ''))]);
  }
  return gaps;
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

/** SUCCEEDED only when the token works and belongs to a global admin; a non-admin is FAILED with what to do, and
 * every other failure (bad token, closed account, unreachable host, spent budget) is thrown as a ConnectorError. */
async function check(config: SourceConfig, runtime: Runtime) {
  const auth = authenticator(config, runtime);
  // A check should answer within seconds, not after a long backoff.
  const client = createClient(config, runtime, { auth, maxRetries: Math.min(config.maxRetries, 2) });
  try {
    const body = await client.get({ endpoint: CURRENT_USER_ENDPOINT, stream: 'check', validate: objectData });
    const user = body.data as TokenUser;
    const who = `${user.name ?? 'unknown user'}${user.email ? ` <${user.email}>` : ''}`;
    const oauth = auth instanceof OAuthSession;
    if (!isAdmin(user)) {
      const fix = oauth
        ? `Re-authorise the source as a global admin, or have an admin give ${user.name ?? 'this user'} admin rights (Company settings → Manage users).`
        : `Use the API token of a global admin, or have an admin give ${user.name ?? 'this user'} admin rights (Company settings → Manage users).`;
      return {
        status: 'FAILED' as const,
        message: `The ${oauth ? 'OAuth app was authorised by' : 'API token belongs to'} ${who}, who is not a Pipedrive admin. A non-admin sees only what that user may see, so syncs would silently miss other users' deals, persons, activities and more. ${fix}`,
      };
    }
    const gaps = scopeGaps(auth);
    // `base` alone reads the company's currencies and nothing of its CRM.
    const crm = STREAMS.filter((stream) => endpointsOf(stream).some((e) => scopesOf(e).some((s) => s !== 'base')));
    if (gaps.size > 0 && crm.every((stream) => gaps.has(stream.name))) {
      return {
        status: 'FAILED' as const,
        message: `The OAuth app's access grants no scope the CRM's streams need (${[...new Set([...gaps.values()].flat())].join(', ')}). Add the scopes to the app in Pipedrive's Developer Hub (OAuth & access scopes), then re-authorise the source.`,
      };
    }
    if (gaps.size > 0)
      runtime.logger.warn(
        `The OAuth app's access lacks scopes some streams need; discover leaves them out, and a sync that selects one fails that stream: ${[...gaps].map(([stream, scopes]) => `${stream} (needs ${scopes.join(' and ')})`).join(', ')}. To read them, add the scopes to the app in Pipedrive's Developer Hub, then re-authorise the source.`,
      );
    const tip =
      config.credentials.origin === DEFAULT_ORIGIN && user.company_domain
        ? ` Tip: set company_domain to "${user.company_domain}" so requests go straight to your company's data centre.`
        : '';
    return {
      status: 'SUCCEEDED' as const,
      message: `Connected to Pipedrive company "${user.company_name ?? 'unknown'}" as admin ${who}.${tip}`,
    };
  } finally {
    client.close();
  }
}
