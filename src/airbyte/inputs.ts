// The configured catalog and the saved state, as Airbyte passes them to `read`, parsed and checked.
import { configError, type ConnectorError } from './errors.js';
import { isObject } from './json.js';
import type { StreamState } from './messages.js';
import type { StreamOffer, SyncMode } from './source.js';

/** The catalog's streams: those the source offers in a sync mode it supports, and the others with their error. */
export interface CatalogStreams {
  valid: { name: string; syncMode: SyncMode; schema?: Record<string, unknown> }[];
  invalid: { name: string; error: ConnectorError }[];
}

/**
 * The streams of a configured catalog. A stream the source does not offer, or in a sync mode it does not support, is
 * set apart with a config_error (the others are still read, as Airbyte's acceptance tests expect); a file that is not
 * a catalog, or that configures one stream twice in different sync modes, is a config_error for the whole read.
 */
export function parseCatalog(raw: unknown, offers: readonly StreamOffer[]): CatalogStreams {
  if (!isObject(raw) || !Array.isArray(raw.streams)) {
    throw configError(
      'The --catalog file is not a configured catalog: it needs a "streams" array (see the catalogs/ folder for examples).',
    );
  }
  const modes = new Map<string, unknown>();
  const result: CatalogStreams = { valid: [], invalid: [] };
  raw.streams.forEach((entry: unknown, index) => {
    const name = isObject(entry) && isObject(entry.stream) ? entry.stream.name : undefined;
    if (typeof name !== 'string') throw configError(`The --catalog file's streams[${index}] has no stream.name.`);
    const syncMode = (entry as Record<string, unknown>).sync_mode;
    if (modes.has(name)) {
      // The same entry twice is harmless; two different ones leave no way to know which the user meant.
      if (modes.get(name) === syncMode) return;
      throw configError(
        `The --catalog file configures stream "${name}" twice, in sync modes ${JSON.stringify(modes.get(name))} and ${JSON.stringify(syncMode)} (streams[${index}]); keep one.`,
      );
    }
    modes.set(name, syncMode);
    const offer = offers.find((stream) => stream.name === name);
    if (!offer) {
      const error = configError(
        `The catalog names a stream this source does not have: "${name}". Run discover to see the ${offers.length} streams.`,
      );
      result.invalid.push({ name, error });
    } else if (!offer.syncModes.includes(syncMode as SyncMode)) {
      const error = configError(
        `The catalog asks for stream "${name}" in sync mode ${JSON.stringify(syncMode)}; it supports ${offer.syncModes.join(' and ')}.`,
      );
      result.invalid.push({ name, error });
    } else {
      const schema = (entry as { stream: Record<string, unknown> }).stream.json_schema;
      result.valid.push({ name, syncMode: syncMode as SyncMode, ...(isObject(schema) ? { schema } : {}) });
    }
  });
  return result;
}

/**
 * The saved state per stream, from what Airbyte sends (an array of STREAM state messages), a GLOBAL or LEGACY state
 * message, a legacy object ({stream: state}) or nothing. A null stream state is a reset. `invalid` makes the error for
 * input that is not a state.
 */
export function parseState(raw: unknown, invalid: (why: string) => ConnectorError): Map<string, StreamState> {
  const states = new Map<string, StreamState>();
  if (raw === undefined || raw === null) return states;
  const messages = Array.isArray(raw)
    ? raw
    : isObject(raw) && typeof raw.type === 'string'
      ? [raw]
      : isObject(raw)
        ? [{ type: 'LEGACY', data: raw }]
        : null;
  if (!messages) {
    throw invalid('is not a state: expected a JSON array of Airbyte state messages, or a legacy state object');
  }
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
    else if (type === 'GLOBAL' && isObject(message.global) && Array.isArray(message.global.stream_states)) {
      message.global.stream_states.forEach(add);
    } else if (type === 'LEGACY' && isObject(message.data)) {
      for (const [name, blob] of Object.entries(message.data)) add({ stream_descriptor: { name }, stream_state: blob });
    } else throw invalid(`has a state message of unknown type ${JSON.stringify(type)}`);
  }
  return states;
}
