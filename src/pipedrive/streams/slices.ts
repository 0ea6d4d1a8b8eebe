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
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { clock } from '../clock.js';
import type { PipedriveClient } from '../http/client.js';
import { MAX_PAGE_SIZE, listPages, type ApiRecord, type Pages, type SortedList } from '../http/pagination.js';
import { SECOND, floorToSecond, toMillis } from '../time.js';
import { gaps, intersection, union, type Range } from './ranges.js';
import { SETTLED_MS } from './state.js';

/** Each slice a split makes holds this many pages or more by estimate: every slice ends in a partial page, so slices
 * of 20 pages cost at most about 1 request in 20 more than the fewest possible (measured with `npm run bench`). */
const MIN_PAGES_A_SLICE = 20;
/** Smaller slices than that are cut while they cost at most one request per this many pages the read has fetched (2 %
 * more than the fewest possible, on top of the above). They are the ones a read's tail needs: its last slice is too
 * small to split, and reads a page per round trip while the burst limit is idle (200k deals, 50 ms latency, 40
 * requests / 2 s: its last 20 pages went at half the speed of the rest). */
const PAGES_A_SMALL_SPLIT = 50;
/** The fewest pages such a slice holds by estimate. */
const MIN_PAGES_A_SMALL_SLICE = 4;
/** Slices per request of the burst limit (per 2 s): one slice per 10 requests keeps the limit busy at the latency
 * of a page of 500 (measured with `npm run bench`: 1/5 ran more slices for no more records/s and more CPU). The
 * most at once, 24, is what 480 requests / 2 s needs at 100 ms a page. */
const SLICES_PER_LIMIT = 1 / 10;
const MIN_SLICES = 2;
const MAX_SLICES = 24;
/** Heap per slice: a slice holds a page of up to 500 records (about 5 MB of deals once parsed) and the response
 * coming in. A heap that holds three times its slices' pages leaves the garbage collector room: a pod's small heap
 * runs fewer slices instead of collecting all the time (2M deals in a 256 MB container: twice the CPU per record
 * with 24 slices). */
const HEAP_PER_SLICE = 16 * 1024 * 1024;
/** More slices are for a read that waits on the network. A split adds them only while the process's event loop was
 * less busy than this over the last period, and about as many as would make it this busy if each brought the
 * records/s of those running (at least one). A busier loop is held back by the process's own work: more slices would
 * not make it faster, only each record dearer (200k deals, stdout read by a process on the same two cores: 1.30 times
 * the bare loop's CPU per record with 8 to 15 slices, 1.14 with one per list asking a page ahead, which keeps the
 * loop 80 to 100 % busy). */
const LOAD_TO_SPLIT = 0.75;
/** The load is measured over periods at least this long, from the start of the read. */
const LOAD_PERIOD_MS = 500;

/** How busy a process is, measured in periods: a sample that closes one returns its load (0 to 1). */
export interface Load {
  sample(): number | undefined;
}

/** The event loop's load, over periods the first of which begins when it is made; a sample at least `period` ms
 * after the last period's end closes the next. */
export class LoopLoad implements Load {
  private mark: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(private readonly period = LOAD_PERIOD_MS) {}

  sample(): number | undefined {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, this.mark);
    if (since.active + since.idle < this.period) return undefined;
    this.mark = now;
    return since.utilization;
  }
}

/** How many slices the streams of a read may run at once, from the burst limit the throttle has learnt. A stream's
 * first slice of each list runs whatever the pool holds; only more slices than that wait for room. */
export class SlicePool {
  private running = 0;
  /** Slices splits may still add until the load's next period closes. */
  private allowance = 0;
  /** The most slices the heap has room for. */
  private readonly most: number;

  constructor(
    private readonly burstLimit: () => number,
    private readonly load: Load = new LoopLoad(),
    heapLimit = getHeapStatistics().heap_size_limit,
  ) {
    this.most = Math.max(MIN_SLICES, Math.min(MAX_SLICES, Math.floor(heapLimit / HEAP_PER_SLICE)));
  }

  static readonly MAX = MAX_SLICES;

  get capacity(): number {
    return Math.min(this.most, Math.max(MIN_SLICES, Math.floor(this.burstLimit() * SLICES_PER_LIMIT)));
  }

