// The simulated company's field definitions, and its records' custom-field values. Deals, persons, organizations and
// products have a custom field of every type Pipedrive knows, with an enum and a set option deleted since (but still
// in use), a field named like a standard one ("Value" on deals), a non-ASCII name, two names that normalise alike, one
// that starts with a digit and one that normalises to nothing. Activities have a few; notes (v1 records, their values
// at the top level) have some too, so that v1's shapes are exercised; projects have a dozen, one named like a standard
// property ("Status"). Tests add and rename fields.
import { createHash } from 'node:crypto';
import { Random } from './random.js';

type Json = Record<string, unknown>;
export type FieldEntity = 'deal' | 'person' | 'organization' | 'product' | 'activity' | 'note' | 'project';

export interface SimField {
  key: string;
  name: string;
  type: string;
  /** The options a definition lists; `deleted` ones are still used by records. */
  options?: { id: number; label: string }[];
  deleted?: { id: number; label: string }[];
}

const option = (id: number, label: string) => ({ id, label });
/** Every type, by name. */
const ALL: Omit<SimField, 'key'>[] = [
  {
    name: 'Customer type',
    type: 'enum',
    options: [option(190, 'Private person'), option(191, 'Company')],
    deleted: [option(192, 'Partner')],
  },
  {
    name: 'Product lines',
    type: 'set',
    options: [option(1, 'CRM'), option(2, 'Marketing'), option(3, 'Support'), option(4, 'Analytics')],
    deleted: [option(5, 'Legacy')],
  },
  { name: 'Lead source', type: 'varchar' },
  { name: 'Background', type: 'text' },
  { name: 'Referral code', type: 'varchar_auto' },
  { name: 'Support phone', type: 'phone' },
  { name: 'Discount rate', type: 'double' },
  { name: 'Seats', type: 'int' },
  { name: 'Contract value', type: 'monetary' },
  { name: 'Renewal date', type: 'date' },
  { name: 'Call time', type: 'time' },
  { name: 'Trial period', type: 'daterange' },
  { name: 'Office hours', type: 'timerange' },
  { name: 'Account manager', type: 'user' },
  { name: 'Parent organization', type: 'org' },
  { name: 'Champion', type: 'people' },
  { name: 'Related deal', type: 'deal' },
  { name: 'Entry stage', type: 'stage' },
  { name: 'Home pipeline', type: 'pipeline' },
  { name: 'Billing address', type: 'address' },
  { name: 'Größe des Kunden', type: 'enum', options: [option(11, 'klein'), option(12, 'mittel'), option(13, 'groß')] },
  { name: 'Value', type: 'varchar' },
  { name: 'Region', type: 'varchar' },
  { name: 'Region!', type: 'varchar' },
  { name: '2nd contact', type: 'varchar' },
  { name: '★', type: 'varchar' },
];
const SOME = (names: string[]) => ALL.filter((field) => names.includes(field.name));
const BY_ENTITY: Record<FieldEntity, Omit<SimField, 'key'>[]> = {
  deal: ALL,
  person: ALL,
  organization: ALL,
  product: ALL,
  activity: SOME(['Customer type', 'Background', 'Renewal date', 'Contract value']),
  note: SOME(['Lead source', 'Contract value', 'Customer type', 'Product lines', 'Trial period', 'Billing address']),
  // Projects (v2 records, `custom_fields`): a few of every kind, and "Status", named like a standard property.
  project: [
    ...SOME([
      'Customer type',
      'Product lines',
      'Background',
      'Contract value',
      'Renewal date',
      'Trial period',
      'Account manager',
      'Related deal',
      'Größe des Kunden',
      'Region',
      'Region!',
    ]),
    { name: 'Status', type: 'varchar' },
  ],
};

/** A field's key: 40 hexadecimal characters, as Pipedrive generates them. */
export const fieldKey = (seed: number, entity: FieldEntity, name: string) =>
  createHash('sha1').update(`${seed}:${entity}:${name}`).digest('hex');

export const initialFields = (seed: number, entity: FieldEntity): SimField[] =>
  BY_ENTITY[entity].map((field) => ({ ...field, key: fieldKey(seed, entity, field.name) }));

