// The one engine that reads any stream of the table (table.ts): it picks the lists to read, pages through them (in time
// slices, several at once, where the API filters by time: slices.ts), drops what the API cannot filter itself,
// normalises records, emits them and checkpoints state. A stream whose records drive another's requests (mail threads
// → their messages) is read once for both: its children ride along.
import { setMaxListeners } from 'node:events';
import type { Logger } from '../../airbyte/logger.js';
import { recordMessage } from '../../airbyte/messages.js';
import type { MessageWriter } from '../../airbyte/output.js';
import type { StreamProgress } from '../../airbyte/progress.js';
import type { StreamOutcome } from '../../airbyte/source.js';
import { clock } from '../clock.js';
import { HttpStatusError, type PipedriveClient, type Query } from '../http/client.js';
import { BudgetExhausted } from '../http/ledger.js';
import { MAX_PAGE_SIZE, isPurged, listPages, type ApiRecord, type Pages, type SortedList } from '../http/pagination.js';
import { SECOND, floorToSecond, formatRfc3339, toMillis, toRfc3339 } from '../time.js';
import { DELETED_AT, streamSchema, timestampNormaliser } from './catalog.js';
import { Checkpoint } from './checkpoint.js';
import { featureRefusal } from './features.js';
import type { CustomFieldColumns } from './custom-fields/columns.js';
import { intersection, union, within, type Range } from './ranges.js';
import { slicedBatches, type SlicePool } from './slices.js';
import { parentsCovered, type Bounds, type ChildRead, type StreamRead } from './state.js';
import {
  deletedMarkerOf,
  deletionsOf,
  fieldListOf,
  fieldsCarrier,
  isCarrier,
  isDistinct,
  isIncremental,
  parentOf,
  parentParameters,
  recentOf,
  type FanOut,
  type FieldsStream,
  type StreamDefinition,
  type StreamList,
} from './table.js';

export interface ReadContext {
  client: PipedriveClient;
  writer: MessageWriter;
  logger: Logger;
  pageSize: number;
  columns: CustomFieldColumns;
  /** How many time slices the read's streams may run at once. */
  slices: SlicePool;
  /** Where each stream tells how far it has got. */
  progress: { of(stream: string): StreamProgress };
}

/** A stream read from lists. */
export type ListedStream = Exclude<StreamDefinition, FieldsStream>;

/** A stream and the children that ride along on its records. `parentRead` is absent when the parent is not in the
 * catalog: its lists are then read only on the children's behalf. */
export interface Family {
  parent: ListedStream;
  parentRead?: StreamRead;
  children: ChildRead[];
}

/** A record this far past Pipedrive's current time has a broken timestamp, which is worth a warning. (No state goes
 * past the time its read began, whatever the records say.) */
const FUTURE_WARNING_MS = 5 * 60_000;

/** Reads a family: the parent's lists once, its records emitted (if selected) and each child's lists read for the
 * parent records it needs. A failing child leaves the others going; a failing list fails every member. */
export async function readFamily(family: Family, context: ReadContext): Promise<Map<string, StreamOutcome>> {
  const begun = clock.now();
  // When the read began, by the earliest clock known so far (it can only move earlier as responses come): no state
  // goes past it, so a change made while the lists were read is read again by the next sync.
  const readStart = () => floorToSecond(context.client.earliest(begun));
  // Ends whatever request of this family is still in flight (a prefetched page) once the family is done.
  const done = new AbortController();
  // Every request in flight listens to it: one per slice, and more while retrying.
  setMaxListeners(0, done.signal);
  const parent = family.parentRead && new ParentMember(family.parentRead, context, done.signal, readStart);
  const children = family.children.map((read) => new ChildMember(read, context, done.signal, readStart));
  const members = parent ? [parent, ...children] : children;
  let ordered = false;
  try {
    const listing = await chooseListing(family, context);
    ordered = listing.ordered;
    if (ordered) for (const child of children) child.coverParents();
    const countAs = members[0]?.name ?? family.parent.name;
    for await (const batch of recordBatches(family.parent, listing, countAs, done.signal, context)) {
      if (parent && !parent.failed) await parent.emitParents(batch);
      for (const child of children) if (!child.failed) await child.expand(batch);
      // Only now, its children read, may the parent's state pass these records; the children checkpoint with it.
      if (ordered) for (const member of members) if (!member.failed) await member.checkpointBatch(batch);
      if (members.every((member) => member.failed)) break;
    }
    // Lists of changes only have the deletions in them; the full lists leave them out.
    if (parent && !parent.failed && !(listing.kind === 'listed' && listing.changesOnly)) await parent.readDeletions();
  } catch (error) {
    for (const member of members) member.fail(error);
  } finally {
    done.abort(new Error('the stream ended'));
  }
  for (const member of members) await member.finish(ordered);
  return new Map(members.map((member) => [member.name, member.outcome]));
}

