// The streams of this source, declared once, as data. The catalog, the engine, the command line's messages, the
// integration tests and the tests all derive from this table; adding a full-table stream is one row here, one schema
// file in schemas/ and the simulator's data.
import { createHash } from 'node:crypto';
import { Duration } from '../luxon.js';
import type { Query } from '../http/client.js';
import type { ApiRecord, FilteredList, ListDefinition, SortedList } from '../http/pagination.js';
import { FIELD_LISTS, type FieldEntity } from './custom-fields/definitions.js';

/** A list as a stream reads it: how to page through it (http/pagination.ts), and what the stream does with records
 * older than its lower bound in a list the API cannot filter by time: `drop` them (default); `stop` at the first one
 * (the list is newest first); `keep` them (a child stream whose parents' changes already chose what to read). */
export type StreamList = ListDefinition & { older?: 'drop' | 'stop' | 'keep'; each?: FanOut };

export type CursorField = 'update_time' | 'modified' | 'time';

/** How a request names one parent record: its id as the path's `{id}`, or in a query parameter. */
export type RecordRequest = { per: 'record'; in: 'path' } | { per: 'record'; in: 'query'; param: string };

/** The list is asked once for each record of another list (a board's phases, a role's assignments). `emptyIs404`:
 * a parent with nothing to list answers 404 (Pipedrive documents it for permission sets without assignments); any
 * other error fails the stream. `derive` gives a record what it lacks. */
export interface FanOut {
  of: ListDefinition;
  request: RecordRequest;
  emptyIs404?: true;
  derive?: (record: ApiRecord, parent: ApiRecord) => void;
}

/** What any stream may have on top of how its lists are read. */
export interface Capabilities {
  /** Costs requests every sync that a sync with nothing changed would not otherwise make (one per record of another
   * list, a list read whole for want of a filter): read only when a catalog selects it, left out of the ready-made
   * catalogs. */
  optIn?: true;
  /** The Pipedrive feature (a plan or add-on) its lists need: a company without it gets a config_error naming it.
   * Such a stream is opt-in too, so that the ready-made catalogs sync on every plan. */
  planFeature?: string;
  /** Read back to the company's beginning, however recent `start_date` is: a small list of the company's own setup
   * (its users) that records of any age refer to. Later syncs still read only what changed. */
  wholeHistory?: true;
}

/** Read whole every sync (the list may return a record more than once if `distinct`: each id is emitted once). */
export interface FullTableStream extends Capabilities {
  kind: 'full_table';
  name: string;
  lists: readonly StreamList[];
  distinct?: boolean;
  /** The property that identifies a record, when not `id` (lead sources: `name`). */
  primaryKey?: string;
  customFields?: CustomFieldsOf;
}

/** Filtered and sorted by its cursor on the server: a sync reads only what changed, and every page is a checkpoint.
 * A list that also takes an upper bound (`until`) is read in time slices, several at once (slices.ts). */
export interface ServerFilteredStream extends Deletable, Capabilities {
  kind: 'server_filtered';
  name: string;
  cursor: CursorField;
  lists: readonly SortedList[];
  customFields?: CustomFieldsOf;
}

/**
 * A stream whose records can say they were deleted (`deleted`: `is_deleted` true, or v1's `active_flag` false).
 * Such a record is emitted with `_ab_cdc_deleted_at`. A stream whose lists leave deleted records out reads
 * `deletions` for them, lists of changes that reach back no further than `reach`, whenever the previous sync completed
 * within it; an item purged for good there becomes a record of its id alone.
 */
export interface Deletable {
  deleted?: { field: string; value: unknown };
  deletions?: { reach: Duration; lists: readonly FilteredList[] };
}

/** The records carry the custom fields of `entity`: v2 records in their `custom_fields` object, v1 records under
 * hash keys at the top level. */
export interface CustomFieldsOf {
  entity: FieldEntity;
  shape: 'v1' | 'v2';
}

/** The field definitions of an entity, each with the column this connector emits it under (read whole): from the
 * entity's own list, or from `list` (lead fields: the deal fields leads carry, named as the deals' columns). */
export interface FieldsStream extends Capabilities {
  kind: 'fields';
  name: string;
  entity: FieldEntity;
  list?: ListDefinition;
}

/**
 * Lists the API cannot filter by time: read whole, older records dropped by the connector (checkpointed every page if
 * every list is in ascending cursor order, else at the end). `recent` lists return only what changed but reach back no
 * further than `reach`: they replace `lists` when the previous sync completed within it.
 */
