import { DateTime } from './luxon.js';

/** Pipedrive's timestamps have whole seconds. */
export const SECOND = 1000;
export const floorToSecond = (ms: number) => Math.floor(ms / SECOND) * SECOND;

/**
 * A Pipedrive timestamp as RFC 3339 UTC (`2024-01-01T10:00:00Z`). Pipedrive writes v1 times as `2024-01-01
 * 10:00:00` (UTC), v2 times as `…Z`, mailbox times as `….000Z`; a zero date (`0000-00-00 00:00:00`) means none.
 * Fractional seconds are kept only when not zero.
 */
export function toRfc3339(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  // The common shapes, without parsing.
  if (value.length === 20 && value[10] === 'T' && value[19] === 'Z') return value;
  if (value.length === 19 && value[10] === ' ')
    return value.startsWith('0000') ? null : `${value.slice(0, 10)}T${value.slice(11)}Z`;
  if (value.length === 24 && value.endsWith('.000Z')) return `${value.slice(0, 19)}Z`;
  const parsed = DateTime.fromISO(value.replace(' ', 'T'), { zone: 'utc' });
  return parsed.isValid ? (parsed.toUTC().toISO({ suppressMilliseconds: true }) ?? value) : value;
}

/** Epoch milliseconds of a Pipedrive timestamp, or NaN. */
export function toMillis(value: unknown): number {
  const normalised = toRfc3339(value);
  return normalised === null ? NaN : Date.parse(normalised);
}

/** RFC 3339 UTC, with milliseconds only when there are any. */
export function formatRfc3339(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso;
}
/** Pipedrive's v1 query format, e.g. for `since_timestamp`. */
export const formatV1 = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