  /** Slices may ask for their next page ahead: a slice that does holds two pages, as much as two slices do, and the
   * pool has room for twice those running (a read's tail, when its last slices are too small to split). */
  get roomToPrefetch(): boolean {
    return 2 * this.running <= this.capacity;
  }

  take(force = false): boolean {
    if (!force && this.running >= this.capacity) return false;
    this.running++;
    return true;
  }

  /** Samples the load (after every page of a sliced read); a period it closes sets how many slices splits may add
   * until the next (see LOAD_TO_SPLIT). */
  measure(): void {
    const load = this.load.sample();
    if (load === undefined) return;
    this.allowance = load < LOAD_TO_SPLIT ? Math.ceil(Math.max(1, this.running) * (LOAD_TO_SPLIT / load - 1)) : 0;
  }

  /** Room for a slice a split adds: in the pool, and in what the last period of load allows. */
  grow(): boolean {
    if (this.allowance <= 0 || !this.take()) return false;
    this.allowance--;
    return true;
  }

  release(): void {
    this.running--;
  }
}

export interface SlicedRead {
  client: PipedriveClient;
  /** A full refresh: the stream's table will be what this read emits, so a range is covered exactly as far as it was
   * read (no margin for stragglers), and a record that changes while the read runs must be read at its new time. */
  whole: boolean;
  pool: SlicePool;
  lists: readonly SortedList[];
  cursor: string;
  limit: number;
  /** Everything below it was emitted by earlier syncs. */
  lowerBound: number;
  /** Ranges above the lower bound an earlier, cut-short read emitted. */
  done: readonly Range[];
  /** Ranges one list (by endpoint) emitted in an earlier attempt, on top of `done`. */
  listDone?: Readonly<Record<string, readonly Range[]>>;
  /** The stream the requests are counted for. */
  stream: string;
  signal: AbortSignal;
}

/** A page of records, what the stream has emitted once they are (of all its lists, and of each by endpoint), and how
 * many records are left to read by the density of what was read (an estimate, 0 once every slice is done). */
export interface SlicedBatch {
  records: ApiRecord[];
  covered: Range[];
  listsCovered: Record<string, Range[]>;
  remaining: number;
}

/** Records of one second held back past this many are emitted anyway (memory stays flat; a resumed read may then
 * emit that second's records again). */
const MAX_HELD = 2 * MAX_PAGE_SIZE;

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
  /** The records of the second it reached, held back until the next page shows whether that second has more: what
   * was emitted is then exactly what the checkpoint says was. */
  held: ApiRecord[] = [];
  /** Records per ms in its last page (0: none yet). */
  recent = 0;

  constructor(
    readonly owner: ListSlices,
    readonly start: number,
    /** Exclusive; Infinity for the open-ended slice. */
    public end: number,
    /** Records per ms of the slice it was split from, until it has read a page of its own. */
    private readonly inherited?: number,
  ) {
    this.reached = start;
  }

  /** Records per ms where it is reading: in its last page, or the slice's it was split from. */
  get density(): number | undefined {
    return this.recent > 0 ? this.recent : this.inherited;
  }
}