/** What ids a field of a reference type points into. */
export interface References {
  users: number;
  organizations: number;
  persons: number;
  deals: number;
  stages: number;
  pipelines: number;
}

const date = (r: Random) => `2026-${String(r.int(1, 12)).padStart(2, '0')}-${String(r.int(1, 28)).padStart(2, '0')}`;
const time = (r: Random) => `${String(r.int(8, 17)).padStart(2, '0')}:${r.pick(['00', '30'])}:00`;
const address = (r: Random) => {
  const [street_number, route, locality, postal_code, country] = [
    String(r.int(1, 99)),
    r.pick(['Narva mnt', 'Main Street', 'Rue de Rivoli']),
    r.pick(['Tallinn', 'Springfield', 'Paris']),
    String(r.int(10000, 99999)),
    r.pick(['Estonia', 'United States', 'France']),
  ];
  return {
    street_number,
    route,
    locality,
    postal_code,
    country,
    formatted_address: `${route} ${street_number}, ${postal_code} ${locality}, ${country}`,
  };
};

/**
 * A field's value in the v2 shape (`custom_fields[key]`): an id for enum, ids for set, `{value, currency}` for
 * monetary, `{value, until}` for ranges, an object for an address; null for about one record in six.
 */
export function v2Value(field: SimField, r: Random, refs: References): unknown {
  if (r.chance(0.15)) return null;
  const options = [...(field.options ?? []), ...(field.deleted ?? [])];
  switch (field.type) {
    case 'enum':
      return r.pick(options).id;
    case 'set':
      return [...new Set([r.pick(options).id, r.pick(options).id])].sort((a, b) => a - b);
    case 'double':
      return r.int(0, 400) / 4;
    case 'int':
      return r.int(1, 500);
    case 'monetary':
      return { value: r.int(1, 900) * 50, currency: r.pick(['EUR', 'USD']) };
    case 'date':
      return date(r);
    case 'time':
      return time(r);
    case 'daterange':
      return { value: date(r), until: date(r) };
    case 'timerange':
      return { value: time(r), until: time(r) };
    case 'user':
      return r.int(1, refs.users);
    case 'org':
      return r.int(1, refs.organizations);
    case 'people':
      return r.int(1, refs.persons);
    case 'deal':
      return r.int(1, refs.deals);
    case 'stage':
      return r.int(1, refs.stages);
    case 'pipeline':
      return r.int(1, refs.pipelines);
    case 'address': {
      const parts = address(r);
      return { value: parts.formatted_address, ...parts };
    }
    case 'phone':
      return `+372 5${r.int(100000, 999999)}`;
    default:
      return r.pick(['Website', 'Referral', 'Trade fair', 'Cold call', 'Partner', 'Grüße aus Tallinn']);
  }
}

/** The same value in v1's shape: top-level keys, with `_currency`, `_until` and address-part siblings; enum and set
 * options as strings ("190", "1,4"). */
export function v1Values(field: SimField, value: unknown): Json {
  const key = field.key;
  if (value === null) return { [key]: null };
  switch (field.type) {
    case 'enum':
      return { [key]: String(value) };
    case 'set':
      return { [key]: (value as number[]).join(',') };
    case 'monetary': {
      const { value: amount, currency } = value as { value: number; currency: string };
      return { [key]: amount, [`${key}_currency`]: currency };
    }
    case 'daterange':
    case 'timerange': {
      const { value: from, until } = value as { value: string; until: string };
      return { [key]: from, [`${key}_until`]: until };
    }
    case 'address': {
      const { value: formatted, ...parts } = value as Json;
      return {
        [key]: formatted,
        ...Object.fromEntries(Object.entries(parts).map(([part, v]) => [`${key}_${part}`, v])),
      };
    }
    default:
      return { [key]: value };
  }
}

const title = (code: string) => code.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

/** A definition as the v2 Fields API lists it; standard fields are named after a record's properties. */
export function v2Definition(field: SimField): Json {
  return {
    field_name: field.name,
    field_code: field.key,
    description: null,
    field_type: field.type,
    options: field.options ?? null,
    subfields: null,
    is_custom_field: true,
    is_optional_response_field: false,
  };
}

