// The one engine that reads any stream of the table in definitions.ts: it picks the lists to read, pages through
// them, drops what the API cannot filter itself, normalises records, emits them and checkpoints state. A stream whose
// records drive another's requests (mail threads → their messages) is read once for both: its children ride along.
import { clock } from '../clock.js';
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

/** What the previous sync saved for a stream, parsed (epoch ms). */
export interface SavedState {
  cursor?: number;
  /** Pipedrive's time when the previous complete read began: every change before it has been emitted. */
  syncedAt?: number;
  /** A child stream's: the highest cursor among the parent records whose children it has read. */
  parentCursor?: number;
}

/** How much of one stream to read. */
export interface StreamRead {
  stream: StreamDefinition;
  /** Lower bound of the cursor, epoch ms (start date, or saved cursor minus lookback); none for full-table streams. */
  lowerBound?: number;
  /** What the previous sync saved, for an incremental sync. */
  saved?: SavedState;
  /** Every change before this instant has been emitted by earlier syncs: the bound for lists of changes only. */
  completeBefore?: number;
  /** A child stream: read the children of the parent records whose cursor is after this, those that changed since the
   * previous sync; without it, of those at or after `lowerBound`. */
  parentAfter?: number;
}

/** A stream and the children that ride along on its records. `parentRead` is absent when the parent is not in the
 * catalog: its lists are then read only on the children's behalf. */
export interface Family {
  parent: StreamDefinition;
  parentRead?: StreamRead;
  children: StreamRead[];
}

export type Outcome = { records: number } | { error: unknown };

const SECOND = 1000;
const floorToSecond = (ms: number) => Math.floor(ms / SECOND) * SECOND;
/** How far past Pipedrive's current time a state may go: a cursor further ahead can only be a broken timestamp, and
 * a state there would make later syncs miss every change until it is reset. */
export const FUTURE_ALLOWANCE_MS = 5 * 60_000;

/** Reads a family: the parent's lists once, its records emitted (if selected) and each child's lists read for the
 * parent records it needs. A failing child leaves the others going; a failing list fails every member. */
export async function readFamily(family: Family, context: ReadContext): Promise<Map<string, Outcome>> {
  const begun = clock.now();
  // Ends whatever request of this family is still in flight (a prefetched page) once the family is done.
  const done = new AbortController();
  const parent = family.parentRead && new Member(family.parentRead, context, done.signal);
  let ordered = false;
  const children = family.children.map((read) => new Member(read, context, done.signal));
  const members = parent ? [parent, ...children] : children;
  try {
    const { lists, lowerBound } = await chooseLists(family, context);
    ordered = lists.every((list) => list.ascending);
    const listing = { stream: family.parent, lowerBound, countAs: members[0]!.name, signal: done.signal };
    for await (const batch of recordBatches(listing, lists, context)) {
      if (parent && !parent.failed) await parent.emitParents(batch, ordered);
      for (const child of children) if (!child.failed) await child.expand(batch);
      if (members.every((member) => member.failed)) break;
    }
  } catch (error) {
    for (const member of members) member.fail(error);
  } finally {
    done.abort(new Error('the stream ended'));
  }
  const startedAt = floorToSecond(context.client.toServerTime(begun));
  await parent?.finish(startedAt, ordered);
  for (const child of children) await child.finish(startedAt, false);
  return new Map(members.map((member) => [member.name, member.outcome]));
}

/** The lists to read and from where. Lists of changes only (`recent`) are used when the previous sync completed
 * within their reach, judged by Pipedrive's clock; they start where that sync left off. */
async function chooseLists({ parent, parentRead, children }: Family, context: ReadContext) {
  const recent = parent.recent;
  const complete = parentRead?.completeBefore;
  if (recent && complete !== undefined && children.length === 0) {
    const now = await context.client.knownServerNow(parent.name);
    if (complete >= now - recent.reach.toMillis()) return { lists: recent.lists, lowerBound: complete };
  }
  // Children need the parent records they read from; the lowest bound of the family covers everyone.
  const bounds = [parentRead?.lowerBound, ...children.map((child) => child.parentAfter ?? child.lowerBound)];
  const lowerBound = bounds.includes(undefined) ? undefined : Math.min(...(bounds as number[]));
  return { lists: parent.lists, lowerBound };
}

