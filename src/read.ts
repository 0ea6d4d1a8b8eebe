// `read`: the configured streams, several at once, each with its statuses, records and state; a failing stream
// leaves the others running and their state intact.
import { parseConfig, type SourceConfig } from './config.js';
import { configError } from './errors.js';
import type { Logger } from './protocol/logger.js';
import { errorTraceMessage, streamStatusMessage, type StreamState } from './protocol/messages.js';
import type { MessageWriter } from './protocol/output.js';
import { createClient } from './source.js';
import { streamByName, type StreamDefinition } from './streams/definitions.js';
import { readStream, type ReadContext } from './streams/engine.js';
import { toMillis } from './streams/time.js';

export interface ReadArguments {
  config: unknown;
  catalog: unknown;
  state: unknown;
  statePath?: string;
}

interface ConfiguredStream {
  name: string;
  syncMode: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export async function readCommand(args: ReadArguments, writer: MessageWriter, logger: Logger): Promise<number> {
  const config = parseConfig(args.config);
  const configured = parseCatalog(args.catalog);
  const states = parseState(args.state, args.statePath ?? '');
  const cursors = new Map(configured.map(({ name }) => [name, savedCursor(streamByName.get(name), states.get(name), args.statePath ?? '')]));
  const client = createClient(config, logger, {
    onRateLimited: (stream, resumeAt) =>
      void writer.write(streamStatusMessage(stream, 'RUNNING', [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: resumeAt } }])),
  });
  const context: ReadContext = { client, writer, logger, pageSize: config.pageSize };
  const started = Date.now();
  try {
    const outcomes = await inPool(configured, config.maxConcurrentStreams, async (stream) => {
      const begun = Date.now();
      const records = await syncStream(stream, cursors.get(stream.name), config, context);
      return { records, seconds: (Date.now() - begun) / 1000 };
    });
    const failed = configured.filter((_, i) => outcomes[i]!.records === null).map((s) => s.name);
    logger.info(summary(context, outcomes, configured, started));
    if (failed.length > 0) logger.error(`These streams did not sync completely: ${failed.join(', ')}. The others did, and their state is saved.`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}

/** Reads one configured stream between STARTED and COMPLETE; a failure becomes INCOMPLETE and a TRACE error. */
async function syncStream(configured: ConfiguredStream, cursor: number | undefined, config: SourceConfig, context: ReadContext): Promise<number | null> {
  const { writer } = context;
  const fail = async (error: unknown) => {
    await writer.write(streamStatusMessage(configured.name, 'INCOMPLETE'));
    await writer.write(errorTraceMessage(error, configured.name));
    return null;
  };
  const stream = streamByName.get(configured.name);
  if (!stream) {
    return fail(configError(`The catalog names a stream this source does not have: "${configured.name}". Run discover to see the 16 streams.`));
  }
  const modes = stream.cursor ? ['full_refresh', 'incremental'] : ['full_refresh'];
  if (!modes.includes(configured.syncMode as string)) {
    return fail(configError(`The catalog asks for stream "${stream.name}" in sync mode ${JSON.stringify(configured.syncMode)}; it supports ${modes.join(' and ')}.`));
  }
  await writer.write(streamStatusMessage(stream.name, 'STARTED'));
  await writer.write(streamStatusMessage(stream.name, 'RUNNING'));
  try {
    const incremental = configured.syncMode === 'incremental';
    const savedCursor = incremental ? cursor : undefined;
    const records = await readStream({ stream, ...bounds(stream, savedCursor, config) }, context);
    await writer.write(streamStatusMessage(stream.name, 'COMPLETE'));
    return records;
  } catch (error) {
    return fail(error);
  }
}

/** The lower bound of an incremental stream's cursor: the start date, or the saved cursor minus the lookback. */
function bounds(stream: StreamDefinition, savedCursor: number | undefined, config: SourceConfig) {
  if (!stream.cursor) return {};
  const start = config.startDate.toMillis();
  const resume = savedCursor === undefined ? -Infinity : savedCursor - config.lookback.toMillis();
  return { lowerBound: Math.max(start, resume), savedCursor };
}

function parseCatalog(raw: unknown): ConfiguredStream[] {
  if (!isObject(raw) || !Array.isArray(raw.streams)) {
    throw configError('The --catalog file is not a configured catalog: it needs a "streams" array (see the catalogs/ folder for examples).');
  }
  const seen = new Set<string>();
  return raw.streams.flatMap((entry: unknown, index) => {
    const name = isObject(entry) && isObject(entry.stream) ? entry.stream.name : undefined;
    if (typeof name !== 'string') throw configError(`The --catalog file's streams[${index}] has no stream.name.`);
    if (seen.has(name)) return [];
    seen.add(name);
    return [{ name, syncMode: (entry as Record<string, unknown>).sync_mode }];
  });
}

/**
 * The saved state per stream, from what Airbyte sends (an array of STREAM state messages), a GLOBAL or LEGACY state
 * message, a legacy object ({stream: state}) or nothing. A null stream state is a reset.
 */
function parseState(raw: unknown, path: string): Map<string, StreamState> {
  const states = new Map<string, StreamState>();
  const invalid = (why: string) => configError(`The --state file "${path}" ${why}.`);
  if (raw === undefined || raw === null) return states;
  const messages = Array.isArray(raw) ? raw : isObject(raw) && typeof raw.type === 'string' ? [raw] : isObject(raw) ? [{ type: 'LEGACY', data: raw }] : null;
  if (!messages) throw invalid('is not a state: expected a JSON array of Airbyte state messages, or a legacy state object');
  const add = (entry: unknown) => {
    const name = isObject(entry) && isObject(entry.stream_descriptor) ? entry.stream_descriptor.name : undefined;
    if (typeof name !== 'string') throw invalid('has a stream state without stream_descriptor.name');
    const blob = (entry as Record<string, unknown>).stream_state;
    if (blob === null || blob === undefined) return;
    if (!isObject(blob)) throw invalid(`gives stream "${name}" a state that is not an object`);
    states.set(name, blob);
  };
  for (const message of messages) {
    if (!isObject(message)) throw invalid('has an entry that is not a state message');
    const type = message.type ?? 'LEGACY';
    if (type === 'STREAM') add(message.stream);
    else if (type === 'GLOBAL' && isObject(message.global) && Array.isArray(message.global.stream_states)) message.global.stream_states.forEach(add);
    else if (type === 'LEGACY' && isObject(message.data)) {
      for (const [name, blob] of Object.entries(message.data)) add({ stream_descriptor: { name }, stream_state: blob });
    } else throw invalid(`has a state message of unknown type ${JSON.stringify(type)}`);
  }
  return states;
}

/** The cursor a stream's saved state holds, epoch ms; a value that is not a timestamp is a config error. */
function savedCursor(stream: StreamDefinition | undefined, state: StreamState | undefined, path: string): number | undefined {
  if (!stream?.cursor || state?.[stream.cursor] === undefined) return undefined;
  const value = state[stream.cursor];
  const ms = typeof value === 'string' ? toMillis(value) : NaN;
  if (Number.isNaN(ms)) {
    throw configError(
      `The --state file "${path}" gives stream "${stream.name}" an invalid ${stream.cursor}: ${JSON.stringify(value)} (expected a timestamp such as 2026-01-01T00:00:00Z).`,
    );
  }
  return ms;
}

/** Runs `run` over the items, at most `limit` at a time, and returns the results in order. */
async function inPool<T, R>(items: T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** One log line a person can read, ending with the same figures as JSON for tools (the benchmark reads them). */
function summary(context: ReadContext, outcomes: { records: number | null; seconds: number }[], configured: ConfiguredStream[], started: number): string {
  const streams = Object.fromEntries(configured.map(({ name }, i) => [name, { ...outcomes[i], ...context.client.stats.of(name) }]));
  const total = context.client.stats.total();
  const records = outcomes.reduce((sum, outcome) => sum + (outcome.records ?? 0), 0);
  const cpu = process.cpuUsage();
  const figures = {
    records,
    seconds: (Date.now() - started) / 1000,
    ...total,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    streams,
  };
  return `Sync finished: ${records} records in ${figures.seconds.toFixed(1)} s, ${total.requests} requests, ${total.tokens} API tokens. ${JSON.stringify(figures)}`;
}

