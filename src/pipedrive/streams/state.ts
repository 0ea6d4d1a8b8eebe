// What a stream's saved state means, and how much of the stream a sync reads from it. A state holds the stream's
// cursor, `synced_at` (Pipedrive's time when the last complete read began: every change before it has been emitted)
// and, for a child stream, its parent's cursor (e.g. `email_threads_update_time`).
import type { StreamState } from '../../airbyte/messages.js';
import type { SourceConfig } from '../config.js';
import { toMillis } from '../time.js';

const SECOND = 1000;
import { isIncremental, parentOf, type ChildStream, type IncrementalStream, type StreamDefinition } from './table.js';

/** What the previous sync saved for an incremental stream, parsed (epoch ms). */
export interface SavedState {
  cursor?: number;
  syncedAt?: number;
  /** A child stream's: the highest cursor among the parent records whose children it has read. */
  parentCursor?: number;
}

/** How much of an incremental stream to read. */
export interface Bounds {
  /** Lower bound of the cursor, epoch ms: the start date, or the saved cursor minus the lookback. */
  lowerBound: number;
  /** What the previous sync saved, for an incremental sync. */
  saved?: SavedState;
  /** Every change before this instant has been emitted by earlier syncs: the bound for lists of changes only. */
  completeBefore?: number;
  /** A child stream: read the children of the parent records whose cursor is after this, those that changed since the
   * previous sync; without it, of those at or after `lowerBound`. */
  parentAfter?: number;
}

/** One stream of a read: a full-table stream is read whole; an incremental one within its bounds. */
export type StreamRead =
  { stream: StreamDefinition; bounds?: undefined } | { stream: IncrementalStream; bounds: Bounds };
export type ChildRead = { stream: ChildStream; bounds: Bounds };

/** The state key of a child stream's parent cursor, e.g. `email_threads_update_time`. */
export function parentCursorKey(stream: ChildStream): string {
  const parent = parentOf(stream);
  return `${parent.name}_${parent.cursor}`;
}

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
  return {
    cursor: timestamp(stream.cursor),
    syncedAt: timestamp('synced_at'),
    parentCursor: stream.kind === 'child' ? timestamp(parentCursorKey(stream)) : undefined,
  };
}

/** How much of a stream to read: all of a full-table stream; of an incremental one, `bounds`. */
export function streamRead(stream: StreamDefinition, saved: SavedState | undefined, config: SourceConfig): StreamRead {
  return isIncremental(stream) ? { stream, bounds: bounds(saved, config) } : { stream };
}

/** How long before a complete read began its last change must have been for every record of that second to have
 * been emitted by it. */
const SETTLED_MS = 60_000;

/**
 * How much of an incremental stream to read: from the start date, or from where the previous sync left off (less the
 * lookback) if this is an incremental sync with a saved state. The saved cursor's second is read again (Pipedrive's
 * timestamps have whole seconds, and records changed in that second may have come after the read), unless the
 * previous read completed well after that second: then it had every record of it, and nothing is read twice.
 */
export function bounds(saved: SavedState | undefined, config: SourceConfig): Bounds {
  const start = config.startDate.toMillis();
  if (!saved) return { lowerBound: start };
  const lookback = config.lookback.toMillis();
  const settled =
    saved.cursor !== undefined && saved.syncedAt !== undefined && saved.cursor + SETTLED_MS <= saved.syncedAt;
  const resume = (saved.cursor ?? -Infinity) + (settled && lookback === 0 ? SECOND : -lookback);
  const lowerBound = Math.max(start, resume);
  const completeBefore = Math.max(lowerBound, (saved.syncedAt ?? -Infinity) - lookback);
  const parentAfter = saved.parentCursor === undefined ? undefined : saved.parentCursor - lookback;
  return { lowerBound, saved, completeBefore, parentAfter };
}
