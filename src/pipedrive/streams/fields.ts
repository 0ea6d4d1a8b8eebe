// Pipedrive's field definitions (deals, persons, organizations, products, activities: the v2 Fields API; notes: v1)
// and the columns this connector emits custom fields under: a custom field becomes a top-level property named after
// the field, typed after its field type, with option labels instead of ids.
import type { ListDefinition, ApiRecord } from '../http/pagination.js';

/** The entities whose fields are defined, and the list each one's definitions come from. */
export const FIELD_LISTS = {
  deal: { endpoint: '/api/v2/dealFields', paging: 'cursor', idField: 'field_code' },
  person: { endpoint: '/api/v2/personFields', paging: 'cursor', idField: 'field_code' },
  organization: { endpoint: '/api/v2/organizationFields', paging: 'cursor', idField: 'field_code' },
  product: { endpoint: '/api/v2/productFields', paging: 'cursor', idField: 'field_code' },
  activity: { endpoint: '/api/v2/activityFields', paging: 'cursor', idField: 'field_code' },
  note: { endpoint: '/v1/noteFields', paging: 'single', idField: 'key' },
} as const satisfies Record<string, ListDefinition>;
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

/**
 * The columns of an entity's custom fields: each named after its field (or as `names` says, by key), with the suffix
 * `_` and the first 6 characters of its key when the name is empty, starts with a digit, or is also a standard
 * property's or another custom field's. The key itself is never a column.
 */
export function customColumns(
  definitions: readonly FieldDefinition[],
  standard: ReadonlySet<string>,
  names: ReadonlyMap<string, string> = new Map(),
): CustomColumn[] {
  const custom = definitions.filter((definition) => definition.isCustom);
  const normalised = custom.map((definition) => normaliseName(definition.name));
  const uses = new Map<string, number>();
  for (const name of normalised) uses.set(name, (uses.get(name) ?? 0) + 1);
  return custom.map((definition, i) => {
    const name = normalised[i] ?? '';
    const clash = name === '' || /^[0-9]/.test(name) || standard.has(name) || (uses.get(name) ?? 0) > 1;
    const column = names.get(definition.key) ?? (clash ? `${name}_${definition.key.slice(0, 6)}` : name);
    return { key: definition.key, column, fieldType: definition.fieldType, options: definition.options };
  });
}
