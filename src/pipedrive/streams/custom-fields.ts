// Custom fields as readable columns: the JSON schema properties each custom field is declared under, and the values
// a record carries under them (from a v2 record's `custom_fields` object or a v1 record's top-level hash keys).
import type { ApiRecord } from '../http/pagination.js';
import type { JsonSchema } from './catalog.js';
import type { CustomColumn, FieldDefinition } from './fields.js';

/** The annotation on a custom column's property in the discovered schema: which field it holds, so that a read maps
 * each field to the column the catalog has (a field renamed since discover keeps its column until the next one). */
export const FIELD_ANNOTATION = 'x-pipedrive-field';
export interface FieldAnnotation {
  key: string;
  field_type: string;
}

type Kind =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'date'
  | 'monetary'
  | 'daterange'
  | 'timerange'
  | 'enum'
  | 'set'
  | 'id'
  | 'address'
  | 'json';

const KINDS: Record<string, Kind> = {
  varchar: 'string',
  text: 'string',
  varchar_auto: 'string',
  phone: 'string',
  time: 'string',
  lead: 'string',
  double: 'number',
  int: 'integer',
  boolean: 'boolean',
  date: 'date',
  monetary: 'monetary',
  daterange: 'daterange',
  timerange: 'timerange',
  enum: 'enum',
  set: 'set',
  user: 'id',
  org: 'id',
  people: 'id',
  deal: 'id',
  stage: 'id',
  pipeline: 'id',
  product: 'id',
  project: 'id',
  activity: 'id',
  address: 'address',
};
const kindOf = (fieldType: string): Kind => KINDS[fieldType] ?? 'json';

/** The parts of an address, each a column `<name>_<part>` beside the formatted address. */
const ADDRESS_PARTS = [
  'street_number',
  'route',
  'subpremise',
  'sublocality',
  'locality',
  'admin_area_level_1',
  'admin_area_level_2',
  'country',
  'postal_code',
] as const;

const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });

/** The properties a custom column is declared under: its own (annotated) and its siblings (`_currency`, `_until`,
 * address parts). */
export function columnProperties(column: CustomColumn, definition?: FieldDefinition): Record<string, JsonSchema> {
  const kind = kindOf(column.fieldType);
  const description = `Pipedrive custom field ${JSON.stringify(definition?.name ?? column.column)} (${column.fieldType})`;
  const annotation: FieldAnnotation = { key: column.key, field_type: column.fieldType };
  const main = (schema: JsonSchema) => ({
    [column.column]: { ...schema, description, [FIELD_ANNOTATION]: annotation },
  });
  const name = column.column;
  switch (kind) {
    case 'number':
    case 'integer':
    case 'boolean':
      return main(nullable(kind));
    case 'id':
      return main(nullable('integer'));
    case 'date':
      return main(nullable('string', { format: 'date' }));
    case 'monetary':
      return { ...main(nullable('number')), [`${name}_currency`]: nullable('string') };
    case 'daterange':
      return {
        ...main(nullable('string', { format: 'date' })),
        [`${name}_until`]: nullable('string', { format: 'date' }),
      };
    case 'timerange':
      return { ...main(nullable('string')), [`${name}_until`]: nullable('string') };
    case 'set':
      return main(nullable('array', { items: { type: 'string' } }));
    case 'address':
      return {
        ...main(nullable('string')),
        ...Object.fromEntries(ADDRESS_PARTS.map((part) => [`${name}_${part}`, nullable('string')])),
      };
    default:
      return main(nullable('string'));
  }
}

/** The custom columns a schema declares, from the annotations on its properties. */
export function annotatedColumns(schema: JsonSchema): CustomColumn[] {
  return Object.entries(schema.properties ?? {}).flatMap(([column, property]) => {
    const annotation = property[FIELD_ANNOTATION] as FieldAnnotation | undefined;
    if (!annotation || typeof annotation.key !== 'string') return [];
    return [{ key: annotation.key, column, fieldType: String(annotation.field_type), options: new Map() }];
  });
}

