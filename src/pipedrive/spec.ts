// What every command needs before anything else is loaded: the spec, and where a config keeps its secrets.
import { packageFile, readJson } from '../airbyte/paths.js';
import type { ConnectorSpecification } from '../generated/airbyte-protocol.js';

export const spec = readJson<ConnectorSpecification>(packageFile('spec.json'));

/** A property of spec.json's connectionSpecification, as far as the connector reads it. */
export interface PropertySpec {
  pattern_descriptor?: string;
  airbyte_secret?: boolean;
  properties?: Record<string, PropertySpec>;
  oneOf?: PropertySpec[];
  const?: unknown;
}
export const specSchema = spec.connectionSpecification as { properties: Record<string, PropertySpec> };

/** The values of the config's `airbyte_secret` properties, nested ones (`credentials.…`) included, to mask in every
 * message. */
export function secretsOf(raw: unknown, properties: Record<string, PropertySpec> = specSchema.properties): string[] {
  if (raw === null || typeof raw !== 'object') return [];
  return Object.entries(properties).flatMap(([name, property]) => {
    const value = (raw as Record<string, unknown>)[name];
    if (property.airbyte_secret) return typeof value === 'string' ? [value, value.trim()] : [];
    const nested = [property, ...(property.oneOf ?? [])].flatMap((schema) => (schema.properties ? [schema] : []));
    return nested.flatMap((schema) => secretsOf(value, schema.properties));
  });
}
