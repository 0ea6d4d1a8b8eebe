// The static rules of Airbyte's Connector Acceptance Tests (TestSpec and TestDiscovery in
// airbyte-integrations/bases/connector-acceptance-test, tests/test_core.py), ported so that our tests and our
// acceptance runner check exactly what CAT checks. Each function returns the violations it finds.
import { Ajv } from 'ajv';
import type { AirbyteCatalog, ConnectorSpecification } from '../src/generated/airbyte-protocol.js';

type Schema = Record<string, unknown>;
type Node = { schema: Schema; path: string; depth: number };

const isObject = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every schema node under `root` (properties, items and oneOf/anyOf variants), with its JSON path. */
function nodes(root: Schema, path = '', depth = 0): Node[] {
  const found: Node[] = [{ schema: root, path: path || '<root>', depth }];
  if (isObject(root.properties)) {
    for (const [name, child] of Object.entries(root.properties))
      if (isObject(child)) found.push(...nodes(child, `${path}.${name}`, depth + 1));
  }
  if (isObject(root.items)) found.push(...nodes(root.items, `${path}[]`, depth + 1));
  for (const key of ['oneOf', 'anyOf'] as const) {
    const variants = root[key];
    if (Array.isArray(variants))
      variants.forEach((v, i) => isObject(v) && found.push(...nodes(v, `${path}.${key}[${i}]`, depth + 1)));
  }
  return found;
}

/** Keyword names used anywhere in a schema, ignoring property names. */
function keywordsUsed(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((item) => keywordsUsed(item, found));
  if (!isObject(schema)) return found;
  for (const [key, value] of Object.entries(schema)) {
    found.add(key);
    if (key === 'properties' && isObject(value)) Object.values(value).forEach((child) => keywordsUsed(child, found));
    else if (typeof value === 'object') keywordsUsed(value, found);
  }
  return found;
}

const typesOf = (schema: Schema): string[] =>
  Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [schema.type as string] : [];

const SECRET_NAMES = [
  'client_token',
  'access_token',
  'api_token',
  'token',
  'secret',
  'client_secret',
  'password',
  'key',
  'service_account_info',
  'service_account',
  'tenant_id',
  'certificate',
  'jwt',
  'credentials',
  'app_id',
  'appid',
  'refresh_token',
];
const FORBIDDEN_IN_SPEC = [
  'not',
  'anyOf',
  'patternProperties',
  'prefixItems',
  'allOf',
  'if',
  'then',
  'else',
  'dependentSchemas',
  'dependentRequired',
];

const draft7 = new Ajv({ strict: false, validateSchema: true });

/** TestSpec: the rules of test_core.py that look at the specification only. */
export function specViolations(spec: ConnectorSpecification): string[] {
  const violations: string[] = [];
  const root = spec.connectionSpecification as Schema;
  if (!isObject(root) || root.type !== 'object') violations.push('connectionSpecification must be an object schema');
  if (!draft7.validateSchema(root))
    violations.push(`connectionSpecification is not a valid JSON schema: ${draft7.errorsText(draft7.errors)}`);
  const keywords = keywordsUsed(root);
  if (keywords.has('$ref'))
    violations.push('the spec must not contain $ref (test_defined_refs_exist_in_json_spec_file)');
  for (const keyword of FORBIDDEN_IN_SPEC)
    if (keywords.has(keyword)) violations.push(`forbidden keyword ${keyword} (test_forbidden_complex_types)`);
  const orders = new Map<string, unknown[]>();
  for (const { schema, path, depth } of nodes(root)) {
    const types = typesOf(schema);
    if (Array.isArray(schema.type) && !(types.length === 1 || (types.length === 2 && types[1] === 'null'))) {
      violations.push(`${path}: a type array must be [X] or [X, "null"] (test_property_type_is_not_array)`);
    }
    if (
      depth > 0 &&
      types.includes('object') &&
      !(isObject(schema.properties) && Object.keys(schema.properties).length > 0) &&
      !schema.oneOf
    ) {
      violations.push(`${path}: an object needs properties (test_object_not_empty)`);
    }
    if (types.includes('array') && schema.items !== undefined) {
      const items = schema.items;
      const ok =
        isObject(items) &&
        (items.enum !== undefined || typesOf(items).some((t) => ['object', 'string', 'number', 'integer'].includes(t)));
      if (!ok)
        violations.push(
          `${path}: items must be one schema of type object, string, number or integer (test_array_type)`,
        );
    }
    if ('additionalProperties' in schema && schema.additionalProperties !== true) {
      violations.push(`${path}: additionalProperties may only be true (test_additional_properties_is_true)`);
    }
    if (Array.isArray(schema.enum) && new Set(schema.enum.map((v) => JSON.stringify(v))).size !== schema.enum.length) {
      violations.push(`${path}: duplicate enum values (test_enum_usage)`);
    }
    if (schema.group !== undefined && depth !== 1)
      violations.push(`${path}: group only on top-level properties (test_nested_group)`);
    if (
      schema.display_type !== undefined &&
      (!schema.oneOf || !['dropdown', 'radio'].includes(schema.display_type as string))
    ) {
      violations.push(`${path}: display_type only next to oneOf, as dropdown or radio (test_display_type)`);
    }
    const name = path.split('.').at(-1)!;
    const secretCandidate = SECRET_NAMES.includes(name) && schema.const === undefined;
    if (
      secretCandidate &&
      types.some((t) => ['string', 'integer', 'number'].includes(t)) &&
      schema.airbyte_secret !== true
    ) {
      violations.push(`${path}: must be marked airbyte_secret (test_secret_is_properly_marked)`);
    }
    if (schema.airbyte_secret === true && types.some((t) => ['boolean', 'object'].includes(t))) {
      violations.push(`${path}: booleans and objects must not be airbyte_secret (test_secret_is_properly_marked)`);
    }
    if (schema.order !== undefined && depth > 0) {
      const key = `${path.split('.').slice(0, -1).join('.')}|${String(schema.group ?? '')}`;
      const seen = orders.get(key) ?? [];
      if (seen.includes(schema.order))
        violations.push(`${path}: duplicate order ${String(schema.order)} (test_duplicate_order)`);
      orders.set(key, [...seen, schema.order]);
    }
    for (const key of ['oneOf', 'anyOf'] as const) violations.push(...oneOfViolations(schema, key, path));
  }
  return [...violations, ...oauthViolations(spec)];
}

