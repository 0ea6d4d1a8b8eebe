// The streams as Airbyte sees them: their JSON schemas (schemas/<stream>.json), the catalog `discover` prints, and
// ready-made configured catalogs.
import type { AirbyteCatalog, AirbyteStream, ConfiguredAirbyteCatalog } from '../../generated/airbyte-protocol.js';
import { readJson } from '../../airbyte/paths.js';
import type { SyncMode } from '../../airbyte/source.js';
import type { ApiRecord } from '../http/pagination.js';
import { toRfc3339 } from '../time.js';
import { STREAMS, streamByName, type StreamDefinition } from './table.js';

export type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; format?: string };

const schemas = new Map<string, JsonSchema>();

/** The stream's JSON schema, the file src/pipedrive/streams/schemas/<stream>.json. */
export function streamSchema(name: string): JsonSchema {
  let schema = schemas.get(name);
  if (!schema) schemas.set(name, (schema = readJson<JsonSchema>(new URL(`./schemas/${name}.json`, import.meta.url))));
  return schema;
}

export const syncModesOf = (stream: StreamDefinition): [SyncMode, ...SyncMode[]] =>
  stream.kind === 'full_table' ? ['full_refresh'] : ['full_refresh', 'incremental'];

export function airbyteStream(stream: StreamDefinition): AirbyteStream {
  const cursor = stream.kind === 'full_table' ? undefined : stream.cursor;
  return {
    name: stream.name,
    json_schema: streamSchema(stream.name),
    supported_sync_modes: syncModesOf(stream),
    source_defined_primary_key: [['id']],
    ...(cursor ? { source_defined_cursor: true, default_cursor_field: [cursor] } : {}),
    is_resumable: cursor !== undefined,
  };
}

export const discoverCatalog = (): AirbyteCatalog => ({ streams: STREAMS.map(airbyteStream) });

/** A configured catalog as Airbyte would send it: the incremental streams in `mode` (deduplicated on id), the
 * full-table ones in full refresh (overwrite). Used for the ready-made catalogs/, the acceptance tests and the demo. */
export function configuredCatalog(
  mode: SyncMode,
  names: readonly string[] = STREAMS.map((s) => s.name),
): ConfiguredAirbyteCatalog {
  return {
    streams: names.flatMap((name) => {
      const stream = streamByName.get(name);
      if (!stream) return [];
      const cursor = mode === 'incremental' && stream.kind !== 'full_table' ? stream.cursor : undefined;
      return [
        {
          stream: airbyteStream(stream),
          sync_mode: cursor ? 'incremental' : 'full_refresh',
          destination_sync_mode: cursor ? 'append_dedup' : 'overwrite',
          ...(cursor ? { cursor_field: [cursor] } : {}),
          primary_key: [['id']],
        },
      ];
    }),
  };
}

/** A function that rewrites, in place, every date-time field the schema declares (top level and nested objects) as
 * RFC 3339 UTC. */
export function timestampNormaliser(schema: JsonSchema): (record: ApiRecord) => void {
  const paths: { holder: string[]; field: string }[] = [];
  const walk = (node: JsonSchema, path: string[]) => {
    for (const [name, property] of Object.entries(node.properties ?? {})) {
      if (property.format === 'date-time') paths.push({ holder: path, field: name });
      else if (property.properties) walk(property, [...path, name]);
    }
  };
  walk(schema, []);
  return (record) => {
    for (const { holder: path, field } of paths) {
      let holder: unknown = record;
      for (const part of path) holder = (holder as Record<string, unknown> | null | undefined)?.[part];
      if (holder && typeof holder === 'object' && field in holder) {
        (holder as Record<string, unknown>)[field] = toRfc3339((holder as Record<string, unknown>)[field]);
      }
    }
  };
}
