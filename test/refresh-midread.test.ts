// A full refresh read in time slices must deliver a record changed while it runs: the change moves it to the top of
// its list (or to another list) after the open-ended slice has read to the end; the stream must not end COMPLETE
// without it, since an overwrite would leave it out of the table. (Found by a cold review of the slices.)
import { expect } from 'chai';
import { ARCHIVED_BIT } from '../simulator/dataset.js';
import type { PipedriveSimulator } from '../simulator/server.js';
import { FULL_REFRESH_COMPLETE } from '../src/pipedrive/streams/state.js';
import { useSimulator } from './helpers/simulator.js';
import { idsOf, sync } from './helpers/sync.js';

const START = '2020-01-01T00:00:00Z';

type Reply = { status: number; body: string };

/**
 * Slows the first slice of /api/v2/deals (the one asked from the start date with no upper bound) and, as soon as a
 * slice created by a split (updated_since above the start date, no upper bound: the open-ended one) has been answered
 * its last page, touches the non-archived deal just below the lowest cut: a deal the slow first slice has not read
 * yet. Returns that deal's id, once chosen.
 */
function touchBehindTheSlices(sim: PipedriveSimulator): () => number | undefined {
  const simulator = sim as unknown as {
    handle: (request: { url?: string }, response: unknown) => Promise<void>;
    reply: (path: string, params: URLSearchParams, token: string, fault?: unknown) => Reply;
  };
  const handle = simulator.handle.bind(sim);
  const reply = simulator.reply.bind(sim);
  const cuts: number[] = [];
  let touched: number | undefined;
  simulator.handle = async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (
      url.pathname === '/api/v2/deals' &&
      url.searchParams.get('updated_since') === START &&
      !url.searchParams.has('updated_until')
    )
      await new Promise((resolve) => setTimeout(resolve, 300));
    return handle(request, response);
  };
  simulator.reply = (path, params, token, fault) => {
    const answer = reply(path, params, token, fault);
    const since = params.get('updated_since');
    if (path !== '/api/v2/deals' || !since || since === START) return answer;
    cuts.push(Date.parse(since));
    const openEnded = !params.has('updated_until');
    const last = JSON.parse(answer.body)?.additional_data?.next_cursor === null;
    if (openEnded && last && touched === undefined) {
      const table = sim.dataset.tables.deals;
      const lowestCut = Math.min(...cuts);
      let best: { id: number; time: number } | undefined;
      for (const id of table.order('time')) {
        const time = table.time(id);
        if (time >= lowestCut) break;
        if ((table.facet(id) & ARCHIVED_BIT) === 0) best = { id, time };
      }
      if (best) {
        touched = best.id;
        sim.dataset.update('deals', best.id, { title: 'changed during the full refresh' });
      }
    }
    return answer;
  };
  return () => touched;
}

const stateOf = (s: Awaited<ReturnType<typeof sync>>, name: string) =>
  s.state.find((e) => e.stream.stream_descriptor.name === name)?.stream.stream_state;

describe('review: a record changed while a sliced full refresh runs', function () {
  this.timeout(600_000);
  const sim = useSimulator({ size: { deals: 3_000 } }, true);
  // 120 pages of deals: enough for slices of 20 pages or more.
  const page_size = 25;

  for (const streams of [['deals'], ['deals', 'deal_products']]) {
    it(`full refresh of ${streams.join(' + ')}: the touched deal is delivered`, async function () {
      const touched = touchBehindTheSlices(sim());
      const s = await sync(sim(), { mode: 'full_refresh', streams, config: { page_size } });
      const id = touched();
      expect(id, 'a deal was touched while the read ran').to.not.equal(undefined);
      console.log(
        `      touched deal ${id}; exit ${s.run.exitCode}; deals state ${JSON.stringify(stateOf(s, 'deals'))}`,
      );
      expect(s.run.exitCode).to.equal(0);
      expect(s.statuses.get('deals')).to.include('COMPLETE');
      expect(stateOf(s, 'deals')).to.deep.equal({ [FULL_REFRESH_COMPLETE]: true });
      const ids = idsOf(s.records.get('deals')).map(Number);
      // Every deal the company has is in the table a full refresh (overwrite) leaves.
      const all = [...sim().dataset.tables.deals.order('index')].filter(
        (i) => sim().dataset.tables.deals.time(i) >= Date.parse(START),
      );
      console.log(`      deals emitted ${new Set(ids).size} of ${all.length}`);
      expect(ids, `deal ${id}, changed while the full refresh ran, is in it`).to.include(id);
    });
  }

  // A deal archived while the read runs moves from /api/v2/deals to /api/v2/deals/archived; the two lists are now read
  // at once (before, a family read them one after the other, deals first), so the archived list may be done already.
  for (const streams of [['deals'], ['deals', 'deal_products']]) {
    it(`full refresh of ${streams.join(' + ')}: a deal archived while it runs is delivered`, async function () {
      const simulator = sim() as unknown as {
        handle: (request: { url?: string }, response: unknown) => Promise<void>;
        reply: (path: string, params: URLSearchParams, token: string, fault?: unknown) => Reply;
      };
      const handle = simulator.handle.bind(sim());
      const reply = simulator.reply.bind(sim());
      simulator.handle = async (request, response) => {
        if (new URL(request.url ?? '/', 'http://x').pathname === '/api/v2/deals')
          await new Promise((resolve) => setTimeout(resolve, 150));
        return handle(request, response);
      };
      let archived: number | undefined;
      simulator.reply = (path, params, token, fault) => {
        const answer = reply(path, params, token, fault);
        const last =
          path === '/api/v2/deals/archived' && JSON.parse(answer.body)?.additional_data?.next_cursor === null;
        if (last && archived === undefined && !params.has('updated_until')) {
          // The newest deal not archived: the deals list reads it last.
          const table = sim().dataset.tables.deals;
          const order = [...table.order('time')].reverse();
          archived = order.find((id) => (table.facet(id) & ARCHIVED_BIT) === 0);
          if (archived !== undefined) sim().dataset.archiveDeal(archived);
        }
        return answer;
      };
      const s = await sync(sim(), { mode: 'full_refresh', streams, config: { page_size } });
      expect(archived).to.not.equal(undefined);
      console.log(
        `      archived deal ${archived}; exit ${s.run.exitCode}; deals state ${JSON.stringify(stateOf(s, 'deals'))}`,
      );
      expect(s.statuses.get('deals')).to.include('COMPLETE');
      expect(idsOf(s.records.get('deals')).map(Number), `deal ${archived}, archived during the read`).to.include(
        archived,
      );
    });
  }

  it('incremental deals + deal_products: the touched deal comes with the next sync (sound)', async function () {
    const touched = touchBehindTheSlices(sim());
    const first = await sync(sim(), { streams: ['deals', 'deal_products'], config: { page_size } });
    const id = touched();
    expect(id).to.not.equal(undefined);
    const second = await sync(sim(), {
      streams: ['deals', 'deal_products'],
      config: { page_size: 100 },
      state: first.state,
    });
    const ids = [...idsOf(first.records.get('deals')), ...idsOf(second.records.get('deals'))].map(Number);
    expect(ids).to.include(id);
  });
});
