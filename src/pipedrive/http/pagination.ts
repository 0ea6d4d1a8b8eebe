// Pipedrive's ways of paging through a list, behind one interface: a list declared as data (endpoint, paging,
// where its records sit, how it filters by time) and a page request give an async generator of pages of raw records.
// Every page is checked against the shape its endpoint documents before a record of it is used, and a list that stops
// making progress (a cursor or offset seen before, pages that claim more but bring nothing) fails instead of looping.
import { ConnectorError } from '../../airbyte/errors.js';
import { isObject } from '../../airbyte/json.js';
import { formatRfc3339, formatV1, toMillis } from '../time.js';
import { describeJson, type ApiBody, type PipedriveClient, type Query, type Request } from './client.js';

/** A record as the API returns it: an object, whose id (`idField`) every page is checked for. */
export type ApiRecord = Record<string, unknown>;

/** The largest page Pipedrive's lists return (some return less: a list's `maxPageSize`). */
export const MAX_PAGE_SIZE = 500;

/** Marks what `/v1/recents` says of an item purged for good (`data: null`): a record with just its id. */
export const PURGED = Symbol('purged');
export const isPurged = (record: ApiRecord): boolean => (record as Record<symbol, unknown>)[PURGED] === true;
export type Pages = AsyncGenerator<ApiRecord[], void, undefined>;

/** Where the records sit in the body: `data` (default), `data.goals`, or `/v1/recents` items (`data[].data`). */
export type Selector = 'data' | 'data.goals' | 'recents';

/** A server-side lower bound on the records' time. */
export interface Since {
  param: 'updated_since' | 'since_timestamp';
  /** RFC 3339 (`2025-01-01T10:20:00Z`) or v1 (`2025-01-01 10:20:00`). */
  format: 'rfc3339' | 'v1';
  /** The API returns records strictly after the bound rather than at or after it. */
  exclusive?: boolean;
}

/** A server-side upper bound on the records' time, exclusive, in the format of the list's `since`. */
export interface Until {
  param: 'updated_until';
}

interface ListCommon {
  endpoint: string;
  query?: Query;
  records?: Selector;
  /** The API's largest page, when below MAX_PAGE_SIZE. */
  maxPageSize?: number;
  /** Server-side lower bound; without one, the stream drops older records itself. */
  since?: Since;
  /** Server-side upper bound, which lets a stream read a list in time slices. */
  until?: Until;
  /** Records come in ascending cursor order, so a stream can checkpoint after every page. */
  ascending?: boolean;
  /** The property that identifies a record, when not `id` (v2 field definitions: `field_code`). */
  idField?: string;
}

/**
 * One list endpoint and how to page through it:
 * - `cursor`: v2 `cursor`/`limit` pages (`additional_data.next_cursor`);
 * - `offset`: v1 `start`/`limit` pages (`additional_data.pagination`), each overlapping the previous one by a record so
 *   that a shift of the list between two requests is noticed;
 * - `keyset`: v1 pages filtered and sorted by a time field, each re-queried from the last value seen, so records that
 *   change while the list is read cannot shift it;
 * - `single`: one response holds the whole list.
 */
export type ListDefinition =
  | (ListCommon & { paging: 'cursor' | 'offset' | 'single' })
  | (ListCommon & { paging: 'keyset'; since: Since; cursorField: string; ascending: true });
/** A list the server filters by time. */
export type FilteredList = ListDefinition & { since: Since };
/** A list the server filters and sorts by time: every page is a checkpoint. */
export type SortedList = FilteredList & { ascending: true };

/** What every paginator takes: the list, the page size, the bounds of the records' time (which a list that can
 * filters on: the lower inclusive, the upper exclusive), and what each request carries: the stream it is counted for,
 * path parameters, the stream's signal. `prefetch` (default true) asks for the next page while the caller handles the
 * current one, where the paging allows; as a function, it is asked at each page. */
export interface PageRequest<L extends ListDefinition = ListDefinition> {
  client: PipedriveClient;
  list: L;
  limit: number;
  lowerBound?: number;
  upperBound?: number;
  stream: string;
  pathParams?: Record<string, string | number>;
  /** Query parameters of this request on top of the list's own (a batch of parent ids). */
  query?: Query;
  signal?: AbortSignal;
  prefetch?: boolean | (() => boolean);
}

/** A list's pages. */
export function listPages(page: PageRequest): Pages {
  const { list } = page;
  switch (list.paging) {
    case 'cursor':
      return cursorPages(page);
    case 'offset':
      return offsetPages(page);
    case 'keyset':
      return keysetPages({ ...page, list });
    case 'single':
      return singlePage(page);
  }
}

/** Pages in a row that may bring no record while claiming more, before the list is taken to be stuck. */
const MAX_EMPTY_PAGES = 3;

/** A lower bound (epoch ms) as the query parameter wants it; an exclusive parameter is asked a second early, since
 * Pipedrive's timestamps have whole seconds. */
function sinceParameter(since: Since, ms: number): Record<string, string> {
  return { [since.param]: formatTime(since.format, since.exclusive ? ms - 1000 : ms) };
}