export interface ClientFilteredStream extends Deletable, Capabilities {
  kind: 'client_filtered';
  name: string;
  cursor: CursorField;
  lists: readonly StreamList[];
  recent?: { reach: Duration; lists: readonly FilteredList[] };
  distinct?: boolean;
  customFields?: CustomFieldsOf;
}

/** How a child's lists are asked for its parents: once per parent (its id in the path), or for a batch of up to
 * `size` parents at once (their ids, comma-separated, in the query parameter `param`; each record names its parent in
 * `parentKey`). */
export type ParentRequest = RecordRequest | { per: 'batch'; param: string; size: number; parentKey: string };

/** The parameters of a request for one parent's records. */
export const parentParameters = (
  request: RecordRequest,
  parent: ApiRecord,
): { pathParams?: Record<string, string>; query?: Query } =>
  request.in === 'path' ? { pathParams: { id: String(parent.id) } } : { query: { [request.param]: String(parent.id) } };

/** Read for the records of its parent stream, riding along on the parent's lists when both are selected; only parents
 * changed since the previous sync are visited. A parent asked for alone that vanished meanwhile (404 or 410) is
 * skipped; any other answer fails the stream (a 403 is a permission it lacks, not a parent gone). */
export interface ChildStream extends Capabilities {
  kind: 'child';
  name: string;
  cursor: CursorField;
  parent: { stream: string; request: ParentRequest };
  lists: readonly StreamList[];
  /** Adds to a record what it lacks and its parent knows (the parent's id, an id of its own). */
  derive?: (record: ApiRecord, parent: ApiRecord) => void;
  /** The records go with their parent: when the parent is a deletion, so are they (`_ab_cdc_deleted_at`). */
  deletedWithParent?: boolean;
}

export type StreamDefinition =
  FullTableStream | FieldsStream | ServerFilteredStream | ClientFilteredStream | ChildStream;
export type IncrementalStream = Exclude<StreamDefinition, FullTableStream | FieldsStream>;
export const isIncremental = (stream: StreamDefinition): stream is IncrementalStream =>
  stream.kind !== 'full_table' && stream.kind !== 'fields';

/** The property that identifies a stream's records: `id`; a full table's lists may name another (lead sources: `name`).
 * (A child's `idField` only checks its pages: a change gets its `id` from `derive`.) */
export const primaryKeyOf = (stream: StreamDefinition): string =>
  stream.kind === 'fields' ? 'key' : stream.kind === 'full_table' ? (stream.primaryKey ?? 'id') : 'id';

/** A stream whose records carry an entity's custom fields. */
export type CarrierStream = (FullTableStream | ServerFilteredStream | ClientFilteredStream) & {
  customFields: CustomFieldsOf;
};

// What a stream can do, asked of any stream: the engine, the catalog and the source ask these, never the kind.

/** The stream's records carry custom fields. */
export const isCarrier = (stream: StreamDefinition): stream is CarrierStream =>
  stream.kind !== 'fields' && stream.kind !== 'child' && stream.customFields !== undefined;

/** The stream is read for the records of a parent stream. */
export const isChild = (stream: StreamDefinition): stream is ChildStream => stream.kind === 'child';

/** The stream lists field definitions. */
export const isFields = (stream: StreamDefinition): stream is FieldsStream => stream.kind === 'fields';

/** How a record says it was deleted, if the stream's records can. */
export const deletedMarkerOf = (stream: StreamDefinition): Deletable['deleted'] =>
  stream.kind === 'server_filtered' || stream.kind === 'client_filtered' ? stream.deleted : undefined;

/** The lists of changes that tell the deletions the stream's own lists leave out, if any. */
export const deletionsOf = (stream: StreamDefinition): Deletable['deletions'] =>
  stream.kind === 'server_filtered' || stream.kind === 'client_filtered' ? stream.deletions : undefined;

/** Lists of only what changed, which replace the stream's lists when the previous sync is recent enough. */
export const recentOf = (stream: StreamDefinition): ClientFilteredStream['recent'] =>
  stream.kind === 'client_filtered' ? stream.recent : undefined;

/** The stream's lists may return a record more than once: each id is emitted once. */
export const isDistinct = (stream: StreamDefinition): boolean =>
  (stream.kind === 'full_table' || stream.kind === 'client_filtered') && stream.distinct === true;

