// Custom fields as readable columns: the JSON schema properties each custom field is declared under, and the values
// a record carries under them (from a v2 record's `custom_fields` object or a v1 record's top-level hash keys).
import { isObject } from '../../../airbyte/json.js';
import type { ApiRecord } from '../../http/pagination.js';
import type { JsonSchema } from '../catalog.js';
import { compiled, literal } from '../compiled.js';
import type { CustomColumn, FieldDefinition } from './definitions.js';

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

/** Every column a custom field of `fieldType` emitted under `column` fills: its own and its siblings'. */
export const filledColumns = (column: string, fieldType: string): string[] => [
  column,
  ...Object.keys(TYPES[kindOf(fieldType)].siblings ?? {}).map((sibling) => `${column}_${sibling}`),
];

/** The properties a custom column is declared under: its own (annotated) and its siblings (`_currency`, `_until`,
 * address parts). */
export function columnProperties(column: CustomColumn, definition?: FieldDefinition): Record<string, JsonSchema> {
  const type = TYPES[kindOf(column.fieldType)];
  // Copies, each its own: the table's schemas are shared by every column of their kind.
  const schema = structuredClone(type.schema);
  const description = `Pipedrive custom field ${JSON.stringify(definition?.name ?? column.column)} (${column.fieldType})`;
  const annotation: FieldAnnotation = { key: column.key, field_type: column.fieldType };
  return {
    [column.column]: { ...schema, description, [FIELD_ANNOTATION]: annotation },
    ...Object.fromEntries(
      Object.entries(type.siblings ?? {}).map(([sibling, property]) => [
        `${column.column}_${sibling}`,
        structuredClone(property),
      ]),
    ),
  };
}

/** The custom columns a schema declares, from the annotations on its properties. */
export function annotatedColumns(schema: JsonSchema): CustomColumn[] {
  return Object.entries(schema.properties ?? {}).flatMap(([column, property]) => {
    const annotation = property[FIELD_ANNOTATION] as FieldAnnotation | undefined;
    if (!annotation || typeof annotation.key !== 'string') return [];
    return [{ key: annotation.key, column, fieldType: String(annotation.field_type), options: new Map() }];
  });
}

type Carrier = Record<string, unknown>;
/** Where a field's value, or one of its siblings (`currency`, `until`, an address part), is read from: v2 from
 * `custom_fields[key]` (an object for composite fields: {value, currency}, {value, until}, an address), v1 from the
 * top level under the key and `<key>_<sibling>`. Each is a JavaScript expression over `carrier`, compiled into the
 * record's mapper (columnsSetter), with its names as JSON string literals and these helpers in scope. */
interface FieldReader {
  value: string;
  sibling: (name: string) => string;
}
const READ_HELPERS = {
  /** A v2 field's value: its own, or the `value` of a composite one. */
  valueOf: (raw: unknown) => (isObject(raw) ? raw.value : raw),
  /** A v2 composite field's part. */
  partOf: (raw: unknown, name: string) => (isObject(raw) ? raw[name] : undefined),
  /** An address: its formatted form, else its value. */
  addressOf: (formatted: unknown, value: unknown) => (empty(formatted) ? value : formatted),
};

function v2Reader(key: string): FieldReader {
  const raw = `carrier[${literal(key)}]`;
  return { value: `valueOf(${raw})`, sibling: (name) => `partOf(${raw}, ${literal(name)})` };
}

function v1Reader(key: string): FieldReader {
  return { value: `carrier[${literal(key)}]`, sibling: (name) => `carrier[${literal(`${key}_${name}`)}]` };
}

const empty = (value: unknown) => value === null || value === undefined || value === '';
const text = (value: unknown): string | null =>
  empty(value) ? null : typeof value === 'string' ? value : JSON.stringify(value);
const number = (value: unknown): number | null => {
  const n = empty(value) ? NaN : Number(value);
  return Number.isFinite(n) ? n : null;
};
const integer = (value: unknown): number | null => {
  const n = number(value);
  return n === null ? null : Math.trunc(n);
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
const labels = (value: unknown, options: ReadonlyMap<string, string>): string[] | null => {
  const ids = Array.isArray(value) ? value : empty(value) ? [] : String(value).split(',');
  const found = ids.map((option) => label(option, options)).filter((l): l is string => l !== null);
  return found.length > 0 ? found : null;
};

/** A column's value: read from the carrier of the record's custom fields (an expression, see FieldReader), then
 * converted to the column's type. */
interface ColumnValue {
  column: string;
  read: string;
  convert: (raw: unknown) => unknown;
}

const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });
const DATE = nullable('string', { format: 'date' });
const STRING = nullable('string');

