// Every other object a company keeps in Pipedrive (projects and their boards, phases, templates and tasks; deal
// installments and participants; product variations; followers; call logs; roles, permission sets and legacy teams;
// lead fields), through the real command line against the simulator: complete, read the cheapest correct way,
// resumable, and loud when the company's plan lacks a feature.
import { expect } from 'chai';
import { ofType } from './helpers/cli.js';
import { useSimulator } from './helpers/simulator.js';
import {
  ALL,
  configuredFrom,
  discover,
  expectValidRecords,
  expectDealsBatched,
  expectedIds,
  idsOf,
  killedSync,
  sync,
  type Sync,
} from './helpers/sync.js';

const HOUR = 3_600_000;
const FULL_TABLES = [
  'projects',
  'project_boards',
  'project_phases',
  'project_templates',
  'tasks',
  'call_logs',
  'roles',
  'role_assignments',
  'permission_sets',
  'permission_set_assignments',
  'legacy_teams',
];
const FIELDS = ['project_fields', 'lead_fields'];
const CHILDREN = [
  'deal_installments',
  'deal_participants',
  'product_variations',
  'deal_followers',
  'person_followers',
  'organization_followers',
  'product_followers',
];
const NEW = [...FULL_TABLES, ...FIELDS, ...CHILDREN];
const PER_ENTITY = /\/\d+\/|^\/v1\/permissionSets\/[0-9a-f-]{36}\//;
const PROJECT_STREAMS = [
  'projects',
  'project_boards',
  'project_fields',
  'project_phases',
  'project_templates',
  'tasks',
];