/** Records of the stream can be deletions (`_ab_cdc_deleted_at`): their own marker, or their parent's. */
export const carriesDeletions = (stream: StreamDefinition): boolean =>
  deletedMarkerOf(stream) !== undefined || (isChild(stream) && stream.deletedWithParent === true);

/** A full refresh of the stream can resume where a failed attempt stopped: its lists are sorted by its cursor and
 * filtered by it on the server (v2 lists, v1 keyset lists), so the ranges already read are not read again. */
export const isResumable = (stream: StreamDefinition): stream is ServerFilteredStream =>
  stream.kind === 'server_filtered';

/** Where a stream's history begins: at `start_date`, or for a stream of the company's setup, at its beginning. */
export const historyStart = (stream: StreamDefinition, startDate: number): number =>
  stream.wholeHistory ? 0 : startDate;

/** The stream is read only when a catalog selects it: it says so, or it needs a plan feature. */
export const isOptIn = (stream: StreamDefinition): boolean => stream.optIn === true || stream.planFeature !== undefined;

/** What the connector adds to a record from the parent it was asked for: a child's, or a fanned-out list's. */
export function deriveOf(stream: StreamDefinition): ((record: ApiRecord, parent: ApiRecord) => void) | undefined {
  if (isChild(stream)) return stream.derive;
  const lists: readonly StreamList[] = isFields(stream) ? [] : stream.lists;
  return lists.find((list) => list.each)?.each?.derive;
}

/** Where a field-definition stream's definitions come from. */
export const fieldListOf = (stream: FieldsStream): ListDefinition => stream.list ?? FIELD_LISTS[stream.entity];

const V2_SINCE = { param: 'updated_since', format: 'rfc3339' } as const;
/** A v2 list filtered on the server: `updated_since` (inclusive) and ascending `update_time`. */
const v2Sorted = (endpoint: string, query: Query = {}): SortedList => ({
  endpoint,
  query: { ...query, sort_by: 'update_time', sort_direction: 'asc' },
  paging: 'cursor',
  since: V2_SINCE,
  ascending: true,
});
/** A v2 list that also takes `updated_until` (exclusive): the engine reads it in time slices, several at once. */
const v2Sliceable = (endpoint: string, query: Query = {}): SortedList => ({
  ...v2Sorted(endpoint, query),
  until: { param: 'updated_until' },
});
/** A list that comes whole in one response. */
const single = (endpoint: string, query?: Query): ListDefinition => ({ endpoint, paging: 'single', query });

/** `/v1/recents` returns what changed of an item type (deleted and purged records too) since an exclusive bound, but
 * reaches back one month at most: a day's margin is kept. Its order is not documented: it is read as unordered. */
const RECENTS_REACH = Duration.fromObject({ days: 27 });
const recents = (item: string): FilteredList => ({
  endpoint: '/v1/recents',
  query: { items: item },
  paging: 'offset',
  records: 'recents',
  since: { param: 'since_timestamp', format: 'v1', exclusive: true },
});
/** v2 records say `is_deleted: true` (deals `status: deleted` too); v1 records `active_flag: false`. */
const IS_DELETED = { field: 'is_deleted', value: true } as const;
const INACTIVE = { field: 'active_flag', value: false } as const;

/** Every deal: the lists leave deleted ones out unless asked for them. */
const DEAL_STATUSES = 'open,won,lost,deleted';
/** Optional deal fields: the counts and ids v1 returned by default; requesting them costs nothing extra. */
const DEAL_FIELDS =
  'next_activity_id,last_activity_id,first_won_time,products_count,files_count,notes_count,followers_count,' +
  'email_messages_count,activities_count,done_activities_count,undone_activities_count,participants_count,' +
  'last_incoming_mail_time,last_outgoing_mail_time,smart_bcc_email';
const CONTACT_FIELDS =
  'next_activity_id,last_activity_id,open_deals_count,related_open_deals_count,closed_deals_count,' +
  'related_closed_deals_count,email_messages_count,activities_count,done_activities_count,undone_activities_count,' +
  'files_count,notes_count,followers_count,won_deals_count,related_won_deals_count,lost_deals_count,' +
  'related_lost_deals_count,smart_bcc_email';
const PERSON_FIELDS =
  `${CONTACT_FIELDS},participant_open_deals_count,participant_closed_deals_count,` +
  'last_incoming_mail_time,last_outgoing_mail_time';