/** What each kind of field becomes: its column's schema, the sibling columns it fills (`<column>_<sibling>`, read
 * from the field's parts as text), and how its value is converted (given the field's options). */
interface FieldType {
  schema: JsonSchema;
  siblings?: Readonly<Record<string, JsonSchema>>;
  convert: (raw: unknown, options: ReadonlyMap<string, string>) => unknown;
  /** Where the value is read, when not from the field itself (an address: its formatted form first). */
  source?: (read: FieldReader) => string;
}

const TYPES: Record<Kind, FieldType> = {
  string: { schema: STRING, convert: text },
  json: { schema: STRING, convert: text },
  number: { schema: nullable('number'), convert: number },
  integer: { schema: nullable('integer'), convert: integer },
  boolean: { schema: nullable('boolean'), convert: bool },
  id: { schema: nullable('integer'), convert: id },
  date: { schema: DATE, convert: text },
  monetary: { schema: nullable('number'), siblings: { currency: STRING }, convert: number },
  daterange: { schema: DATE, siblings: { until: DATE }, convert: text },
  timerange: { schema: STRING, siblings: { until: STRING }, convert: text },
  enum: { schema: STRING, convert: label },
  set: { schema: nullable('array', { items: { type: 'string' } }), convert: labels },
  address: {
    schema: STRING,
    siblings: Object.fromEntries(ADDRESS_PARTS.map((part) => [part, STRING])),
    convert: text,
    source: (read) => `addressOf(${read.sibling('formatted_address')}, ${read.value})`,
  },
};

/** The values of a custom column: its own and its siblings'. */
function columnValues(column: CustomColumn, read: FieldReader): ColumnValue[] {
  const { column: name, options } = column;
  const { convert, siblings = {}, source } = TYPES[kindOf(column.fieldType)];
  return [
    { column: name, read: source ? source(read) : read.value, convert: (raw) => convert(raw, options) },
    ...Object.keys(siblings).map((sibling) => ({
      column: `${name}_${sibling}`,
      read: read.sibling(sibling),
      convert: text,
    })),
  ];
}

/**
 * A function that sets every column on a record, compiled so that each value is read and stored under constant
 * names. V8 keeps an object fast while it gains properties that way, but makes it a hash table after about a dozen
 * stores under computed names, and every later read of it and its serialisation pay for that: on pages of 500 records
 * with 26 custom fields, mapping and serialising took 1.3× (deals) to 1.8× (persons) the CPU. Loads are compiled too:
 * one load site under a computed key, shared by every field, sees every key (mapping deals took about 10 % more). A
 * name goes into the code as a JSON string literal, which any string is safe as.
 */
function columnsSetter(values: readonly ColumnValue[]): (record: ApiRecord, carrier: Carrier) => void {
  // Every value is read before any is stored: a v1 record is its own carrier, and a column may be named like the key
  // of a field read after it (a field named with 40 hexadecimal digits).
  const reads = values.map(({ read }, i) => `const v${i} = convert[${i}](${read});`);
  const stores = values.map(({ column }, i) => `record[${literal(column)}] = v${i};`);
  const body = [...reads, ...stores].join('\n');
  return compiled(
    { convert: values.map((value) => value.convert), helpers: READ_HELPERS },
    `const { valueOf, partOf, addressOf } = helpers;\nreturn (record, carrier) => {\n${body}\n};`,
  );
}

const HASH_KEY = /^[0-9a-f]{40}(_|$)/;

/**
 * A function that rewrites a record in place with its custom fields as columns: every column of `columns` set (null
 * where empty), and the API's own carriers left out of the output (v2's `custom_fields` object, v1's hash keys and
 * their siblings, also of fields no column knows), so that no 40-character key reaches the warehouse. A carrier is
 * set to undefined rather than deleted, which JSON leaves out just the same, but which keeps the record a fast object.
 */
export function customFieldMapper(columns: readonly CustomColumn[], shape: 'v1' | 'v2'): (record: ApiRecord) => void {
  const reader = shape === 'v2' ? v2Reader : v1Reader;
  const values = columns.flatMap((column) => columnValues(column, reader(column.key)));
  const set = columnsSetter(values);
  if (shape === 'v2') {
    return (record) => {
      const carrier = isObject(record.custom_fields) ? record.custom_fields : {};
      record.custom_fields = undefined;
      set(record, carrier);
    };
  }
  // A column named like a hash key (a field named with 40 hexadecimal digits) is a column, not a carrier.
  const filled = new Set(values.map((value) => value.column));
  return (record) => {
    set(record, record);
    for (const key in record) if (HASH_KEY.test(key) && !filled.has(key)) record[key] = undefined;
  };
}
