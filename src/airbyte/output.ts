import type { Writable } from 'node:stream';
import type { AirbyteMessage } from './messages.js';

const REDACTED = '**********';
/** In unicode mode a class of surrogates matches only those outside a pair. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The only writer of stdout: one JSON message per line, in call order. Records are batched into chunks to save
 * syscalls, and a chunk the pipe will not take yet holds every writer until 'drain', so a slow consumer slows the
 * sync instead of growing memory. Registered secrets are masked in everything but records, states and the CONTROL
 * message that hands the platform a new config (whose secrets it must store).
 */
export class MessageWriter {
  /** Messages serialised and encoded, one Buffer each (cheaper than encoding one long concatenated string). */
  private chunks: Buffer[] = [];
  private size = 0;
  private draining: Promise<void> | null = null;
  private closed = false;
  private readonly secrets: string[] = [];
  /** Each secret as JSON writes it inside a string: the text to look for in a serialised message. */
  private readonly escapedSecrets: string[] = [];
  private readonly closedListeners: (() => void)[] = [];

  constructor(
    private readonly out: Writable = process.stdout,
    private readonly chunkSize = 64 * 1024,
  ) {
    // A consumer that goes away (EPIPE, or a pipe closed without an error) ends the output; it must not crash the
    // process with a stack trace, and whoever is producing output should stop (see onClosed).
    const gone = () => {
      if (this.closed) return;
      this.closed = true;
      for (const listener of this.closedListeners) listener();
    };
    out.on('error', gone);
    out.on('close', gone);
  }

  /** True once the consumer went away: nothing written reaches anyone. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Calls `listener` once the consumer goes away, so that a sync stops spending API tokens nobody will read. */
  onClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.closedListeners.push(listener);
  }

  /** Masks `secret` in every later LOG, TRACE and CONNECTION_STATUS message. */
  addSecret(secret: string): void {
    if (secret.length < 4 || this.secrets.includes(secret)) return;
    this.secrets.push(secret);
    // A lone surrogate is escaped alone but not within a pair: such a secret is looked for in every message (the
    // empty string is in every text).
    this.escapedSecrets.push(LONE_SURROGATE.test(secret) ? '' : JSON.stringify(secret).slice(1, -1));
  }

  /** `message` as one line of JSON, its secrets masked unless it carries data. JSON escapes a string character by
   * character, so a string holding a secret serialises to text holding the secret's escaped form: a message whose
   * text holds none is written as it is, without walking it. One that does is walked as the JSON says it (plain data:
   * what a `toJSON` method returned is masked too). */
  private serialise(message: AirbyteMessage): string {
    const line = JSON.stringify(message);
    const isData = message.type === 'RECORD' || message.type === 'STATE' || message.type === 'CONTROL';
    if (isData || !this.escapedSecrets.some((escaped) => line.includes(escaped))) return line;
    return JSON.stringify(this.redact(JSON.parse(line)));
  }

  /** `value` with every registered secret masked in its strings, before it is serialised (JSON escaping would hide a
   * secret containing `"` or `\\` from a search of the serialised text). */
  redact<T>(value: T): T {
    if (typeof value === 'string')
      return this.secrets.reduce((masked, secret) => masked.split(secret).join(REDACTED), value) as T;
    if (Array.isArray(value)) return value.map((item: unknown) => this.redact(item)) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.redact(key), this.redact(item)])) as T;
    }
    return value;
  }

  /** Queues messages and resolves once the output can take more. Records are batched; any other message flushes
   * the batch at once, so a STATE goes out right behind the records it covers and logs are never held back. */
  async write(...messages: AirbyteMessage[]): Promise<void> {
    if (this.closed) return;
    let urgent = false;
    for (const message of messages) {
      const line = Buffer.from(this.serialise(message) + '\n');
      this.chunks.push(line);
      this.size += line.length;
      urgent ||= message.type !== 'RECORD';
    }
    if (urgent || this.size >= this.chunkSize || this.draining) await this.flush();
  }

  /** Hands everything queued to stdout and waits until the pipe accepts more. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.size === 0 || this.closed) return;
    const chunk = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    if (!this.out.write(chunk)) {
      this.draining = this.drained();
      await this.draining;
      this.draining = null;
    }
  }

  /** Resolves on 'drain', or on 'close' if the consumer went away. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('close', done);
    });
  }

  /** Flushes and waits until the last chunk has been handed to the OS, so the process may exit safely. */
  async end(): Promise<void> {
    await this.flush();
    if (this.closed) return;
    await new Promise<void>((resolve) => this.out.write('', () => resolve()));
  }
}
