// How far a read has got, for whoever watches it. Airbyte's progress bar takes each stream's TRACE ESTIMATE, its
// expected row count, sent as soon as the source can tell and again whenever that moves by more than a tenth; a person
// reading the logs gets, every half minute, one INFO line per running stream: records so far, records a second, what
// the stream has spent (the source says how), and the time left by the estimate.
import type { Logger } from './logger.js';
import { estimateTraceMessage } from './messages.js';
import type { MessageWriter } from './output.js';

export const PROGRESS_INTERVAL_MS = 30_000;
/** An estimate is sent again when it moves by more than this fraction of the last one sent. */
const ESTIMATE_MOVE = 0.1;

/** What a stream's read tells of its progress. */
export interface StreamProgress {
  /** Records emitted. */
  add(records: number): void;
  /** The rows the stream is now expected to emit in all, those emitted included. */
  estimate(rows: number): Promise<void>;
}

interface Tracked extends StreamProgress {
  records: number;
  expected?: number;
  startedAt?: number;
  running: boolean;
}

export class Progress {
  private readonly streams = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly writer: MessageWriter,
    private readonly logger: Logger,
    /** What a stream has spent so far, in words ("120 requests, 1,200 tokens"). */
    private readonly spent: (stream: string) => string,
  ) {}

  of(stream: string): StreamProgress {
    return this.tracked(stream);
  }

  started(stream: string): void {
    const tracked = this.tracked(stream);
    tracked.startedAt = Date.now();
    tracked.running = true;
  }

  ended(stream: string): void {
    this.tracked(stream).running = false;
  }

  /** Logs the running streams' progress every `interval` ms until `stop`. */
  start(interval = PROGRESS_INTERVAL_MS): void {
    this.timer = setInterval(() => this.report(), interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One line per running stream. */
  report(): void {
    for (const [name, tracked] of this.streams) if (tracked.running) this.logger.info(this.line(name, tracked));
  }

  private line(name: string, { records, expected, startedAt }: Tracked): string {
    const seconds = Math.max((Date.now() - (startedAt ?? Date.now())) / 1000, 0.001);
    const rate = records / seconds;
    const count = (n: number) => Math.round(n).toLocaleString('en-US');
    const left =
      expected === undefined
        ? 'no estimate of its size yet'
        : rate > 0
          ? `about ${count(Math.max(expected - records, 0) / rate)} s left of an estimated ${count(expected)} records`
          : `an estimated ${count(expected)} records`;
    return `${name}: ${count(records)} records in ${count(seconds)} s (${count(rate)}/s), ${this.spent(name)}; ${left}.`;
  }

  private tracked(stream: string): Tracked {
    let tracked = this.streams.get(stream);
    if (tracked) return tracked;
    const writer = this.writer;
    let sent: number | undefined;
    tracked = {
      records: 0,
      running: false,
      add(records) {
        this.records += records;
      },
      async estimate(rows) {
        const expected = Math.max(Math.round(rows), this.records);
        this.expected = expected;
        if (sent !== undefined && Math.abs(expected - sent) <= sent * ESTIMATE_MOVE) return;
        sent = expected;
        await writer.write(estimateTraceMessage(stream, expected));
      },
    };
    this.streams.set(stream, tracked);
    return tracked;
  }
}
