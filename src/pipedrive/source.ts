// The Pipedrive source: what the Airbyte layer (src/airbyte/) runs for spec, check, discover and read.
import { stateMessage, streamStatusMessage } from '../airbyte/messages.js';
import { configError } from '../airbyte/errors.js';
import type { ConfiguredStream, ReadInput, ReadPlan, ReadTask, Runtime, Source } from '../airbyte/source.js';
import { DEFAULT_ORIGIN, parseConfig, secretsOf, spec, type SourceConfig } from './config.js';
import { OAuthSession, apiTokenAuth, type Authenticator, type ExchangedTokens } from './http/auth.js';
import { scopesOf } from './http/scopes.js';
import {
  CURRENT_USER_ENDPOINT,
  HttpStatusError,
  PipedriveClient,
  objectData,
  type ClientAdvice,
  type ClientOptions,
} from './http/client.js';
import { tokenCost } from './http/ledger.js';
import { discoverCatalog, syncModesOf, type JsonSchema } from './streams/catalog.js';
import { CustomFieldColumns } from './streams/custom-fields/columns.js';
import { readFamily, readFields, refusedFeature, type Family, type ReadContext } from './streams/engine.js';
import { SlicePool } from './streams/slices.js';
import type { FieldEntity } from './streams/custom-fields/definitions.js';
import {
  FULL_REFRESH_COMPLETE,
  believable,
  bounds,
  parseRefreshState,
  parseSavedState,
  refreshRead,
  streamRead,
  type RefreshProgress,
  type SavedState,
} from './streams/state.js';
import {
  STREAMS,
  endpointsOf,
  fieldListOf,
  fieldsCarrier,
  isCarrier,
  isChild,
  isFields,
  isIncremental,
  isResumable,
  parentOf,
  streamByName,
  type FieldsStream,
  type IncrementalStream,
} from './streams/table.js';
import { clock } from './clock.js';
import { formatRfc3339 } from './time.js';
import type { StreamState } from '../airbyte/messages.js';

export const pipedriveSource: Source<SourceConfig> = {
  spec,
  streams: STREAMS.map((stream) => ({ name: stream.name, syncModes: syncModesOf(stream) })),
  secrets: secretsOf,
  configure: (raw) => parseConfig(raw),
  check,
  discover,
  read,
};

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
function createClient(config: SourceConfig, runtime: Runtime, options: Partial<ClientOptions> = {}) {
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
function authenticator(config: SourceConfig, runtime: Runtime): Authenticator {
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

const customFieldSettings = (config: SourceConfig) => ({ mode: config.customFields, names: config.customFieldNames });

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

/** Plans a read: the configured streams grouped into families (a child rides along on its parent), every saved state
 * checked before any request; the families share one client and its throttle. */
function read(input: ReadInput<SourceConfig>): ReadPlan {
  const { config, streams, writer, logger } = input;
  const { families, fields, refreshed } = plan(streams, config, input);
  const client = createClient(config, input, {
    tokenBudget: config.tokenBudgetPerSync,
    onRateLimited: (stream, resumeAt) =>
      void writer.write(
        streamStatusMessage(stream, 'RUNNING', [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: resumeAt } }]),
      ),
  });
  const columns = new CustomFieldColumns(client, customFieldSettings(config), configuredSchemas(streams));
  const slices = new SlicePool(() => client.throttle.burstLimit);
  const { progress } = input;
  const context: ReadContext = { client, writer, logger, pageSize: config.pageSize, columns, slices, progress };
  const fullRefresh = new Set(streams.filter((s) => s.syncMode === 'full_refresh').map((s) => s.name));
  const [whole, incremental] = budgetedTasks(families, fields, context, fullRefresh);
  whole.unshift(...refreshed.map((name) => refreshedTask(name, context)));
  return {
    // With a cap, streams in full refresh are read before any incremental one may spend what they need.
    phases: config.tokenBudgetPerSync === undefined ? [[...whole, ...incremental]] : [whole, incremental],
    concurrency: config.maxConcurrentStreams,
    figures: (stream) => ({ ...(stream === undefined ? client.stats.total() : client.stats.of(stream)) }),
    spent: (stream) => {
      const { requests, tokens } = client.stats.of(stream);
      const cap = config.tokenBudgetPerSync;
      const ofCap = cap === undefined ? '' : ` (the sync: ${client.stats.total().tokens} of its ${cap})`;
      return `${requests} requests, ${tokens} tokens${ofCap}`;
    },
    deferralReason: () =>
      client.budgetStop?.budget === 'daily'
        ? client.budgetStop
        : configError(
            `This sync spent ${client.stats.total().tokens} of the ${config.tokenBudgetPerSync ?? 0} tokens token_budget_per_sync allows before every stream was read. Raise it to read more per sync; a stream in full refresh is read whole in one sync or not at all, so sync big streams incrementally, which spreads them over as many syncs as they need.`,
          ),
    close: () => client.close(),
  };
}

/**
 * The tasks of a read as the tokens allow: first those with a stream in full refresh, each read whole or not at all
 * (a cut one would leave an overwritten table short), the small full tables by their cost, those of unknown size
 * last; then the incremental ones, which take what is left, each stopping at a checkpoint when the tokens run out.
 */