/** The lists to read and from where: in time slices (every batch then says what the stream has covered), or one after
 * the other; `ordered` when every batch is a checkpoint, `changesOnly` for lists of changes (deletions included). */
type Listing =
  | {
      kind: 'sliced';
      lists: readonly SortedList[];
      lowerBound: number;
      done: readonly Range[];
      /** A resumable full refresh's ranges by list, emitted by an earlier attempt. */
      listDone?: Readonly<Record<string, readonly Range[]>>;
      /** A full refresh: read exactly, and changes made while it runs read too (slices.ts). */
      whole: boolean;
      ordered: boolean;
    }
  | { kind: 'listed'; lists: readonly StreamList[]; lowerBound?: number; ordered: boolean; changesOnly?: true };

/** A page of records (or a merge step), older than the listing's lower bound already dropped; for a sliced listing,
 * what the stream has covered once they are emitted, and how many records are left by estimate. */
interface Batch {
  records: ApiRecord[];
  covered?: Range[];
  listsCovered?: Record<string, Range[]>;
  remaining?: number;
}

/** The lists to read and from where. A stream the server filters is read in slices, children riding along or not
 * (they need their parents' records, in any order). Lists of changes only (`recent`) are used when the previous sync completed
 * within their reach, judged by Pipedrive's clock; they start where that sync left off. */
async function chooseListing({ parent, parentRead, children }: Family, context: ReadContext): Promise<Listing> {
  if (parent.kind === 'full_table') return { kind: 'listed', lists: parent.lists, ordered: false };
  // Children need the parent records they read from; the lowest bound of the family covers everyone.
  const lowerBound = Math.min(
    ...(parentRead?.bounds ? [parentRead.bounds.lowerBound] : []),
    ...children.map(({ bounds }) => bounds.parentAfter ?? bounds.lowerBound),
  );
  if (parent.kind === 'server_filtered') {
    // A full refresh resumes exactly where it stopped: what its state says it read, it has emitted, and no more. With
    // children along, which read their parents again, it checkpoints only at its end.
    const refresh = parentRead?.refresh === true;
    const ordered = !(refresh && children.length > 0);
    // What every member has covered is not read again.
    const covered = [
      ...(parentRead?.bounds
        ? [union([{ start: -Infinity, end: parentRead.bounds.lowerBound }, ...parentRead.bounds.done])]
        : []),
      ...children.map(({ bounds }) => parentsCovered(bounds)),
    ];
    const done = refresh && children.length > 0 ? [] : covered.reduce(intersection);
    const listDone = children.length === 0 ? parentRead?.bounds?.listDone : undefined;
    return { kind: 'sliced', lists: parent.lists, lowerBound, done, listDone, whole: refresh, ordered };
  }
  const complete = parentRead?.bounds?.completeBefore;
  const recent = recentOf(parent);
  if (recent && complete !== undefined && children.length === 0) {
    const now = await context.client.knownServerNow(parent.name);
    if (complete >= now - recent.reach.toMillis())
      return { kind: 'listed', lists: recent.lists, lowerBound: complete, ordered: false, changesOnly: true };
  }
  const [only, ...others] = parent.lists;
  return { kind: 'listed', lists: parent.lists, lowerBound, ordered: only?.ascending === true && others.length === 0 };
}

