// What a source implements for the four Airbyte commands. This layer (src/airbyte/) runs them: the command line,
// the protocol messages on stdout, the catalog and state inputs, the streams' statuses, concurrency and failure
// isolation; it knows nothing of any API.
import type { AirbyteCatalog, ConnectorSpecification } from '../generated/airbyte-protocol.js';
import type { ConnectorError } from './errors.js';
import type { Logger } from './logger.js';
import type { StreamState } from './messages.js';
import type { MessageWriter } from './output.js';
import type { StreamProgress } from './progress.js';

export type SyncMode = 'full_refresh' | 'incremental';

/** A stream as the source offers it. */
export interface StreamOffer {
  name: string;
  syncModes: readonly SyncMode[];
}

/** A stream of the configured catalog, checked against the source's offer, with the JSON schema the catalog gives it
 * (as discovered) and its saved state if any. */
export interface ConfiguredStream {
  name: string;
  syncMode: SyncMode;
  schema?: Record<string, unknown>;
  state?: StreamState;
}

/** How a stream of a task ended: with its records emitted (`deferred` if it stopped at a checkpoint, leaving the
 * rest to the next sync: the runner allows that only to a stream synced incrementally), or with the error that stopped
 * it. */
export type StreamOutcome = { records: number; deferred?: boolean } | { error: unknown };

/** A unit of work of a read: one or more streams read together. The runner reports each stream's status from its
 * outcome; a task never throws. A task that is not `ready` when its turn comes is deferred to the next sync whole,
 * without a message, if all its streams are synced incrementally; a stream in full refresh is failed instead. */
export interface ReadTask {
  streams: readonly string[];
  ready?(): boolean;
  run(): Promise<Map<string, StreamOutcome>>;
}

/** A read as the source plans it: the runner runs its phases one after the other, and each phase's tasks at most
 * `concurrency` at a time. */
export interface ReadPlan {
  phases: readonly (readonly ReadTask[])[];
  concurrency: number;
  /** Figures per stream and in all (requests, tokens, …) for the summary at the end. */
  figures(stream?: string): Record<string, number>;
  /** What a stream has spent so far, in words, for the progress lines ("120 requests, 1,200 tokens"). */
  spent(stream: string): string;
  /** Why streams were deferred, when some were, and what to change: the error of a stream in full refresh that was. */
  deferralReason(): ConnectorError;
  close(): void;
}

/** What a command gives the source besides its config. */
export interface Runtime {
  logger: Logger;
  /** Has the platform store `config` in place of the one it passed (a CONTROL message, on stdout at once), e.g. with
   * a rotated refresh token; its secrets are masked in all later logs and errors. */
  saveConfig(config: Record<string, unknown>): Promise<void>;
  /** Masks a secret the source came to know (an access token) in all later logs and errors. */
  mask(secret: string): void;
  /** Aborts, with the reason, when the run must stop: the output's reader went away (EPIPE), or the platform asked
   * (SIGTERM). No request may be sent after it, and one in flight is cancelled. */
  signal: AbortSignal;
}

export interface ReadInput<Config> extends Runtime {
  config: Config;
  streams: readonly ConfiguredStream[];
  writer: MessageWriter;
  /** A config_error about the --state input, naming it: `why` says what is wrong ("gives stream … an invalid …"). */
  invalidState: (why: string) => ConnectorError;
  /** Where each stream tells how far it has got (records, estimated size). */
  progress: { of(stream: string): StreamProgress };
}

/** A source as the command line starts it: what every command needs at once, and the rest (its API client, streams
 * and schemas) loaded only by a command that uses it, so that `spec` starts in a fraction of the time. */
export interface SourceEntry<Config> {
  spec: ConnectorSpecification;
  /** The values in a raw config that must never be shown. */
  secrets(raw: unknown): string[];
  load(): Promise<Source<Config>>;
}

export interface Source<Config> {
  streams: readonly StreamOffer[];
  /** Validates a raw config; throws a config_error that names every bad field. */
  configure(raw: unknown): Config;
  /** Whether the config works; an expected failure is FAILED with what to do, or a thrown ConnectorError. */
  check(config: Config, runtime: Runtime): Promise<{ status: 'SUCCEEDED' | 'FAILED'; message: string }>;
  discover(config: Config, runtime: Runtime): Promise<AirbyteCatalog>;
  /** Plans a read. Throws (before any request) for input it cannot use, such as an invalid saved state. */
  read(input: ReadInput<Config>): Promise<ReadPlan>;
}
