// Reads a stream's sorted lists in time slices, several at once, so that one big stream can use the whole burst limit.
//
// Each list starts as one slice per range still to read (one open-ended slice on a fresh read). A slice reads its
// range in ascending cursor order; after each page it estimates what is left of its range from the density of that
// page, and if that is several pages and the read may run another slice, it splits: it keeps the lower half and a new
// slice reads the upper half (`updated_since` inclusive, `updated_until` exclusive, so a record on the boundary
// belongs to exactly one). The split slice's query is left as it was; it drops, and stops at, the first record of
// the upper half. How many slices run at once is the pool's to say (across the read), how fast they go the throttle's.
//
// What has been emitted is a set of ranges: everything below the read's lower bound, the ranges an earlier, cut-short
// read finished, and each slice's range up to its last record. A batch carries that set (of all the stream's lists
// together) after its records, for the checkpoint.
import { clock } from '../clock.js';
import type { PipedriveClient } from '../http/client.js';
import { listPages, type ApiRecord, type Pages, type SortedList } from '../http/pagination.js';
import { SECOND, floorToSecond, toMillis } from '../time.js';
import { gaps, intersection, union, type Range } from './ranges.js';
import { SETTLED_MS } from './state.js';

/** A slice is split only when its rest looks like this many pages or more, so that a split saves more time than its
 * extra, partial page costs. */
const MIN_PAGES_TO_SPLIT = 4;
/** Slices per request of the burst limit (per 2 s): one slice per 10 requests keeps the limit busy at the latency
 * of a page of 500 (measured with `npm run bench`: 1/5 ran more slices for no more records/s and more CPU). The
 * most at once, 24, is what 480 requests / 2 s needs at 100 ms a page, and their pages (one each, ~0.5 MB) stay
 * within a small, flat memory. */
const SLICES_PER_LIMIT = 1 / 10;
const MIN_SLICES = 2;
const MAX_SLICES = 24;

/** How many slices the streams of a read may run at once, from the burst limit the throttle has learnt. A stream's
 * first slice of each list runs whatever the pool holds; only more slices than that wait for room. */
export class SlicePool {
  private running = 0;

  constructor(private readonly burstLimit: () => number) {}

  static readonly MAX = MAX_SLICES;

  get capacity(): number {
    return Math.min(MAX_SLICES, Math.max(MIN_SLICES, Math.floor(this.burstLimit() * SLICES_PER_LIMIT)));
  }

  take(force = false): boolean {
    if (!force && this.running >= this.capacity) return false;
    this.running++;
    return true;
  }

  release(): void {
    this.running--;
  }
}

export interface SlicedRead {
  client: PipedriveClient;
  pool: SlicePool;
  lists: readonly SortedList[];
  cursor: string;
  limit: number;
  /** Everything below it was emitted by earlier syncs. */
  lowerBound: number;
  /** Ranges above the lower bound an earlier, cut-short read emitted. */
  done: readonly Range[];
  /** The stream the requests are counted for. */
  stream: string;
  signal: AbortSignal;
}

/** A page of records, and what the stream has emitted once they are. */
export interface SlicedBatch {
  records: ApiRecord[];
  covered: Range[];
}

interface Pending {
  slice: Slice;
  result: IteratorResult<ApiRecord[], void>;
}

/** One list of the stream, and its slices. */
interface ListSlices {
  list: SortedList;
  /** The list takes an upper bound: its slices can split. */
  splittable: boolean;
  slices: Slice[];
  /** Slices waiting for room in the pool. */
  queued: Slice[];
}

class Slice {
  /** Every record of the slice below it has been emitted. */
  reached: number;
  finished = false;
  pages: Pages | null = null;
  next: Promise<Pending> | null = null;
  /** Its next page is in, waiting to be emitted. */
  ready = false;

  constructor(
    readonly owner: ListSlices,
    readonly start: number,
    /** Exclusive; Infinity for the open-ended slice. */
    public end: number,
  ) {
    this.reached = start;
  }
}