/** A read of lists. */
interface ListRead {
  stream: ListedStream;
  lowerBound?: number;
  /** The stream whose request counts these requests go to. */
  countAs: string;
  signal: AbortSignal;
}

async function* recordBatches(
  stream: ListedStream,
  listing: Listing,
  countAs: string,
  signal: AbortSignal,
  context: ReadContext,
): AsyncGenerator<Batch, void, undefined> {
  if (listing.kind === 'sliced' && isIncremental(stream)) {
    const { client, pageSize, slices: pool } = context;
    const { lists, lowerBound, done, listDone, whole } = listing;
    const limit = Math.min(pageSize, ...lists.map((list) => list.maxPageSize ?? MAX_PAGE_SIZE));
    return yield* slicedBatches({
      client,
      pool,
      lists,
      cursor: stream.cursor,
      limit,
      lowerBound,
      done,
      listDone,
      whole,
      stream: countAs,
      signal,
    });
  }
  const read: ListRead = { stream, lowerBound: listing.lowerBound, countAs, signal };
  const distinct = isDistinct(stream);
  const seen = new Set<ApiRecord['id']>();
  const lists: readonly StreamList[] = listing.lists;
  for (const list of lists) {
    const pages = list.each ? fannedOutPages(read, list, list.each, context) : boundedPages(read, list, context);
    const estimate = isIncremental(stream) ? orderedListEstimate(list, stream.cursor, listing.lowerBound) : undefined;
    for await (const page of pages)
      yield {
        records: distinct ? page.filter((record) => !seen.has(record.id) && Boolean(seen.add(record.id))) : page,
        remaining: estimate?.(page, context.client.serverNow()),
      };
  }
}

/** For a list in cursor order (oldest or newest first), what is left of it after each page: the density of the
 * records where it is reading (since the page before's last record) times the span still to read (to now, or down to
 * the lower bound); undefined for a list in no order, or until its records span a second. */
function orderedListEstimate(
  list: StreamList,
  cursor: string,
  lowerBound = -Infinity,
): ((page: ApiRecord[], now: number) => number | undefined) | undefined {
  const newestFirst = list.older === 'stop';
  if (!list.ascending && !newestFirst) return undefined;
  let [from, density] = [NaN, NaN];
  // Only the page's ends are parsed: this runs for every page of the stream.
  const timeAt = (page: ApiRecord[], index: number) => toMillis(page[index]?.[cursor]);
  return (page, now) => {
    const last = timeAt(page, page.length - 1);
    if (Number.isNaN(last)) return undefined;
    const span = Math.abs(last - (Number.isNaN(from) ? timeAt(page, 0) : from));
    if (span >= SECOND) [from, density] = [last, page.length / span];
    if (Number.isNaN(density)) return undefined;
    const left = newestFirst ? last - lowerBound : now - last;
    return Number.isFinite(left) ? density * Math.max(left, 0) : undefined;
  };
}

/** One list's pages from the lower bound on: the API applies it where it can, the connector where it cannot (as the
 * list's `older` says). `query` and `pathParams` are this request's (a parent's id, a batch of parents' ids). */
function boundedPages(
  { stream, lowerBound, countAs, signal }: ListRead,
  list: StreamList,
  context: ReadContext,
  parameters: { pathParams?: Record<string, number | string>; query?: Query } = {},
): Pages {
  const limit = Math.min(context.pageSize, list.maxPageSize ?? MAX_PAGE_SIZE);
  const pages = listPages({ client: context.client, list, limit, lowerBound, stream: countAs, signal, ...parameters });
  if (list.since || lowerBound === undefined || !isIncremental(stream) || list.older === 'keep') return pages;
  return list.older === 'stop'
    ? untilOlder(pages, stream.cursor, lowerBound)
    : dropOlder(pages, stream.cursor, lowerBound);
}

/** The pages of a list asked for each record of the list it fans out over; a parent that answers 404 adds none where
 * the API documents that as its answer for nothing to list. */