/** A field's value and its siblings, whichever way the record carries them. */
interface RawValue {
  value: unknown;
  currency?: unknown;
  until?: unknown;
  parts: Record<string, unknown>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** v2: `custom_fields[key]`, an object for composite fields ({value, currency}, {value, until}, an address). */
function v2Value(record: ApiRecord, key: string): RawValue {
  const raw = isObject(record.custom_fields) ? record.custom_fields[key] : undefined;
  if (!isObject(raw)) return { value: raw, parts: {} };
  return { value: raw.value, currency: raw.currency, until: raw.until, parts: raw };
}

/** v1: the value under the key at the top level, its siblings under `<key>_currency`, `<key>_until`, `<key>_<part>`. */
function v1Value(record: ApiRecord, key: string): RawValue {
  const parts = Object.fromEntries(
    [...ADDRESS_PARTS, 'formatted_address'].map((part) => [part, record[`${key}_${part}`]]),
  );
  return { value: record[key], currency: record[`${key}_currency`], until: record[`${key}_until`], parts };
}

const empty = (value: unknown) => value === null || value === undefined || value === '';
const text = (value: unknown): string | null =>
  empty(value) ? null : typeof value === 'string' ? value : JSON.stringify(value);
const number = (value: unknown): number | null => {
  const n = empty(value) ? NaN : Number(value);
  return Number.isFinite(n) ? n : null;
};
/** An id, also when a v1 record gives it as an object ({value: 5, name: …}). */
const id = (value: unknown): number | null => number(isObject(value) ? (value.value ?? value.id) : value);
const bool = (value: unknown): boolean | null =>
  empty(value) ? null : value === true || value === 1 || value === '1' || value === 'true';
/** An option's label; an option deleted since is given by its id, as a string. */
const label = (value: unknown, options: ReadonlyMap<string, string>): string | null => {
  const option = isObject(value) ? (value.label ?? value.id) : value;
  if (empty(option)) return null;
  return options.get(String(isObject(value) ? value.id : value)) ?? String(option);
};

/** The values of a custom column: its own and its siblings'. */
function columnValues(column: CustomColumn, raw: RawValue): Record<string, unknown> {
  const name = column.column;
  switch (kindOf(column.fieldType)) {
    case 'number':
      return { [name]: number(raw.value) };
    case 'integer':
      return { [name]: number(raw.value) === null ? null : Math.trunc(Number(raw.value)) };
    case 'id':
      return { [name]: id(raw.value) };
    case 'boolean':
      return { [name]: bool(raw.value) };
    case 'monetary':
      return { [name]: number(raw.value), [`${name}_currency`]: text(raw.currency) };
    case 'daterange':
    case 'timerange':
      return { [name]: text(raw.value), [`${name}_until`]: text(raw.until) };
    case 'enum':
      return { [name]: label(raw.value, column.options) };
    case 'set': {
      const ids = Array.isArray(raw.value) ? raw.value : empty(raw.value) ? [] : String(raw.value).split(',');
      const labels = ids.map((option) => label(option, column.options)).filter((l): l is string => l !== null);
      return { [name]: labels.length > 0 ? labels : null };
    }
    case 'address':
      return {
        [name]: text(raw.parts.formatted_address) ?? text(raw.value),
        ...Object.fromEntries(ADDRESS_PARTS.map((part) => [`${name}_${part}`, text(raw.parts[part])])),
      };
    default:
      return { [name]: text(raw.value) };
  }
}

const HASH_KEY = /^[0-9a-f]{40}(_|$)/;

/**
 * A function that rewrites a record in place with its custom fields as columns: every column of `columns` set (null
 * where empty), and the API's own carriers removed (v2's `custom_fields` object, v1's hash keys and their siblings,
 * also of fields no column knows), so that no 40-character key reaches the warehouse.
 */
export function customFieldMapper(columns: readonly CustomColumn[], shape: 'v1' | 'v2'): (record: ApiRecord) => void {
  const read = shape === 'v2' ? v2Value : v1Value;
  return (record) => {
    const values = columns.map((column) => columnValues(column, read(record, column.key)));
    if (shape === 'v2') delete record.custom_fields;
    else for (const key of Object.keys(record)) if (HASH_KEY.test(key)) Reflect.deleteProperty(record, key);
    for (const value of values) Object.assign(record, value);
  };
}
