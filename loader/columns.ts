// A stream's JSON schema as the typed columns of a warehouse table, as Airbyte's destinations (Destinations V2) type
// them: one column per top-level property, its type from the property's `type` and `format`; anything else (objects,
// arrays, a mix of types, no type at all) as JSON.

export type ColumnType = 'VARCHAR' | 'TIMESTAMPTZ' | 'DATE' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'JSON';

/** Column name → SQL type, in the schema's order. */
export type Columns = Map<string, string>;

/** When each record was read (its RECORD message's `emitted_at`), as Airbyte's destinations add it to every row. */
export const EXTRACTED_AT = '_airbyte_extracted_at';
/** Set on a record that represents a deletion: a deduplicated table removes its row. */
export const DELETED_AT = '_ab_cdc_deleted_at';

interface Property {
  type?: string | string[];
  format?: string;
}

const SCALARS: Record<string, ColumnType> = { integer: 'BIGINT', number: 'DOUBLE', boolean: 'BOOLEAN' };

/** The column type of one property of a JSON schema. */
export function columnType(property: Property): ColumnType {
  const types = [property.type ?? []].flat().filter((type) => type !== 'null');
  const [type] = types;
  if (types.length !== 1 || type === undefined) return 'JSON';
  if (type === 'string')
    return property.format === 'date-time' ? 'TIMESTAMPTZ' : property.format === 'date' ? 'DATE' : 'VARCHAR';
  return SCALARS[type] ?? 'JSON';
}

/** The columns of a stream's JSON schema (its top-level properties). */
export function columnsOf(schema: unknown): Columns {
  const properties = (schema as { properties?: Record<string, Property> } | undefined)?.properties ?? {};
  return new Map(Object.entries(properties).map(([name, property]) => [name, columnType(property)]));
}

/** An SQL identifier, quoted: any name a schema has (`2nd_contact`, `_04338e`, mixed case) stays as it is. */
export const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** An SQL string literal. */
export const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;
