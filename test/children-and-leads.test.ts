// The streams on top of the core 16 (deal products, leads, lead labels and sources, field history), through the real
// command line against the simulator: complete in both sync modes, read the cheap way, and resumable.
import { expect } from 'chai';
import { useSimulator } from './helpers/simulator.js';
import { expectDealsBatched, expectedIds, idsOf, killedSync, sync, type Sync } from './helpers/sync.js';

const HOUR = 3_600_000;
const NEW = [
  'deal_products',
  'leads',
  'lead_labels',
  'lead_sources',
  'deal_changelog',
  'person_changelog',
  'organization_changelog',
];
const INCREMENTAL_NEW = ['deal_products', 'leads', 'deal_changelog', 'person_changelog', 'organization_changelog'];

const requestsTo = (sim: ReturnType<ReturnType<typeof useSimulator>>, pattern: RegExp) =>
  sim.requests.filter((r) => pattern.test(r.path));
const CHANGELOG_PATH = /^\/v1\/(deals|persons|organizations)\/\d+\/changelog$/;

describe('streams beyond the core 16', function () {
  this.timeout(120_000);

  describe('a first sync', () => {
    const sim = useSimulator();
    let first: Sync;
    before(async () => {
      first = await sync(sim(), { streams: NEW });
    });

    it('returns every record of each new stream, each once', () => {
      expect(first.run.exitCode).to.equal(0);
      for (const stream of NEW) {
        const records = first.records.get(stream) ?? [];
        expect(idsOf(records, stream), stream).to.deep.equal(expectedIds(sim(), stream));
        expect(records.length, `${stream}: each once`).to.equal(idsOf(records, stream).length);
      }
    });

    it('reads leads from both lists, archived ones included, with the deal custom fields as readable columns', () => {
      const leads = first.records.get('leads')!;
      expect(leads.filter((lead) => lead.is_archived === true)).to.have.length.above(0);
      expect(leads.filter((lead) => lead.is_archived === false)).to.have.length.above(0);
      // No 40-hex field key remains; a column with a label instead.
      for (const lead of leads) expect(Object.keys(lead).filter((key) => /^[0-9a-f]{40}$/.test(key))).to.deep.equal([]);
      expect(leads.some((lead) => typeof lead.customer_type === 'string')).to.equal(true);
      expect(sim().requestsTo('/v1/leads')[0]!.query).to.include({ sort: 'update_time ASC', limit: '500' });
      expect(sim().requestsTo('/v1/leads/archived')[0]!.query).to.include({ sort: 'update_time DESC' });
    });

    it("gives each change its parent's id and a stable id, and reads each entity's history once", () => {
      const changes = first.records.get('deal_changelog')!;
      expect(changes.every((change) => typeof change.deal_id === 'number' && typeof change.id === 'string')).to.equal(
        true,
      );
      expect(changes.every((change) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(change.time as string))).to.equal(true);
      const counts = sim().dataset.counts;
      expect(requestsTo(sim(), CHANGELOG_PATH)).to.have.length(counts.deals + counts.persons + counts.organizations);
    });
  });

  describe('cost', () => {
    const sim = useSimulator({ size: { deals: 1000 } }, true);

    it('reads the products of 1,000 deals in 10 requests, 100 deals each, not one request per deal', async () => {
      const s = await sync(sim(), { streams: ['deal_products'] });
      expectDealsBatched(sim(), s, 'deal_products', '/api/v2/deals/products');
    });
  });

  describe('incremental syncs', () => {
    const sim = useSimulator({}, true);

    it('read only what changed: the products and new changes of changed deals, changed leads; nothing else', async () => {
      const first = await sync(sim(), { streams: NEW });
      expect(first.run.exitCode).to.equal(0);
      sim().clock.advance(HOUR);
      const data = sim().dataset;
      data.update('deals', 11, { title: 'Renamed deal' });
      data.remove('deals', 12);
      data.update('persons', 6, { name: 'Renamed person' });
      const lead = data.tables.leads.get(5)!.id as string;
      data.update('leads', lead, { title: 'Renamed lead' });
      const added = data.add('leads').id as string;
      sim().clock.advance(HOUR);
      sim().reset();
      const second = await sync(sim(), { streams: NEW, state: first.state });
      expect(second.run.exitCode).to.equal(0);
      const idsIn = (stream: string) => idsOf(second.records.get(stream), stream);
      expect(idsIn('deal_products')).to.deep.equal(
        [...data.dealProducts(11), ...data.dealProducts(12)].map((p) => p.id).sort((a, b) => Number(a) - Number(b)),
      );
      // One new change each, at the time of the update; nothing older is read again.
      expect((second.records.get('deal_changelog') ?? []).map((c) => c.deal_id).sort()).to.deep.equal([11, 12]);
      expect((second.records.get('person_changelog') ?? []).map((c) => c.person_id)).to.deep.equal([6]);
      expect(second.records.get('organization_changelog') ?? []).to.have.length(0);
      expect(idsIn('leads')).to.include.members([lead, added]);
      expect(idsIn('leads').length).to.be.at.most(4);
      // Only the changed parents were visited: one products request, one changelog request per changed entity.
      expect(sim().requestsTo('/api/v2/deals/products')).to.have.length(1);
      expect(
        requestsTo(sim(), CHANGELOG_PATH)
          .map((r) => r.path)
          .sort(),
      ).to.deep.equal(['/v1/deals/11/changelog', '/v1/deals/12/changelog', '/v1/persons/6/changelog']);
    });

    it('with nothing changed, make one request per list and no per-entity call', async () => {
      const first = await sync(sim(), { streams: NEW });
      sim().clock.advance(HOUR);
      sim().reset();
      const second = await sync(sim(), { streams: NEW, state: first.state });
      expect(second.run.exitCode).to.equal(0);
      const paths = sim()
        .requests.map((r) => r.path)
        .sort();
      expect(paths).to.deep.equal(
        [
          '/api/v2/deals',
          '/api/v2/deals/archived',
          '/api/v2/organizations',
          '/api/v2/persons',
          '/v1/leadLabels',
          '/v1/leadSources',
          '/v1/leads',
          '/v1/leads/archived',
        ].sort(),
      );
      for (const stream of INCREMENTAL_NEW) expect(second.records.get(stream) ?? [], stream).to.have.length.at.most(2);
    });

    it('resume from the last STATE of a sync killed midway without losing a record', async () => {
      const streams = ['deal_products', 'leads', 'deal_changelog'];
      const config = { page_size: 50 };
      const killed = await killedSync(
        sim(),
        { streams, config },
        (message) => message.type === 'STATE' && message.state!.stream!.stream_descriptor.name === 'leads',
      );
      const resumed = await sync(sim(), { streams, config, state: killed.state });
      expect(resumed.run.exitCode).to.equal(0);
      for (const stream of streams) {
        const union = idsOf([...(killed.records.get(stream) ?? []), ...(resumed.records.get(stream) ?? [])], stream);
        expect(union, stream).to.deep.equal(expectedIds(sim(), stream));
      }
    });
  });
});