describe('every object a company keeps', function () {
  this.timeout(180_000);

  describe('a first sync', () => {
    const sim = useSimulator();
    let first: Sync;
    before(async () => {
      // deal_fields too: the columns lead_fields must name.
      first = await sync(sim(), { streams: [...NEW, 'deal_fields'] });
    });

    it('returns every record of each stream, each once, valid against its discovered schema', async () => {
      expect(first.run.exitCode).to.equal(0);
      for (const stream of NEW) {
        const records = first.records.get(stream) ?? [];
        expect(records, stream).to.not.have.length(0);
        expect(idsOf(records, stream), stream).to.deep.equal(expectedIds(sim(), stream));
        expect(records.length, `${stream}: each once`).to.equal(idsOf(records, stream).length);
      }
      expectValidRecords(
        new Map(NEW.map((stream) => [stream, first.records.get(stream) ?? []])),
        await discover(sim()),
      );
    });

    it('reads projects from both lists, archived included, with the project custom fields as readable columns', () => {
      const projects = first.records.get('projects')!;
      expect(projects.filter((project) => project.archive_time !== null)).to.have.length.above(0);
      expect(projects.filter((project) => project.archive_time === null)).to.have.length.above(0);
      for (const project of projects) {
        expect(project).to.not.have.property('custom_fields');
        expect(Object.keys(project).filter((key) => /^[0-9a-f]{40}/.test(key))).to.deep.equal([]);
      }
      const named = (first.records.get('project_fields') ?? []).filter((field) => field.column_name !== null);
      expect(named).to.have.length(sim().dataset.fields.project.length);
      for (const { column_name } of named) expect(projects[0]).to.have.property(column_name as string);
    });

    it("names in lead_fields the deals' column of each deal custom field leads carry", () => {
      const keys = new Set(sim().dataset.fields.deal.map((field) => field.key));
      const custom = (first.records.get('lead_fields') ?? []).filter((field) => keys.has(field.key as string));
      expect(custom).to.have.length(keys.size);
      const dealColumns = new Map(
        (first.records.get('deal_fields') ?? []).map((field) => [field.key, field.column_name]),
      );
      for (const field of custom) {
        expect(field.column_name, String(field.key)).to.be.a('string');
        expect(field.column_name, String(field.key)).to.equal(dealColumns.get(field.key));
      }
    });

    it('asks for the phases of each board, and the assignments of each role and permission set; a set without any answers 404 and adds none', () => {
      const boards = sim().dataset.recordsOf('project_boards').length;
      expect(
        sim()
          .requestsTo('/api/v2/phases')
          .map((r) => r.query.board_id),
      ).to.have.length(boards);
      const sets = sim().requests.filter((r) => /^\/v1\/permissionSets\/[^/]+\/assignments$/.test(r.path));
      expect(sets).to.have.length(sim().dataset.recordsOf('permission_sets').length);
      expect(sets.filter((r) => r.status === 404)).to.have.length.above(0);
    });

    it("gives followers their parent's id and an id of parent and user; installments, variations and participants their parent's id and update time", () => {
      for (const [stream, key, parent] of [
        ['deal_followers', 'deal_id', 'deals'],
        ['person_followers', 'person_id', 'persons'],
        ['organization_followers', 'org_id', 'organizations'],
        ['product_followers', 'product_id', 'products'],
        ['deal_installments', 'deal_id', 'deals'],
        ['deal_participants', 'deal_id', 'deals'],
        ['product_variations', 'product_id', 'products'],
      ] as const) {
        const records = first.records.get(stream)!;
        expect(records, stream).to.not.have.length(0);
        for (const record of records) {
          if (stream.endsWith('_followers'))
            expect(record.id, stream).to.equal(`${String(record[key])}:${String(record.user_id)}`);
          const owner = sim().dataset.tables[parent].get(Number(record[key]));
          expect(owner, `${stream}: the parent of ${String(record.id)}`).to.not.equal(undefined);
          expect(Date.parse(record.update_time as string), stream).to.equal(Date.parse(String(owner?.update_time)));
        }
      }
    });

    it('reads call logs 50 a page, the most the list allows', () => {
      const pages = sim().requestsTo('/v1/callLogs');
      expect(pages[0]!.query.limit).to.equal('50');
      expect(pages.length).to.be.at.least(Math.ceil(sim().dataset.recordsOf('call_logs').length / 50));
    });
  });

  describe('cost', () => {
    const sim = useSimulator({ size: { deals: 1000 } }, true);

    it('reads the installments of 1,000 deals in about 10 requests, 100 deals each', async () => {
      const s = await sync(sim(), { streams: ['deal_installments'] });
      expectDealsBatched(sim(), s, 'deal_installments', '/api/v2/deals/installments');
    });
  });

  describe('incremental syncs', () => {
    const sim = useSimulator({}, true);

    it("read only changed deals' installments, participants and followers, and changed products' variations", async () => {
      const streams = [...CHILDREN];
      const first = await sync(sim(), { streams });
      expect(first.run.exitCode).to.equal(0);
      sim().clock.advance(HOUR);
      const data = sim().dataset;
      const installments = data.setInstallments(11, [
        { amount: 120, billing_date: '2027-01-01', description: 'First instalment' },
      ]);
      const variations = data.setVariations(5, [{ name: 'Large', prices: [] }]);
      data.update('persons', 6, { name: 'Renamed person' });
      sim().clock.advance(HOUR);
      sim().reset();
      const second = await sync(sim(), { streams, state: first.state });
      expect(second.run.exitCode).to.equal(0);
      const idsIn = (stream: string) => idsOf(second.records.get(stream), stream);
      expect(idsIn('deal_installments')).to.deep.equal(idsOf(installments, 'deal_installments'));
      expect(idsIn('product_variations')).to.deep.equal(idsOf(variations, 'product_variations'));
      expect((second.records.get('deal_followers') ?? []).every((f) => f.deal_id === 11)).to.equal(true);
      expect((second.records.get('person_followers') ?? []).every((f) => f.person_id === 6)).to.equal(true);
      // Only the changed parents were visited.
      const perEntity = sim()
        .requests.filter((r) => PER_ENTITY.test(r.path))
        .map((r) => r.path)
        .sort();
      expect(perEntity).to.deep.equal(
        [
          '/api/v2/deals/11/followers',
          '/api/v2/persons/6/followers',
          '/api/v2/products/5/followers',
          '/api/v2/products/5/variations',
          '/v1/deals/11/participants',
        ].sort(),
      );
      expect(sim().requestsTo('/api/v2/deals/installments')).to.have.length(1);
    });

    it('with nothing changed, every default stream makes at most one request per list and no per-entity call', async () => {
      const catalog = configuredFrom(await discover(sim()), 'incremental', ALL);
      const first = await sync(sim(), { catalog });
      expect(first.run.exitCode).to.equal(0);
      sim().clock.advance(HOUR);
      sim().reset();
      const second = await sync(sim(), { catalog, state: first.state });
      expect(second.run.exitCode).to.equal(0);
      expect(
        sim()
          .requests.filter((r) => PER_ENTITY.test(r.path))
          .map((r) => r.path),
      ).to.deep.equal([]);
      // A list is an endpoint with its own query (each mail folder, each goal filter, each item type of recents).
      const PAGING = new Set(['cursor', 'start', 'limit', 'updated_since', 'updated_until', 'since_timestamp']);
      const lists = sim().requests.map((r) =>
        JSON.stringify([r.path, Object.entries(r.query).filter(([key]) => !PAGING.has(key))]),
      );
      expect(lists.filter((list, i) => lists.indexOf(list) !== i)).to.deep.equal([]);
    });

    it('resume from the last STATE of a sync killed midway without losing a record', async () => {
      const streams = ['projects', 'tasks', 'deal_installments', 'product_variations', 'deal_followers'];
      const config = { page_size: 20 };
      const killed = await killedSync(
        sim(),
        { streams, config },
        (message) => message.type === 'RECORD' && message.record!.stream === 'deal_installments',
      );
      const resumed = await sync(sim(), { streams, config, state: killed.state });
      expect(resumed.run.exitCode).to.equal(0);
      for (const stream of streams) {
        const union = idsOf([...(killed.records.get(stream) ?? []), ...(resumed.records.get(stream) ?? [])], stream);
        expect(union, stream).to.deep.equal(expectedIds(sim(), stream));
      }
    });
  });

  describe('lists fanned out over another list', () => {
    const sim = useSimulator({}, true);

    it('page through each parent at any page size, a record its own overlap check whatever id the connector gives it', async () => {
      const streams = ['role_assignments', 'permission_set_assignments', 'project_phases'];
      const s = await sync(sim(), { streams, config: { page_size: 2 } });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of streams)
        expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(expectedIds(sim(), stream));
    });

    it('fail the stream, never complete it short, when a parent answers 410 (or a 404 the API does not document)', async () => {
      sim().inject({ kind: 'http410', path: '/v1/roles/2/assignments', times: 100 });
      sim().inject({ kind: 'http404', path: '/api/v2/phases', times: 100 });
      const s = await sync(sim(), { streams: ['role_assignments', 'project_phases', 'roles'] });
      expect(s.run.exitCode).to.equal(1);
      for (const stream of ['role_assignments', 'project_phases'])
        expect(s.statuses.get(stream)?.at(-1), stream).to.equal('INCOMPLETE');
      expect(s.statuses.get('roles')?.at(-1)).to.equal('COMPLETE');
    });
  });

  describe("a feature the company's plan lacks", () => {
    const sim = useSimulator({}, true);

    it('fails the streams that need Projects with a config_error naming it, and completes the others; exit 1', async () => {
      sim().features.projects = false;
      const s = await sync(sim(), { streams: [...PROJECT_STREAMS, 'deals', 'roles'] });
      expect(s.run.exitCode).to.equal(1);
      const errors = ofType(s.run, 'TRACE').flatMap((m) => (m.trace!.error ? [m.trace!.error] : []));
      for (const stream of PROJECT_STREAMS) {
        expect(s.statuses.get(stream)?.at(-1), stream).to.equal('INCOMPLETE');
        const error = errors.find((e) => e.stream_descriptor?.name === stream);
        expect(error?.failure_type, stream).to.equal('config_error');
        expect(error?.message, stream).to.include("needs Pipedrive's Projects add-on");
      }
      for (const stream of ['deals', 'roles']) {
        expect(s.statuses.get(stream)?.at(-1), stream).to.equal('COMPLETE');
        expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(expectedIds(sim(), stream));
      }
    });

    it('fails deal_installments alone without the installments feature, leaving deals and deal products complete', async () => {
      sim().features.installments = false;
      const s = await sync(sim(), { streams: ['deals', 'deal_products', 'deal_installments'] });
      expect(s.run.exitCode).to.equal(1);
      expect(s.statuses.get('deal_installments')?.at(-1)).to.equal('INCOMPLETE');
      const error = ofType(s.run, 'TRACE').find((m) => m.trace!.error?.stream_descriptor?.name === 'deal_installments');
      expect(error?.trace!.error!.message).to.include('installments (Growth plan and above)');
      for (const stream of ['deals', 'deal_products'])
        expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(expectedIds(sim(), stream));
    });

    it('discover keeps the projects stream, with the API shape of its custom fields and a warning', async () => {
      sim().features.projects = false;
      const catalog = await discover(sim());
      const projects = catalog.streams.find((stream) => stream.name === 'projects');
      expect(projects?.json_schema).to.have.nested.property('properties.custom_fields');
    });
  });
});
