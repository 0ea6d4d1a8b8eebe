// The one engine that reads any stream of the table in definitions.ts: it picks the lists to read, pages through
// them, drops what the API cannot filter itself, normalises records, emits them and checkpoints state.
import { HttpStatusError, type PipedriveClient } from '../http/client.js';
import { cursorPages, keysetPages, offsetPages, sinceParameter, singlePage, type Pages } from '../http/pagination.js';
import type { Logger } from '../protocol/logger.js';
import { recordMessage, stateMessage, type StreamState } from '../protocol/messages.js';
import type { MessageWriter } from '../protocol/output.js';
import { streamSchema, type JsonSchema } from './catalog.js';
import { streamByName, type ApiRecord, type ListDefinition, type StreamDefinition } from './definitions.js';
import { formatRfc3339, toMillis, toRfc3339 } from './time.js';

export interface ReadContext {
  client: PipedriveClient;
  writer: MessageWriter;
  logger: Logger;
  pageSize: number;
}

export interface StreamRead {
  stream: StreamDefinition;
  /** Lower bound of the cursor, epoch ms (start date, or saved cursor minus lookback); none for full-table streams. */
  lowerBound?: number;
  /** The cursor saved by the previous sync, epoch ms, for an incremental sync. */
  savedCursor?: number;
}

/** Reads one stream: records, then STATE checkpoints; returns the number of records emitted. */
export async function readStream(read: StreamRead, context: ReadContext): Promise<number> {
  const { stream } = read;
  const checkpoint = new Checkpoint(stream, read.savedCursor, context.writer);
  // Records changed while a list was being read may be missed by an unordered list; the cursor of such a stream
  // never passes the moment the read began, so the next sync looks again.
  const startedAt = context.client.serverNow();
  const lists = chooseLists(read, context.client);
  const ordered = lists.every((list) => list.ascending);
  const normalise = timestampNormaliser(streamSchema(stream.name));
  for await (const batch of recordBatches(read, lists, context)) {
    for (const record of batch) {
      normalise(record);
      await context.writer.write(recordMessage(stream.name, record));
      checkpoint.saw(record);
    }
    if (ordered) await checkpoint.emit();
  }
  await checkpoint.emit(ordered ? Infinity : startedAt, true);
  return checkpoint.total;
}

/** /v1/recents is cheaper but reaches back only a month: use it only for a cursor that young. */
function chooseLists({ stream, savedCursor, lowerBound }: StreamRead, client: PipedriveClient): ListDefinition[] {
  const recent = stream.recent;
  const young = recent && savedCursor !== undefined && lowerBound !== undefined && lowerBound >= client.serverNow() - recent.within.toMillis();
  return young ? recent.lists : stream.lists;
}

/** The stream's records in batches (a page, or a merge step), older than the lower bound already dropped. */
async function* recordBatches(read: StreamRead, lists: ListDefinition[], context: ReadContext): Pages {
  const { stream } = read;
  if (stream.parent) {
    yield* childBatches(read, lists, context);
    return;
  }
  const sources = lists.map((list) => ({ list, pages: listPages(read, list, context) }));
  if (sources.length > 1 && lists.every((list) => list.ascending)) {
    yield* mergeByCursor(sources.map((s) => s.pages), stream.cursor!);
    return;
  }
  for (const { list, pages } of sources) {
    for await (const page of pages) yield page.filter((record) => stream.keep?.(record, list) ?? true);
  }
}

/** One list's pages, with the lower bound applied by the API where it can and by us where it cannot. */
function listPages({ stream, lowerBound }: StreamRead, list: ListDefinition, context: ReadContext, pathParams?: Record<string, number | string>): Pages {
  const limit = Math.min(context.pageSize, list.maxPageSize ?? 500);
  const request = { endpoint: list.endpoint, query: list.query, pathParams, stream: stream.name };
  const { client } = context;
  if (list.paging === 'keyset') return keysetPages(client, request, limit, withSince(list), stream.cursor!, lowerBound!);
  const serverSide = list.since && lowerBound !== undefined ? { ...request, query: { ...request.query, ...sinceParameter(list.since, lowerBound) } } : request;
  const pages =
    list.paging === 'cursor' ? cursorPages(client, serverSide, limit, list.records)
    : list.paging === 'offset' ? offsetPages(client, serverSide, limit, list.records)
    : singlePage(client, serverSide, list.records);
  return list.since || lowerBound === undefined ? pages : dropOlder(pages, stream.cursor!, lowerBound);
}

const withSince = (list: ListDefinition) => list as ListDefinition & { since: NonNullable<ListDefinition['since']> };