export async function* slicedBatches(read: SlicedRead): AsyncGenerator<SlicedBatch, void, undefined> {
  const begun = clock.now();
  /** When the read began, by the earliest clock known (see PipedriveClient.earliest). */
  const readStart = () => floorToSecond(read.client.earliest(begun));
  const lists: ListSlices[] = read.lists.map((list) => {
    const owner: ListSlices = { list, splittable: list.until !== undefined, slices: [], queued: [] };
    owner.slices = gaps(read.lowerBound, read.done).map((gap) => new Slice(owner, gap.start, gap.end));
    owner.queued = [...owner.slices];
    return owner;
  });
  const running = new Set<Slice>();

  const start = (slice: Slice) => {
    const upperBound = slice.owner.splittable ? slice.end : undefined;
    slice.pages = listPages({
      client: read.client,
      list: slice.owner.list,
      limit: read.limit,
      lowerBound: slice.start,
      upperBound,
      stream: read.stream,
      signal: read.signal,
      // A list that cannot split asks for its next page ahead instead.
      prefetch: !slice.owner.splittable,
    });
    pull(slice);
    running.add(slice);
  };
  const pull = (slice: Slice) => {
    const pages = slice.pages;
    if (!pages) return;
    slice.ready = false;
    slice.next = pages.next().then((result) => {
      slice.ready = true;
      return { slice, result };
    });
    // Raced below; should the stream end first, its failure is nobody's.
    slice.next.catch(() => undefined);
  };
  const startQueued = () => {
    for (const owner of lists) {
      for (;;) {
        const slice = owner.queued[0];
        if (!slice || !read.pool.take(!owner.slices.some((s) => running.has(s)))) break;
        owner.queued.shift();
        start(slice);
      }
    }
  };
  const finish = (slice: Slice) => {
    slice.finished = true;
    // An open-ended slice read to the end has every record older than the read, bar the last seconds' stragglers.
    slice.reached = slice.end === Infinity ? Math.max(slice.reached, readStart() - SETTLED_MS) : slice.end;
    running.delete(slice);
    read.pool.release();
  };
  const covered = (): Range[] =>
    lists
      .map((owner) =>
        union([
          { start: -Infinity, end: read.lowerBound },
          ...read.done,
          ...owner.slices.map((slice) => ({ start: slice.start, end: slice.reached })),
        ]),
      )
      .reduce(intersection);

  try {
    startQueued();
    while (running.size > 0) {
      const { slice, result } = await Promise.race([...running].map((s) => s.next as Promise<Pending>));
      if (result.done) {
        finish(slice);
        startQueued();
        continue;
      }
      const records = keep(slice, result.value, read.cursor);
      if (slice.finished) {
        finish(slice);
        startQueued();
      } else {
        split(slice, records);
      }
      yield { records, covered: covered() };
      if (!slice.finished) pull(slice);
    }
  } finally {
    for (let i = 0; i < running.size; i++) read.pool.release();
  }

  /** If the rest of the slice looks big enough, and more slices would make the read faster (no page is waiting to
   * be emitted, no request waiting for the throttle) and the pool has room: the rest is cut into equal spans of
   * whole seconds, as many as the pool gives and each of MIN_PAGES_TO_SPLIT pages or more by the page's density; new
   * slices read all but the first. */
  function split(slice: Slice, page: ApiRecord[]): void {
    const { owner } = slice;
    if (!owner.splittable || owner.queued.length > 0 || page.length === 0) return;
    if (read.client.throttle.saturated || [...running].some((other) => other !== slice && other.ready)) return;
    const first = toMillis(page[0]?.[read.cursor]);
    const end = slice.end === Infinity ? readStart() : slice.end;
    const rest = end - slice.reached;
    if (!(rest >= 2 * SECOND)) return;
    const pages = (page.length / Math.max(slice.reached - first, SECOND)) * (rest / read.limit);
    const most = Math.min(Math.floor(pages / MIN_PAGES_TO_SPLIT), Math.floor(rest / SECOND)) - 1;
    let added = 0;
    while (added < most && read.pool.take()) added++;
    if (added === 0) return;
    const width = rest / (added + 1);
    const cuts = Array.from({ length: added }, (_, i) => floorToSecond(slice.reached + width * (i + 1)));
    const ends = [...cuts, slice.end];
    let position = owner.slices.indexOf(slice);
    slice.end = cuts[0] ?? slice.end;
    cuts.forEach((from, i) => {
      const upper = new Slice(owner, from, ends[i + 1] ?? Infinity);
      owner.slices.splice(++position, 0, upper);
      start(upper);
    });
  }
}

/** The records of a page that belong to the slice; the first one at or past its end ends it. Moves `reached` to the
 * last record kept: the page is ascending, so everything of the slice below it is in this page or before. */
function keep(slice: Slice, page: ApiRecord[], cursor: string): ApiRecord[] {
  let records = page;
  const past = (record: ApiRecord | undefined) => toMillis(record?.[cursor]) >= slice.end;
  if (slice.end !== Infinity && past(page.at(-1))) {
    records = page.slice(0, page.findIndex(past));
    slice.finished = true;
  }
  for (let i = records.length - 1; i >= 0; i--) {
    const at = toMillis(records[i]?.[cursor]);
    if (!Number.isNaN(at)) {
      slice.reached = Math.max(slice.reached, at);
      break;
    }
  }
  return records;
}
