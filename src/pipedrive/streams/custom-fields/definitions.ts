// Pipedrive's field definitions (deals, persons, organizations, products, activities: the v2 Fields API; notes: v1)
// and the columns this connector emits custom fields under: a custom field becomes a top-level property named after
// the field, typed after its field type, with option labels instead of ids.
import { configError } from '../../../airbyte/errors.js';
import type { ListDefinition, ApiRecord } from '../../http/pagination.js';
import { filledColumns } from './types.js';

const v2Fields = (endpoint: string, carrier: string) =>
  ({ endpoint, paging: 'cursor', idField: 'field_code', carrier }) as const;

/** The entities whose fields are defined, the list each one's definitions come from, and the stream whose records
 * carry them in the entity's own shape (its columns are named against that stream's standard properties). */
export const FIELD_LISTS = {
  deal: v2Fields('/api/v2/dealFields', 'deals'),
  person: v2Fields('/api/v2/personFields', 'persons'),
  organization: v2Fields('/api/v2/organizationFields', 'organizations'),
  product: v2Fields('/api/v2/productFields', 'products'),
  activity: v2Fields('/api/v2/activityFields', 'activities'),
  project: v2Fields('/api/v2/projectFields', 'projects'),
  note: { endpoint: '/v1/noteFields', paging: 'single', idField: 'key', carrier: 'notes' },
} as const satisfies Record<string, ListDefinition & { carrier: string }>;
export type FieldEntity = keyof typeof FIELD_LISTS;

/** A field definition, whichever API it came from (v2: `field_code`, `field_name`; v1: `key`, `name`). */
export interface FieldDefinition {
  key: string;
  name: string;
  fieldType: string;
  isCustom: boolean;
  /** Option id (as a string) → label, for enum and set fields. */
  options: ReadonlyMap<string, string>;
  /** The API's record. */
  record: ApiRecord;
}

const HASH = /^[0-9a-f]{40}$/;

/** A definition record of the v2 Fields API or of v1 `/noteFields`, normalised. A v1 custom field is one whose key
 * is the 40-character hash Pipedrive generates (`edit_flag` is set on some standard fields too). */
export function fieldDefinition(record: ApiRecord): FieldDefinition {
  const v2 = typeof record.field_code === 'string';
  const key = String(v2 ? record.field_code : record.key);
  const options = Array.isArray(record.options) ? (record.options as { id: unknown; label: unknown }[]) : [];
  return {
    key,
    name: String((v2 ? record.field_name : record.name) ?? ''),
    fieldType: String(record.field_type ?? ''),
    isCustom: v2 ? record.is_custom_field === true : HASH.test(key),
    options: new Map(options.map((option) => [String(option.id), String(option.label)])),
    record,
  };
}

/** A custom field as this connector emits it. */
export interface CustomColumn {
  key: string;
  column: string;
  fieldType: string;
  options: ReadonlyMap<string, string>;
}

/** A field's name as a column name: NFKD with combining marks dropped, lower case, every run of other characters than
 * [a-z0-9] made one `_`, with no `_` at either end. */
export function normaliseName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** Who fills a column: a standard property of the stream, or a custom field. */
type ColumnOwner = { kind: 'standard' } | { kind: 'field'; key: string; name: string };

/** The lengths of key prefix a clashing field's column is suffixed with: the shortest that leaves its columns to it. */
const KEY_SUFFIXES = [6, 10, 16, 40];

/**
 * The columns of an entity's custom fields. A field pinned in `names` gets its pinned column; one of its columns
 * (siblings included: `_currency`, `_until`, address parts) that is also a standard property's or another pinned
 * field's is a config_error naming both. Every other field is named after itself, with the suffix `_` and the first 6
 * characters of its key when the name is empty, starts with a digit, or one of its columns is a standard property's,
 * a pinned field's or one another field's name fills (all such fields are suffixed, in the order of their keys, with
 * a longer part of the key should a suffixed column still be taken). So no column holds two fields' values, whatever
 * order the definitions come in. The key itself is never a column.
 */
export function customColumns(
  definitions: readonly FieldDefinition[],
  standard: ReadonlySet<string>,
  names: ReadonlyMap<string, string> = new Map(),
  stream = 'the stream',
): CustomColumn[] {
  const custom = definitions.filter((definition) => definition.isCustom);
  const owners = new Map<string, ColumnOwner>([...standard].map((column) => [column, { kind: 'standard' }]));
  const chosen = new Map<string, string>();
  const takenBy = (definition: FieldDefinition, column: string) =>
    filledColumns(column, definition.fieldType).find((filled) => owners.has(filled));
  const claim = (definition: FieldDefinition, column: string) => {
    const owner = { kind: 'field', key: definition.key, name: definition.name } as const;
    for (const filled of filledColumns(column, definition.fieldType)) owners.set(filled, owner);
    chosen.set(definition.key, column);
  };
  for (const definition of custom) {
    const pin = names.get(definition.key);
    if (pin === undefined) continue;
    const clash = takenBy(definition, pin);
    if (clash !== undefined) throw pinClash(definition, pin, clash, owners.get(clash), stream);
    claim(definition, pin);
  }
  const unpinned = custom.filter((definition) => !names.has(definition.key));
  const natural = new Map(unpinned.map((definition) => [definition.key, normaliseName(definition.name)]));
  const fills = new Map<string, number>();
  for (const definition of unpinned)
    for (const filled of filledColumns(natural.get(definition.key) ?? '', definition.fieldType))
      fills.set(filled, (fills.get(filled) ?? 0) + 1);
  const clashes = (definition: FieldDefinition) => {
    const name = natural.get(definition.key) ?? '';
    const filled = filledColumns(name, definition.fieldType);
    return name === '' || /^[0-9]/.test(name) || filled.some((c) => owners.has(c) || (fills.get(c) ?? 0) > 1);
  };
  const suffixed = unpinned.filter(clashes).sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const definition of unpinned)
    if (!suffixed.includes(definition)) claim(definition, natural.get(definition.key) ?? '');
  for (const definition of suffixed) {
    const candidates = KEY_SUFFIXES.map(
      (length) => `${natural.get(definition.key) ?? ''}_${definition.key.slice(0, length)}`,
    );
    const column = candidates.find((candidate) => takenBy(definition, candidate) === undefined);
    if (column === undefined) throw configError(`Custom field ${definition.key} of ${stream} has no free column name.`);
    claim(definition, column);
  }
  return custom.map((definition) => ({
    key: definition.key,
    column: chosen.get(definition.key) ?? '',
    fieldType: definition.fieldType,
    options: definition.options,
  }));
}

/** A pinned column that a standard property or another pinned field already fills. */
function pinClash(
  definition: FieldDefinition,
  pin: string,
  clash: string,
  owner: ColumnOwner | undefined,
  stream: string,
): Error {
  const whose =
    owner?.kind === 'field'
      ? `also a column of field ${owner.key} (${JSON.stringify(owner.name)}), pinned before it`
      : `a standard property of ${stream}`;
  const what = clash === pin ? whose : `whose column "${clash}" is ${whose}`;
  return configError(
    `Invalid configuration: \`custom_field_names\` pins field ${definition.key} (${JSON.stringify(definition.name)}) to "${pin}", ${what}; choose another column name.`,
  );
}
