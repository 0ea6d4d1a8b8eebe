// The 16 streams, declared as data. The engine (engine.ts) interprets these declarations; adding a stream means
// adding a schema file and a few lines here.
import { Duration } from 'luxon';
import type { Query } from '../http/client.js';

export const STREAM_NAMES = [
  'activities',
  'activity_types',
  'currencies',
  'deals',
  'email_messages',
  'email_threads',
  'files',
  'filters',
  'goals',
  'notes',
  'organizations',
  'persons',
  'pipelines',
  'products',
  'stages',
  'users',
] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

export type ApiRecord = Record<string, unknown> & { id: number | string };

/** One list endpoint and how to page through it. */
export interface ListDefinition {
  endpoint: string;
  query?: Query;
  /**
   * - `cursor`: v2 `cursor`/`limit` pages (`additional_data.next_cursor`);
   * - `offset`: v1 `start`/`limit` pages (`additional_data.pagination`), each overlapping the previous one by a record
   *   so that a shift of the list between two requests is noticed;
   * - `keyset`: v1 pages sorted by the cursor, re-queried from the last cursor value seen, so records that change
   *   while the list is read cannot shift it;
   * - `single`: one response holds the whole list.
   */
  paging: 'cursor' | 'offset' | 'keyset' | 'single';
  /** Where the records sit in the body: `data` (default), `data.goals`, or `/v1/recents` items (`data[].data`). */
  records?: 'data' | 'data.goals' | 'recents';
  /** The API's largest page, when below 500. */
  maxPageSize?: number;
  /** Server-side lower bound of the cursor. Without one, the engine drops older records itself. */
  since?: {
    param: 'updated_since' | 'since_timestamp';
    /** RFC 3339 (`2025-01-01T10:20:00Z`) or v1 (`2025-01-01 10:20:00`). */
    format: 'rfc3339' | 'v1';
    /** The API returns records strictly after the bound rather than at or after it. */
    exclusive?: boolean;
  };
  /** Records come in ascending cursor order, so the stream can checkpoint after every page. */
  ascending?: boolean;
}

export interface StreamDefinition {
  name: StreamName;
  /** The cursor of an incremental stream; full-table streams have none. */
  cursor?: 'update_time' | 'modified';
  /** Read in turn; ascending lists of one stream are merged by cursor instead, so one cursor covers them all. */
  lists: ListDefinition[];
  /**
   * Replaces `lists` in an incremental sync when everything older than `reach` has been emitted already (the previous
   * sync completed within it): lists that return only what changed, but reach back no further.
   */
  recent?: { reach: Duration; lists: ListDefinition[] };
  /** The lists are read once per record of the parent stream, with these path parameters. */
  parent?: { stream: StreamName; pathParams: (parent: ApiRecord) => Record<string, number | string> };
  /** Statuses a per-parent list may answer when its parent vanished during the sync: skip that parent. */
  tolerate?: number[];
  /** The lists may return a record more than once (overlapping queries): emit each id once per sync. */
  distinct?: boolean;
}

const V2_SINCE = { param: 'updated_since', format: 'rfc3339' } as const;
/** v2 lists filtered on the server: `updated_since` (inclusive) and ascending `update_time`. */
const v2Incremental = (endpoint: string, query: Query = {}): ListDefinition => ({
  endpoint,
  query: { ...query, sort_by: 'update_time', sort_direction: 'asc' },
  paging: 'cursor',
  since: V2_SINCE,
  ascending: true,
});

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
const PERSON_FIELDS = `${CONTACT_FIELDS},participant_open_deals_count,participant_closed_deals_count,last_incoming_mail_time,last_outgoing_mail_time`;
const ORGANIZATION_FIELDS = `${CONTACT_FIELDS},people_count`;

