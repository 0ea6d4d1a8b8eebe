// Custom fields as typed, readable columns with option labels, and the field definitions as streams. The simulator
// knows what every custom field should become (simulator/fields.ts, written apart from the connector's rule).
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { AirbyteCatalog } from '../src/generated/airbyte-protocol.js';
import { STREAMS, fieldsCarrier } from '../src/pipedrive/streams/table.js';
import { customFieldMapper } from '../src/pipedrive/streams/custom-fields/types.js';
import { expectedColumn, fieldKey, type FieldEntity, type SimField } from '../simulator/fields.js';
import type { PipedriveSimulator } from '../simulator/server.js';
import { runCli, tempFile, traceErrors } from './helpers/cli.js';
import { configFor, useSimulator } from './helpers/simulator.js';
import { ALL, configuredFrom, discover, expectValidRecords, sync, type Sync } from './helpers/sync.js';

type Schema = { type?: string[]; format?: string; items?: Schema; properties?: Record<string, Schema> } & Record<
  string,
  unknown
>;

const HASH = /^[0-9a-f]{40}/;
const ENTITIES: FieldEntity[] = ['deal', 'person', 'organization', 'product', 'activity', 'project', 'note'];

/** A stream's standard properties, from its schema file. */
function standardProperties(stream: string): Set<string> {
  const file = new URL(`../src/pipedrive/streams/schemas/${stream}.json`, import.meta.url);
  const schema = JSON.parse(readFileSync(file, 'utf8')) as { properties: Record<string, unknown> };
  return new Set(Object.keys(schema.properties).filter((key) => key !== 'custom_fields'));
}

/** The columns beside its own that a custom field fills, by type (the README's rule). */
const SIBLINGS: Record<string, string[]> = {
  monetary: ['currency'],
  daterange: ['until'],
  timerange: ['until'],
  address: [
    'street_number',
    'route',
    'subpremise',
    'sublocality',
    'locality',
    'admin_area_level_1',
    'admin_area_level_2',
    'country',
    'postal_code',
  ],
};

/** Whatever the naming rule: every property of a readable schema is a standard property or is filled by exactly one
 * custom field (its column, or a sibling of it), so no value can overwrite another. */
function expectColumnsOwned(schema: Schema, stream: string): void {
  // The schema files' properties, and the deletion marker discover adds.
  const standard = new Set([...standardProperties(stream), '_ab_cdc_deleted_at']);
  const owner = new Map<string, string>();
  for (const [column, property] of Object.entries(schema.properties ?? {})) {
    const field = property['x-pipedrive-field'] as { key: string; field_type: string } | undefined;
    if (!field) continue;
    for (const filled of [column, ...(SIBLINGS[field.field_type] ?? []).map((sibling) => `${column}_${sibling}`)]) {
      expect(standard.has(filled), `${stream}.${filled} is a standard property`).to.equal(false);
      expect(owner.get(filled), `${stream}.${filled} is filled by two fields`).to.equal(undefined);
      owner.set(filled, field.key);
    }
  }
  for (const column of Object.keys(schema.properties ?? {}))
    expect(standard.has(column) || owner.has(column), `${stream}.${column} belongs to nobody`).to.equal(true);
}

const schemaOf = (catalog: AirbyteCatalog, stream: string) =>
  catalog.streams.find((s) => s.name === stream)?.json_schema as Schema;

/** The column the simulator says a field of `entity` should have. */
function columnOf(sim: PipedriveSimulator, entity: FieldEntity, name: string): string {
  const fields = sim.dataset.fields[entity];
  const field = fields.find((f) => f.name === name);
  if (!field) throw new Error(`no ${entity} field ${name}`);
  return expectedColumn(field, fields, standardProperties(fieldsCarrier(entity).name));
}

/** Every record of a carrier stream, as the simulator says it should reach the warehouse. */
function expectedRecords(sim: PipedriveSimulator, s: Sync, entity: FieldEntity): Record<string, unknown>[] {
  const stream = fieldsCarrier(entity).name;
  const standard = standardProperties(stream);
  return (s.records.get(stream) ?? []).map((record) => {
    const raw = sim.dataset.table(stream).get(Number(record.id)) ?? {};
    const expected = sim.dataset.readable(entity, raw, standard);
    return Object.fromEntries(Object.keys(expected).map((key) => [key, record[key]]));
  });
}