/** One stream's part in a family read: its records, checkpoints and outcome. */
class Member {
  readonly name: string;
  private readonly checkpoint: Checkpoint;
  private readonly normalise: (record: ApiRecord) => void;
  private error: { cause: unknown } | null = null;
  private futureSeen = false;

  constructor(
    private readonly read: StreamRead,
    private readonly context: ReadContext,
    private readonly signal: AbortSignal,
  ) {
    this.name = read.stream.name;
    this.checkpoint = new Checkpoint(read, context.writer, () => floorToSecond(context.client.serverNow() + FUTURE_ALLOWANCE_MS));
    this.normalise = timestampNormaliser(streamSchema(read.stream.name));
  }

  get failed(): boolean {
    return this.error !== null;
  }

  get outcome(): Outcome {
    return this.error ? { error: this.error.cause } : { records: this.checkpoint.total };
  }

  fail(cause: unknown): void {
    this.error ??= { cause };
  }

  /** Emits this (parent) stream's own records of a listed batch: the listing may start below its bound. */
  async emitParents(batch: ApiRecord[], ordered: boolean): Promise<void> {
    const { cursor } = this.read.stream;
    const bound = this.read.lowerBound;
    await this.emit(bound === undefined || !cursor ? batch : batch.filter((record) => !(toMillis(record[cursor]) < bound)));
    if (ordered) await this.checkpoint.emit();
  }

  /** Reads this (child) stream's lists for each parent record of a batch that changed since the previous sync. A parent
   * that vanished meanwhile (a status in `tolerate`) is skipped; any other failure ends this stream. */
  async expand(parents: ApiRecord[]): Promise<void> {
    const { stream, parentAfter, lowerBound } = this.read;
    const { context } = this;
    const parent = stream.parent!;
    const parentCursorField = streamByName.get(parent.stream)!.cursor!;
    for (const record of parents) {
      const parentCursor = toMillis(record[parentCursorField]);
      this.checkpoint.sawParent(parentCursor);
      const wanted = parentAfter !== undefined ? !(parentCursor <= parentAfter) : !(parentCursor < (lowerBound ?? -Infinity));
      if (!wanted) continue;
      for (const list of stream.lists) {
        try {
          const listing = { stream, lowerBound, countAs: stream.name, signal: this.signal };
          for await (const page of listPages(listing, list, context, parent.pathParams(record))) {
            await this.emit(page);
          }
        } catch (error) {
          if (!(error instanceof HttpStatusError && stream.tolerate?.includes(error.status))) return this.fail(error);
          context.logger.info(`${stream.name}: skipped ${parent.stream} ${record.id}, gone since it was listed (HTTP ${error.status})`);
        }
      }
    }
  }

  /** The final checkpoint of a read that went to the end. Records changed while an unordered list was read may have
   * been missed: such a stream's cursor never passes the second its read began, so the next sync looks again. */
  async finish(startedAt: number, ordered: boolean): Promise<void> {
    if (this.failed) return;
    const saved = this.read.saved?.cursor;
    if (saved !== undefined && saved > this.context.client.serverNow() + FUTURE_ALLOWANCE_MS) {
      this.context.logger.warn(
        `${this.name}: the saved state (${formatRfc3339(saved)}) is later than Pipedrive's current time, so this sync read nothing newer; the state is set back to the current time. If the saved state came from a broken timestamp, reset this stream to read what was missed.`,
      );
    }
    await this.checkpoint.emit({ cap: ordered ? Infinity : startedAt, syncedAt: startedAt });
  }

  private async emit(records: ApiRecord[]): Promise<void> {
    for (const record of records) {
      this.normalise(record);
      await this.context.writer.write(recordMessage(this.name, record));
      this.checkpoint.saw(record);
      if (!this.futureSeen) this.warnIfFuture(record);
    }
  }

  /** A record whose cursor is in the future is emitted, but cannot move the state there: said once per stream. */
  private warnIfFuture(record: ApiRecord): void {
    const cursor = this.read.stream.cursor;
    const value = cursor ? record[cursor] : undefined;
    if (!(toMillis(value) > this.context.client.serverNow() + FUTURE_ALLOWANCE_MS)) return;
    this.futureSeen = true;
    this.context.logger.warn(
      `${this.name}: record ${record.id} has ${cursor} ${JSON.stringify(value)}, later than Pipedrive's current time; it is emitted, but the state goes no further than the current time, so later changes are not missed.`,
    );
  }
}

