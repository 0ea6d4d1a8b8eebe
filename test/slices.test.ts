// Time slices: one big stream read in concurrent slices of its update times, through the real command line against
// the simulator. Correctness only (every record exactly once, resume, faults); the speed is `npm run bench`'s.
import { expect } from 'chai';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { gaps, intersection, union } from '../src/pipedrive/streams/ranges.js';
import { apiTokenAuth } from '../src/pipedrive/http/auth.js';
import { PipedriveClient } from '../src/pipedrive/http/client.js';
import { LoopLoad, SlicePool, slicedBatches, slicesToAdd } from '../src/pipedrive/streams/slices.js';
import { streamByName } from '../src/pipedrive/streams/table.js';
import { TOKENS, decodeCursor, type PipedriveSimulator } from '../simulator/server.js';
import { traceErrors } from './helpers/cli.js';
import { useSimulator } from './helpers/simulator.js';
import { expectedIds, killedSync, parseSync, sync, type Sync } from './helpers/sync.js';

const SECOND = 1000;
const PER_SECOND = 10;
/** Pages of 5 records, two pages per crowded second: 120 pages of deals, so that slices of 20 pages or more split
 * several times and end inside seconds. */
const PAGE_SIZE = 5;

/** Moves every deal into the last seconds before the company's now, PER_SECOND deals per second, so that every
 * whole second a slice can start or end at holds many records. Returns the config that reads just those. */
function crowdDeals(simulator: PipedriveSimulator): Record<string, unknown> {
  const deals = simulator.dataset.tables.deals;
  const ids = Array.from(deals.order('index'));
  const seconds = Math.ceil(ids.length / PER_SECOND);
  const first = Math.floor(simulator.clock.now() / SECOND) * SECOND - seconds * SECOND;
  ids.forEach((id, i) => simulator.dataset.update('deals', id, {}, first + Math.floor(i / PER_SECOND) * SECOND));
  return { start_date: new Date(first).toISOString().replace('.000', ''), page_size: PAGE_SIZE };
}

const dealIds = (s: Sync) => (s.records.get('deals') ?? []).map((r) => r.id as number);
const sorted = (ids: Iterable<number>) => [...new Set(ids)].sort((a, b) => a - b);
const dealsState = (s: Sync) => s.state.find((m) => m.stream.stream_descriptor.name === 'deals')?.stream.stream_state;

/** The `updated_until` bounds of the requests to the deals list, epoch ms. */
const untilBounds = (simulator: PipedriveSimulator) =>
  simulator
    .requestsTo('/api/v2/deals')
    .map((r) => r.query.updated_until)
    .filter((until) => until !== undefined)
    .map((until) => Date.parse(until));