async function* fannedOutPages(read: ListRead, list: StreamList, each: FanOut, context: ReadContext): Pages {
  const limit = Math.min(context.pageSize, each.of.maxPageSize ?? MAX_PAGE_SIZE);
  const { client, logger } = context;
  for await (const parents of listPages({ client, list: each.of, limit, stream: read.countAs, signal: read.signal })) {
    for (const parent of parents) {
      try {
        for await (const page of boundedPages(read, list, context, parentParameters(each.request, parent))) {
          for (const record of page) each.derive?.(record, parent);
          yield page;
        }
      } catch (error) {
        if (!(each.emptyIs404 && error instanceof HttpStatusError && error.status === 404)) throw error;
        logger.info(`${read.stream.name}: nothing listed for ${each.of.endpoint} ${String(parent.id)} (HTTP 404)`);
      }
    }
  }
}

/** Client-side lower bound, for lists the API cannot filter. A record without a cursor value is kept. */
async function* dropOlder(pages: Pages, cursor: string, lowerBound: number): Pages {
  for await (const page of pages) yield page.filter((record) => !(toMillis(record[cursor]) < lowerBound));
}

/** Client-side lower bound of a list that is newest first: the first older record ends it, and no page after it is
 * asked for. */
async function* untilOlder(pages: Pages, cursor: string, lowerBound: number): Pages {
  for await (const page of pages) {
    const older = page.findIndex((record) => toMillis(record[cursor]) < lowerBound);
    if (older < 0) {
      yield page;
      continue;
    }
    yield page.slice(0, older);
    return;
  }
}

/** Only these say that a parent asked for alone is gone; a 403 is a permission the stream lacks. */
const parentGone = (error: unknown): error is HttpStatusError =>
  error instanceof HttpStatusError && (error.status === 404 || error.status === 410);

/** One stream's part in a family read: its records, checkpoints and outcome. A parent member emits the records of
 * the family's lists (and its deletions); a child member reads its own lists for them. */
abstract class Member<R extends StreamRead = StreamRead> {
  readonly name: string;
  protected readonly checkpoint: Checkpoint;
  protected readonly progress: StreamProgress;
  private readonly normalise: (record: ApiRecord) => void;
  private error: { cause: unknown } | null = null;
  private futureSeen = false;
  /** Puts a record's custom fields into their columns (readable mode); resolved at the first record, so that a
   * sync that emits nothing of a stream reads no field definitions for it. */
  private customFieldMapper?: Promise<((record: ApiRecord) => void) | undefined>;

  constructor(
    protected readonly read: R,
    protected readonly context: ReadContext,
    protected readonly signal: AbortSignal,
    /** When the read began (Pipedrive's time, or the machine's if earlier): the latest instant a state may hold. */
    private readonly readStart: () => number,
  ) {
    this.name = read.stream.name;
    this.checkpoint = new Checkpoint(read, context.writer, readStart);
    this.progress = context.progress.of(read.stream.name);
    this.normalise = timestampNormaliser(streamSchema(read.stream.name));
  }

  get failed(): boolean {
    return this.error !== null;
  }

  get outcome(): StreamOutcome {
    if (this.deferred) return { records: this.checkpoint.total, deferred: true };
    return this.error ? { error: this.error.cause } : { records: this.checkpoint.total };
  }

  /** A stream that ran out of tokens: it ends at its last checkpoint, and the next sync goes on (the runner allows
   * that only to a stream synced incrementally). */
  private get deferred(): boolean {
    return this.error?.cause instanceof BudgetExhausted;
  }

  fail(cause: unknown): void {
    this.error ??= { cause: featureRefusal(this.read.stream, cause) };
  }

  /** A checkpoint once a batch of an ordered listing, and its children, have been emitted. */
  abstract checkpointBatch(batch: Batch): Promise<void>;

  /** The final checkpoint of a read that went to the end (`ordered`: its records came in cursor order). No state
   * passes the second the read began (the checkpoint's latest instant), so a change made while the lists were read
   * is looked for again next time. */
  async finish(ordered: boolean): Promise<void> {
    try {
      await this.checkpointEnd(ordered);
    } catch (error) {
      this.fail(error);
    }
  }