export async function* slicedBatches(read: SlicedRead): AsyncGenerator<SlicedBatch, void, undefined> {
  const doneOf = (list: SortedList) => union([...read.done, ...(read.listDone?.[list.endpoint] ?? [])]);
  const begun = clock.now();
  /** When the read began, by the earliest clock known (see PipedriveClient.earliest). */
  const readStart = () => floorToSecond(read.client.earliest(begun));
  const lists: ListSlices[] = read.lists.map((list) => {
    const owner: ListSlices = { list, splittable: list.until !== undefined, slices: [], queued: [] };
    owner.slices = gaps(read.lowerBound, doneOf(list)).map((gap) => new Slice(owner, gap.start, gap.end));
    owner.queued = [...owner.slices];
    return owner;
  });
  const running = new Set<Slice>();
  /** Pages fetched, and slices added beyond what MIN_PAGES_A_SLICE allows (about a request each): see
   * PAGES_A_SMALL_SPLIT. */
  let pagesRead = 0;
  let smallSlices = 0;

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
      // The next page is asked for ahead while the pool has room for it, unless the slice was cut short of where the
      // server bounds it (by a split): the page after the one that reaches the cut would be a request spent on
      // records of another slice. A full pool keeps the burst limit busy without it.
      prefetch: () => !slice.owner.splittable || (read.pool.roomToPrefetch && slice.end === upperBound),
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
    const settle = read.whole ? 0 : SETTLED_MS;
    slice.reached = slice.end === Infinity ? Math.max(slice.reached, readStart() - settle) : slice.end;
    running.delete(slice);
    read.pool.release();
  };
  /** Records left in the unfinished slices, each by the density where it is reading (density grows towards the
   * present in most companies, so the estimate rises as the read goes on). */
  const remaining = (): number =>
    lists.reduce(
      (sum, owner) =>
        owner.slices
          .filter((slice) => !slice.finished)
          .reduce((n, slice) => {
            const span = Math.max(0, Math.min(slice.end, readStart()) - slice.reached);
            return n + slice.held.length + (slice.density ?? 0) * span;
          }, sum),
      0,
    );
  const listCovered = (owner: ListSlices): Range[] =>
    union([
      { start: -Infinity, end: read.lowerBound },
      ...doneOf(owner.list),
      ...owner.slices.map((slice) => ({ start: slice.start, end: slice.reached })),
    ]);
  const batch = (records: ApiRecord[]): SlicedBatch => {
    const each = lists.map((owner) => [owner.list.endpoint, listCovered(owner)] as const);
    return {
      records,
      covered: each.map(([, covered]) => covered).reduce(intersection),
      listsCovered: Object.fromEntries(each),
      remaining: remaining(),
    };
  };

  // Whose page goes first among those already in: each slice in turn, so that every slice keeps a request going.
  let turn = 0;
  /** Records of finished slices, held back until then. */
  const released: ApiRecord[] = [];
  /** Lists whose open-ended slice reached the end while other slices still ran: in a full refresh, a record changed
   * since (and so moved to the top of its list, or to another list) would be missed; they are read again from when
   * the read began once every other slice is done. */
  const parked = new Set<ListSlices>();
  const finishTurn = (slice: Slice) => {
    finish(slice);
    if (read.whole && slice.end === Infinity && (running.size > 0 || lists.some((o) => o.queued.length > 0)))
      parked.add(slice.owner);
    startQueued();
  };
  const reopen = (): boolean => {
    if (parked.size === 0) return false;
    for (const owner of parked) {
      const top = new Slice(owner, readStart(), Infinity);
      owner.slices.push(top);
      owner.queued.push(top);
    }
    parked.clear();
    startQueued();
    return true;
  };
  try {
    startQueued();
    for (;;) {
      if (running.size === 0 && !reopen()) break;
      const { slice, result } = await Promise.race(inTurn([...running], turn++).map((s) => s.next as Promise<Pending>));
      if (result.done) {
        // Its held records go out with the next batch (children are asked for in groups, so fewer batches are cheaper).
        released.push(...slice.held);
        slice.held = [];
        finishTurn(slice);
        continue;
      }
      pagesRead++;
      read.pool.measure();
      const records = keep(slice, result.value, read.cursor);
      if (slice.finished) {
        finishTurn(slice);
      } else if (result.value.length >= read.limit) {
        // A page short of the limit is the list's last: nothing is left to split.
        split(slice, records);
      }
      yield batch(released.length > 0 ? [...released.splice(0), ...records] : records);
      if (!slice.finished) pull(slice);
    }
    if (released.length > 0) yield batch(released);
  } finally {
    for (let i = 0; i < running.size; i++) read.pool.release();
  }

  /** If the rest of the slice looks big enough, and more slices would make the read faster (no page is waiting to
   * be emitted, no request waiting for the throttle) and the pool has room: the rest is cut, by the page's density,
   * into spans of the same whole number of pages (as many as slicesToAdd allows and the pool gives); new slices read
   * all but the first. */
  function split(slice: Slice, page: ApiRecord[]): void {
    const { owner } = slice;
    if (!owner.splittable || owner.queued.length > 0 || page.length === 0) return;
    if (read.client.throttle.saturated || [...running].some((other) => other !== slice && other.ready)) return;
    const end = slice.end === Infinity ? readStart() : slice.end;
    const rest = end - slice.reached;
    if (!(rest >= 2 * SECOND)) return;
    const perMs = page.length / Math.max(slice.reached - toMillis(page[0]?.[read.cursor]), SECOND);
    const pages = (perMs * rest) / read.limit;
    const spare = Math.floor(pagesRead / PAGES_A_SMALL_SPLIT) - smallSlices;
    const { most, free } = slicesToAdd(pages, Math.floor(rest / SECOND), spare);
    let added = 0;
    while (added < most && read.pool.grow()) added++;
    if (added === 0) return;
    smallSlices += Math.max(0, added - free);
    const cuts = pageCuts(slice.reached, perMs, Math.floor(pages / (added + 1)), read.limit, added);
    const ends = [...cuts, slice.end];
    let position = owner.slices.indexOf(slice);
    slice.end = cuts[0] ?? slice.end;
    cuts.forEach((from, i) => {
      const upper = new Slice(owner, from, ends[i + 1] ?? Infinity, slice.density);
      owner.slices.splice(++position, 0, upper);
      start(upper);
    });
  }
}

