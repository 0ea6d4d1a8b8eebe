// Deletions reach the warehouse: every record that represents a deletion carries _ab_cdc_deleted_at.
import { expect } from 'chai';
import { DELETED_AT } from '../src/pipedrive/streams/catalog.js';
import { useSimulator } from './helpers/simulator.js';
import { discover, INCREMENTAL, sync } from './helpers/sync.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
/** The streams whose records can be deletions. */
const DELETABLE = [
  'deals',
  'deal_products',
  'deal_installments',
  'deal_participants',
  'deal_followers',
  'person_followers',
  'organization_followers',
  'product_followers',
  'product_variations',
  'persons',
  'organizations',
  'activities',
  'products',
  'notes',
  'files',
  'filters',
];

describe('deletions', function () {
  this.timeout(60_000);
  const sim = useSimulator({}, true);

  it('every stream whose records can be deletions declares _ab_cdc_deleted_at, as a nullable date-time', async () => {
    const catalog = await discover(sim());
    for (const stream of catalog.streams) {
      const property = (stream.json_schema as { properties: Record<string, unknown> }).properties[DELETED_AT];
      if (DELETABLE.includes(stream.name))
        expect(property, stream.name).to.deep.include({ type: ['string', 'null'], format: 'date-time' });
      else expect(property, stream.name).to.equal(undefined);
    }
  });

  it('an incremental sync emits every row deleted since the previous one, and a purged one, with _ab_cdc_deleted_at', async () => {
    const first = await sync(sim(), { streams: INCREMENTAL });
    expect(first.run.exitCode).to.equal(0);
    sim().clock.advance(HOUR);
    const data = sim().dataset;
    const deleted: Record<string, number> = {
      deals: 12,
      persons: 7,
      organizations: 8,
      activities: 9,
      products: 10,
      notes: 11,
      files: 12,
      filters: 13,
    };
    for (const [stream, id] of Object.entries(deleted)) data.remove(stream as 'deals', id);
    const deletedAt = (stream: string, id: number) => {
      const time = data.tables[stream as 'deals'].time(id);
      return new Date(time).toISOString().replace('.000', '');
    };
    // A note removed for good since (Pipedrive purges deleted rows after 30 days): /v1/recents says only its id.
    data.purge('notes', 21);
    sim().clock.advance(HOUR);
    const second = await sync(sim(), { streams: INCREMENTAL, state: first.state });
    expect(second.run.exitCode).to.equal(0);
    for (const [stream, id] of Object.entries(deleted)) {
      const record = second.records.get(stream)?.find((r) => r.id === id);
      expect(record, `${stream} ${id}`).to.have.property(DELETED_AT, deletedAt(stream, id));
    }
    // Its cursor is the time of the deletion too: a destination that deduplicates keeps the version with the highest
    // cursor, so a deletion without one would lose to the row it deletes.
    const purged = second.records.get('notes')?.find((r) => r.id === 21);
    expect(purged).to.have.keys('id', 'update_time', DELETED_AT);
    expect(purged?.[DELETED_AT]).to.match(RFC3339);
    expect(purged?.update_time).to.equal(purged?.[DELETED_AT]);
    // A deleted deal's products are deleted with it, at its deletion time.
    const productsOfDeleted = (second.records.get('deal_products') ?? []).filter((r) => r.deal_id === deleted.deals);
    expect(productsOfDeleted.map((r) => r.id)).to.deep.equal(data.dealProducts(deleted.deals!).map((p) => p.id));
    for (const product of productsOfDeleted)
      expect(product).to.have.property(DELETED_AT, deletedAt('deals', deleted.deals!));
    // So are its installments, and a deleted product's variations.
    const childrenOfDeleted = [
      ['deal_installments', 'deal_id', 'deals'],
      ['product_variations', 'product_id', 'products'],
    ] as const;
    for (const [stream, key, parent] of childrenOfDeleted) {
      const children = (second.records.get(stream) ?? []).filter((r) => r[key] === deleted[parent]);
      expect(
        children.map((r) => r.id),
        stream,
      ).to.deep.equal(data.childrenOf(stream, deleted[parent]!).map((r) => r.id));
      for (const child of children)
        expect(child, stream).to.have.property(DELETED_AT, deletedAt(parent, deleted[parent]!));
    }
    const others = [...second.records].flatMap(([stream, records]) =>
      records.filter(
        (r) =>
          DELETED_AT in r &&
          !(deleted[stream] === r.id || (stream === 'notes' && r.id === 21)) &&
          !(stream === 'deal_products' && r.deal_id === deleted.deals) &&
          !childrenOfDeleted.some(([child, key, parent]) => stream === child && r[key] === deleted[parent]),
      ),
    );
    expect(others, 'records that are not deletions').to.deep.equal([]);
  });

  it('an archived deal that is deleted reaches the warehouse as a deletion too', async () => {
    const data = sim().dataset;
    data.archiveDeal(14);
    const first = await sync(sim(), { streams: ['deals'] });
    expect(first.records.get('deals')?.find((r) => r.id === 14)).to.include({ is_archived: true });
    sim().clock.advance(HOUR);
    data.remove('deals', 14);
    sim().clock.advance(HOUR);
    const second = await sync(sim(), { streams: ['deals'], state: first.state });
    expect(second.run.exitCode).to.equal(0);
    expect(second.records.get('deals')?.find((r) => r.id === 14))
      .to.include({ is_archived: true, status: 'deleted' })
      .and.to.have.property(DELETED_AT);
    expect(
      sim()
        .requestsTo('/api/v2/deals/archived')
        .every((r) => r.query.status === 'open,won,lost,deleted'),
    ).to.equal(true);
  });

  for (const [stream, gap, skew, when] of [
    ['files', 28 * DAY, 0, 'the previous sync was 28 days ago (files then come from their full list)'],
    ['files', 26.5 * DAY, DAY, 'the Date header is a day ahead and the previous sync was 26.5 days ago'],
    ['notes', 26.5 * DAY, DAY, 'the Date header is a day ahead and the previous sync was 26.5 days ago'],
  ] as const) {
    it(`${stream}: a deletion reaches the warehouse when ${when}`, async () => {
      const first = await sync(sim(), { streams: [stream] });
      sim().clock.advance(HOUR);
      sim().dataset.remove(stream, 6);
      sim().clock.advance(gap - HOUR);
      sim().dateSkewMs = skew;
      const second = await sync(sim(), { streams: [stream], state: first.state });
      sim().dateSkewMs = 0;
      expect(second.run.exitCode).to.equal(0);
      expect(second.records.get(stream)?.find((r) => r.id === 6)).to.have.property(DELETED_AT);
    });
  }

  it('a deletion made before a sync the cap cut short (its cursor moved on) still reaches the warehouse', async () => {
    const data = sim().dataset;
    const first = await sync(sim(), { streams: ['notes'] });
    sim().clock.advance(HOUR);
    data.remove('notes', 6);
    sim().clock.advance(HOUR);
    for (let id = 10; id < 20; id++) {
      sim().clock.advance(1000);
      data.update('notes', id, { content: `changed ${id}` });
    }
    sim().clock.advance(HOUR);
    // Room for a few pages of two notes: the cursor moves past the deletion, the sync is deferred.
    const cut = await sync(sim(), {
      streams: ['notes'],
      state: first.state,
      config: { page_size: 2, token_budget_per_sync: 40 },
    });
    expect(cut.run.exitCode).to.equal(0);
    sim().clock.advance(HOUR);
    const next = await sync(sim(), { streams: ['notes'], state: cut.state });
    const deletion = [cut, next]
      .flatMap((s) => s.records.get('notes') ?? [])
      .find((r) => r.id === 6 && typeof r[DELETED_AT] === 'string');
    expect(deletion, 'the deletion of note 6').to.not.equal(undefined);
  });

  it("a purged row's deletion sorts after the row, even with a Date header a day behind", async () => {
    const data = sim().dataset;
    data.update('notes', 21, { content: 'edited' });
    sim().clock.advance(HOUR);
    const first = await sync(sim(), { streams: ['notes'] });
    const live = first.records.get('notes')?.find((r) => r.id === 21);
    sim().clock.advance(HOUR);
    data.purge('notes', 21);
    sim().clock.advance(HOUR);
    sim().dateSkewMs = -DAY;
    const second = await sync(sim(), { streams: ['notes'], state: first.state });
    sim().dateSkewMs = 0;
    const purged = second.records.get('notes')?.find((r) => r.id === 21);
    // A destination keeps the version with the highest cursor.
    expect(Date.parse(String(purged?.update_time))).to.be.above(Date.parse(String(live?.update_time)));
  });

  it('a full refresh marks the deleted rows its lists still return', async () => {
    sim().dataset.remove('persons', 5);
    const s = await sync(sim(), { streams: ['deals', 'persons'], mode: 'full_refresh' });
    const deals = s.records.get('deals') ?? [];
    const deletedDeals = deals.filter((d) => d.status === 'deleted');
    expect(deletedDeals).to.not.have.length(0);
    expect(deletedDeals.filter((d) => typeof d[DELETED_AT] !== 'string')).to.deep.equal([]);
    expect(deals.filter((d) => d.status !== 'deleted' && DELETED_AT in d)).to.deep.equal([]);
    expect(s.records.get('persons')?.find((p) => p.id === 5))
      .to.have.property(DELETED_AT)
      .that.matches(RFC3339);
  });
});