  private async checkpointEnd(ordered: boolean): Promise<void> {
    // What an ordered list emitted is covered; an unordered one's state stays where it was.
    if (this.deferred) return this.checkpoint.emit({ cap: ordered ? Infinity : -Infinity });
    if (this.failed) return;
    const startedAt = this.readStart();
    const saved = this.read.bounds?.saved?.cursor;
    if (saved !== undefined && saved > startedAt) {
      this.context.logger.warn(
        `${this.name}: the saved state (${formatRfc3339(saved)}) is later than the time this read began (${formatRfc3339(startedAt)}), so this sync read nothing newer; the state is set back to that time. If the saved state came from a broken timestamp, reset this stream to read what was missed.`,
      );
    }
    await this.checkpoint.emit({ cap: startedAt, syncedAt: startedAt });
  }

  /** Emits records, each normalised, its custom fields in their columns and a deletion marked as one; `cursor` false
   * for records that do not say how far the stream's lists were read. */
  protected async emit(records: ApiRecord[], cursor = true): Promise<void> {
    const { stream } = this.read;
    if (records.length === 0) return;
    if (isCarrier(stream)) this.customFieldMapper ??= this.context.columns.mapperOf(stream);
    const mapCustomFields = await this.customFieldMapper;
    const cursorField = isIncremental(stream) ? stream.cursor : undefined;
    const future = this.context.client.serverNow() + FUTURE_WARNING_MS;
    const messages = records.map((record) => {
      this.normalise(record);
      const at = cursorField && cursor ? toMillis(record[cursorField]) : NaN;
      if (isPurged(record)) this.markPurged(record);
      else {
        mapCustomFields?.(record);
        const deletedAt = this.deletedAt(record);
        if (deletedAt !== null) record[DELETED_AT] = deletedAt;
      }
      this.checkpoint.saw(at);
      if (at > future && !this.futureSeen) this.warnOfFuture(record);
      return recordMessage(this.name, record);
    });
    // One write a page: the checkpoint's next STATE follows these records.
    await this.context.writer.write(...messages);
    this.progress.add(messages.length);
  }

  /** When a record was deleted, if it says it was: its last update (now, if it has none). */
  protected deletedAt(record: ApiRecord): string | null {
    const { stream } = this.read;
    const deleted = deletedMarkerOf(stream);
    if (!deleted || record[deleted.field] !== deleted.value) return null;
    return (isIncremental(stream) ? toRfc3339(record[stream.cursor]) : null) ?? this.now();
  }

  /** An item purged for good, of which Pipedrive says only the id: a deletion now. Its cursor is that time too, since
   * a destination that deduplicates keeps the version with the highest cursor, and a deletion without one would lose
   * to the row it deletes. */
  private markPurged(record: ApiRecord): void {
    const now = this.now();
    record[DELETED_AT] = now;
    if (isIncremental(this.read.stream)) record[this.read.stream.cursor] = now;
  }

  /** Now, for a deletion without a time of its own: by the latest clock, so that it does not sort before the row. */
  protected now(): string {
    return formatRfc3339(floorToSecond(this.context.client.latestNow()));
  }

  /** A record whose cursor is in the future is emitted, but cannot move the state there: said once per stream. */
  private warnOfFuture(record: ApiRecord): void {
    const { stream } = this.read;
    if (!isIncremental(stream)) return;
    this.futureSeen = true;
    this.context.logger.warn(
      `${this.name}: record ${record.id} has ${stream.cursor} ${JSON.stringify(record[stream.cursor])}, later than the time this read began; it is emitted (and may be again by later syncs), but no state goes past the time its read began, so later changes are not missed.`,
    );
  }
}