const formatTime = (format: Since['format'], ms: number) => (format === 'v1' ? formatV1(ms) : formatRfc3339(ms));

/** The request for a list's pages, its server-side bounds included. */
function filtered({ list, lowerBound, upperBound, stream, pathParams, query, signal }: PageRequest): Request {
  const since = list.since && lowerBound !== undefined ? sinceParameter(list.since, lowerBound) : {};
  const until =
    list.since && list.until && upperBound !== undefined && upperBound !== Infinity
      ? { [list.until.param]: formatTime(list.since.format, upperBound) }
      : {};
  return {
    endpoint: list.endpoint,
    query: { ...list.query, ...query, ...since, ...until },
    stream,
    pathParams,
    signal,
  };
}

/** What is wrong with one record, or null: it must be an object with an id. */
function recordProblem(record: unknown, where: string, idField: string): string | null {
  if (!isObject(record)) return `${where} is ${describeJson(record)}, not a record`;
  const id = record[idField];
  const valid = (typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && id !== '');
  return valid ? null : `${where} has no ${idField}`;
}

/** What is wrong with a list's records in a body, or null. v1 lists answer `data: null` when empty. */
function recordsProblem(body: ApiBody, selector: Selector, idField: string): string | null {
  let data = body.data;
  if (selector === 'data.goals') {
    if (!isObject(data)) return `data is ${describeJson(data)}, not an object with goals`;
    data = data.goals;
  }
  if (data === null || (data === undefined && selector !== 'data.goals')) return null;
  if (!Array.isArray(data)) return `the list is ${describeJson(data)}, not a list`;
  for (const [index, item] of data.entries()) {
    if (selector !== 'recents') {
      const problem = recordProblem(item, `item ${index}`, idField);
      if (problem) return problem;
      continue;
    }
    // /v1/recents wraps each record as {item, id, data}; data is null for purged items and a list for users.
    if (!isObject(item) || typeof item.item !== 'string') return `item ${index} is not a recents entry`;
    const inner = Array.isArray(item.data) ? item.data : item.data === null ? [] : [item.data];
    for (const record of inner) {
      const problem = recordProblem(record, `the data of item ${index}`, idField);
      if (problem) return problem;
    }
  }
  return null;
}

/** The validator of a page: its records, and the paging fields it is read by. */
function pageValidator(
  { records: selector = 'data', idField = 'id' }: ListDefinition,
  paging: 'cursor' | 'offset' | 'single',
) {
  return (body: ApiBody): string | null => {
    const additional = body.additional_data;
    if (paging === 'cursor') {
      const next = additional?.next_cursor;
      if (next !== undefined && next !== null && typeof next !== 'string')
        return `next_cursor is ${describeJson(next)}`;
    }
    if (paging === 'offset') {
      const more = additional?.pagination?.more_items_in_collection;
      if (more !== undefined && typeof more !== 'boolean') return `more_items_in_collection is ${describeJson(more)}`;
    }
    return recordsProblem(body, selector, idField);
  };
}

/** The records of a response body that passed its validator, wherever the list keeps them. */
function selectRecords(body: ApiBody, selector: Selector = 'data'): ApiRecord[] {
  const data = body.data as unknown;
  if (selector === 'data.goals') return (data as { goals: ApiRecord[] }).goals;
  if (!Array.isArray(data)) return [];
  if (selector === 'recents') {
    return (data as { id: unknown; data: ApiRecord | ApiRecord[] | null }[]).flatMap<ApiRecord>(
      (item) => item.data ?? { id: item.id, [PURGED]: true },
    );
  }
  return data as ApiRecord[];
}

const stuck = (request: Request, why: string) =>
  new ConnectorError(
    `The pages of ${request.endpoint} ${why}, so reading it would never end; stopped. This is Pipedrive (or a proxy) misbehaving: try again later.`,
    'transient_error',
    { internalMessage: `pagination of ${request.endpoint}: ${why}` },
  );

/** v2 `cursor`/`limit` pages; with `prefetch`, the next page is requested while the caller handles the current one. */
async function* cursorPages(page: PageRequest): Pages {
  const { client, list, limit, prefetch = true } = page;
  const request = filtered(page);
  const validate = pageValidator(list, 'cursor');
  const fetchPage = (cursor?: string) => {
    const body = client.get({ ...request, query: { ...request.query, limit, cursor }, validate });
    // A caller that stops early (its stream failed) never awaits the prefetched page: its failure is nobody's.
    body.catch(() => undefined);
    return body;
  };
  const seen = new Set<string>();
  let empty = 0;
  let next: (() => Promise<ApiBody>) | null = () => fetchPage();
  while (next) {
    const body: ApiBody = await next();
    const records = selectRecords(body, list.records);
    const cursor = body.additional_data?.next_cursor;
    next = null;
    if (cursor) {
      if (seen.has(cursor)) throw stuck(request, 'came back to a cursor already read');
      empty = records.length === 0 ? empty + 1 : 0;
      if (empty > MAX_EMPTY_PAGES) throw stuck(request, `brought no record ${empty} times while announcing more`);
      seen.add(cursor);
      if (typeof prefetch === 'function' ? prefetch() : prefetch) {
        const prefetched = fetchPage(cursor);
        next = () => prefetched;
      } else next = () => fetchPage(cursor);
    }
    yield records;
  }
}