describe('custom fields', function () {
  this.timeout(60_000);

  describe('discover', () => {
    const sim = useSimulator({}, true);

    it('declares every custom field as a typed, nullable column named after the field, from seven definition lists', async () => {
      const catalog = await discover(sim());
      // One list per entity: six v2 Fields lists at 10 tokens, /v1/noteFields at 20.
      expect(
        sim()
          .requests.map((r) => r.path)
          .sort(),
      ).to.deep.equal(
        [
          '/api/v2/activityFields',
          '/api/v2/dealFields',
          '/api/v2/organizationFields',
          '/api/v2/personFields',
          '/api/v2/productFields',
          '/api/v2/projectFields',
          '/v1/noteFields',
        ].sort(),
      );
      expect(sim().stats.tokensSpent).to.equal(80);
      for (const entity of ENTITIES) {
        const stream = fieldsCarrier(entity).name;
        const properties = schemaOf(catalog, stream).properties ?? {};
        expect(
          Object.keys(properties).filter((name) => HASH.test(name)),
          stream,
        ).to.deep.equal([]);
        expect(properties, stream).to.not.have.property('custom_fields');
        expectColumnsOwned(schemaOf(catalog, stream), stream);
        for (const field of sim().dataset.fields[entity]) {
          const column = columnOf(sim(), entity, field.name);
          expect(properties[column], `${stream}.${column}`).to.deep.include({
            'x-pipedrive-field': { key: field.key, field_type: field.type },
          });
        }
      }
    });

    it('names: normalised, suffixed with the key where empty, starting with a digit, or clashing', async () => {
      const catalog = await discover(sim());
      const deals = schemaOf(catalog, 'deals').properties ?? {};
      const key = (name: string) => fieldKey(sim().dataset.seed, 'deal', name).slice(0, 6);
      const named = (column: string) =>
        (deals[column]?.['x-pipedrive-field'] as { key: string } | undefined)?.key.slice(0, 6);
      expect(named('customer_type')).to.equal(key('Customer type'));
      // "Größe des Kunden": NFKD drops the umlaut; ß is not a letter of [a-z0-9].
      expect(named('gro_e_des_kunden')).to.equal(key('Größe des Kunden'));
      // "Value" would be the deal's own value: the custom one takes its key's first six characters.
      expect(named(`value_${key('Value')}`)).to.equal(key('Value'));
      expect(deals.value?.['x-pipedrive-field']).to.equal(undefined);
      expect(named(`region_${key('Region')}`)).to.equal(key('Region'));
      expect(named(`region_${key('Region!')}`)).to.equal(key('Region!'));
      expect(named(`2nd_contact_${key('2nd contact')}`)).to.equal(key('2nd contact'));
      expect(named(`_${key('★')}`)).to.equal(key('★'));
      // On persons, "Value" clashes with nothing.
      expect(schemaOf(catalog, 'persons').properties).to.have.property('value');
    });

    it('types: numbers, integers, dates, labels, lists of labels, amounts with their currency, ranges, addresses', async () => {
      const deals = schemaOf(await discover(sim()), 'deals').properties ?? {};
      const type = (column: string) => deals[column]?.type;
      expect(type('discount_rate')).to.deep.equal(['number', 'null']);
      expect(type('seats')).to.deep.equal(['integer', 'null']);
      expect(type('account_manager')).to.deep.equal(['integer', 'null']);
      expect(type('lead_source')).to.deep.equal(['string', 'null']);
      expect(type('customer_type')).to.deep.equal(['string', 'null']);
      expect(deals.product_lines).to.deep.include({ type: ['array', 'null'], items: { type: 'string' } });
      expect(deals.renewal_date).to.deep.include({ type: ['string', 'null'], format: 'date' });
      expect(type('contract_value')).to.deep.equal(['number', 'null']);
      expect(type('contract_value_currency')).to.deep.equal(['string', 'null']);
      expect(deals.trial_period_until).to.deep.include({ type: ['string', 'null'], format: 'date' });
      expect(type('office_hours_until')).to.deep.equal(['string', 'null']);
      expect(type('billing_address')).to.deep.equal(['string', 'null']);
      expect(type('billing_address_locality')).to.deep.equal(['string', 'null']);
    });

    it('in raw mode, declares custom fields as the API returns them, and reads no definitions', async () => {
      const catalog = await discover(sim(), { custom_fields: 'raw' });
      expect(sim().requests).to.deep.equal([]);
      expect(schemaOf(catalog, 'deals').properties).to.have.property('custom_fields');
      expect(schemaOf(catalog, 'deals').properties).to.not.have.property('customer_type');
    });
  });

  describe('read', () => {
    const sim = useSimulator();
    let catalog: AirbyteCatalog;
    let full: Sync;
    before(async () => {
      catalog = await discover(sim());
      // The default streams, and the opt-in projects with their field definitions.
      const streams = [...ALL, 'projects', 'project_fields'];
      full = await sync(sim(), { catalog: configuredFrom(catalog, 'full_refresh', streams) });
    });

    it('emits every custom field under its column, with labels for options (a deleted one as its id), and no 40-character key', () => {
      expect(full.run.exitCode).to.equal(0);
      for (const entity of ENTITIES) {
        const stream = fieldsCarrier(entity).name;
        const records = full.records.get(stream) ?? [];
        expect(records, stream).to.not.have.length(0);
        expect(
          records.flatMap((r) => Object.keys(r).filter((key) => HASH.test(key))),
          stream,
        ).to.deep.equal([]);
        expect(
          records.filter((r) => 'custom_fields' in r),
          stream,
        ).to.deep.equal([]);
        // As JSON: a property the simulator holds as undefined is absent from what reaches stdout. (Deletions are
        // test/deletions.test.ts's.)
        const withoutDeletions = records.map(({ _ab_cdc_deleted_at: _, ...record }) => record);
        expect(JSON.parse(JSON.stringify(withoutDeletions)), stream).to.deep.equal(
          JSON.parse(JSON.stringify(expectedRecords(sim(), full, entity))),
        );
      }
      const labels = new Set(full.records.get('deals')?.map((deal) => deal.customer_type));
      expect([...labels].sort()).to.deep.equal(['192', 'Company', 'Private person', null].sort());
    });

    it('every record validates against its discovered schema', () => {
      expectValidRecords(full.records, catalog);
    });

    it('the field-definition streams of each entity give every definition, with the column of each custom field', () => {
      for (const entity of ENTITIES) {
        const stream = STREAMS.find((s) => s.kind === 'fields' && s.entity === entity)?.name ?? '';
        const definitions = full.records.get(stream) ?? [];
        expect(
          definitions
            .filter((d) => d.is_custom_field)
            .map((d) => d.key)
            .sort(),
          stream,
        ).to.deep.equal(
          sim()
            .dataset.fields[entity].map((f: SimField) => f.key)
            .sort(),
        );
        const properties = schemaOf(catalog, fieldsCarrier(entity).name).properties ?? {};
        for (const definition of definitions) {
          if (!definition.is_custom_field) {
            expect(definition.column_name, `${stream} ${String(definition.key)}`).to.equal(null);
            continue;
          }
          const column = String(definition.column_name);
          expect(properties[column]?.['x-pipedrive-field'], `${stream} ${column}`).to.deep.include({
            key: definition.key,
          });
        }
      }
    });

    it('incrementally: a changed custom field arrives under its column with its new label', async () => {
      const data = sim().dataset;
      const field = data.fields.deal.find((f) => f.name === 'Customer type')!;
      const deal = data.tables.deals.get(21)!;
      data.update('deals', 21, { custom_fields: { ...(deal.custom_fields as object), [field.key]: 191 } });
      const next = await sync(sim(), { catalog: configuredFrom(catalog, 'incremental', ['deals']), state: full.state });
      expect(next.records.get('deals')?.find((d) => d.id === 21)).to.include({ customer_type: 'Company' });
    });
  });

  describe('schema changes', () => {
    const sim = useSimulator({}, true);

    it('a field added in Pipedrive appears at the next discover; until then a read leaves it out', async () => {
      const before = await discover(sim());
      const key = fieldKey(sim().dataset.seed, 'deal', 'Churn risk');
      sim().dataset.addField('deal', { key, name: 'Churn risk', type: 'double' });
      const old = await sync(sim(), {
        streams: ['deals'],
        mode: 'full_refresh',
        catalog: configuredFrom(before, 'full_refresh', ['deals']),
      });
      expect(old.records.get('deals')?.[0]).to.not.have.property('churn_risk');
      expect(Object.keys(old.records.get('deals')?.[0] ?? {}).filter((k) => HASH.test(k))).to.deep.equal([]);
      const after = await discover(sim());
      expect(schemaOf(after, 'deals').properties).to.have.property('churn_risk');
      const fresh = await sync(sim(), {
        streams: ['deals'],
        mode: 'full_refresh',
        catalog: configuredFrom(after, 'full_refresh', ['deals']),
      });
      expect(fresh.records.get('deals')?.[0]).to.have.property('churn_risk');
    });

    it('a renamed field gets its new column at the next discover, unless custom_field_names pins it', async () => {
      const field = sim().dataset.fields.deal.find((f) => f.name === 'Lead source')!;
      sim().dataset.renameField('deal', field.key, 'Origin');
      expect(schemaOf(await discover(sim()), 'deals').properties)
        .to.have.property('origin')
        .and.not.have.property('lead_source');
      const pinned = { custom_field_names: [{ field_key: field.key, column_name: 'lead_source' }] };
      const catalog = await discover(sim(), pinned);
      expect(schemaOf(catalog, 'deals').properties).to.have.property('lead_source').and.not.have.property('origin');
      const s = await sync(sim(), {
        streams: ['deals', 'deal_fields'],
        mode: 'full_refresh',
        config: pinned,
        catalog: configuredFrom(catalog, 'full_refresh', ['deals', 'deal_fields']),
      });
      expect(s.records.get('deals')?.[0]).to.have.property('lead_source');
      expect(s.records.get('deal_fields')?.find((d) => d.key === field.key)).to.include({
        name: 'Origin',
        column_name: 'lead_source',
      });
    });

    it('every column a field makes (_currency, _until, address parts) is its own: no field overwrites another', async () => {
      const data = sim().dataset;
      const add = (entity: FieldEntity, name: string, type: string) =>
        data.addField(entity, { key: fieldKey(data.seed, entity, name), name, type });
      // In both orders: the clash must not depend on which field comes first.
      add('deal', 'Budget', 'monetary');
      add('deal', 'Budget currency', 'varchar');
      add('person', 'Budget currency', 'varchar');
      add('person', 'Budget', 'monetary');
      add('organization', 'Stay', 'daterange');
      add('organization', 'Stay until', 'date');
      add('organization', 'HQ', 'address');
      add('organization', 'HQ locality', 'varchar');
      // A field whose natural column is another's suffixed one.
      add('deal', `Budget ${fieldKey(data.seed, 'deal', 'Budget').slice(0, 6)}`, 'varchar');
      const catalog = await discover(sim());
      const streams = ['deals', 'persons', 'organizations'];
      for (const stream of streams) expectColumnsOwned(schemaOf(catalog, stream), stream);
      const deals = schemaOf(catalog, 'deals').properties ?? {};
      expect(deals.budget_currency).to.equal(undefined);
      const s = await sync(sim(), { catalog: configuredFrom(catalog, 'full_refresh', streams) });
      expect(s.run.exitCode).to.equal(0);
      for (const entity of ['deal', 'person', 'organization'] as const) {
        const stream = fieldsCarrier(entity).name;
        const records = (s.records.get(stream) ?? []).map(({ _ab_cdc_deleted_at: _, ...record }) => record);
        expect(JSON.parse(JSON.stringify(records)), stream).to.deep.equal(
          JSON.parse(JSON.stringify(expectedRecords(sim(), s, entity))),
        );
      }
      expectValidRecords(s.records, catalog);
    });

    it('a pinned column that clashes with a column of another pinned field is a config_error naming both fields', async () => {
      const data = sim().dataset;
      const budget = fieldKey(data.seed, 'deal', 'Budget');
      data.addField('deal', { key: budget, name: 'Budget', type: 'monetary' });
      const lead = data.fields.deal.find((f) => f.name === 'Lead source')!;
      const pins = [
        { field_key: budget, column_name: 'spend' },
        { field_key: lead.key, column_name: 'spend_currency' },
      ];
      const run = await runCli(['discover', '--config', tempFile(configFor(sim(), { custom_field_names: pins }))]);
      expect(run.exitCode).to.equal(1);
      const [error] = traceErrors(run);
      expect(error).to.deep.include({ failure_type: 'config_error' });
      expect(error!.message).to.include(budget).and.include(lead.key).and.include('spend_currency');
    });

    it('a pinned column wins over a field whose name would give the same column: that field takes its key suffix', async () => {
      const lead = sim().dataset.fields.deal.find((f) => f.name === 'Lead source')!;
      const seats = sim().dataset.fields.deal.find((f) => f.name === 'Seats')!;
      const config = { custom_field_names: [{ field_key: seats.key, column_name: 'lead_source' }] };
      const deals = schemaOf(await discover(sim(), config), 'deals').properties ?? {};
      expect(deals.lead_source?.['x-pipedrive-field']).to.deep.include({ key: seats.key });
      expect(deals[`lead_source_${lead.key.slice(0, 6)}`]?.['x-pipedrive-field']).to.deep.include({ key: lead.key });
    });

    /** A read of deals whose configured catalog has the column `lead_source` moved by `move`: a config_error of deals
     * that emits no record. Its message. */
    async function refusedCatalog(move: (properties: Record<string, Schema>, column: Schema) => void): Promise<string> {
      const catalog = await discover(sim());
      const properties = schemaOf(catalog, 'deals').properties!;
      move(properties, properties.lead_source!);
      delete properties.lead_source;
      const s = await sync(sim(), { catalog: configuredFrom(catalog, 'full_refresh', ['deals']) });
      expect(s.run.exitCode).to.equal(1);
      expect(s.records.get('deals') ?? []).to.have.length(0);
      const [error] = traceErrors(s.run);
      expect(error).to.deep.include({ failure_type: 'config_error', stream_descriptor: { name: 'deals' } });
      return error!.message;
    }

    it("a configured catalog whose columns clash (an earlier version's) is a config_error that says to refresh the schema", async () => {
      // The text field "Lead source" under the column of the amount field "Contract value"'s currency.
      const message = await refusedCatalog((properties, column) => (properties.contract_value_currency = column));
      expect(message).to.include('contract_value_currency').and.include('Refresh the source schema');
    });

    it('a configured catalog that names a column __proto__ is a config_error: its values would vanish', async () => {
      // A JSON key, as a catalog file has it (an assignment would set the prototype).
      const message = await refusedCatalog((properties, column) =>
        Object.defineProperty(properties, '__proto__', { value: column, enumerable: true }),
      );
      expect(message).to.include('"__proto__"');
    });

    it('a configured column is only a name, whatever its characters: quotes, backslashes, line breaks, code', async () => {
      // The mapper is compiled with the column names in its code (types.ts, columnsSetter).
      const catalog = await discover(sim());
      const before = await sync(sim(), { catalog: configuredFrom(catalog, 'full_refresh', ['deals']) });
      const renamed = {
        lead_source: 'a "quoted" \\ name',
        customer_type: "x'];process.exit(3);//\n",
        contract_value: 'line\u2028${process.pid}`',
      };
      const names = new Map(Object.entries(renamed));
      const schema = schemaOf(catalog, 'deals');
      schema.properties = Object.fromEntries(
        Object.entries(schema.properties!).map(([column, property]) => [names.get(column) ?? column, property]),
      );
      const after = await sync(sim(), { catalog: configuredFrom(catalog, 'full_refresh', ['deals']) });
      expect(after.run.exitCode).to.equal(0);
      const byId = new Map((after.records.get('deals') ?? []).map((deal) => [deal.id, deal]));
      const deals = before.records.get('deals') ?? [];
      expect(deals.map((deal) => deal.id))
        .to.have.members([...byId.keys()])
        .and.not.have.length(0);
      for (const deal of deals) {
        const { lead_source, customer_type, contract_value, contract_value_currency, ...rest } = deal;
        const moved = {
          [renamed.lead_source]: lead_source,
          [renamed.customer_type]: customer_type,
          [renamed.contract_value]: contract_value,
          [`${renamed.contract_value}_currency`]: contract_value_currency,
        };
        expect(byId.get(deal.id)).to.deep.equal({ ...rest, ...moved });
      }
    });

    it('a pinned column that is a standard property is a config_error naming the field', async () => {
      const field = sim().dataset.fields.deal[0]!;
      const config = configFor(sim(), { custom_field_names: [{ field_key: field.key, column_name: 'title' }] });
      const run = await runCli(['discover', '--config', tempFile(config)]);
      expect(run.exitCode).to.equal(1);
      expect(traceErrors(run)[0]).to.deep.include({ failure_type: 'config_error' });
      expect(traceErrors(run)[0]!.message).to.include(
        `pins field ${field.key} (${JSON.stringify(field.name)}) to "title", a standard property of deals`,
      );
    });
  });

  describe('raw mode', () => {
    const sim = useSimulator();

    it('emits custom fields as the API returns them: hash keys, option ids', async () => {
      const s = await sync(sim(), {
        streams: ['deals', 'notes'],
        mode: 'full_refresh',
        config: { custom_fields: 'raw' },
      });
      const deal = s.records.get('deals')?.[0] ?? {};
      const key = sim().dataset.fields.deal.find((f) => f.name === 'Customer type')!.key;
      expect(deal.custom_fields).to.have.property(key);
      expect(deal).to.not.have.property('customer_type');
      expect(Object.keys(s.records.get('notes')?.[0] ?? {}).filter((k) => HASH.test(k))).to.not.have.length(0);
      expect(sim().requests.filter((r) => r.path.endsWith('Fields'))).to.deep.equal([]);
    });
  });
});

