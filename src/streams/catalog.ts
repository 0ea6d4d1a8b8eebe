import type { AirbyteCatalog, AirbyteStream, ConfiguredAirbyteCatalog } from '../generated/airbyte-protocol.js';
import { readJson } from '../paths.js';
import { STREAMS, STREAM_NAMES, streamByName, type StreamDefinition, type StreamName } from './definitions.js';

export type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema> };

const schemas = new Map<StreamName, JsonSchema>();

/** The stream's JSON schema, the file src/streams/schemas/<stream>.json. */
export function streamSchema(name: StreamName): JsonSchema {
  let schema = schemas.get(name);
  if (!schema) schemas.set(name, (schema = readJson<JsonSchema>(new URL(`./schemas/${name}.json`, import.meta.url))));
  return schema;
}

export function airbyteStream(stream: StreamDefinition): AirbyteStream {
  const incremental = stream.cursor !== undefined;
  return {
    name: stream.name,
    json_schema: streamSchema(stream.name),
    supported_sync_modes: incremental ? ['full_refresh', 'incremental'] : ['full_refresh'],
    source_defined_primary_key: [['id']],
    ...(incremental ? { source_defined_cursor: true, default_cursor_field: [stream.cursor!] } : {}),
    is_resumable: incremental,
  };
}

export const discoverCatalog = (): AirbyteCatalog => ({ streams: STREAMS.map(airbyteStream) });

/** A configured catalog as Airbyte would send it: the incremental streams in `mode` (deduplicated on id), the
 * full-table ones in full refresh (overwrite). Used for the ready-made catalogs/, the acceptance tests and the demo. */
export function configuredCatalog(mode: 'full_refresh' | 'incremental', names: readonly string[] = STREAM_NAMES): ConfiguredAirbyteCatalog {
  return {
    streams: names.map((name) => {
      const stream = streamByName.get(name)!;
      const incremental = mode === 'incremental' && stream.cursor !== undefined;
      return {
        stream: airbyteStream(stream),
        sync_mode: incremental ? 'incremental' : 'full_refresh',
        destination_sync_mode: incremental ? 'append_dedup' : 'overwrite',
        ...(incremental ? { cursor_field: [stream.cursor!] } : {}),
        primary_key: [['id']],
      };
    }),
  };
}
