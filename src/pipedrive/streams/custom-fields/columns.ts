// The custom-field columns of each entity for one command (discover, or a read), shared by every stream that needs
// them: the streams that carry the fields, and the field-definition streams that say which column each field has.
import type { PipedriveClient } from '../../http/client.js';
import { MAX_PAGE_SIZE, listPages, type ApiRecord, type ListDefinition } from '../../http/pagination.js';
import { streamSchema, type JsonSchema } from '../catalog.js';
import { configError } from '../../../airbyte/errors.js';
import { annotatedColumns, columnProperties, customFieldMapper, filledColumns } from './types.js';
import {
  FIELD_LISTS,
  customColumns,
  fieldDefinition,
  type CustomColumn,
  type FieldDefinition,
  type FieldEntity,
} from './definitions.js';
import { STREAMS, fieldsCarrier, isCarrier, type CarrierStream } from '../table.js';

/** Marks a schema whose custom fields are columns (readable mode), so that a read can trust it has them all. */
export const COLUMNS_MARK = 'x-pipedrive-custom-field-columns';

export interface CustomFieldSettings {
  mode: 'readable' | 'raw';
  /** Field key → a column the user pinned it to. */
  names: ReadonlyMap<string, string>;
}

/** The standard properties of a stream that carries custom fields: its schema's, without the API's carrier. */
function standardProperties(stream: CarrierStream): Record<string, JsonSchema> {
  const { custom_fields: _carrier, ...standard } = streamSchema(stream.name).properties ?? {};
  return standard;
}

/** The standard properties of every stream that carries the custom fields of `stream`'s entity (deals and leads both
 * carry the deal fields): a column must clash with none, so that a field has one column in every stream. */
function reservedNames(stream: CarrierStream): Set<string> {
  const { entity } = stream.customFields;
  const carriers = STREAMS.filter(
    (other): other is CarrierStream => isCarrier(other) && other.customFields.entity === entity,
  );
  return new Set([stream, ...carriers].flatMap((carrier) => Object.keys(standardProperties(carrier))));
}

/** The columns of an entity's definitions, named (a pinned name that clashes is a config_error). */
function namedColumns(
  definitions: readonly FieldDefinition[],
  stream: CarrierStream,
  names: ReadonlyMap<string, string>,
): CustomColumn[] {
  return customColumns(definitions, reservedNames(stream), names, stream.name);
}

/** The schema of a stream that carries custom fields, in readable mode: its standard properties (the API's carrier
 * object left out) and a column per custom field, each annotated with its field. */
export function readableSchema(
  stream: CarrierStream,
  definitions: readonly FieldDefinition[],
  names: ReadonlyMap<string, string>,
): JsonSchema {
  const byKey = new Map(definitions.map((definition) => [definition.key, definition]));
  const columns = namedColumns(definitions, stream, names);
  const custom = Object.assign({}, ...columns.map((column) => columnProperties(column, byKey.get(column.key))));
  return {
    ...streamSchema(stream.name),
    [COLUMNS_MARK]: true,
    properties: { ...standardProperties(stream), ...custom },
  };
}

/** A configured catalog's custom columns (as an earlier version discovered them) must each fill columns of their own:
 * two fields, or a field and a standard property, sharing one would overwrite each other's values. And none may be
 * `__proto__`: storing under it sets an object's prototype, so its value would vanish. */
function assertOwnColumns(columns: readonly CustomColumn[], standard: ReadonlySet<string>): void {
  const owners = new Map<string, string>([...standard].map((column) => [column, 'a standard property']));
  for (const { key, column, fieldType } of columns) {
    for (const filled of filledColumns(column, fieldType)) {
      if (filled === '__proto__')
        throw configError(
          `The configured catalog gives custom field ${key} the column "${column}", so that it fills "__proto__", a name JavaScript objects reserve: its values would be lost. Rename the column in the catalog, or refresh the source schema in the connection.`,
        );
      const owner = owners.get(filled);
      if (owner !== undefined)
        throw configError(
          `The configured catalog gives custom field ${key} the column "${column}", so that it fills "${filled}", also ${owner}'s column: the catalog was discovered by an earlier version that let columns clash. Refresh the source schema in the connection (Airbyte: Schema → Refresh source schema), so that every field has columns of its own.`,
        );
      owners.set(filled, `field ${key}`);
    }
  }
}