describe('custom-field mapper', () => {
  const column = (key: string, name: string, fieldType = 'varchar') => ({
    key,
    column: name,
    fieldType,
    options: new Map(),
  });
  const keyOf = (digit: string) => digit.repeat(40);

  it('v1: a column named like a hash key keeps its value, and every value is read before any column is stored', () => {
    // A field named with 40 hexadecimal digits; a field whose column is another field's key, read after it.
    const columns = [
      column(keyOf('1'), 'deadbeef'.repeat(5)),
      column(keyOf('2'), keyOf('3')),
      column(keyOf('3'), 'third'),
    ];
    const record: Record<string, unknown> = {
      id: 1,
      [keyOf('1')]: 'one',
      [keyOf('2')]: 'two',
      [keyOf('3')]: 'three',
      [keyOf('4')]: 'a field no column knows',
      [`${keyOf('4')}_currency`]: 'EUR',
    };
    customFieldMapper(columns, 'v1')(record);
    expect(JSON.parse(JSON.stringify(record))).to.deep.equal({
      id: 1,
      ['deadbeef'.repeat(5)]: 'one',
      [keyOf('3')]: 'two',
      third: 'three',
    });
  });

  it('v2: a field key is only a name, whatever its characters (a catalog gives it)', () => {
    const key = '"]+(globalThis.pwned=1)+["\u2028\\';
    const record: Record<string, unknown> = { id: 1, custom_fields: { [key]: 'value' } };
    customFieldMapper([column(key, 'odd')], 'v2')(record);
    expect(JSON.parse(JSON.stringify(record))).to.deep.equal({ id: 1, odd: 'value' });
    expect(globalThis).to.not.have.property('pwned');
  });
});