/** test_oauth_flow_parameters and test_oauth_is_default_method: with `advanced_auth`, its predicate key and every
 * `path_in_connector_config` of its OAuth specification exist in the spec, and the variant the predicate selects is the
 * first of its `oneOf`. Nothing to check without `advanced_auth`. */
export function oauthViolations(spec: ConnectorSpecification): string[] {
  const auth = spec.advanced_auth as
    | { predicate_key?: string[]; predicate_value?: string; oauth_config_specification?: Record<string, Schema> }
    | undefined;
  if (!auth) return [];
  const root = spec.connectionSpecification as Schema;
  const violations: string[] = [];
  const key = auth.predicate_key ?? [];
  if (!specPathExists(root, key))
    violations.push(`advanced_auth.predicate_key ${key.join('.')} is not in the spec (test_oauth_flow_parameters)`);
  for (const [name, part] of Object.entries(auth.oauth_config_specification ?? {})) {
    for (const [field, property] of Object.entries((isObject(part) && part.properties) || {})) {
      const path = (property as Schema).path_in_connector_config as string[] | undefined;
      if (path && !specPathExists(root, path))
        violations.push(`${name}.${field}: ${path.join('.')} is not in the spec (test_oauth_flow_parameters)`);
    }
  }
  const parent = key.slice(0, -1).reduce<Schema | undefined>((node, part) => {
    const properties = node?.properties;
    return isObject(properties) && isObject(properties[part]) ? (properties[part] as Schema) : undefined;
  }, root);
  const first = Array.isArray(parent?.oneOf) ? (parent.oneOf[0] as Schema) : undefined;
  const discriminator = isObject(first?.properties) ? (first.properties[key.at(-1) ?? ''] as Schema) : undefined;
  if (discriminator?.const !== auth.predicate_value)
    violations.push(
      `the OAuth variant must be the first of ${key.slice(0, -1).join('.')}.oneOf (test_oauth_is_default_method)`,
    );
  return violations;
}

/** Does `path` exist in the spec, looking through properties and the variants of any `oneOf`? */
function specPathExists(schema: Schema, path: string[]): boolean {
  if (path.length === 0) return true;
  const [part, ...rest] = path;
  const candidates = [schema, ...(Array.isArray(schema.oneOf) ? (schema.oneOf as Schema[]) : [])];
  return candidates.some((candidate) => {
    const child = isObject(candidate.properties) ? candidate.properties[part!] : undefined;
    return isObject(child) && specPathExists(child as Schema, rest);
  });
}

/** test_oneof_usage: variants are objects sharing exactly one property that is a const in each of them. */
function oneOfViolations(schema: Schema, key: 'oneOf' | 'anyOf', path: string): string[] {
  const variants = schema[key];
  if (!Array.isArray(variants)) return [];
  if (schema.type !== 'object') return [`${path}: ${key} needs a parent of type object (test_oneof_usage)`];
  const propertySets = variants.map((v) => (isObject(v) && isObject(v.properties) ? v.properties : null));
  if (propertySets.some((p) => p === null))
    return [`${path}: every ${key} variant needs properties (test_oneof_usage)`];
  const common = Object.keys(propertySets[0]!).filter((name) => propertySets.every((p) => name in p!));
  const consts = common.filter((name) =>
    propertySets.every((p) => isObject(p![name]) && (p![name] as Schema).const !== undefined),
  );
  return consts.length === 1
    ? []
    : [`${path}: ${key} variants need exactly one common const property (test_oneof_usage)`];
}

/** Does `path` (e.g. ["deals", "id"]) exist under the schema's properties? */
function hasPath(schema: Schema, path: string[]): boolean {
  let node: unknown = schema;
  for (const part of path) {
    if (!isObject(node) || !isObject(node.properties) || !isObject(node.properties[part])) return false;
    node = node.properties[part];
  }
  return true;
}

