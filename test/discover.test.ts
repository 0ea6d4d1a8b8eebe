import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { catalogViolations } from '../acceptance/rules.js';
import type { AirbyteCatalog, AirbyteStream } from '../src/generated/airbyte-protocol.js';
import { STREAMS, isResumable, streamByName } from '../src/pipedrive/streams/table.js';
import { ofType, runCli, tempFile } from './helpers/cli.js';
import { CORE_STREAMS } from './helpers/contract.js';
import { configFor, useSimulator } from './helpers/simulator.js';

type Schema = { type?: unknown; properties?: Record<string, Schema>; items?: Schema; [key: string]: unknown };

const brief = JSON.parse(readFileSync(new URL('./fixtures/brief-attributes.json', import.meta.url), 'utf8')) as Record<
  string,
  string[]
>;
const briefAttributes = readFileSync(new URL('../docs/brief-attributes.md', import.meta.url), 'utf8');

/** The table of docs/brief-attributes.md, "attribute in the brief → what replaces it, or why it is gone": stream →
 * attribute → text. */
function replacedAttributes(): Map<string, Map<string, string>> {
  const table = new Map<string, Map<string, string>>();
  for (const line of briefAttributes.split('\n')) {
    const cells = /^\| *`?([a-z_]+)`? *\| *`([^`]+)` *\| *(.+?) *\|$/.exec(line);
    if (!cells) continue;
    if (!table.has(cells[1]!)) table.set(cells[1]!, new Map());
    table.get(cells[1]!)!.set(cells[2]!, cells[3]!);
  }
  return table;
}

/** `deal__title` is deal.title; `prices__[currency]__price` (or `prices__[]__price`) is price in the items of prices. */
function inSchema(schema: Schema, attribute: string): boolean {
  let node: Schema | undefined = schema;
  for (const part of attribute.split('__')) {
    node = part.startsWith('[') ? node?.items : node?.properties?.[part];
    if (!node) return false;
  }
  return true;
}

describe('discover', () => {
  let catalog: AirbyteCatalog;
  const stream = (name: string) => catalog.streams.find((s) => s.name === name)!;
  const sim = useSimulator();
  before(async () => {
    const run = await runCli(['discover', '--config', tempFile(configFor(sim()))]);
    expect(run.exitCode).to.equal(0);
    expect(run.messages).to.have.length(1);
    catalog = ofType(run, 'CATALOG')[0]!.catalog!;
  });

  it('lists every stream of the table, the 16 core streams among them', () => {
    const names = catalog.streams.map((s) => s.name);
    expect(names).to.deep.equal(STREAMS.map((s) => s.name));
    expect(names).to.include.members(Object.keys(CORE_STREAMS));
  });

  it('passes the discovery rules of the acceptance tests (valid draft-07, keys and cursors in schema, no $ref/allOf/not, additionalProperties true)', () => {
    expect(catalogViolations(catalog)).to.deep.equal([]);
  });

  it('the rule checker catches what CAT would reject', () => {
    const broken = structuredClone(catalog);
    const deals = broken.streams.find((s) => s.name === 'deals')!;
    deals.default_cursor_field = ['updated_at'];
    (deals.json_schema as Schema).properties!.title!.allOf = [{ type: 'string' }];
    (broken.streams.find((s) => s.name === 'users')!.json_schema as Schema).additionalProperties = false;
    expect(catalogViolations(broken).join('\n'))
      .to.match(/deals: cursor updated_at is not in the schema/)
      .and.match(/deals: uses allOf/)
      .and.match(/users: <root>: additionalProperties/);
  });

  it('declares keys, sync modes and cursors of the core streams as the product contract says, full_refresh first', () => {
    for (const [name, cursor] of Object.entries(CORE_STREAMS)) {
      const s = stream(name);
      expect(s.source_defined_primary_key, name).to.deep.equal([['id']]);
      expect(s.supported_sync_modes, name).to.deep.equal(cursor ? ['full_refresh', 'incremental'] : ['full_refresh']);
      expect(s.is_resumable, name).to.equal(isResumable(streamByName.get(name)!));
      if (cursor) expect(s, name).to.deep.include({ source_defined_cursor: true, default_cursor_field: [cursor] });
      else expect(s, name).to.not.have.property('default_cursor_field');
    }
  });

  it('types cursors as RFC 3339 date-times and every other field but the primary key as nullable', () => {
    for (const s of catalog.streams as AirbyteStream[]) {
      const properties = (s.json_schema as Schema).properties!;
      for (const [name, property] of Object.entries(properties)) {
        if (name === s.source_defined_primary_key?.[0]?.[0]) continue;
        expect(property.type, `${s.name}.${name}`).to.be.an('array').that.includes('null');
        expect((property.type as string[]).length, `${s.name}.${name}`).to.equal(2);
      }
      if (s.default_cursor_field)
        expect(properties[s.default_cursor_field[0]!]).to.include({
          format: 'date-time',
          airbyte_type: 'timestamp_with_timezone',
        });
    }
  });

  it('declares nested structures: person emails and phones, mail parties, product prices, note objects, goal parts', () => {
    const nested: [string, string][] = [
      ['persons', 'emails__[]__value'],
      ['persons', 'phones__[]__primary'],
      ['email_messages', 'from__[]__email_address'],
      ['email_threads', 'parties__to__[]__linked_person_id'],
      ['products', 'prices__[]__direct_cost'],
      ['notes', 'organization__name'],
      ['notes', 'person__name'],
      ['goals', 'type__params__pipeline_id'],
      ['goals', 'assignee__type'],
      ['goals', 'duration__start'],
      ['goals', 'expected_outcome__tracking_metric'],
      ['organizations', 'address__locality'],
      ['activities', 'attendees__[]__email'],
    ];
    for (const [name, path] of nested)
      expect(inSchema(stream(name).json_schema as Schema, path), `${name} ${path}`).to.equal(true);
  });

  it('covers every attribute of the product brief, or docs/brief-attributes.md says what replaces it or why it is gone', () => {
    const replaced = replacedAttributes();
    const missing: string[] = [];
    for (const [name, attributes] of Object.entries(brief)) {
      if (name === '_source') continue;
      for (const attribute of attributes) {
        if (!inSchema(stream(name).json_schema as Schema, attribute) && !replaced.get(name)?.has(attribute))
          missing.push(`${name}.${attribute}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('the docs table lists only brief attributes that the schema really lacks', () => {
    const stale: string[] = [];
    for (const [name, rows] of replacedAttributes()) {
      for (const attribute of rows.keys()) {
        if (!brief[name]?.includes(attribute) || inSchema(stream(name).json_schema as Schema, attribute))
          stale.push(`${name}.${attribute}`);
      }
    }
    expect(stale).to.deep.equal([]);
  });
});