/**
 * v1 `start`/`limit` pages. Offsets move when records ahead of them vanish or move to the end of the list while it is
 * read (an update on a list sorted by update time, a deletion), which would skip a record. So each page overlaps the
 * previous one by a record; if that record is not the one expected, the list shifted, and the page before is read
 * again to pick up what slid under the offset.
 */
async function* offsetPages(page: PageRequest): Pages {
  const { client, list } = page;
  // A page holds the record it overlaps the previous one by, and at least one more.
  const limit = Math.max(2, page.limit);
  const request = filtered(page);
  const validate = pageValidator(list, 'offset');
  // What identifies a record: its id field, which a caller may not change (it may add an `id` of its own).
  const field = list.idField ?? 'id';
  const idOf = (record: ApiRecord | undefined) => record?.[field];
  const read = async (start: number) => {
    const body = await client.get({ ...request, query: { ...request.query, start, limit }, validate });
    return {
      records: selectRecords(body, list.records),
      more: body.additional_data?.pagination?.more_items_in_collection === true,
    };
  };
  let position = 0;
  let previous: ApiRecord[] = [];
  for (;;) {
    const overlap = previous.length > 0 ? 1 : 0;
    const { records, more } = await read(position - overlap);
    let page = records;
    if (overlap && idOf(records[0]) !== idOf(previous.at(-1))) {
      const before = await read(Math.max(0, position - limit));
      const seen = new Set(previous.map(idOf));
      if (before.records.length > 0 && !before.records.some((record) => seen.has(idOf(record)))) {
        throw new ConnectorError(
          `The list ${request.endpoint} changed by more than a page while it was read; stopped so that no record is silently skipped. The next sync reads it again.`,
          'transient_error',
        );
      }
      page = [...before.records, ...records].filter(
        (record) => !seen.has(idOf(record)) && (seen.add(idOf(record)), true),
      );
    } else if (overlap) {
      page = records.slice(1);
    }
    // Only records of the page before, however far the offset moved: the list is not moving on.
    const known = new Set(previous.map(idOf));
    if (overlap && more && page.every((record) => known.has(idOf(record))))
      throw stuck(request, `answered the records of offset ${position - overlap} again`);
    yield page;
    if (!more) return;
    if (records.length <= overlap)
      throw stuck(request, `announced more records after offset ${position} but brought none`);
    position += records.length - overlap;
    previous = records;
  }
}

/**
 * v1 pages of a list filtered and sorted by a cursor (`updated_since` + `sort=update_time ASC`, or `/v1/recents`).
 * Each page is requested from the last cursor value seen rather than by offset, so records updated meanwhile cannot
 * shift the list; records already yielded at that boundary are skipped. Where a page brings no record past the bound
 * (many records share one cursor value, or the page is that small) it goes on by offset from the bound. A server
 * that answers an offset with nothing new is stuck.
 */
async function* keysetPages(page: PageRequest<ListDefinition & { paging: 'keyset' }>): Pages {
  const { client, list, limit } = page;
  const request = filtered(page);
  const validate = pageValidator(list, 'offset');
  let bound = page.lowerBound ?? 0;
  let start = 0;
  let seen = new Set<ApiRecord['id']>();
  for (;;) {
    const query = { ...request.query, ...sinceParameter(list.since, bound), start, limit };
    const body = await client.get({ ...request, query, validate });
    const records = selectRecords(body, list.records);
    yield records.filter((record) => !seen.has(record.id));
    if (body.additional_data?.pagination?.more_items_in_collection !== true) return;
    if (records.length === 0)
      throw stuck(request, `announced more records from ${formatRfc3339(bound)} but brought none`);
    // The bound has whole seconds (as the parameter does), records may have milliseconds (leads).
    const newest = Math.max(
      ...records.map((record) => toMillis(record[list.cursorField])).filter((ms) => !Number.isNaN(ms)),
    );
    const last = Math.floor(newest / 1000) * 1000;
    if (last > bound) {
      bound = last;
      start = 0;
      seen = new Set(records.filter((record) => toMillis(record[list.cursorField]) >= last).map((record) => record.id));
    } else {
      // Right after the bound moved, the first page may hold only the records at the bound already yielded.
      if (start > 0 && records.every((record) => seen.has(record.id)))
        throw stuck(request, `repeated the records at ${formatRfc3339(bound)}`);
      start += records.length;
      for (const record of records) seen.add(record.id);
    }
  }
}

/** A list that comes whole in one response. */
async function* singlePage(page: PageRequest): Pages {
  const { client, list } = page;
  yield selectRecords(await client.get({ ...filtered(page), validate: pageValidator(list, 'single') }), list.records);
}