/** TestDiscovery: the rules of test_core.py that look at the catalog only. */
export function catalogViolations(catalog: AirbyteCatalog): string[] {
  const violations: string[] = [];
  if (catalog.streams.length === 0) violations.push('the catalog has no streams (test_discover)');
  const names = catalog.streams.map((s) => s.name);
  if (new Set(names).size !== names.length) violations.push('stream names are not unique (test_discover)');
  for (const stream of catalog.streams) {
    const schema = stream.json_schema as Schema;
    const at = (rule: string) => `${stream.name}: ${rule}`;
    if (!draft7.validateSchema(schema))
      violations.push(
        at(`invalid draft-07 schema: ${draft7.errorsText(draft7.errors)} (test_streams_have_valid_json_schemas)`),
      );
    const keywords = keywordsUsed(schema);
    for (const keyword of ['$ref', 'allOf', 'not'])
      if (keywords.has(keyword)) violations.push(at(`uses ${keyword} (test_defined_keyword_exist_in_schema)`));
    if (stream.default_cursor_field && !hasPath(schema, stream.default_cursor_field)) {
      violations.push(
        at(
          `cursor ${stream.default_cursor_field.join('.')} is not in the schema (test_defined_cursors_exist_in_schema)`,
        ),
      );
    }
    for (const key of stream.source_defined_primary_key ?? []) {
      if (!hasPath(schema, key))
        violations.push(at(`primary key ${key.join('.')} is not in the schema (test_primary_keys_exist_in_schema)`));
      let node: Schema = schema;
      for (const part of key) node = ((node.properties as Schema | undefined)?.[part] as Schema) ?? {};
      if (typesOf(node).some((t) => t === 'object' || t === 'array'))
        violations.push(at(`primary key ${key.join('.')} is an object or array (test_primary_keys_data_type)`));
    }
    if (stream.supported_sync_modes.length === 0)
      violations.push(at('no supported sync modes (test_streams_has_sync_modes)'));
    for (const { schema: node, path } of nodes(schema)) {
      if ('additionalProperties' in node && node.additionalProperties !== true)
        violations.push(at(`${path}: additionalProperties may only be true (test_additional_properties_is_true)`));
    }
  }
  return violations;
}

/** CAT's pattern for `format: date-time` values (test_core.py, verify_records_schema). */
const CAT_DATE_TIME = /^\d{4}-\d?\d-\d?\d(\s|T)\d?\d:\d?\d:\d?\d(.\d+)?.*$/;
const recordAjv = new Ajv({ strict: false, allErrors: true });
recordAjv.addFormat('date-time', CAT_DATE_TIME);
recordAjv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);

/** Field paths of a value, as CAT's get_object_structure lists them (`/a/b`, arrays as `/a/[]`). */
function paths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((item) => paths(item, `${prefix}/[]`))];
  if (!isObject(value)) return [prefix];
  return [prefix, ...Object.entries(value).flatMap(([key, child]) => paths(child, `${prefix}/${key}`))];
}

function schemaPaths(schema: Schema, prefix = ''): string[] {
  const found = [prefix];
  if (isObject(schema.properties))
    for (const [key, child] of Object.entries(schema.properties))
      if (isObject(child)) found.push(...schemaPaths(child, `${prefix}/${key}`));
  if (isObject(schema.items)) found.push(...schemaPaths(schema.items, `${prefix}/[]`));
  return found;
}

/** TestBasicRead's record checks (validate_schema, records structure, primary keys): the violations, at most a few per stream. */
export function recordViolations(
  records: { stream: string; data: Record<string, unknown> }[],
  streams: AirbyteCatalog['streams'],
): string[] {
  const violations: string[] = [];
  const perStream = new Map<string, number>();
  const complain = (stream: string, message: string) => {
    const count = (perStream.get(stream) ?? 0) + 1;
    perStream.set(stream, count);
    if (count <= 3) violations.push(`${stream}: ${message}`);
  };
  const checks = new Map(
    streams.map((stream) => [
      stream.name,
      {
        stream,
        validate: recordAjv.compile(stream.json_schema as Schema),
        known: new Set(schemaPaths(stream.json_schema as Schema).filter(Boolean)),
      },
    ]),
  );
  for (const record of records) {
    const check = checks.get(record.stream);
    if (!check) continue;
    if (!check.validate(record.data))
      complain(
        record.stream,
        `record ${JSON.stringify(record.data).slice(0, 120)} does not match the schema: ${recordAjv.errorsText(check.validate.errors)}`,
      );
    if (!paths(record.data).some((path) => check.known.has(path)))
      complain(record.stream, 'a record shares no field with the schema');
    for (const key of check.stream.source_defined_primary_key ?? []) {
      let value: unknown = record.data;
      for (const part of key) value = isObject(value) ? value[part] : undefined;
      if (value === null || value === undefined)
        complain(record.stream, `primary key ${key.join('.')} is null or missing`);
    }
  }
  return violations;
}