export class CustomFieldColumns {
  /** By the list's endpoint. */
  private readonly definitions = new Map<string, Promise<FieldDefinition[]>>();
  private readonly columns = new Map<FieldEntity, Promise<CustomColumn[]>>();

  /** `configured`: the schemas the configured catalog gives the carrier streams, by entity (a read's). */
  constructor(
    private readonly client: PipedriveClient,
    private readonly settings: CustomFieldSettings,
    private readonly configured: ReadonlyMap<FieldEntity, JsonSchema> = new Map(),
  ) {}

  get readable(): boolean {
    return this.settings.mode === 'readable';
  }

  /** An entity's field definitions, read once (every page), counted for `countAs`. */
  definitionsOf(entity: FieldEntity, countAs: string): Promise<FieldDefinition[]> {
    return this.definitionsFrom(FIELD_LISTS[entity], countAs);
  }

  /** The field definitions of a list, read once (every page), counted for `countAs`. */
  definitionsFrom(list: ListDefinition, countAs: string): Promise<FieldDefinition[]> {
    let definitions = this.definitions.get(list.endpoint);
    if (!definitions) this.definitions.set(list.endpoint, (definitions = this.fetch(list, countAs)));
    return definitions;
  }

  /**
   * An entity's columns: as the configured catalog's schema has them (a field renamed since discover keeps its column
   * until the next one), or from the definitions when the catalog does not say; option labels from the definitions,
   * read only when a column has options.
   */
  columnsOf(entity: FieldEntity, countAs: string): Promise<CustomColumn[]> {
    let columns = this.columns.get(entity);
    if (!columns) this.columns.set(entity, (columns = this.resolve(entity, countAs)));
    return columns;
  }

  /** The JSON schema of a stream that carries custom fields: with a column per field in readable mode. */
  async schemaOf(stream: CarrierStream): Promise<JsonSchema> {
    if (!this.readable) return streamSchema(stream.name);
    const definitions = await this.definitionsOf(stream.customFields.entity, stream.name);
    return readableSchema(stream, definitions, this.settings.names);
  }

  /** The function that puts a carrier stream's custom fields into their columns, or none in raw mode. */
  async mapperOf(stream: CarrierStream): Promise<((record: ApiRecord) => void) | undefined> {
    if (!this.readable) return undefined;
    const columns = await this.columnsOf(stream.customFields.entity, stream.name);
    return customFieldMapper(columns, stream.customFields.shape);
  }

  private async resolve(entity: FieldEntity, countAs: string): Promise<CustomColumn[]> {
    const schema = this.configured.get(entity);
    if (!schema?.[COLUMNS_MARK]) return this.named(await this.definitionsOf(entity, countAs), fieldsCarrier(entity));
    const columns = annotatedColumns(schema);
    assertOwnColumns(columns, reservedNames(fieldsCarrier(entity)));
    if (!columns.some((column) => column.fieldType === 'enum' || column.fieldType === 'set')) return columns;
    const options = new Map((await this.definitionsOf(entity, countAs)).map((d) => [d.key, d.options]));
    return columns.map((column) => ({ ...column, options: options.get(column.key) ?? column.options }));
  }

  private named(definitions: readonly FieldDefinition[], stream: CarrierStream): CustomColumn[] {
    return namedColumns(definitions, stream, this.settings.names);
  }

  private async fetch(list: ListDefinition, countAs: string): Promise<FieldDefinition[]> {
    const definitions: FieldDefinition[] = [];
    for await (const page of listPages({ client: this.client, list, limit: MAX_PAGE_SIZE, stream: countAs })) {
      definitions.push(...page.map(fieldDefinition));
    }
    return definitions;
  }
}