function budgetedTasks(
  families: readonly Family[],
  fields: readonly FieldsStream[],
  context: ReadContext,
  fullRefresh: ReadonlySet<string>,
): [ReadTask[], ReadTask[]] {
  const { client } = context;
  const tasks = [
    ...fields.map((stream) => ({
      streams: [stream.name],
      estimate: tokenCost(fieldListOf(stream).endpoint),
      run: () => readFields(stream, context),
    })),
    ...families.map((family) => ({
      ...familyTask(family, context),
      estimate: isIncremental(family.parent) ? Infinity : listsCost(family.parent.lists),
    })),
  ].sort((a, b) => a.estimate - b.estimate);
  const ready = (estimate: number) => () =>
    estimate === Infinity ? client.tokensLeft > 0 : client.tokensLeft >= estimate;
  const planned = tasks.map(({ estimate, ...task }) => ({ ...task, ready: ready(estimate) }));
  const whole = planned.filter((task) => task.streams.some((name) => fullRefresh.has(name)));
  return [whole, planned.filter((task) => !whole.includes(task))];
}

/** A resumable full refresh an earlier attempt of this sync completed: nothing more to read, its state said again. */
function refreshedTask(name: string, { writer, logger }: ReadContext): ReadTask {
  return {
    streams: [name],
    run: async () => {
      logger.info(
        `${name}: its full refresh was completed by an earlier attempt of this sync (the --state says so), so nothing is read again. A new sync must start without that state, as Airbyte starts it.`,
      );
      await writer.write(stateMessage(name, { [FULL_REFRESH_COMPLETE]: true }, 0));
      return new Map([[name, { records: 0 }]]);
    },
  };
}

function familyTask(family: Family, context: ReadContext) {
  return {
    streams: [family.parentRead, ...family.children].flatMap((member) => (member ? [member.stream.name] : [])),
    run: () => readFamily(family, context),
  };
}

/** What reading lists costs, a page each (full-table lists are small). */
const listsCost = (lists: readonly { endpoint: string }[]) =>
  lists.reduce((sum, list) => sum + tokenCost(list.endpoint), 0);

/** The schemas the configured catalog gives the streams that carry custom fields, by entity: they say which column
 * each field has (as discovered). */
function configuredSchemas(streams: readonly ConfiguredStream[]): Map<FieldEntity, JsonSchema> {
  const schemas = new Map<FieldEntity, JsonSchema>();
  for (const { name, schema } of streams) {
    const stream = streamByName.get(name);
    // The carrier's (deals, not leads) when both are configured: they name the columns alike.
    const carrier = stream && isCarrier(stream) ? stream : undefined;
    if (
      carrier &&
      schema &&
      (carrier === fieldsCarrier(carrier.customFields.entity) || !schemas.has(carrier.customFields.entity))
    )
      schemas.set(carrier.customFields.entity, schema);
  }
  return schemas;
}

/**
 * Groups the configured streams into families, each read as one task: a child stream (mail messages) rides along on
 * its parent (mail threads), so that the parent's lists are read once for both; a child whose parent is not in the
 * catalog has the parent's lists read on its behalf. Field-definition streams are tasks of their own.
 */
function plan(streams: readonly ConfiguredStream[], config: SourceConfig, input: ReadInput<SourceConfig>) {
  const families = new Map<string, Family>();
  const fields: FieldsStream[] = [];
  /** Resumable full refreshes an earlier attempt completed. */
  const refreshed: string[] = [];
  for (const { name, syncMode, state } of streams) {
    const stream = streamByName.get(name);
    if (!stream) continue;
    if (isFields(stream)) {
      fields.push(stream);
      continue;
    }
    const parent = isChild(stream) ? parentOf(stream) : stream;
    const family: Family = families.get(parent.name) ?? { parent, children: [] };
    families.set(parent.name, family);
    if (syncMode === 'full_refresh' && isResumable(stream)) {
      const progress: RefreshProgress = state
        ? parseRefreshState(stream, state, input.invalidState)
        : { complete: false, listDone: {} };
      if (progress.complete) refreshed.push(name);
      else family.parentRead = refreshRead(stream, progress.listDone, config);
      continue;
    }
    const saved =
      syncMode === 'incremental' && state && isIncremental(stream) ? savedState(stream, state, input) : undefined;
    if (isChild(stream)) family.children.push({ stream, bounds: bounds(stream, saved, config) });
    else family.parentRead = streamRead(stream, saved, config);
  }
  const needed = [...families.values()].filter((family) => family.parentRead || family.children.length > 0);
  return { families: needed, fields, refreshed };
}

/** A stream's saved state, checked, and believed as far as it can be (streams/state.ts: believable). */
function savedState(stream: IncrementalStream, state: StreamState, input: ReadInput<SourceConfig>): SavedState {
  const { saved, doubted } = believable(parseSavedState(stream, state, input.invalidState), clock.now());
  if (doubted !== undefined)
    input.logger.warn(
      `${stream.name}: the saved synced_at (${formatRfc3339(doubted)}) is later than this machine's clock: a clock ran ahead when it was saved, or this machine's is behind, so it cannot say when the previous read began; this sync reads from the stream's own cursor instead.`,
    );
  return saved;
}
