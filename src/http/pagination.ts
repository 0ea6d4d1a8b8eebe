// Pipedrive's ways of paging through a list, as async generators of pages of raw records.
import { ConnectorError } from '../errors.js';
import type { ApiRecord, ListDefinition } from '../streams/definitions.js';
import { formatRfc3339, formatV1, toMillis } from '../streams/time.js';
import type { ApiBody, PipedriveClient, Request } from './client.js';

export type Pages = AsyncGenerator<ApiRecord[], void, undefined>;

type Since = NonNullable<ListDefinition['since']>;

/** A lower bound (epoch ms) as the query parameter wants it; an exclusive parameter is asked a second early, since
 * Pipedrive's timestamps have whole seconds. */
export function sinceParameter(since: Since, ms: number): Record<string, string> {
  const at = since.exclusive ? ms - 1000 : ms;
  return { [since.param]: since.format === 'v1' ? formatV1(at) : formatRfc3339(at) };
}

/** The records of a response body, wherever the list keeps them. */
export function selectRecords(body: ApiBody, selector: ListDefinition['records'] = 'data'): ApiRecord[] {
  const data = body.data;
  if (selector === 'data.goals') return ((data as { goals?: ApiRecord[] } | null)?.goals ?? []) as ApiRecord[];
  if (!Array.isArray(data)) return [];
  // /v1/recents wraps each record as {item, id, data}; data is null for purged items and a list for users.
  if (selector === 'recents') return data.flatMap((item: { data: unknown }) => (item.data === null ? [] : item.data)) as ApiRecord[];
  return data as ApiRecord[];
}

/** v2 `cursor`/`limit` pages. The next page is requested while the caller handles the current one. */
export async function* cursorPages(client: PipedriveClient, request: Request, limit: number, selector?: ListDefinition['records']): Pages {
  const fetchPage = (cursor?: string) =>
    client.get({ ...request, query: { ...request.query, limit, cursor } });
  let next: Promise<ApiBody> | null = fetchPage();
  try {
    while (next) {
      const body: ApiBody = await next;
      const cursor: string | null | undefined = body.additional_data?.next_cursor;
      next = cursor ? fetchPage(cursor) : null;
      yield selectRecords(body, selector);
    }
  } finally {
    // The caller stopped early: nobody awaits the prefetched page any more.
    next?.catch(() => undefined);
  }
}

/**
 * v1 `start`/`limit` pages. Offsets move when records ahead of them vanish or move to the end of the list while it is
 * read (an update on a list sorted by update time, a deletion), which would skip a record. So each page overlaps the
 * previous one by a record; if that record is not the one expected, the list shifted, and the page before is read
 * again to pick up what slid under the offset.
 */
export async function* offsetPages(client: PipedriveClient, request: Request, limit: number, selector?: ListDefinition['records']): Pages {
  const read = async (start: number) => {
    const body = await client.get({ ...request, query: { ...request.query, start, limit } });
    return { records: selectRecords(body, selector), more: body.additional_data?.pagination?.more_items_in_collection === true };
  };
  let position = 0;
  let previous: ApiRecord[] = [];
  for (;;) {
    const overlap = previous.length > 0 ? 1 : 0;
    const { records, more } = await read(position - overlap);
    let page = records;
    if (overlap && records[0]?.id !== previous.at(-1)!.id) {
      const before = await read(Math.max(0, position - limit));
      const seen = new Set(previous.map((record) => record.id));
      if (before.records.length > 0 && !before.records.some((record) => seen.has(record.id))) {
        throw new ConnectorError(
          `The list ${request.endpoint} changed by more than a page while it was read; stopped so that no record is silently skipped. The next sync reads it again.`,
          'transient_error',
        );
      }
      page = [...before.records, ...records].filter((record) => !seen.has(record.id) && (seen.add(record.id), true));
    } else if (overlap) {
      page = records.slice(1);
    }
    yield page;
    if (!more || records.length === 0) return;
    position += records.length - overlap;
    previous = records;
  }
}

/**
 * v1 pages of a list filtered and sorted by a cursor (`updated_since` + `sort=update_time ASC`, or `/v1/recents`).
 * Each page is requested from the last cursor value seen rather than by offset, so records updated meanwhile cannot
 * shift the list; records already yielded at that boundary are skipped. Only when a whole page shares one cursor value
 * does it fall back to offsets.
 */
export async function* keysetPages(
  client: PipedriveClient,
  request: Request,
  limit: number,
  list: ListDefinition & { since: Since },
  cursorField: string,
  from: number,
): Pages {
  let bound = from;
  let start = 0;
  let seen = new Set<ApiRecord['id']>();
  for (;;) {
    const body = await client.get({ ...request, query: { ...request.query, ...sinceParameter(list.since, bound), start, limit } });
    const records = selectRecords(body, list.records);
    yield records.filter((record) => !seen.has(record.id));
    if (body.additional_data?.pagination?.more_items_in_collection !== true || records.length === 0) return;
    const last = Math.max(...records.map((record) => toMillis(record[cursorField])).filter((ms) => !Number.isNaN(ms)));
    if (last > bound) {
      bound = last;
      start = 0;
      seen = new Set(records.filter((record) => toMillis(record[cursorField]) >= last).map((record) => record.id));
    } else {
      start += records.length;
      for (const record of records) seen.add(record.id);
    }
  }
}

/** A list that comes whole in one response. */
export async function* singlePage(client: PipedriveClient, request: Request, selector?: ListDefinition['records']): Pages {
  yield selectRecords(await client.get(request), selector);
}