/** How many slices a split may add to a slice whose rest holds `pages` pages by estimate, over `seconds` whole seconds
 * (a slice spans one at least): enough for MIN_PAGES_A_SLICE pages each (`free` of them), or, while the read may still
 * spend `spare` requests on smaller slices, up to `spare` more, for MIN_PAGES_A_SMALL_SLICE pages each. */
export function slicesToAdd(pages: number, seconds: number, spare: number): { most: number; free: number } {
  const free = Math.max(0, Math.min(Math.floor(pages / MIN_PAGES_A_SLICE), seconds) - 1);
  const small = Math.min(Math.floor(pages / MIN_PAGES_A_SMALL_SLICE), seconds) - 1;
  return { most: Math.max(free, Math.min(small, free + Math.max(spare, 0))), free };
}

/** Where `count` slices after the one at `from` begin, each `pages` pages of `limit` records later by the density,
 * less a quarter page, so that a slice's last page is nearly full rather than one record into a page more. */
function pageCuts(from: number, perMs: number, pages: number, limit: number, count: number): number[] {
  const span = Math.max(SECOND, ((pages - 1 / 4) * limit) / perMs);
  return Array.from({ length: count }, (_, i) => floorToSecond(from + span * (i + 1)));
}

/** The slices from the `turn`-th on, then the ones before it (a race among settled promises goes to the first). */
function inTurn(slices: Slice[], turn: number): Slice[] {
  const first = turn % slices.length;
  return [...slices.slice(first), ...slices.slice(0, first)];
}

/** The records of a page to emit: those that belong to the slice (the first one at or past its end ends it), with
 * the ones held from the page before, less the ones of the last second, held in turn unless the slice is finished.
 * Moves `reached` to the last record kept: the page is ascending, so everything of the slice below it is in this page
 * or before, and what is emitted is what lies below `reached`. */
function keep(slice: Slice, page: ApiRecord[], cursor: string): ApiRecord[] {
  let records = page;
  const past = (record: ApiRecord | undefined) => toMillis(record?.[cursor]) >= slice.end;
  if (slice.end !== Infinity && past(page.at(-1))) {
    records = page.slice(0, page.findIndex(past));
    slice.finished = true;
  }
  const before = slice.reached;
  for (let i = records.length - 1; i >= 0; i--) {
    const at = toMillis(records[i]?.[cursor]);
    if (!Number.isNaN(at)) {
      slice.reached = Math.max(slice.reached, at);
      break;
    }
  }
  if (records.length > 0) slice.recent = records.length / Math.max(slice.reached - before, SECOND);
  records = slice.held.length > 0 ? [...slice.held, ...records] : records;
  let first = records.length;
  while (first > 0 && toMillis(records[first - 1]?.[cursor]) === slice.reached) first--;
  const holding = !slice.finished && records.length - first <= MAX_HELD;
  slice.held = holding ? records.slice(first) : [];
  return holding ? records.slice(0, first) : records;
}
