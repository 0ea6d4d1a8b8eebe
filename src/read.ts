// `read`: the configured streams, several at once, each with its statuses, records and state; a failing stream
// leaves the others running and their state intact.
import { parseConfig, type SourceConfig } from './config.js';
import { ConnectorError, configError } from './errors.js';
import type { Logger } from './protocol/logger.js';
import { errorTraceMessage, streamStatusMessage, type StreamState } from './protocol/messages.js';
import type { MessageWriter } from './protocol/output.js';
import { createClient } from './source.js';
import { STREAMS, streamByName, type StreamDefinition } from './streams/definitions.js';
import { parentCursorKey, readFamily, type Family, type ReadContext, type SavedState, type StreamRead } from './streams/engine.js';
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
  const saved = new Map(configured.map(({ name }) => [name, savedState(streamByName.get(name), states.get(name), args.statePath ?? '')]));
  const client = createClient(config, logger, {
    onRateLimited: (stream, resumeAt) =>
      void writer.write(streamStatusMessage(stream, 'RUNNING', [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: resumeAt } }])),
  });
  // Nobody reads the output any more (EPIPE): stop spending the company's API tokens.
  writer.onClosed(() => client.close(new ConnectorError('The output was closed (its reader went away); stopped reading from Pipedrive.', 'system_error')));
  const context: ReadContext = { client, writer, logger, pageSize: config.pageSize };
  const started = Date.now();
  const outcomes = new Map<string, { records: number | null; seconds: number }>();
  try {
    const { families, invalid } = plan(configured, saved, config);
    for (const [name, error] of invalid) outcomes.set(name, { records: await fail(name, error, writer), seconds: 0 });
    await inPool(families, config.maxConcurrentStreams, async (family) => {
      const begun = Date.now();
      const results = await syncFamily(family, context);
      for (const [name, records] of results) outcomes.set(name, { records, seconds: (Date.now() - begun) / 1000 });
    });
    const failed = configured.filter(({ name }) => outcomes.get(name)?.records === null).map((s) => s.name);
    logger.info(summary(context, configured.map(({ name }) => [name, outcomes.get(name)!]), started));
    if (failed.length > 0) logger.error(`These streams did not sync completely: ${failed.join(', ')}. The others did, and their state is saved.`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}

/**
 * Groups the configured streams into families, each read as one task: a child stream (mail messages) rides along on
 * its parent (mail threads), so that the parent's lists are read once for both; a child whose parent is not in the
 * catalog has the parent's lists read on its behalf. Streams the catalog cannot have are set apart with their error.
 */
function plan(configured: ConfiguredStream[], saved: Map<string, SavedState | undefined>, config: SourceConfig) {
  const families = new Map<string, Family>();
  const invalid: [string, ConnectorError][] = [];
  for (const { name, syncMode } of configured) {
    const stream = streamByName.get(name);
    if (!stream) {
      invalid.push([name, configError(`The catalog names a stream this source does not have: "${name}". Run discover to see the ${STREAMS.length} streams.`)]);
      continue;
    }
    const modes = stream.cursor ? ['full_refresh', 'incremental'] : ['full_refresh'];
    if (!modes.includes(syncMode as string)) {
      invalid.push([name, configError(`The catalog asks for stream "${name}" in sync mode ${JSON.stringify(syncMode)}; it supports ${modes.join(' and ')}.`)]);
      continue;
    }
    const read = streamRead(stream, syncMode === 'incremental' ? saved.get(name) : undefined, config);
    const parent = stream.parent ? streamByName.get(stream.parent.stream)! : stream;
    const family = families.get(parent.name) ?? { parent, children: [] };
    if (stream.parent) family.children.push(read);
    else family.parentRead = read;
    families.set(parent.name, family);
  }
  return { families: [...families.values()], invalid };
}

/** How much of a stream to read: from the start date, or from where the previous sync left off, less the lookback. */
function streamRead(stream: StreamDefinition, saved: SavedState | undefined, config: SourceConfig): StreamRead {
  if (!stream.cursor) return { stream };
  const start = config.startDate.toMillis();
  if (!saved) return { stream, lowerBound: start };
  const lookback = config.lookback.toMillis();
  const lowerBound = Math.max(start, (saved.cursor ?? -Infinity) - lookback);
  return {
    stream,
    lowerBound,
    saved,
    completeBefore: Math.max(lowerBound, (saved.syncedAt ?? -Infinity) - lookback),
    ...(saved.parentCursor === undefined ? {} : { parentAfter: saved.parentCursor - lookback }),
  };
}

/** Reads one family between STARTED and COMPLETE for each of its streams; a failed stream ends INCOMPLETE with a
 * TRACE error. Returns each stream's record count, or null if it failed. */
async function syncFamily(family: Family, context: ReadContext): Promise<Map<string, number | null>> {
  const { writer } = context;
  const names = [family.parentRead, ...family.children].flatMap((read) => (read ? [read.stream.name] : []));
  for (const name of names) {
    await writer.write(streamStatusMessage(name, 'STARTED'));
    await writer.write(streamStatusMessage(name, 'RUNNING'));
  }
  const results = new Map<string, number | null>();
  for (const [name, outcome] of await readFamily(family, context)) {
    if ('error' in outcome) results.set(name, await fail(name, outcome.error, writer));
    else {
      await writer.write(streamStatusMessage(name, 'COMPLETE'));
      results.set(name, outcome.records);
    }
  }
  return results;
}

async function fail(stream: string, error: unknown, writer: MessageWriter): Promise<null> {
  await writer.write(streamStatusMessage(stream, 'INCOMPLETE'));
  await writer.write(errorTraceMessage(error, stream));
  return null;
}

function parseCatalog(raw: unknown): ConfiguredStream[] {
  if (!isObject(raw) || !Array.isArray(raw.streams)) {
    throw configError('The --catalog file is not a configured catalog: it needs a "streams" array (see the catalogs/ folder for examples).');
  }
  const seen = new Map<string, unknown>();
  return raw.streams.flatMap((entry: unknown, index) => {
    const name = isObject(entry) && isObject(entry.stream) ? entry.stream.name : undefined;
    if (typeof name !== 'string') throw configError(`The --catalog file's streams[${index}] has no stream.name.`);
    const syncMode = (entry as Record<string, unknown>).sync_mode;
    if (!seen.has(name)) {
      seen.set(name, syncMode);
      return [{ name, syncMode }];
    }
    // The same entry twice is harmless; two different ones leave no way to know which the user meant.
    if (seen.get(name) !== syncMode) {
      throw configError(
        `The --catalog file configures stream "${name}" twice, in sync modes ${JSON.stringify(seen.get(name))} and ${JSON.stringify(syncMode)} (streams[${index}]); keep one.`,
      );
    }
    return [];
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

/** What a stream's saved state holds, each timestamp checked; a value that is not a timestamp is a config error. */
function savedState(stream: StreamDefinition | undefined, state: StreamState | undefined, path: string): SavedState | undefined {
  if (!stream?.cursor || state === undefined) return undefined;
  const timestamp = (key: string): number | undefined => {
    const value = state[key];
    if (value === undefined || value === null) return undefined;
    const ms = typeof value === 'string' ? toMillis(value) : NaN;
    if (Number.isNaN(ms)) {
      throw configError(
        `The --state file "${path}" gives stream "${stream.name}" an invalid ${key}: ${JSON.stringify(value)} (expected a timestamp such as 2026-01-01T00:00:00Z).`,
      );
    }
    return ms;
  };
  return {
    cursor: timestamp(stream.cursor),
    syncedAt: timestamp('synced_at'),
    parentCursor: stream.parent ? timestamp(parentCursorKey(stream)) : undefined,
  };
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
function summary(context: ReadContext, outcomes: [string, { records: number | null; seconds: number }][], started: number): string {
  const streams = Object.fromEntries(outcomes.map(([name, outcome]) => [name, { ...outcome, ...context.client.stats.of(name) }]));
  const total = context.client.stats.total();
  const records = outcomes.reduce((sum, [, outcome]) => sum + (outcome.records ?? 0), 0);
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