export const v2StandardDefinition = (code: string): Json => ({
  field_name: title(code),
  field_code: code,
  description: null,
  field_type: 'varchar',
  options: null,
  subfields: null,
  is_custom_field: false,
  is_optional_response_field: false,
});

/** A definition as v1's `/noteFields` lists it. */
export function v1Definition(field: SimField | { key: string; name: string; type: string }, id: number): Json {
  const custom = 'options' in field || /^[0-9a-f]{40}$/.test(field.key);
  return {
    id,
    key: field.key,
    name: field.name,
    field_type: field.type,
    active_flag: true,
    edit_flag: custom,
    bulk_edit_allowed: true,
    mandatory_flag: false,
    ...('options' in field && field.options ? { options: field.options } : {}),
  };
}

// ---- What the warehouse should get: the rule for custom fields, written again here (apart from the connector's)
// so that tests check the connector against an independent version of it.

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
];
/** Every column a field of `type` named `name` fills: its own, and its siblings. */
function columnsOfType(name: string, type: string): string[] {
  const siblings =
    type === 'monetary'
      ? ['currency']
      : type === 'daterange' || type === 'timerange'
        ? ['until']
        : type === 'address'
          ? ADDRESS_PARTS
          : [];
  return [name, ...siblings.map((sibling) => `${name}_${sibling}`)];
}

const baseName = (name: string) =>
  name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
    .join('_');

/**
 * The column a custom field should be emitted under, given the entity's custom fields and its standard properties: its
 * name, unless that is empty, starts with a digit, or one of the columns it fills (siblings included) is a standard
 * property or a column another field's name fills; then its name and the shortest prefix of its key (6, 10, 16 or 40
 * characters) that leaves its columns to it alone, the fields that need one taken in the order of their keys.
 */
export function expectedColumn(field: SimField, fields: readonly SimField[], standard: ReadonlySet<string>): string {
  const natural = (f: SimField) => columnsOfType(baseName(f.name), f.type);
  const clashes = (f: SimField) =>
    baseName(f.name) === '' ||
    /^\d/.test(baseName(f.name)) ||
    natural(f).some(
      (column) => standard.has(column) || fields.some((other) => other !== f && natural(other).includes(column)),
    );
  if (!clashes(field)) return baseName(field.name);
  const taken = new Set([...standard, ...fields.filter((f) => !clashes(f)).flatMap(natural)]);
  for (const other of fields.filter(clashes).sort((a, b) => (a.key < b.key ? -1 : 1))) {
    for (const length of [6, 10, 16, 40]) {
      const column = `${baseName(other.name)}_${other.key.slice(0, length)}`;
      const columns = columnsOfType(column, other.type);
      if (columns.some((c) => taken.has(c))) continue;
      if (other === field) return column;
      for (const c of columns) taken.add(c);
      break;
    }
  }
  throw new Error(`no column for field ${field.key}`);
}

/** The properties a custom field's (v2-shaped) value should reach the warehouse as, under `column`. */
export function expectedValues(field: SimField, column: string, value: unknown): Json {
  const labels = new Map([...(field.options ?? []), ...(field.deleted ?? [])].map((o) => [o.id, o.label]));
  const deleted = new Set((field.deleted ?? []).map((o) => o.id));
  const label = (id: number) => (deleted.has(id) ? String(id) : (labels.get(id) ?? String(id)));
  const v = value as Json | null;
  switch (field.type) {
    case 'enum':
      return { [column]: value === null ? null : label(value as number) };
    case 'set':
      return { [column]: value === null ? null : (value as number[]).map(label) };
    case 'monetary':
      return { [column]: v?.value ?? null, [`${column}_currency`]: v?.currency ?? null };
    case 'daterange':
    case 'timerange':
      return { [column]: v?.value ?? null, [`${column}_until`]: v?.until ?? null };
    case 'address': {
      return {
        [column]: v?.formatted_address ?? null,
        ...Object.fromEntries(ADDRESS_PARTS.map((part) => [`${column}_${part}`, v?.[part] ?? null])),
      };
    }
    default:
      return { [column]: value };
  }
}
