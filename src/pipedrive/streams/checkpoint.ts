// A stream's STATE messages: what it has emitted so far, never more.
import { stateMessage, type StreamState } from '../../airbyte/messages.js';
import type { MessageWriter } from '../../airbyte/output.js';
import type { ApiRecord } from '../http/pagination.js';
import { formatRfc3339, toMillis } from '../time.js';
import { parentCursorKey, type StreamRead } from './state.js';
import { isIncremental } from './table.js';

const SECOND = 1000;

/** The end of a read: `cap` bounds the cursor (an unordered list's read began then; -Infinity: the cursor stays where
 * it was), `syncedAt` is when the read began, if it was complete. */
export interface ReadEnd {
  cap: number;
  syncedAt?: number;
}

/**
 * A stream's state: the highest cursor value among the records emitted so far (capped, for an unordered list, at the
 * second its read began), never lower than the state the sync started from nor later than `latest()` (Pipedrive's time
 * plus a small allowance); `synced_at`, when the last complete read began; and for a child, the highest parent cursor it
 * has covered (capped a second earlier, as that bound is exclusive). Each STATE carries the number of records emitted
 * since the previous one.
 */
export class Checkpoint {
  total = 0;
  private sinceLast = 0;
  private highest = -Infinity;
  private highestParent = -Infinity;

  constructor(
    private readonly read: StreamRead,
    private readonly writer: MessageWriter,
    /** The latest instant a state may hold. */
    private readonly latest: () => number,
  ) {}

  /** Counts an emitted record; its cursor moves the state unless `cursor` is false (a deletion found apart from the
   * stream's lists, which says nothing of how far they were read). */
  saw(record: ApiRecord, cursor = true): void {
    this.total++;
    this.sinceLast++;
    if (!cursor) return;
    const { stream } = this.read;
    const value = isIncremental(stream) ? toMillis(record[stream.cursor]) : NaN;
    if (value > this.highest) this.highest = value;
  }

  sawParent(value: number): void {
    if (value > this.highestParent) this.highestParent = value;
  }

  /** Emits a STATE if records came since the last one; the end of a complete read always emits one (it moves
   * `synced_at`). */
  async emit(end?: ReadEnd): Promise<void> {
    if (this.sinceLast === 0 && !end) return;
    await this.writer.write(stateMessage(this.read.stream.name, this.state(end), this.sinceLast));
    this.sinceLast = 0;
  }

  private state(end?: ReadEnd): StreamState {
    const { stream, bounds } = this.read;
    if (!bounds) return {};
    const cap = end?.cap ?? Infinity;
    const latest = this.latest();
    // Never backwards, and never into the future.
    const bounded = (value: number, saved = -Infinity) => Math.min(Math.max(value, saved), latest);
    const state: StreamState = {};
    const cursor = bounded(Math.min(this.highest, cap), bounds.saved?.cursor);
    if (cursor !== -Infinity) state[stream.cursor] = formatRfc3339(cursor);
    const syncedAt = end?.syncedAt ?? bounds.saved?.syncedAt;
    if (syncedAt !== undefined) state.synced_at = formatRfc3339(Math.min(syncedAt, latest));
    if (stream.kind === 'child') {
      const parentCursor = bounded(Math.min(this.highestParent, cap - SECOND), bounds.saved?.parentCursor);
      if (parentCursor !== -Infinity) state[parentCursorKey(stream)] = formatRfc3339(parentCursor);
    }
    return state;
  }
}