describe('time slices', function () {
  this.timeout(60_000);

  describe('ranges', () => {
    const r = (start: number, end: number) => ({ start, end });

    it('unites ranges into sorted, disjoint ones, merging those that overlap or touch and dropping empty ones', () => {
      expect(union([r(5, 7), r(1, 2), r(2, 3), r(6, 9), r(4, 4)])).to.deep.equal([r(1, 3), r(5, 9)]);
      expect(union([r(-Infinity, 0), r(0, 1)])).to.deep.equal([r(-Infinity, 1)]);
    });

    it('intersects two unions, and finds the gaps a union leaves above a start', () => {
      expect(intersection([r(0, 5), r(8, 12)], [r(3, 9), r(11, 20)])).to.deep.equal([r(3, 5), r(8, 9), r(11, 12)]);
      expect(intersection([r(0, 1)], [r(1, 2)])).to.deep.equal([]);
      expect(gaps(0, [r(-Infinity, 2), r(4, 6)])).to.deep.equal([r(2, 4), r(6, Infinity)]);
      expect(gaps(5, [r(0, 3)])).to.deep.equal([r(5, Infinity)]);
    });
  });

  // Reads split only while they wait on the network (see LOAD_TO_SPLIT): 20 ms a page, against the microseconds a
  // page of 5 records takes to emit.
  const latencyMs = 20;

  describe('reading', () => {
    const sim = useSimulator({ latencyMs }, true);

    it('emits every record exactly once, with many records in the very second a slice ends and the next begins', async () => {
      const config = crowdDeals(sim());
      const s = await sync(sim(), { streams: ['deals'], config });
      expect(s.run.exitCode).to.equal(0);
      expect(dealIds(s)).to.have.length(sim().dataset.counts.deals);
      expect(sorted(dealIds(s))).to.deep.equal(expectedIds(sim(), 'deals'));
      // It did split, at whole seconds that hold records: the boundaries were crowded.
      const crowded = untilBounds(sim()).filter((until) =>
        Array.from(sim().dataset.tables.deals.order('index')).some(
          (id) => sim().dataset.tables.deals.time(id) === until,
        ),
      );
      expect(crowded).to.have.length.above(0);
      // A complete read leaves no slices in the state, just the highest cursor.
      expect(dealsState(s)).to.not.have.property('slices_done');
    });

    it('resumes from any checkpoint in the middle of slices without losing a record, skipping finished slices', async () => {
      const config = crowdDeals(sim());
      const full = await sync(sim(), { streams: ['deals'], config });
      const checkpoints = full.run.messages.flatMap((m, i) =>
        m.type === 'STATE' && m.state!.stream!.stream_state!.slices_done ? [i] : [],
      );
      expect(checkpoints.length, 'checkpoints with slices').to.be.at.least(4);
      const cuts = [0.1, 0.4, 0.7, 0.95].map((f) => checkpoints[Math.floor(f * (checkpoints.length - 1))]!);
      for (const cut of cuts) {
        // As if killed right after this STATE: what came before it is all the warehouse holds.
        const before = parseSync(full.run, full.run.messages.slice(0, cut + 1));
        const resumed = await sync(sim(), { streams: ['deals'], config, state: before.state });
        expect(resumed.run.exitCode).to.equal(0);
        expect(sorted([...dealIds(before), ...dealIds(resumed)]), `cut at message ${cut}`).to.deep.equal(
          expectedIds(sim(), 'deals'),
        );
        // Nothing in the ranges the state says were done is read again.
        const done = ((dealsState(before)?.slices_done ?? []) as { start: string; end: string }[]).map((range) => ({
          start: Date.parse(range.start),
          end: Date.parse(range.end),
        }));
        expect(done, 'slices_done').to.have.length.above(0);
        const readAgain = (resumed.records.get('deals') ?? [])
          .map((r) => Date.parse(r.update_time as string))
          .filter((at) => done.some((range) => range.start <= at && at < range.end));
        expect(readAgain).to.deep.equal([]);
      }
    });

    it('loses nothing when killed (SIGKILL) in the middle of slices and resumed from its last STATE', async () => {
      const config = crowdDeals(sim());
      const withSlices = (m: AirbyteMessage) => m.type === 'STATE' && m.state!.stream!.stream_state!.slices_done;
      const killed = await killedSync(
        sim(),
        { streams: ['deals'], config },
        (m, seen) => withSlices(m) !== undefined && seen.filter(withSlices).length >= 3,
      );
      const resumed = await sync(sim(), { streams: ['deals'], config, state: killed.state });
      expect(resumed.run.exitCode).to.equal(0);
      expect(sorted([...dealIds(killed), ...dealIds(resumed)])).to.deep.equal(expectedIds(sim(), 'deals'));
    });

    it('rides out a 429, a server error and a reset inside slices, emitting every record once', async () => {
      const config = crowdDeals(sim());
      sim().inject({ kind: 'burst429', path: '/api/v2/deals', after: 3, retryAfter: 1 });
      sim().inject({ kind: 'http500', path: '/api/v2/deals', after: 6, times: 2 });
      sim().inject({ kind: 'reset', path: '/api/v2/deals', after: 9 });
      const s = await sync(sim(), { streams: ['deals'], config });
      expect(s.run.exitCode).to.equal(0);
      expect(sim().stats.burst429).to.be.at.least(1);
      expect(dealIds(s)).to.have.length(sim().dataset.counts.deals);
      expect(sorted(dealIds(s))).to.deep.equal(expectedIds(sim(), 'deals'));
    });

    it('when one slice fails for good, ends INCOMPLETE with a state that loses nothing on the next sync', async () => {
      const config = crowdDeals(sim());
      sim().inject({ kind: 'http500', path: '/api/v2/deals', after: 8, times: 1000 });
      const failed = await sync(sim(), { streams: ['deals'], config: { ...config, max_retries: 1 } });
      expect(failed.statuses.get('deals')!.at(-1)).to.equal('INCOMPLETE');
      expect(traceErrors(failed.run)[0]).to.include({ failure_type: 'transient_error' });
      sim().reset();
      const resumed = await sync(sim(), { streams: ['deals'], config, state: failed.state });
      expect(resumed.run.exitCode).to.equal(0);
      expect(sorted([...dealIds(failed), ...dealIds(resumed)])).to.deep.equal(expectedIds(sim(), 'deals'));
    });
  });

  describe('splitting', () => {
    it('adds slices of 20 pages or more, or smaller ones while the read may spend a request on each', () => {
      expect(slicesToAdd(39, 100, 0), 'too few pages').to.deep.equal({ most: 0, free: 0 });
      expect(slicesToAdd(100, 100, 0)).to.deep.equal({ most: 4, free: 4 });
      expect(slicesToAdd(39, 100, 2), 'within what may be spent').to.deep.equal({ most: 2, free: 0 });
      expect(slicesToAdd(39, 100, 20), 'slices of 4 pages at least').to.deep.equal({ most: 8, free: 0 });
      expect(slicesToAdd(100, 100, 3), 'free ones first').to.deep.equal({ most: 7, free: 4 });
      expect(slicesToAdd(100, 3, 20), 'a second at least').to.deep.equal({ most: 2, free: 2 });
      expect(slicesToAdd(7, 100, 20), 'under 4 pages each').to.deep.equal({ most: 0, free: 0 });
    });

    it('adds slices only while the event loop waited in the last period, as many as would make it 75 % busy', () => {
      // What the next sample returns: a period closed with this load, or none.
      let next: number | undefined;
      const load = { sample: () => next };
      // A heap of 4 GiB: room for 24 slices, which 480 requests / 2 s allow.
      const pool = new SlicePool(() => 480, load, 4 * 1024 ** 3);
      const grown = () => {
        pool.measure();
        let n = 0;
        while (pool.grow()) n++;
        return n;
      };
      expect(pool.take(true), "a list's first slice").to.equal(true);
      expect(grown(), 'not measured yet').to.equal(0);
      next = 0.8;
      expect(grown(), 'busy').to.equal(0);
      // One slice kept the loop 25 % busy: two more would make it 75 %.
      next = 0.25;
      expect(grown()).to.equal(2);
      next = undefined;
      expect(grown(), 'once per period').to.equal(0);
      // Three slices at 60 %: a quarter more.
      next = 0.6;
      expect(grown()).to.equal(1);
      // An idle loop: as many as the pool holds.
      next = 0;
      expect(grown()).to.equal(SlicePool.MAX - 4);
    });

    it("measures the event loop's load over whole periods: busy while it computes, idle while it waits", async () => {
      const load = new LoopLoad(100);
      expect(load.sample(), 'before a whole period').to.equal(undefined);
      const until = performance.now() + 150;
      while (performance.now() < until);
      expect(load.sample(), 'busy').to.be.above(0.9);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(load.sample(), 'idle').to.be.below(0.5);
    });
  });

  describe('load', () => {
    const sim = useSimulator({ burstLimit: 480 }, true);
    const deals = streamByName.get('deals');

    /** The crowded deals read in slices, by a pool whose load is `last` in every period, a period a page. */
    async function readDeals(last: number, from: number): Promise<number[]> {
      if (deals?.kind !== 'server_filtered') throw new Error('deals is read in slices');
      const client = new PipedriveClient({
        auth: apiTokenAuth(sim().origin, TOKENS.admin),
        timeoutMs: 5000,
        maxRetries: 0,
      });
      const pool = new SlicePool(() => 480, { sample: () => last }, 4 * 1024 ** 3);
      const read = { client, pool, whole: false, lists: deals.lists, cursor: 'update_time', limit: PAGE_SIZE };
      const ids: number[] = [];
      try {
        const signal = new AbortController().signal;
        for await (const batch of slicedBatches({ ...read, lowerBound: from, done: [], stream: 'deals', signal }))
          ids.push(...batch.records.map((record) => record.id as number));
      } finally {
        client.close();
      }
      return ids;
    }

    it('splits a read whose event loop waits, and not one busy with its own work, emitting every deal once', async () => {
      const from = Date.parse(String(crowdDeals(sim()).start_date));
      const busy = await readDeals(0.9, from);
      expect(untilBounds(sim()), 'busy: one slice per list').to.deep.equal([]);
      sim().reset();
      const waiting = await readDeals(0.1, from);
      expect(untilBounds(sim()), 'waiting: split').to.have.length.above(0);
      for (const ids of [busy, waiting]) {
        expect(ids).to.have.length(sim().dataset.counts.deals);
        expect(sorted(ids)).to.deep.equal(expectedIds(sim(), 'deals'));
      }
    });
  });

  describe('requests', () => {
    // 5,000 deals in pages of 25, at the top plan's burst limit: the pool would run 24 slices.
    const sim = useSimulator({ size: { deals: 5000 }, burstLimit: 480, latencyMs }, true);
    const pageSize = 25;
    /** One request per page of each list (deals, archived deals), the last one partial. */
    const fewestRequests = (deals: number) => {
      const archived = sim()
        .dataset.recordsOf('deals')
        .filter((deal) => (deal as { is_archived?: boolean }).is_archived === true).length;
      return Math.ceil(archived / pageSize) + Math.ceil((deals - archived) / pageSize);
    };

    it('cuts slices of whole pages: a split read costs few requests more than the fewest possible; few pages are not split', async () => {
      const s = await sync(sim(), { streams: ['deals'], config: { page_size: pageSize } });
      expect(s.run.exitCode).to.equal(0);
      expect(untilBounds(sim()), 'split').to.have.length.above(0);
      const requests = sim().requestsTo('/api/v2/deals').length + sim().requestsTo('/api/v2/deals/archived').length;
      expect(requests).to.be.at.most(Math.ceil(1.05 * fewestRequests(dealIds(s).length)));
      // In pages of 500: too few pages for a slice of their own.
      sim().reset();
      await sync(sim(), { streams: ['deals'] });
      expect(untilBounds(sim()), 'not split').to.deep.equal([]);
    });

    it("cuts slices under 20 pages in a read's tail, within 1.05x the fewest requests, every record once", async () => {
      // Under a limit of 40, at 200 ms a page, a slice alone reads a page at a time while the limit would allow more.
      Object.assign(sim(), { burstLimit: 40, latencyMs: 200 });
      const config = { ...crowdDeals(sim()), page_size: pageSize };
      const s = await sync(sim(), { streams: ['deals'], config });
      expect(s.run.exitCode).to.equal(0);
      expect(
        dealIds(s).sort((a, b) => a - b),
        'every deal once',
      ).to.deep.equal(expectedIds(sim(), 'deals'));
      const deals = sim().requestsTo('/api/v2/deals');
      const slices = new Set(deals.map((r) => `${r.query.updated_since}/${r.query.updated_until ?? ''}`));
      const times = sim()
        .dataset.recordsOf('deals')
        .map((d) => Date.parse((d as { update_time: string }).update_time));
      const pagesOf = (slice: string) => {
        const [since = -Infinity, until = Infinity] = slice.split('/').map((t) => (t ? Date.parse(t) : Infinity));
        return times.filter((t) => t >= since && t < until).length / pageSize;
      };
      expect(
        [...slices].filter((slice) => pagesOf(slice) < 20),
        'slices under 20 pages',
      ).to.have.length.above(0);
      const requests = deals.length + sim().requestsTo('/api/v2/deals/archived').length;
      expect(requests).to.be.at.most(Math.ceil(1.05 * fewestRequests(dealIds(s).length)));
    });

    it("never asks for the page after the one that reached its slice's cut, prefetching in the read's tail", async () => {
      // Under a limit of 40, 4 slices run; as they finish, those left prefetch (the pool has room for twice them).
      Object.assign(sim(), { burstLimit: 40, latencyMs: 100 });
      const s = await sync(sim(), { streams: ['deals'], config: { ...crowdDeals(sim()), page_size: pageSize } });
      expect(s.run.exitCode).to.equal(0);
      const queries = sim()
        .requestsTo('/api/v2/deals')
        .map((request) => request.query);
      const bounds = queries.map((query) => ({
        since: Date.parse(query.updated_since ?? ''),
        until: query.updated_until === undefined ? Infinity : Date.parse(query.updated_until),
        cursor: decodeCursor(query.cursor ?? null),
      }));
      expect(untilBounds(sim()), 'split').to.have.length.above(0);
      // A split cuts a slice where the slices it makes begin; a page past the cut holds none of the slice's records.
      for (const { since, until, cursor } of bounds) {
        const cut = Math.min(until, ...bounds.map((b) => b.since).filter((start) => start > since && start < until));
        if (cursor) expect(cursor.v, `a page of [${since}, ${until}) past its cut`).to.be.below(cut);
      }
    });
  });
});
