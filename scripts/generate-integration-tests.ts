// Writes the acceptance-test inputs (integration_tests/) and the ready-made catalogs (catalogs/) from the stream
// table and the simulator's deterministic company, so that they stay true when either changes.
//   npx tsx scripts/generate-integration-tests.ts           write them
//   npx tsx scripts/generate-integration-tests.ts --check   exit 1 if a committed file is out of date (a test runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import { OAUTH_APP } from '../simulator/oauth.js';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { readableSchema } from '../src/pipedrive/streams/custom-fields/columns.js';
import { fieldDefinition } from '../src/pipedrive/streams/custom-fields/definitions.js';
import {
  INCREMENTAL_STREAMS,
  STREAMS,
  deriveOf,
  isCarrier,
  type FieldsStream,
  type StreamDefinition,
} from '../src/pipedrive/streams/table.js';
import { Dataset } from '../simulator/dataset.js';
import { v1Definition, v2StandardDefinition } from '../simulator/fields.js';
import { ACCEPTANCE } from '../simulator/presets.js';
import { TOKENS, projectField } from '../simulator/server.js';

const root = new URL('../', import.meta.url);
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const origin = `http://127.0.0.1:${ACCEPTANCE.port}`;
const stateOf = (cursor: (name: string) => string) =>
  INCREMENTAL_STREAMS.map((s) => ({
    type: 'STREAM',
    stream: { stream_descriptor: { name: s.name }, stream_state: { [s.cursor]: cursor(s.name) } },
  }));

const data = new Dataset({ seed: ACCEPTANCE.seed, anchor: ACCEPTANCE.anchor });

/** A stream's standard properties: its schema file's, without the API's carrier of custom fields. */
function standardProperties(stream: string): Set<string> {
  const schema = JSON.parse(readFileSync(new URL(`src/pipedrive/streams/schemas/${stream}.json`, root), 'utf8')) as {
    properties: Record<string, unknown>;
  };
  return new Set(Object.keys(schema.properties).filter((key) => key !== 'custom_fields'));
}

/** The first definitions of a field-definition stream as it must emit them (standard fields come first). */
function fieldRecords(stream: FieldsStream): Record<string, unknown>[] {
  const { entity } = stream;
  if (stream.list)
    return data
      .leadFields()
      .slice(0, 3)
      .map((field) => ({ ...field, is_custom_field: false, column_name: null }));
  return data
    .standardFields(entity)
    .slice(0, 3)
    .map((key, i) => {
      const definition =
        entity === 'note'
          ? v1Definition({ key, name: key, type: 'varchar' }, i + 1)
          : entity === 'project'
            ? projectField(v2StandardDefinition(key))
            : v2StandardDefinition(key);
      const name = entity === 'note' ? key : definition.field_name;
      return { ...definition, key, name, field_type: 'varchar', is_custom_field: false, column_name: null };
    });
}

/**
 * The first records of every stream as the connector must emit them: the simulator's record with its top-level
 * timestamps in RFC 3339 UTC and its custom fields as readable columns. (These rules are written here and in the
 * simulator independently of the connector's, on purpose.)
 */
