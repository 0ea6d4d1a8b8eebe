// What a stream's saved state means, and how much of the stream a sync reads from it. A state holds the stream's
// cursor, `synced_at` (Pipedrive's time when the last complete read began: every change before it has been emitted),
// for a child stream its parent's cursor (e.g. `email_threads_update_time`), and for a stream read in time slices
// whose read was cut short, `slices_done`: the ranges above the cursor whose records were all emitted.
import type { StreamState } from '../../airbyte/messages.js';
import type { SourceConfig } from '../config.js';
import { SECOND, toMillis } from '../time.js';
import { union, type Range } from './ranges.js';
import {
  historyStart,
  isChild,
  isIncremental,
  parentOf,
  type ChildStream,
  type IncrementalStream,
  type StreamDefinition,
} from './table.js';

/** The state key of the ranges a cut-short sliced read had emitted: `[{"start": …, "end": …}]`, end exclusive. */
export const SLICES_DONE = 'slices_done';

/** What the previous sync saved for an incremental stream, parsed (epoch ms). */
export interface SavedState {
  cursor?: number;
  syncedAt?: number;
  /** A child stream's: the highest cursor among the parent records whose children it has read. */
  parentCursor?: number;
  /** A child stream's, cut short: ranges of parent cursors above `parentCursor` whose children it has read. */
  parentSlicesDone?: Range[];
  /** Ranges above the cursor whose records have all been emitted. */
  slicesDone?: Range[];
}

/** How much of an incremental stream to read. */
export interface Bounds {
  /** Lower bound of the cursor, epoch ms: the start date, or the saved cursor minus the lookback. */
  lowerBound: number;
  /** What the previous sync saved, for an incremental sync. */
  saved?: SavedState;
  /** Every change before this instant has been emitted by earlier syncs: the bound for lists of changes only (when
   * the last complete read began, less the lookback; a cut-short read since may have moved the cursor past it, but
   * not past the deletions its lists leave out). */
  completeBefore?: number;
  /** A child stream: read the children of the parent records whose cursor is after this, those that changed since the
   * previous sync; without it, of those at or after `lowerBound`. */
  parentAfter?: number;
  /** A child stream: ranges of parent cursors above `parentAfter` whose children an earlier, cut-short read emitted. */
  parentDone: Range[];
  /** Ranges above `lowerBound` whose records an earlier, cut-short read emitted (less the lookback): not read again. */
  done: Range[];
  /** A resumable full refresh's: the ranges each list (by endpoint) emitted in an earlier attempt. */
  listDone?: Record<string, Range[]>;
}

/** One stream of a read: a full-table stream is read whole; an incremental one within its bounds, in a full refresh
 * (`refresh`: a resumable stream's, whose state says exactly which ranges it has read) or incrementally. */
export type StreamRead =
  | { stream: StreamDefinition; bounds?: undefined; refresh?: undefined }
  | { stream: IncrementalStream; bounds: Bounds; refresh?: true };
export type ChildRead = { stream: ChildStream; bounds: Bounds };

/** The state a resumable full refresh ends with (as Airbyte's CDK says it): a retried attempt of the same sync reads
 * nothing more of the stream. Airbyte passes a full refresh's state only between attempts of one sync. */
export const FULL_REFRESH_COMPLETE = '__ab_full_refresh_sync_complete';

/** The state key of the ranges each list (by endpoint) of a resumable full refresh has emitted so far. */
export const LISTS_DONE = 'lists_done';

/** How far a resumable full refresh got, by its saved state: to the end, or through the ranges each list read. */
export type RefreshProgress = { complete: true } | { complete: false; listDone: Record<string, Range[]> };

/** A resumable full refresh's saved state, checked; any other state (an incremental sync's) says nothing of it. */
export function parseRefreshState(
  stream: IncrementalStream,
  state: StreamState,
  invalid: (why: string) => Error,
): RefreshProgress {
  if (state[FULL_REFRESH_COMPLETE] === true) return { complete: true };
  const lists = state[LISTS_DONE];
  if (lists === undefined || lists === null) return { complete: false, listDone: {} };
  if (typeof lists !== 'object' || Array.isArray(lists))
    throw invalid(
      `gives stream "${stream.name}" an invalid ${LISTS_DONE}: ${JSON.stringify(lists)} (expected an object of ranges by list)`,
    );
  const listDone = Object.entries(lists).map(([endpoint, ranges]) => [
    endpoint,
    union(
      slicesDone(ranges, `${LISTS_DONE}["${endpoint}"]`, (why) => invalid(`gives stream "${stream.name}" ${why}`)) ??
        [],
    ),
  ]);
  return { complete: false, listDone: Object.fromEntries(listDone) as Record<string, Range[]> };
}

/** A resumable full refresh from the start date, the ranges an earlier attempt's lists read left out. */
export function refreshRead(
  stream: IncrementalStream,
  listDone: Record<string, Range[]>,
  config: SourceConfig,
): StreamRead {
  const lowerBound = historyStart(stream, config.startDate.toMillis());
  return { stream, bounds: { lowerBound, done: [], parentDone: [], listDone }, refresh: true };
}