export const MAIL_FOLDERS = ['inbox', 'drafts', 'sent', 'archive'] as const;
const mailThreadLists: ListDefinition[] = MAIL_FOLDERS.map((folder) => ({
  endpoint: '/v1/mailbox/mailThreads',
  query: { folder },
  paging: 'offset',
}));
/**
 * Goals are the token user's unless a filter is given that means "everyone's goals will be returned", and only active
 * ones unless asked otherwise. Every goal tracks either a quantity or a sum, so asking for each tracking metric, active
 * and inactive, returns every goal in four requests. Pipedrive does not say whether such a filter also filters, so the
 * answers may overlap: each goal is emitted once.
 */
const goalLists: ListDefinition[] = ['quantity', 'sum'].flatMap((metric) =>
  [true, false].map((active) => ({
    endpoint: '/v1/goals/find',
    query: { 'expected_outcome.tracking_metric': metric, is_active: active },
    paging: 'single' as const,
    records: 'data.goals' as const,
  })),
);

export const STREAMS: StreamDefinition[] = [
  {
    name: 'activities',
    cursor: 'update_time',
    lists: [v2Incremental('/api/v2/activities', { include_fields: 'attendees' })],
  },
  { name: 'activity_types', lists: [{ endpoint: '/v1/activityTypes', paging: 'single' }] },
  { name: 'currencies', lists: [{ endpoint: '/v1/currencies', paging: 'single' }] },
  {
    name: 'deals',
    cursor: 'update_time',
    lists: [
      // Deleted deals come with status=deleted (for 30 days); archived deals only from their own list.
      v2Incremental('/api/v2/deals', { status: 'open,won,lost,deleted', include_fields: DEAL_FIELDS }),
      v2Incremental('/api/v2/deals/archived', { include_fields: DEAL_FIELDS }),
    ],
  },
  {
    name: 'email_messages',
    cursor: 'update_time',
    parent: { stream: 'email_threads', pathParams: (thread) => ({ id: thread.id }) },
    lists: [{ endpoint: '/v1/mailbox/mailThreads/{id}/mailMessages', paging: 'offset' }],
    tolerate: [403, 404, 410],
  },
  // A thread is listed in each of its folders.
  { name: 'email_threads', cursor: 'update_time', lists: mailThreadLists, distinct: true },
  {
    name: 'files',
    cursor: 'update_time',
    lists: [
      { endpoint: '/v1/files', query: { sort: 'update_time ASC' }, paging: 'offset', maxPageSize: 100, ascending: true },
    ],
    // /v1/recents returns only what changed, but reaches back one month at most (a day's margin kept). Its order is
    // not documented, so it is not taken as ascending: the stream checkpoints once, at the end.
    recent: {
      reach: Duration.fromObject({ days: 27 }),
      lists: [
        {
          endpoint: '/v1/recents',
          query: { items: 'file' },
          paging: 'offset',
          records: 'recents',
          since: { param: 'since_timestamp', format: 'v1', exclusive: true },
        },
      ],
    },
  },
  { name: 'filters', cursor: 'update_time', lists: [{ endpoint: '/v1/filters', paging: 'single' }] },
  { name: 'goals', lists: goalLists, distinct: true },
  {
    name: 'notes',
    cursor: 'update_time',
    lists: [
      {
        endpoint: '/v1/notes',
        query: { sort: 'update_time ASC' },
        paging: 'keyset',
        since: V2_SINCE,
        ascending: true,
      },
    ],
  },
  {
    name: 'organizations',
    cursor: 'update_time',
    lists: [v2Incremental('/api/v2/organizations', { include_fields: ORGANIZATION_FIELDS })],
  },
  {
    name: 'persons',
    cursor: 'update_time',
    lists: [v2Incremental('/api/v2/persons', { include_fields: PERSON_FIELDS })],
  },
  { name: 'pipelines', lists: [{ endpoint: '/api/v2/pipelines', paging: 'cursor' }] },
  { name: 'products', cursor: 'update_time', lists: [v2Incremental('/api/v2/products')] },
  { name: 'stages', lists: [{ endpoint: '/api/v2/stages', paging: 'cursor' }] },
  { name: 'users', cursor: 'modified', lists: [{ endpoint: '/v1/users', paging: 'single' }] },
];

export const streamByName: ReadonlyMap<string, StreamDefinition> = new Map(STREAMS.map((stream) => [stream.name, stream]));
