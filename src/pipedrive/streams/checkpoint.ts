// A stream's STATE messages: what it has emitted so far, never more.
import { stateMessage, type StreamState } from '../../airbyte/messages.js';
import type { MessageWriter } from '../../airbyte/output.js';
import { SECOND, formatRfc3339 } from '../time.js';
import type { Range } from './ranges.js';
import {
  FULL_REFRESH_COMPLETE,
  LISTS_DONE,
  SLICES_DONE,
  parentCursorKey,
  parentSlicesKey,
  type StreamRead,
} from './state.js';
import { isChild, type ChildStream } from './table.js';

/** The end of a read: `cap` bounds the cursor (when the read began; -Infinity: the cursor stays where it was), and a
 * child's parent cursor a second below it (that bound is exclusive); `syncedAt` is when the read began, if it was
 * complete. */
export interface ReadEnd {
  cap: number;
  syncedAt?: number;
}

/**
 * A stream's state: the highest cursor value among the records emitted so far, never lower than the state the sync
 * started from nor later than `latest()` (the second its read began, by the earliest clock: a record dated in the
 * future, or changed while the lists were read, cannot carry the state past changes not yet read); `synced_at`, when
 * the last complete read began; and for a child, the highest parent cursor it has covered (capped a second earlier, as
 * that bound is exclusive). Each STATE carries the number of records emitted since the previous one.
 *
 * A stream read in time slices says instead, until its read is complete, what it has covered: the cursor is where the
 * first range not yet read begins (everything below has been emitted), and `slices_done` lists the ranges above it
 * that have been.
 */
export class Checkpoint {
  total = 0;
  private sinceLast = 0;
  private highest = -Infinity;
  private highestParent = -Infinity;
  private covered: readonly Range[] | null = null;
  private listsCovered: Readonly<Record<string, readonly Range[]>> = {};
  private parentsCovered: readonly Range[] | null = null;

  constructor(
    private readonly read: StreamRead,
    private readonly writer: MessageWriter,
    /** The latest instant a state may hold: when the read began. */
    private readonly latest: () => number,
  ) {}

  /** Counts an emitted record, whose cursor value (epoch ms) moves the state; NaN for one that says nothing of how far
   * the stream's lists were read (no cursor, or a deletion found apart from them). */
  saw(cursor: number): void {
    this.total++;
    this.sinceLast++;
    if (cursor > this.highest) this.highest = cursor;
  }

  sawParent(value: number): void {
    if (value > this.highestParent) this.highestParent = value;
  }

  /** A child's: the parent cursors whose children it has emitted, as ranges, the first from -Infinity. */
  coverParents(covered: readonly Range[]): void {
    this.parentsCovered = covered;
  }

  /** What a sliced read has emitted: the ranges of cursor values it covers, the first from -Infinity (of all its
   * lists, and of each by endpoint). */
  cover(covered: readonly Range[], listsCovered: Readonly<Record<string, readonly Range[]>>): void {
    this.covered = covered;
    this.listsCovered = listsCovered;
  }

  /** Emits a STATE if records came since the last one; the end of a complete read always emits one (it moves
   * `synced_at`). */
  async emit(end?: ReadEnd): Promise<void> {
    if (this.sinceLast === 0 && !end) return;
    const state = this.state(end);
    // A full refresh's state that says nothing was covered would acknowledge records a retried attempt reads again.
    if (this.read.refresh && Object.keys(state).length === 0) return;
    await this.writer.write(stateMessage(this.read.stream.name, state, this.sinceLast));
    this.sinceLast = 0;
  }

  private state(end?: ReadEnd): StreamState {
    const { stream, bounds } = this.read;
    if (!bounds) return {};
    if (this.read.refresh) return this.refreshState(bounds.lowerBound, end);
    const cap = end?.cap ?? Infinity;
    const latest = this.latest();
    // Never backwards, and never into the future.
    const bounded = (value: number, saved = -Infinity) => Math.min(Math.max(value, saved), latest);
    const state: StreamState = {};
    const sliced = this.covered && end?.syncedAt === undefined ? this.covered : null;
    // A sliced read's low-water mark, no higher than its highest record (a finished slice covers its whole range, and
    // `slices_done` keeps the rest), so that the cursor never goes back when the read completes.
    const lowWater = sliced?.[0]?.start === -Infinity ? Math.min(sliced[0].end, this.highest) : -Infinity;
    // A child cut short keeps its cursor: the parents it has not visited yet may have older children.
    const partialChild = isChild(stream) && end?.syncedAt === undefined && this.parentsCovered !== null;
    const reached = partialChild ? -Infinity : sliced ? lowWater : this.highest;
    const cursor = bounded(Math.min(reached, cap), bounds.saved?.cursor);
    if (cursor !== -Infinity) state[stream.cursor] = formatRfc3339(cursor);
    // A range from -Infinity (nothing emitted yet, nothing saved) says no more than the lower bound does.
    const done = clipped(sliced ?? [], cursor, latest);
    if (done.length > 0) state[SLICES_DONE] = done;
    const syncedAt = end?.syncedAt ?? bounds.saved?.syncedAt;
    if (syncedAt !== undefined) state.synced_at = formatRfc3339(Math.min(syncedAt, latest));
    if (isChild(stream)) Object.assign(state, this.parentState(stream, partialChild, cap, bounded));
    return state;
  }

  /** A child's parent cursor: parents at or below it have had their children emitted. A complete read reached every
   * parent (but those changed during it, past `cap`); one cut short says how far the parents' listing got, and which
   * ranges above that it covered. */
  private parentState(
    stream: ChildStream,
    partial: boolean,
    cap: number,
    bounded: (value: number, saved?: number) => number,
  ): StreamState {
    const saved = this.read.bounds?.saved?.parentCursor;
    const covered = partial ? (this.parentsCovered ?? []) : [];
    const [low] = covered;
    // Covered below `end` (exclusive) means every parent of a whole second before it.
    const reached = partial ? (low?.start === -Infinity ? low.end - SECOND : -Infinity) : this.highestParent;
    const parentCursor = bounded(Math.min(reached, cap - SECOND), saved);
    const state: StreamState = {};
    if (parentCursor !== -Infinity) state[parentCursorKey(stream)] = formatRfc3339(parentCursor);
    const above = clipped(covered, parentCursor + SECOND, this.latest());
    if (above.length > 0) state[parentSlicesKey(stream)] = above;
    return state;
  }

  /** A resumable full refresh's state: complete at the end; until then, the ranges each list has emitted, exactly
   * (a sliced read emits a range's records only once it is covered), for a retried attempt to leave out. */
  private refreshState(lowerBound: number, end?: ReadEnd): StreamState {
    if (end?.syncedAt !== undefined) return { [FULL_REFRESH_COMPLETE]: true };
    const latest = this.latest();
    const lists = Object.entries(this.listsCovered).map(([endpoint, covered]) => [
      endpoint,
      clipped(covered, lowerBound, latest),
    ]);
    return lists.length > 0 ? { [LISTS_DONE]: Object.fromEntries(lists) as unknown } : {};
  }
}

/** Ranges cut to [from, to), those left empty or unbounded below dropped, as a state says them. */
const clipped = (ranges: readonly Range[], from: number, to: number) =>
  ranges
    .map((range) => ({ start: Math.max(range.start, from), end: Math.min(range.end, to) }))
    .filter((range) => Number.isFinite(range.start) && range.start < range.end)
    .map((range) => ({ start: formatRfc3339(range.start), end: formatRfc3339(range.end) }));