const ORGANIZATION_FIELDS = `${CONTACT_FIELDS},people_count`;

export const MAIL_FOLDERS = ['inbox', 'drafts', 'sent', 'archive'] as const;

/**
 * Goals are the token user's unless a filter is given that means "everyone's goals will be returned", and only active
 * ones unless asked otherwise. Every goal tracks either a quantity or a sum, so asking for each tracking metric, active
 * and inactive, returns every goal in four requests. Pipedrive does not say whether such a filter also filters, so the
 * answers may overlap: each goal is emitted once.
 */
const goalLists = ['quantity', 'sum'].flatMap((metric) =>
  [true, false].map((active): ListDefinition => ({
    endpoint: '/v1/goals/find',
    query: { 'expected_outcome.tracking_metric': metric, is_active: active },
    paging: 'single',
    records: 'data.goals',
  })),
);

/**
 * The field-level history of an entity, from `/v1/{entities}/{id}/changelog` (cursor pages, newest first): read for
 * each parent changed since the previous sync, down to the stream's saved point. A change carries no id of its own:
 * it gets its parent's id and a stable id made of what identifies it, so a change read twice is one row.
 */
function changelog(parent: 'deals' | 'persons' | 'organizations', parentKey: string, name: string): ChildStream {
  return {
    kind: 'child',
    name,
    cursor: 'time',
    parent: { stream: parent, request: { per: 'record', in: 'path' } },
    lists: [{ endpoint: `/v1/${parent}/{id}/changelog`, paging: 'cursor', idField: 'field_key', older: 'stop' }],
    optIn: true,
    derive: (change, record) => {
      change[parentKey] = record.id;
      const identity = [record.id, change.time, change.field_key, change.old_value, change.new_value];
      change.id = createHash('sha1').update(JSON.stringify(identity)).digest('hex').slice(0, 24);
    },
  };
}

/**
 * For records with no time or id of their own (installments, variations, participants, followers): the time of the
 * parent's version they were read with as their `update_time` (so that a destination keeps the latest read), the
 * parent's id under `parentKey`, and, given `idOf`, an id made of what identifies the record within its parent.
 */
function fromParent(parentKey: string, idOf?: (record: ApiRecord) => unknown) {
  return (record: ApiRecord, parent: ApiRecord): void => {
    record[parentKey] = parent.id;
    record.update_time = parent.update_time;
    if (idOf) record.id = `${String(parent.id)}:${String(idOf(record))}`;
  };
}

/** An id for a record that has none, made of the properties that identify it (a user's assignment to a role). */
const joinedId =
  (...properties: string[]) =>
  (record: ApiRecord): void => {
    record.id = properties.map((property) => String(record[property])).join(':');
  };

/** Projects are an add-on; Pipedrive answers the lists of a company without it with an error. */
const PROJECTS = 'Projects add-on';

/** Who follows each record of an entity: one request per changed parent (Pipedrive keeps no company-wide list). */
function followers(parent: 'deals' | 'persons' | 'organizations' | 'products', parentKey: string): ChildStream {
  return {
    kind: 'child',
    name: `${parent.replace(/s$/, '')}_followers`,
    cursor: 'update_time',
    parent: { stream: parent, request: { per: 'record', in: 'path' } },
    lists: [{ endpoint: `/api/v2/${parent}/{id}/followers`, paging: 'cursor', idField: 'user_id', older: 'keep' }],
    derive: fromParent(parentKey, (follower) => follower.user_id),
    deletedWithParent: true,
    optIn: true,
  };
}

