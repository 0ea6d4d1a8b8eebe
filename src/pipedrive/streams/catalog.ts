// The streams as Airbyte sees them: their JSON schemas (schemas/<stream>.json), the catalog `discover` prints, and
// ready-made configured catalogs.
import type { AirbyteCatalog, AirbyteStream, ConfiguredAirbyteCatalog } from '../../generated/airbyte-protocol.js';
import { codeFile, readJson } from '../../airbyte/paths.js';
import type { SyncMode } from '../../airbyte/source.js';
import type { ApiRecord } from '../http/pagination.js';
import { toRfc3339 } from '../time.js';
import { compiled, literal } from './compiled.js';
import {
  DEFAULT_STREAMS,
  STREAMS,
  carriesDeletions,
  isFields,
  isResumable,
  isIncremental,
  primaryKeyOf,
  streamByName,
  type StreamDefinition,
} from './table.js';

export type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; format?: string };

const schemas = new Map<string, JsonSchema>();

/** The file of a stream's JSON schema in schemas/: `<stream>.json`; the field-definition streams share one. */
export const schemaFileOf = (stream: StreamDefinition): string =>
  `${isFields(stream) ? 'field_definitions' : stream.name}.json`;

/** Set on every record that represents a deletion: when it was deleted (RFC 3339). Airbyte's destinations remove
 * such rows from deduplicated tables. */
export const DELETED_AT = '_ab_cdc_deleted_at';

/** The stream's static JSON schema (custom fields as the API carries them; `_ab_cdc_deleted_at` where records can say
 * they were deleted). */
export function streamSchema(name: string): JsonSchema {
  let schema = schemas.get(name);
  if (schema) return schema;
  const stream = streamByName.get(name);
  schema = readJson<JsonSchema>(
    codeFile(`pipedrive/streams/schemas/${stream ? schemaFileOf(stream) : `${name}.json`}`),
  );
  if (stream && carriesDeletions(stream)) {
    const deletedAt = { type: ['string', 'null'], format: 'date-time', airbyte_type: 'timestamp_with_timezone' };
    schema = { ...schema, properties: { ...schema.properties, [DELETED_AT]: deletedAt } };
  }
  schemas.set(name, schema);
  return schema;
}

export const syncModesOf = (stream: StreamDefinition): [SyncMode, ...SyncMode[]] =>
  isIncremental(stream) ? ['full_refresh', 'incremental'] : ['full_refresh'];

/** A stream as `discover` declares it, with its schema (the static one unless given). */
export function airbyteStream(stream: StreamDefinition, schema: JsonSchema = streamSchema(stream.name)): AirbyteStream {
  const cursor = isIncremental(stream) ? stream.cursor : undefined;
  return {
    name: stream.name,
    json_schema: schema,
    supported_sync_modes: syncModesOf(stream),
    source_defined_primary_key: [[primaryKeyOf(stream)]],
    ...(cursor ? { source_defined_cursor: true, default_cursor_field: [cursor] } : {}),
    is_resumable: isResumable(stream),
  };
}

/** The catalog of every stream; `schemaOf` gives a stream's schema where it is not the static one. */
export async function discoverCatalog(
  schemaOf: (stream: StreamDefinition) => Promise<JsonSchema | undefined>,
): Promise<AirbyteCatalog> {
  const streams = await Promise.all(STREAMS.map(async (stream) => airbyteStream(stream, await schemaOf(stream))));
  return { streams };
}

/** A configured catalog as Airbyte would send it: the incremental streams in `mode` (deduplicated on id), the
 * full-table ones in full refresh (overwrite). Used for the ready-made catalogs/, the acceptance tests and the demo. */
export function configuredCatalog(
  mode: SyncMode,
  names: readonly string[] = DEFAULT_STREAMS.map((s) => s.name),
  schemaOf: (stream: StreamDefinition) => JsonSchema | undefined = () => undefined,
): ConfiguredAirbyteCatalog {
  return {
    streams: names.flatMap((name) => {
      const stream = streamByName.get(name);
      if (!stream) return [];
      const cursor = mode === 'incremental' && isIncremental(stream) ? stream.cursor : undefined;
      return [
        {
          stream: airbyteStream(stream, schemaOf(stream)),
          sync_mode: cursor ? 'incremental' : 'full_refresh',
          destination_sync_mode: cursor ? 'append_dedup' : 'overwrite',
          ...(cursor ? { cursor_field: [cursor] } : {}),
          primary_key: [[primaryKeyOf(stream)]],
        },
      ];
    }),
  };
}

/** A function that rewrites, in place, every date-time field the schema declares (top level and nested objects) as
 * RFC 3339 UTC. Compiled per schema, so that each field is read and written under a constant name (a load under a
 * computed key shared by every field sees every name, and is several times slower). */
export function timestampNormaliser(schema: JsonSchema): (record: ApiRecord) => void {
  const statements: string[] = [];
  const walk = (node: JsonSchema, holder: string, depth: number) => {
    for (const [name, property] of Object.entries(node.properties ?? {})) {
      const at = `${holder}[${literal(name)}]`;
      if (property.format === 'date-time') statements.push(`if (${at} !== undefined) ${at} = toRfc3339(${at});`);
      else if (property.properties) {
        const nested = `h${depth}`;
        statements.push(`{ const ${nested} = ${at}; if (${nested} !== null && typeof ${nested} === 'object') {`);
        walk(property, nested, depth + 1);
        statements.push('} }');
      }
    }
  };
  walk(schema, 'record', 0);
  return compiled({ toRfc3339 }, `return (record) => {\n${statements.join('\n')}\n};`);
}
