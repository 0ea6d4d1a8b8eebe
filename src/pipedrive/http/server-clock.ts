// Pipedrive's clock as the responses tell it (their `Date` header), beside this machine's: neither is trusted alone.
import type { Logger } from '../../airbyte/logger.js';
import { clock } from '../clock.js';

/** A `Date` header this far from this machine's clock is worth a warning. */
const CLOCK_DISAGREEMENT_MS = 5 * 60_000;

export class ServerClock {
  private offsetMs = 0;
  /** The lowest and highest offsets of any `Date` header so far, and of the connector's own clock (0). */
  private earliestOffsetMs = 0;
  private latestOffsetMs = 0;
  private known = false;
  private warned = false;

  constructor(private readonly logger?: Logger) {}

  /** Whether a response has told Pipedrive's time yet. */
  get isKnown(): boolean {
    return this.known;
  }

  /** Takes Pipedrive's time from a response's `Date` header, if it has a readable one. */
  observe(dateHeader: string | null): void {
    const date = Date.parse(dateHeader ?? '');
    if (Number.isNaN(date)) return;
    this.offsetMs = date - clock.now();
    this.earliestOffsetMs = Math.min(this.earliestOffsetMs, this.offsetMs);
    this.latestOffsetMs = Math.max(this.latestOffsetMs, this.offsetMs);
    this.known = true;
  }

  /** Pipedrive's clock, estimated from the `Date` header of the latest response (the connector's own clock until a
   * response has come). The header has whole seconds, so the estimate errs early by up to a second. */
  now(): number {
    return clock.now() + this.offsetMs;
  }

  /** An instant of the connector's clock (`clock.now()`) by the earliest of the clocks seen: this machine's and every
   * `Date` header of this run. A state must never be later than the changes a read has seen, so it trusts no clock
   * blindly: a `Date` header that runs ahead (a proxy, a broken server) cannot move a state into the future, and one
   * that runs behind only makes the next sync read a little more. */
  earliest(ms: number): number {
    this.warnOfDisagreement();
    return ms + this.earliestOffsetMs;
  }

  /** Now by the latest of the clocks seen: for the time of a deletion the connector learns of, which must not sort
   * before the row it deletes. */
  latestNow(): number {
    return clock.now() + this.latestOffsetMs;
  }

  /** Says once, when a state is about to rest on it, that Pipedrive's clock disagrees with this machine's. */
  private warnOfDisagreement(): void {
    if (this.warned || Math.abs(this.offsetMs) < CLOCK_DISAGREEMENT_MS) return;
    this.warned = true;
    const [how, by] = this.offsetMs > 0 ? ['ahead of', this.offsetMs] : ['behind', -this.offsetMs];
    this.logger?.warn(
      `Pipedrive's clock (its Date header) is ${humanDuration(by / 1000)} ${how} this machine's. States follow the earlier of the two, so that no change is skipped; if this machine's clock is the wrong one, later syncs read a little more than they need.`,
    );
  }
}

/** Seconds as minutes, or hours and minutes, rounded up. */
export function humanDuration(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