/** Client-side lower bound, for lists the API cannot filter. A record without a cursor value is kept. */
async function* dropOlder(pages: Pages, cursor: string, lowerBound: number): Pages {
  for await (const page of pages) yield page.filter((record) => !(toMillis(record[cursor]) < lowerBound));
}

/** The child lists read once per parent record (mail messages per thread). A parent that vanished meanwhile
 * (an expected status in `tolerate`) is skipped. */
async function* childBatches(read: StreamRead, lists: ListDefinition[], context: ReadContext): Pages {
  const { stream, lowerBound } = read;
  const parent = streamByName.get(stream.parent!.stream)!;
  // The parent's lists, read on this stream's behalf (its requests count for this stream) and from the same bound.
  const parentRead: StreamRead = { stream: { ...parent, name: stream.name }, lowerBound };
  for await (const parents of recordBatches(parentRead, parent.lists, context)) {
    for (const record of parents) {
      for (const list of lists) {
        try {
          for await (const page of listPages(read, list, context, stream.parent!.pathParams(record))) yield page;
        } catch (error) {
          if (!(error instanceof HttpStatusError && stream.tolerate?.includes(error.status))) throw error;
          context.logger.info(`${stream.name}: skipped ${parent.name} ${record.id}, gone since it was listed (HTTP ${error.status})`);
        }
      }
    }
  }
}

/**
 * Merges lists that each come in ascending cursor order into one ascending sequence, so that one cursor value covers
 * all of them: everything up to it has been emitted, from every list. A batch ends whenever a list needs its next
 * page, so that the caller checkpoints before the next request.
 */
async function* mergeByCursor(lists: Pages[], cursor: string): Pages {
  const heads = await Promise.all(lists.map(async (pages) => ({ pages, page: await nextPage(pages), at: 0 })));
  let batch: ApiRecord[] = [];
  for (;;) {
    let best: (typeof heads)[number] | undefined;
    for (const head of heads) {
      if (head.page === null) continue;
      if (head.at === head.page.length) {
        if (batch.length > 0) yield batch;
        batch = [];
        head.page = await nextPage(head.pages);
        head.at = 0;
        best = undefined;
        break;
      }
      if (!best || toMillis(head.page[head.at]![cursor]) < toMillis(best.page![best.at]![cursor])) best = head;
    }
    if (best) batch.push(best.page![best.at++]!);
    else if (heads.every((head) => head.page === null)) break;
  }
  if (batch.length > 0) yield batch;
}

async function nextPage(pages: Pages): Promise<ApiRecord[] | null> {
  const next = await pages.next();
  return next.done ? null : next.value;
}

/**
 * A stream's state: the highest cursor value among the records emitted so far (capped, for an unordered list, at the
 * moment its read began), and never lower than the state the sync started from. Each STATE carries the number of
 * records emitted since the previous one.
 */
class Checkpoint {
  total = 0;
  private sinceLast = 0;
  private emitted = false;
  private highest = -Infinity;

  constructor(
    private readonly stream: StreamDefinition,
    private readonly saved: number | undefined,
    private readonly writer: MessageWriter,
  ) {}

  saw(record: ApiRecord): void {
    this.total++;
    this.sinceLast++;
    const value = this.stream.cursor ? toMillis(record[this.stream.cursor]) : NaN;
    if (value > this.highest) this.highest = value;
  }

  /** Emits a STATE if records came since the last one; `final` makes sure there is at least one. */
  async emit(cap = Infinity, final = false): Promise<void> {
    if (this.sinceLast === 0 && !(final && !this.emitted)) return;
    await this.writer.write(stateMessage(this.stream.name, this.state(cap), this.sinceLast));
    this.sinceLast = 0;
    this.emitted = true;
  }

  private state(cap: number): StreamState {
    const value = Math.max(Math.min(this.highest, cap), this.saved ?? -Infinity);
    return this.stream.cursor && value !== -Infinity ? { [this.stream.cursor]: formatRfc3339(value) } : {};
  }
}

/** A function that rewrites, in place, every date-time field the schema declares (top level and nested objects) as
 * RFC 3339 UTC. */
function timestampNormaliser(schema: JsonSchema): (record: ApiRecord) => void {
  const paths: string[][] = [];
  const walk = (node: JsonSchema, path: string[]) => {
    for (const [name, property] of Object.entries(node.properties ?? {})) {
      if (property.format === 'date-time') paths.push([...path, name]);
      else if (property.properties) walk(property, [...path, name]);
    }
  };
  walk(schema, []);
  return (record) => {
    for (const path of paths) {
      let holder: Record<string, unknown> | undefined = record;
      for (const part of path.slice(0, -1)) holder = holder?.[part] as Record<string, unknown> | undefined;
      const field = path.at(-1)!;
      if (holder && typeof holder === 'object' && field in holder) holder[field] = toRfc3339(holder[field]);
    }
  };
}