export const STREAMS: readonly StreamDefinition[] = [
  {
    kind: 'server_filtered',
    name: 'activities',
    cursor: 'update_time',
    lists: [v2Sliceable('/api/v2/activities', { include_fields: 'attendees' })],
    customFields: { entity: 'activity', shape: 'v2' },
    deleted: IS_DELETED,
  },
  { kind: 'fields', name: 'activity_fields', entity: 'activity' },
  { kind: 'full_table', name: 'activity_types', lists: [single('/v1/activityTypes')] },
  {
    kind: 'full_table',
    name: 'call_logs',
    // No filter and no documented order: read whole (50 a page, its most), opt-in for what that costs every sync.
    lists: [{ endpoint: '/v1/callLogs', paging: 'offset', maxPageSize: 50 }],
    optIn: true,
    planFeature: 'call logging (Caller or a calling integration)',
  },
  { kind: 'full_table', name: 'currencies', lists: [single('/v1/currencies')] },
  {
    kind: 'server_filtered',
    name: 'deals',
    cursor: 'update_time',
    lists: [
      // Deleted deals come with status=deleted (for 30 days), from each list; archived deals only from their own.
      v2Sliceable('/api/v2/deals', { status: DEAL_STATUSES, include_fields: DEAL_FIELDS }),
      v2Sliceable('/api/v2/deals/archived', { status: DEAL_STATUSES, include_fields: DEAL_FIELDS }),
    ],
    customFields: { entity: 'deal', shape: 'v2' },
    deleted: IS_DELETED,
  },
  { kind: 'fields', name: 'deal_fields', entity: 'deal' },
  {
    kind: 'child',
    name: 'deal_products',
    cursor: 'update_time',
    // The products of up to 100 changed deals a request: one request per 100 deals, not one per deal.
    parent: { stream: 'deals', request: { per: 'batch', param: 'deal_ids', size: 100, parentKey: 'deal_id' } },
    lists: [{ endpoint: '/api/v2/deals/products', paging: 'cursor', older: 'keep' }],
    deletedWithParent: true,
  },
  {
    kind: 'child',
    name: 'deal_installments',
    cursor: 'update_time',
    // The installments of up to 100 changed deals a request; installments carry no time: their deal's is used.
    parent: { stream: 'deals', request: { per: 'batch', param: 'deal_ids', size: 100, parentKey: 'deal_id' } },
    lists: [{ endpoint: '/api/v2/deals/installments', paging: 'cursor', older: 'keep' }],
    derive: fromParent('deal_id'),
    deletedWithParent: true,
    planFeature: 'installments (Growth plan and above)',
  },
  {
    kind: 'child',
    name: 'deal_participants',
    cursor: 'update_time',
    parent: { stream: 'deals', request: { per: 'record', in: 'path' } },
    lists: [{ endpoint: '/v1/deals/{id}/participants', paging: 'offset', older: 'keep' }],
    derive: fromParent('deal_id'),
    deletedWithParent: true,
    optIn: true,
  },
  followers('deals', 'deal_id'),
  changelog('deals', 'deal_id', 'deal_changelog'),
  {
    kind: 'child',
    name: 'email_messages',
    cursor: 'update_time',
    parent: {
      stream: 'email_threads',
      request: { per: 'record', in: 'path' },
    },
    lists: [{ endpoint: '/v1/mailbox/mailThreads/{id}/mailMessages', paging: 'offset' }],
  },
  {
    kind: 'client_filtered',
    name: 'email_threads',
    cursor: 'update_time',
    lists: MAIL_FOLDERS.map((folder) => ({ endpoint: '/v1/mailbox/mailThreads', query: { folder }, paging: 'offset' })),
    // A thread is listed in each of its folders.
    distinct: true,
  },
  {
    kind: 'client_filtered',
    name: 'files',
    cursor: 'update_time',
    lists: [
      {
        endpoint: '/v1/files',
        query: { sort: 'update_time ASC' },
        paging: 'offset',
        maxPageSize: 100,
        ascending: true,
      },
    ],
    // Within its reach, /v1/recents returns only what changed, deleted files included (which /v1/files leaves out).
    recent: { reach: RECENTS_REACH, lists: [recents('file')] },
    deleted: INACTIVE,
    // When /v1/files is read instead (the previous sync is too old), the deletions still come from /v1/recents.
    deletions: { reach: RECENTS_REACH, lists: [recents('file')] },
  },
  {
    kind: 'client_filtered',
    name: 'filters',
    cursor: 'update_time',
    lists: [single('/v1/filters')],
    // /v1/filters leaves deleted filters out.
    deleted: INACTIVE,
    deletions: { reach: RECENTS_REACH, lists: [recents('filter')] },
  },
  { kind: 'full_table', name: 'goals', lists: goalLists, distinct: true },
  {
    kind: 'client_filtered',
    name: 'leads',
    cursor: 'update_time',
    lists: [
      {
        endpoint: '/v1/leads',
        query: { sort: 'update_time ASC' },
        paging: 'keyset',
        since: V2_SINCE,
        cursorField: 'update_time',
        ascending: true,
      },
      // Archived leads take no updated_since: newest first, read down to the saved point.
      { endpoint: '/v1/leads/archived', query: { sort: 'update_time DESC' }, paging: 'offset', older: 'stop' },
    ],
    // Leads carry the deals' custom fields, v1's way.
    customFields: { entity: 'deal', shape: 'v1' },
  },
  {
    kind: 'fields',
    name: 'lead_fields',
    // Leads carry the deal fields: their column names are the deals'.
    entity: 'deal',
    list: { endpoint: '/v1/leadFields', paging: 'offset', idField: 'key' },
  },
  { kind: 'full_table', name: 'lead_labels', lists: [single('/v1/leadLabels')] },
  {
    kind: 'full_table',
    name: 'lead_sources',
    lists: [{ ...single('/v1/leadSources'), idField: 'name' }],
    primaryKey: 'name',
  },
  // Deprecated by Pipedrive for a Teams API still to come: opt-in, so that its retirement fails no ready-made catalog.
  { kind: 'full_table', name: 'legacy_teams', lists: [single('/v1/legacyTeams')], optIn: true },
  {
    kind: 'server_filtered',
    name: 'notes',
    cursor: 'update_time',
    lists: [
      {
        endpoint: '/v1/notes',
        query: { sort: 'update_time ASC' },
        paging: 'keyset',
        since: V2_SINCE,
        cursorField: 'update_time',
        ascending: true,
      },
    ],
    customFields: { entity: 'note', shape: 'v1' },
    // /v1/notes leaves deleted notes out.
    deleted: INACTIVE,
    deletions: { reach: RECENTS_REACH, lists: [recents('note')] },
  },
  { kind: 'fields', name: 'note_fields', entity: 'note' },
  {
    kind: 'server_filtered',
    name: 'organizations',
    cursor: 'update_time',
    lists: [v2Sliceable('/api/v2/organizations', { include_fields: ORGANIZATION_FIELDS })],
    customFields: { entity: 'organization', shape: 'v2' },
    deleted: IS_DELETED,
  },
  { kind: 'fields', name: 'organization_fields', entity: 'organization' },
  followers('organizations', 'org_id'),
  changelog('organizations', 'organization_id', 'organization_changelog'),
  {
    kind: 'server_filtered',
    name: 'persons',
    cursor: 'update_time',
    lists: [v2Sliceable('/api/v2/persons', { include_fields: PERSON_FIELDS })],
    customFields: { entity: 'person', shape: 'v2' },
    deleted: IS_DELETED,
  },
  { kind: 'fields', name: 'person_fields', entity: 'person' },
  followers('persons', 'person_id'),
  { kind: 'full_table', name: 'permission_sets', lists: [single('/v1/permissionSets')] },
  {
    kind: 'full_table',
    name: 'permission_set_assignments',
    lists: [
      {
        endpoint: '/v1/permissionSets/{id}/assignments',
        paging: 'offset',
        idField: 'user_id',
        each: {
          of: single('/v1/permissionSets'),
          request: { per: 'record', in: 'path' },
          emptyIs404: true,
          derive: joinedId('permission_set_id', 'user_id'),
        },
      },
    ],
    optIn: true,
  },
  changelog('persons', 'person_id', 'person_changelog'),
  { kind: 'full_table', name: 'pipelines', lists: [{ endpoint: '/api/v2/pipelines', paging: 'cursor' }] },
  {
    kind: 'server_filtered',
    name: 'products',
    cursor: 'update_time',
    // Products take no updated_until: one slice.
    lists: [v2Sorted('/api/v2/products')],
    customFields: { entity: 'product', shape: 'v2' },
    deleted: IS_DELETED,
  },
  {
    kind: 'child',
    name: 'product_variations',
    cursor: 'update_time',
    parent: { stream: 'products', request: { per: 'record', in: 'path' } },
    lists: [{ endpoint: '/api/v2/products/{id}/variations', paging: 'cursor', older: 'keep' }],
    derive: fromParent('product_id'),
    deletedWithParent: true,
  },
  followers('products', 'product_id'),
  {
    kind: 'full_table',
    name: 'projects',
    // Deleted projects are left out (a full table drops them); archived ones come only from their own list.
    lists: [
      { endpoint: '/api/v2/projects', paging: 'cursor' },
      { endpoint: '/api/v2/projects/archived', paging: 'cursor' },
    ],
    // A project archived between the two lists is in both: it is emitted once.
    distinct: true,
    customFields: { entity: 'project', shape: 'v2' },
    planFeature: PROJECTS,
  },
  { kind: 'full_table', name: 'project_boards', lists: [single('/api/v2/boards')], planFeature: PROJECTS },
  { kind: 'fields', name: 'project_fields', entity: 'project', planFeature: PROJECTS },
  {
    kind: 'full_table',
    name: 'project_phases',
    // Phases are listed per board.
    lists: [
      {
        ...single('/api/v2/phases'),
        each: { of: single('/api/v2/boards'), request: { per: 'record', in: 'query', param: 'board_id' } },
      },
    ],
    planFeature: PROJECTS,
  },
  {
    kind: 'full_table',
    name: 'project_templates',
    lists: [{ endpoint: '/api/v2/projectTemplates', paging: 'cursor' }],
    planFeature: PROJECTS,
  },
  { kind: 'full_table', name: 'roles', lists: [{ endpoint: '/v1/roles', paging: 'offset' }] },
  {
    kind: 'full_table',
    name: 'role_assignments',
    lists: [
      {
        endpoint: '/v1/roles/{id}/assignments',
        paging: 'offset',
        idField: 'user_id',
        each: {
          of: { endpoint: '/v1/roles', paging: 'offset' },
          request: { per: 'record', in: 'path' },
          derive: joinedId('role_id', 'user_id'),
        },
      },
    ],
    optIn: true,
  },
  { kind: 'fields', name: 'product_fields', entity: 'product' },
  { kind: 'full_table', name: 'stages', lists: [{ endpoint: '/api/v2/stages', paging: 'cursor' }] },
  {
    kind: 'full_table',
    name: 'tasks',
    lists: [{ endpoint: '/api/v2/tasks', paging: 'cursor' }],
    planFeature: PROJECTS,
  },
  { kind: 'client_filtered', name: 'users', cursor: 'modified', lists: [single('/v1/users')], wholeHistory: true },
];