/** The stream's records in batches (a page, or a merge step), older than the lower bound already dropped. */
interface ListRead {
  stream: StreamDefinition;
  lowerBound?: number;
  /** The stream whose request counts these requests go to. */
  countAs: string;
  signal: AbortSignal;
}

async function* recordBatches(read: ListRead, lists: ListDefinition[], context: ReadContext): Pages {
  const sources = lists.map((list) => listPages(read, list, context));
  const batches = sources.length > 1 && lists.every((list) => list.ascending) ? mergeByCursor(sources, read.stream.cursor!) : concat(sources);
  if (!read.stream.distinct) return yield* batches;
  const seen = new Set<ApiRecord['id']>();
  for await (const batch of batches) yield batch.filter((record) => !seen.has(record.id) && Boolean(seen.add(record.id)));
}

async function* concat(sources: Pages[]): Pages {
  for (const pages of sources) yield* pages;
}

/** One list's pages, with the lower bound applied by the API where it can and by us where it cannot. */
function listPages({ stream, lowerBound, countAs, signal }: ListRead, list: ListDefinition, context: ReadContext, pathParams?: Record<string, number | string>): Pages {
  const limit = Math.min(context.pageSize, list.maxPageSize ?? 500);
  const request = { endpoint: list.endpoint, query: list.query, pathParams, stream: countAs, signal };
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
 * second its read began), never lower than the state the sync started from; `synced_at`, when the last complete read
 * began; and for a child, the highest parent cursor it has covered (capped a second earlier, as it is exclusive).
 * Each STATE carries the number of records emitted since the previous one.
 */
class Checkpoint {
  total = 0;
  private sinceLast = 0;
  private highest = -Infinity;
  private highestParent = -Infinity;

  constructor(
    private readonly read: StreamRead,
    private readonly writer: MessageWriter,
    /** The latest instant a state may hold: Pipedrive's current time plus a small allowance. */
    private readonly latest: () => number,
  ) {}

  saw(record: ApiRecord): void {
    this.total++;
    this.sinceLast++;
    const cursor = this.read.stream.cursor;
    const value = cursor ? toMillis(record[cursor]) : NaN;
    if (value > this.highest) this.highest = value;
  }

  sawParent(value: number): void {
    if (value > this.highestParent) this.highestParent = value;
  }

  /** Emits a STATE if records came since the last one; the end of a complete read always emits one (it moves
   * `synced_at`). */
  async emit(end?: { cap: number; syncedAt: number }): Promise<void> {
    if (this.sinceLast === 0 && !end) return;
    await this.writer.write(stateMessage(this.read.stream.name, this.state(end), this.sinceLast));
    this.sinceLast = 0;
  }

  private state(end?: { cap: number; syncedAt: number }): StreamState {
    const { stream, saved } = this.read;
    if (!stream.cursor) return {};
    const cap = end?.cap ?? Infinity;
    const latest = this.latest();
    // Never backwards, and never into the future.
    const bounded = (value: number, saved = -Infinity) => Math.min(Math.max(value, saved), latest);
    const state: StreamState = {};
    const cursor = bounded(Math.min(this.highest, cap), saved?.cursor);
    if (cursor !== -Infinity) state[stream.cursor] = formatRfc3339(cursor);
    const syncedAt = end?.syncedAt ?? saved?.syncedAt;
    if (syncedAt !== undefined) state.synced_at = formatRfc3339(Math.min(syncedAt, latest));
    if (stream.parent) {
      const parentCursor = bounded(Math.min(this.highestParent, cap - SECOND), saved?.parentCursor);
      if (parentCursor !== -Infinity) state[parentCursorKey(stream)] = formatRfc3339(parentCursor);
    }
    return state;
  }
}

/** The state key of a child stream's parent cursor, e.g. `email_threads_update_time`. */
export const parentCursorKey = (stream: StreamDefinition): string =>
  `${stream.parent!.stream}_${streamByName.get(stream.parent!.stream)!.cursor!}`;

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
