// A read's plan: the configured streams in families and tasks, each saved state checked before any request.
import { stateMessage, streamStatusMessage } from '../airbyte/messages.js';
import { configError } from '../airbyte/errors.js';
import type { ConfiguredStream, ReadInput, ReadPlan, ReadTask } from '../airbyte/source.js';
import type { SourceConfig } from './config.js';
import { createClient, customFieldSettings } from './connection.js';
import { tokenCost } from './http/ledger.js';
import type { JsonSchema } from './streams/catalog.js';
import { CustomFieldColumns } from './streams/custom-fields/columns.js';
import { readFamily, readFields, type Family, type ReadContext } from './streams/engine.js';
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

/** Plans a read: the configured streams grouped into families (a child rides along on its parent), every saved state
 * checked before any request; the families share one client and its throttle. */
export function planRead(input: ReadInput<SourceConfig>): ReadPlan {
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