/** The member of the stream whose lists the family reads. */
class ParentMember extends Member {
  /** Emits this stream's own records of a listed batch: the listing may start below its bound, and read again
   * ranges this stream emitted before (for children); then its estimated size. */
  async emitParents({ records, remaining }: Batch): Promise<void> {
    const { stream, bounds } = this.read;
    const own =
      bounds && isIncremental(stream)
        ? records.filter((record) => !emittedBefore(bounds, toMillis(record[stream.cursor])))
        : records;
    await this.emit(own);
    if (remaining !== undefined) await this.progress.estimate(this.checkpoint.total + remaining);
  }

  /** A checkpoint after a batch of an ordered listing (and its children) was emitted. */
  override async checkpointBatch({ covered, listsCovered }: Batch): Promise<void> {
    const done = this.read.bounds?.done ?? [];
    if (covered) this.checkpoint.cover(done.length > 0 ? union([...covered, ...done]) : covered, listsCovered ?? {});
    await this.checkpoint.emit();
  }

  /** Reads the deletions a stream's lists leave out, from lists of changes since the previous complete sync (the API
   * answers as far back as it reaches; a warning says when that may not be far enough); each is emitted as a deletion,
   * none moves the cursor. */
  async readDeletions(): Promise<void> {
    const { stream, bounds } = this.read;
    const deletions = deletionsOf(stream);
    const since = bounds?.completeBefore;
    if (!deletions || !bounds || since === undefined) return;
    const reach = (await this.context.client.knownServerNow(this.name)) - deletions.reach.toMillis();
    if (since < reach) {
      this.context.logger.warn(
        `${this.name}: the previous complete sync began ${formatRfc3339(since)}, about as long ago as Pipedrive's list of deletions reaches back (a month): what was deleted before that list's start may not be seen, and then stays in the warehouse until a full refresh (overwrite) of ${this.name}.`,
      );
    }
    const read: ListRead = { stream, lowerBound: since, countAs: this.name, signal: this.signal };
    for (const list of deletions.lists) {
      for await (const page of boundedPages(read, list, this.context)) {
        await this.emit(
          page.filter((record) => isPurged(record) || this.deletedAt(record) !== null),
          false,
        );
      }
    }
  }
}

/** A cursor value in the ranges a stream emitted before (below its lower bound, or in its done ranges). */
const emittedBefore = (bounds: Bounds, at: number): boolean => at < bounds.lowerBound || within(bounds.done, at);

/** The member of a stream read for the parent records of the family's lists. */
class ChildMember extends Member<ChildRead> {
  private parentsSeen = 0;
  /** The parents whose children an earlier read emitted, by its bounds. */
  private readonly parentsBefore = parentsCovered(this.read.bounds);

  /** Its checkpoints say which parents' children it has emitted: at first, those its bounds say. */
  coverParents(): void {
    this.checkpoint.coverParents(this.parentsBefore);
  }

  /** A checkpoint after a batch: the parents the listing has covered have had their children emitted. */
  override async checkpointBatch({ covered }: Batch): Promise<void> {
    if (!covered) return;
    this.checkpoint.coverParents(union([...covered, ...this.parentsBefore]));
    await this.checkpoint.emit();
  }

  /** Reads this stream's lists for a batch's parent records, then estimates its size: as many records a parent as
   * so far, for the parents the listing has left. */
  async expand({ records, remaining }: Batch): Promise<void> {
    await this.readFor(records);
    this.parentsSeen += records.length;
    if (remaining !== undefined && this.parentsSeen > 0 && !this.failed)
      await this.progress.estimate((this.checkpoint.total * (this.parentsSeen + remaining)) / this.parentsSeen);
  }

