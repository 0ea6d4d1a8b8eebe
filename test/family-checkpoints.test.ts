// A parent and the children that ride along on it checkpoint together as they go: after each batch of parents whose
// children are emitted, both states say so. A first sync killed late and resumed from its last STATE reads again at
// most about a batch of parents, and delivers every parent and child.
import { expect } from 'chai';
import { acknowledged } from './helpers/sync.js';
import { useSimulator } from './helpers/simulator.js';
import { expectedIds, idsOf, killedSync, parseSync, sync } from './helpers/sync.js';

const numeric = (ids: readonly (number | string)[]) => [...new Set(ids)].map(String).sort();

describe('checkpoints of a family', function () {
  this.timeout(300_000);
  const sim = useSimulator({ size: { deals: 20_000 }, burstLimit: 480 });
  const streams = ['deals', 'deal_products'];

  it('deals with deal_products checkpoint every batch, both streams', async function () {
    const s = await sync(sim(), { streams });
    expect(s.run.exitCode).to.equal(0);
    const states = (name: string) => s.stateMessages.filter((m) => m.stream!.stream_descriptor.name === name).length;
    // 20,000 deals in pages of 500: one checkpoint a batch, not one at the end.
    expect(states('deals')).to.be.at.least(40);
    expect(states('deal_products')).to.be.at.least(40);
  });

  it('a first sync killed at 90 % and resumed re-reads at most 1,000 deals, and delivers every deal and product', async function () {
    const all = expectedIds(sim(), 'deals').length;
    let deals = 0;
    const first = await killedSync(
      sim(),
      { streams },
      (message) => message.type === 'RECORD' && message.record!.stream === 'deals' && ++deals >= all * 0.9,
    );
    const committed = parseSync(first.run, acknowledged(first.run.messages));
    const mark = sim().requestsTo('/api/v2/deals/products').length;
    const second = await sync(sim(), { streams, state: first.state });
    expect(second.run.exitCode).to.equal(0);
    const before = new Set(idsOf(committed.records.get('deals')).map(String));
    const again = idsOf(second.records.get('deals')).filter((id) => before.has(String(id)));
    expect(before.size).to.be.at.least(all * 0.8);
    expect(again.length, 'deals read again').to.be.at.most(1000);
    const asked = sim()
      .requestsTo('/api/v2/deals/products')
      .slice(mark)
      .flatMap((request) => request.query.deal_ids!.split(','));
    expect(asked.filter((id) => before.has(id)).length, 'deals whose products were read again').to.be.at.most(1000);
    for (const stream of streams) {
      const delivered = [...idsOf(committed.records.get(stream), stream), ...idsOf(second.records.get(stream), stream)];
      expect(numeric(delivered), stream).to.deep.equal(numeric(expectedIds(sim(), stream)));
    }
  });
});