/** The state key of a child stream's parent cursor, e.g. `email_threads_update_time`. */
export function parentCursorKey(stream: ChildStream): string {
  const parent = parentOf(stream);
  return `${parent.name}_${parent.cursor}`;
}

/** The state key of the ranges of parent cursors a cut-short child read covered, e.g. `deals_slices_done`. */
export const parentSlicesKey = (stream: ChildStream): string => `${parentOf(stream).name}_${SLICES_DONE}`;

/** The parent cursors whose children a child stream has read by its bounds: below where it resumes, and its ranges. */
export const parentsCovered = ({ parentAfter, lowerBound, parentDone }: Bounds): Range[] =>
  union([{ start: -Infinity, end: parentAfter ?? lowerBound }, ...parentDone]);

/** What a stream's saved state holds, each timestamp checked; `invalid` makes the error for one that is not. */
export function parseSavedState(
  stream: IncrementalStream,
  state: StreamState,
  invalid: (why: string) => Error,
): SavedState {
  const timestamp = (key: string): number | undefined => {
    const value = state[key];
    if (value === undefined || value === null) return undefined;
    const ms = typeof value === 'string' ? toMillis(value) : NaN;
    if (Number.isNaN(ms)) {
      throw invalid(
        `gives stream "${stream.name}" an invalid ${key}: ${JSON.stringify(value)} (expected a timestamp such as 2026-01-01T00:00:00Z)`,
      );
    }
    return ms;
  };
  const ranges = (key: string) => slicesDone(state[key], key, (why) => invalid(`gives stream "${stream.name}" ${why}`));
  return {
    cursor: timestamp(stream.cursor),
    syncedAt: timestamp('synced_at'),
    parentCursor: isChild(stream) ? timestamp(parentCursorKey(stream)) : undefined,
    parentSlicesDone: isChild(stream) ? ranges(parentSlicesKey(stream)) : undefined,
    slicesDone: ranges(SLICES_DONE),
  };
}

/** The ranges of `slices_done`, each checked. */
function slicesDone(value: unknown, key: string, invalid: (why: string) => Error): Range[] | undefined {
  if (value === undefined || value === null) return undefined;
  const example = `(expected a list such as [{"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}])`;
  if (!Array.isArray(value)) throw invalid(`an invalid ${key}: ${JSON.stringify(value)} ${example}`);
  return value.map((item: unknown, index) => {
    const { start, end } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const range = { start: toMillis(start), end: toMillis(end) };
    if (!(range.start < range.end)) throw invalid(`an invalid ${key}[${index}]: ${JSON.stringify(item)} ${example}`);
    return range;
  });
}

/**
 * A saved state as far as it can be believed at `now` (the connector's clock, before any request): a `synced_at` later
 * than now came from a clock that ran ahead (an earlier version trusted Pipedrive's `Date` header alone), so it cannot
 * say when that read really began; it is dropped (`doubted`), and the stream reads from its own cursor, the older point.
 */
export function believable(saved: SavedState, now: number): { saved: SavedState; doubted?: number } {
  if (saved.syncedAt === undefined || saved.syncedAt <= now) return { saved };
  return { saved: { ...saved, syncedAt: undefined }, doubted: saved.syncedAt };
}

/** How much of a stream to read: all of a full-table stream; of an incremental one, `bounds`. */
export function streamRead(stream: StreamDefinition, saved: SavedState | undefined, config: SourceConfig): StreamRead {
  return isIncremental(stream) ? { stream, bounds: bounds(stream, saved, config) } : { stream };
}

/** How long before a complete read began its last change must have been for every record of that second to have
 * been emitted by it. */
export const SETTLED_MS = 60_000;

/**
 * How much of an incremental stream to read: from the start date, or from where the previous sync left off (less the
 * lookback) if this is an incremental sync with a saved state. The saved cursor's second is read again (Pipedrive's
 * timestamps have whole seconds, and records changed in that second may have come after the read), unless the
 * previous read completed well after that second: then it had every record of it, and nothing is read twice.
 */
export function bounds(stream: IncrementalStream, saved: SavedState | undefined, config: SourceConfig): Bounds {
  const start = historyStart(stream, config.startDate.toMillis());
  if (!saved) return { lowerBound: start, done: [], parentDone: [] };
  const lookback = config.lookback.toMillis();
  const settled =
    saved.cursor !== undefined && saved.syncedAt !== undefined && saved.cursor + SETTLED_MS <= saved.syncedAt;
  const resume = (saved.cursor ?? -Infinity) + (settled && lookback === 0 ? SECOND : -lookback);
  const lowerBound = Math.max(start, resume);
  const completeBefore = saved.syncedAt === undefined ? lowerBound : Math.max(start, saved.syncedAt - lookback);
  const parentAfter = saved.parentCursor === undefined ? undefined : saved.parentCursor - lookback;
  // The lookback reads again the end of each range, as it does below the cursor.
  const lessLookback = (ranges: Range[] = [], above: number) =>
    union(ranges.map((range) => ({ start: Math.max(range.start, above), end: range.end - lookback })));
  const done = lessLookback(saved.slicesDone, lowerBound);
  const parentDone = lessLookback(saved.parentSlicesDone, parentAfter ?? lowerBound);
  return { lowerBound, saved, completeBefore, parentAfter, done, parentDone };
}