  /** Reads this stream's lists for the parent records of a batch that changed since the previous sync: for each, or
   * for groups of them at once. A parent asked for alone that vanished meanwhile is skipped; any other failure ends
   * this stream. */
  private async readFor(parents: ApiRecord[]): Promise<void> {
    const { stream, bounds } = this.read;
    const parentCursor = parentOf(stream).cursor;
    const wanted = parents.filter((record) => {
      const changed = toMillis(record[parentCursor]);
      this.checkpoint.sawParent(changed);
      if (within(bounds.parentDone, changed)) return false;
      return bounds.parentAfter !== undefined ? !(changed <= bounds.parentAfter) : !(changed < bounds.lowerBound);
    });
    const { request } = stream.parent;
    if (request.per === 'record') {
      for (const parent of wanted) {
        if (!(await this.readChildren(parentParameters(request, parent), () => parent, String(parent.id)))) return;
      }
      return;
    }
    for (let i = 0; i < wanted.length; i += request.size) {
      const group = new Map(wanted.slice(i, i + request.size).map((parent) => [String(parent.id), parent]));
      const ids = [...group.keys()].join(',');
      const parentOfRecord = (record: ApiRecord) => group.get(String(record[request.parentKey]));
      if (!(await this.readChildren({ query: { [request.param]: ids } }, parentOfRecord, ids))) return;
    }
  }

  /** Reads the lists for one request's parents (`parentOfRecord`: a record's parent; `which`: their ids, for the
   * log); false once the stream failed. */
  private async readChildren(
    parameters: { pathParams?: Record<string, number | string>; query?: Query },
    parentOfRecord: (record: ApiRecord) => ApiRecord | undefined,
    which: string,
  ): Promise<boolean> {
    const { stream, bounds } = this.read;
    const read: ListRead = { stream, lowerBound: bounds.lowerBound, countAs: stream.name, signal: this.signal };
    for (const list of stream.lists) {
      try {
        for await (const page of boundedPages(read, list, this.context, parameters)) {
          for (const record of page) {
            const parent = parentOfRecord(record);
            if (!parent) continue;
            stream.derive?.(record, parent);
            if (stream.deletedWithParent) this.markDeletedWithParent(record, parent);
          }
          await this.emit(page);
        }
      } catch (error) {
        if (!(stream.parent.request.per === 'record' && parentGone(error))) {
          this.fail(error);
          return false;
        }
        this.context.logger.info(
          `${stream.name}: skipped ${stream.parent.stream} ${which}, gone since it was listed (HTTP ${error.status})`,
        );
      }
    }
    return true;
  }

  /** A child record of a deleted parent is deleted with it, at the parent's deletion time. */
  private markDeletedWithParent(record: ApiRecord, parent: ApiRecord): void {
    const parentStream = parentOf(this.read.stream);
    const deleted = deletedMarkerOf(parentStream);
    if (deleted && parent[deleted.field] === deleted.value)
      record[DELETED_AT] = toRfc3339(parent[parentStream.cursor]) ?? this.now();
  }
}

/** Reads a field-definition stream: the definitions of its entity, each with the column its custom field is emitted
 * under in this read (null for a standard field, and in raw mode). */
export async function readFields(stream: FieldsStream, context: ReadContext): Promise<Map<string, StreamOutcome>> {
  const read = { stream };
  const checkpoint = new Checkpoint(read, context.writer, () => Infinity);
  try {
    const { columns } = context;
    const definitions = await columns.definitionsFrom(fieldListOf(stream), stream.name);
    const named = columns.readable ? await columns.columnsOf(stream.entity, fieldsCarrier(stream.entity).name) : [];
    const columnOf = new Map(named.map((column) => [column.key, column.column]));
    // v1 definitions carry v1 timestamps.
    const normalise = timestampNormaliser(streamSchema(stream.name));
    for (const definition of definitions) {
      const record = {
        ...definition.record,
        key: definition.key,
        name: definition.name,
        field_type: definition.fieldType,
        is_custom_field: definition.isCustom,
        column_name: columnOf.get(definition.key) ?? null,
      };
      normalise(record);
      await context.writer.write(recordMessage(stream.name, record));
      checkpoint.saw(NaN);
    }
    await checkpoint.emit({ cap: Infinity, syncedAt: context.client.serverNow() });
    return new Map([[stream.name, { records: checkpoint.total }]]);
  } catch (error) {
    const outcome =
      error instanceof BudgetExhausted ? { records: 0, deferred: true } : { error: featureRefusal(stream, error) };
    return new Map([[stream.name, outcome]]);
  }
}