export const streamByName: ReadonlyMap<string, StreamDefinition> = new Map(STREAMS.map((s) => [s.name, s]));

/** A child stream's parent: an incremental stream of the table (test/structure.test.ts holds the table to that). */
export function parentOf(child: ChildStream): IncrementalStream {
  const parent = streamByName.get(child.parent.stream);
  if (!parent || !isIncremental(parent)) throw new Error(`${child.name}: no incremental parent ${child.parent.stream}`);
  return parent;
}
export const INCREMENTAL_STREAMS = STREAMS.filter(isIncremental);
/** The streams a catalog selects unless told otherwise: all but the opt-in ones. */
export const DEFAULT_STREAMS = STREAMS.filter((stream) => !isOptIn(stream));

/** The stream whose records carry an entity's custom fields in the entity's own shape (its standard properties are
 * the field's neighbours): the one FIELD_LISTS names. */
export function fieldsCarrier(entity: FieldEntity): CarrierStream {
  const carrier = streamByName.get(FIELD_LISTS[entity].carrier);
  if (!carrier || !isCarrier(carrier)) throw new Error(`no stream carries the custom fields of ${entity}`);
  return carrier;
}

/** The endpoints a stream reads (with their alternatives: `recent` lists; a child's include its parent's, which it
 * reads when the parent is not selected). */
export function endpointsOf(stream: StreamDefinition): string[] {
  // A field-definition stream also reads its entity's own definitions, which name the columns.
  if (isFields(stream)) return listEndpoints([fieldListOf(stream), FIELD_LISTS[stream.entity]]);
  if (isChild(stream)) return [...new Set([...endpointsOf(parentOf(stream)), ...listEndpoints(stream.lists)])];
  const fields = isCarrier(stream) ? [FIELD_LISTS[stream.customFields.entity]] : [];
  const recent = recentOf(stream)?.lists ?? [];
  const deletions = deletionsOf(stream)?.lists ?? [];
  const lists: readonly StreamList[] = stream.lists;
  const fannedOver = lists.flatMap((list) => (list.each ? [list.each.of] : []));
  return listEndpoints([...fannedOver, ...stream.lists, ...recent, ...deletions, ...fields]);
}

const listEndpoints = (lists: readonly { endpoint: string }[]) => [...new Set(lists.map((list) => list.endpoint))];

/** Every endpoint the streams read, each once. */
export const STREAM_ENDPOINTS: readonly string[] = [...new Set(STREAMS.flatMap(endpointsOf))];