function expectedRecords(): string {
  const rfc3339 = (value: unknown) =>
    typeof value !== 'string'
      ? value
      : /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)
        ? `${value.replace(' ', 'T')}Z`
        : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/.test(value)
          ? `${value.slice(0, 19)}Z`
          : value;
  const lines: string[] = [];
  const line = (stream: string, record: Record<string, unknown>) =>
    lines.push(JSON.stringify({ stream, data: record, emitted_at: ACCEPTANCE.anchor }));
  for (const stream of STREAMS) {
    // Timestamps at the top level and in nested objects (a participant's person), not in arrays.
    const normalised = (raw: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(raw).map(([key, value]) => [
          key,
          value !== null && typeof value === 'object' && !Array.isArray(value)
            ? normalised(value as Record<string, unknown>)
            : rfc3339(value),
        ]),
      );
    if (stream.kind === 'fields') {
      for (const record of fieldRecords(stream)) line(stream.name, normalised(record));
      continue;
    }
    const entity = isCarrier(stream) ? stream.customFields.entity : undefined;
    for (const [index, raw] of sampleRecords(stream)) {
      const record = normalised(raw);
      line(stream.name, entity ? data.readable(entity, record, reservedNames(entity), index) : record);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The first three records of a stream, as the API returns them, each with the row it comes from. */
function sampleRecords(stream: StreamDefinition): [number, Record<string, unknown>][] {
  const copy = (record: object) => JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
  const parentTable = data.parentTableOf(stream.name);
  if (parentTable) {
    // The records of the first parents that are not deleted (those of a deleted one are deletions).
    const parents = data.tables[parentTable];
    const derive = deriveOf(stream);
    return Array.from(parents.order('index'))
      .map((index) => [index, parents.get(index)!] as const)
      .filter(([, parent]) => parent.is_deleted !== true && parent.status !== 'deleted')
      .flatMap(([index, parent]) =>
        data.childrenOf(stream.name, parent.id as number).map((record): [number, Record<string, unknown>] => {
          derive?.(record, parent);
          return [index, copy(record)];
        }),
      )
      .slice(0, 3);
  }
  if (stream.kind === 'child' && stream.parent.stream !== 'email_threads') {
    const parent = stream.parent.stream as 'deals' | 'persons' | 'organizations';
    return data
      .changelog(parent, 1)
      .slice(0, 3)
      .map((change) => {
        stream.derive!(change, data.tables[parent].get(1)!);
        return [1, copy(change)];
      });
  }
  const table = data.table(stream.name);
  return Array.from(table.order('index'))
    .slice(0, 3)
    .map((index) => {
      const record = copy(table.get(index)!);
      // /v1/users marks the token's own user (the admin, user 1).
      if (stream.name === 'users') record.is_you = index === 1;
      return [index, record];
    });
}

/** The standard properties of every stream that carries an entity's custom fields: no column may take their names. */
function reservedNames(entity: string): Set<string> {
  return new Set(
    STREAMS.filter((stream) => isCarrier(stream) && stream.customFields.entity === entity).flatMap((stream) => [
      ...standardProperties(stream.name),
    ]),
  );
}

/** The catalog `discover` gives for the acceptance simulator: custom fields as columns, from its field definitions. */
const discovered = (stream: StreamDefinition) => {
  if (!isCarrier(stream)) return undefined;
  const { entity } = stream.customFields;
  const standard = data.standardFields(entity).map((key) => ({ key, name: key, type: 'varchar' }));
  const records = [...standard, ...data.fields[entity]].map((field, i) => v1Definition(field, i + 1));
  return readableSchema(stream, records.map(fieldDefinition), new Map());
};

const files: Record<string, string> = {
  'integration_tests/sample_config.json': json({ api_token: TOKENS.admin, base_url: origin, start_date: '2020-01-01' }),
  // The simulator's OAuth app as an admin installed it; each run rotates the refresh token, which the acceptance
  // runner keeps from the CONTROL message as the platform does.
  'integration_tests/sample_oauth_config.json': json({
    credentials: {
      auth_type: 'oauth2.0',
      client_id: OAUTH_APP.clientId,
      client_secret: OAUTH_APP.clientSecret,
      refresh_token: OAUTH_APP.refreshToken,
    },
    base_url: origin,
    start_date: '2020-01-01',
  }),
  'integration_tests/invalid_config.json': json({
    api_token: 'not-a-valid-pipedrive-api-token-0000000000',
    base_url: origin,
  }),
  // For Airbyte's own CAT against the real API (acceptance/real-account/).
  'integration_tests/invalid_token_config.json': json({ api_token: 'not-a-valid-pipedrive-api-token-0000000000' }),
  'integration_tests/configured_catalog.json': json(configuredCatalog('full_refresh', undefined, discovered)),
  'integration_tests/configured_catalog_incremental.json': json(
    configuredCatalog(
      'incremental',
      INCREMENTAL_STREAMS.map((s) => s.name),
      discovered,
    ),
  ),
  'integration_tests/sample_state.json': json(stateOf(() => '2026-10-01T00:00:00Z')),
  'integration_tests/abnormal_state.json': json(stateOf(() => '2999-12-31T23:59:59Z')),
  'integration_tests/expected_records.jsonl': expectedRecords(),
  'catalogs/full_refresh.json': json(configuredCatalog('full_refresh')),
  'catalogs/incremental.json': json(configuredCatalog('incremental')),
};

const check = process.argv.includes('--check');
const stale = Object.entries(files).filter(([path, content]) => {
  let current = '';
  try {
    current = readFileSync(new URL(path, root), 'utf8');
  } catch {
    // missing: stale
  }
  return current !== content;
});
if (check) {
  if (stale.length > 0) {
    console.error(
      `Out of date: ${stale.map(([path]) => path).join(', ')}. Run: npx tsx scripts/generate-integration-tests.ts`,
    );
    process.exit(1);
  }
} else {
  for (const [path, content] of stale) writeFileSync(new URL(path, root), content);
  console.log(stale.length ? `wrote ${stale.map(([path]) => path).join(', ')}` : 'all files up to date');
}
