// Full refreshes that resume: a stream whose lists are sorted and filtered by its cursor on the server says so in
// discover (`is_resumable`), checkpoints the ranges it has read while the full refresh runs, and a retried attempt
// given that state reads only the rest: every record is delivered once across the attempts. The state a full refresh
// ends with tells a further attempt of the same sync that nothing is left; a full refresh without state reads all.
import { expect } from 'chai';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { FULL_REFRESH_COMPLETE, LISTS_DONE } from '../src/pipedrive/streams/state.js';
import { STREAMS, isResumable } from '../src/pipedrive/streams/table.js';
import { useSimulator } from './helpers/simulator.js';
import { acknowledged, discover, expectedIds, idsOf, killedSync, parseSync, sync } from './helpers/sync.js';

const stateOf = (
  s: { state: { stream: { stream_descriptor: { name: string }; stream_state?: unknown } }[] },
  name: string,
) =>
  s.state.find((entry) => entry.stream.stream_descriptor.name === name)?.stream.stream_state as
    Record<string, unknown> | undefined;

const numeric = (ids: readonly (number | string)[]) => [...ids].map(Number).sort((a, b) => a - b);

describe('resumable full refresh', function () {
  this.timeout(300_000);
  const sim = useSimulator({ size: { deals: 3_000, persons: 1_500 } });
  const PAGES = { page_size: 100 };

  it('discover says which streams resume: those whose lists the server sorts and filters by the cursor', async function () {
    const catalog = await discover(sim());
    const resumable = catalog.streams.filter((stream) => stream.is_resumable).map((stream) => stream.name);
    expect(resumable.sort()).to.deep.equal(
      STREAMS.filter(isResumable)
        .map((stream) => stream.name)
        .sort(),
    );
    expect(resumable).to.include.members(['deals', 'persons', 'organizations', 'activities', 'notes', 'products']);
    for (const stream of catalog.streams.filter((s) => s.is_resumable))
      expect(stream.source_defined_cursor).to.equal(true);
  });

  it('a full refresh of deals killed midway, resumed from its last STATE, delivers every deal exactly once', async function () {
    const options = { mode: 'full_refresh' as const, streams: ['deals'], config: PAGES };
    let states = 0;
    const first = await killedSync(sim(), options, (message) => message.type === 'STATE' && ++states === 8);
    const during = stateOf(first, 'deals');
    expect(during, 'a checkpoint while the full refresh runs').to.have.property(LISTS_DONE);
    const committed = parseSync(first.run, acknowledged(first.run.messages));
    const second = await sync(sim(), { ...options, state: first.state });
    expect(second.run.exitCode).to.equal(0);
    expect(second.statuses.get('deals')).to.include('COMPLETE');
    const delivered = [...idsOf(committed.records.get('deals')), ...idsOf(second.records.get('deals'))];
    const expected = expectedIds(sim(), 'deals', Date.parse('2020-01-01T00:00:00Z'));
    expect(committed.records.get('deals')?.length ?? 0).to.be.greaterThan(0);
    expect(second.records.get('deals')?.length ?? 0).to.be.lessThan(expected.length);
    expect(new Set(delivered).size, 'no deal twice').to.equal(delivered.length);
    expect(numeric(delivered)).to.deep.equal(numeric(expected));
    expect(stateOf(second, 'deals')).to.deep.equal({ [FULL_REFRESH_COMPLETE]: true });
  });

  it('an attempt given the state of a completed full refresh reads nothing of it and says the state again', async function () {
    const done = {
      type: 'STREAM',
      stream: { stream_descriptor: { name: 'deals' }, stream_state: { [FULL_REFRESH_COMPLETE]: true } },
    };
    const s = await sync(sim(), { mode: 'full_refresh', streams: ['deals', 'persons'], state: [done], config: PAGES });
    expect(s.run.exitCode).to.equal(0);
    expect(s.records.get('deals')).to.equal(undefined);
    expect(s.statuses.get('deals')).to.deep.equal(['STARTED', 'RUNNING', 'COMPLETE']);
    expect(stateOf(s, 'deals')).to.deep.equal({ [FULL_REFRESH_COMPLETE]: true });
    expect(idsOf(s.records.get('persons')).length).to.equal(
      expectedIds(sim(), 'persons', Date.parse('2020-01-01T00:00:00Z')).length,
    );
  });

  it("a full refresh without state, or with an incremental sync's state, reads everything", async function () {
    const incremental = await sync(sim(), { streams: ['deals'], config: PAGES });
    const all = idsOf(incremental.records.get('deals')).length;
    for (const state of [undefined, incremental.state]) {
      const s = await sync(sim(), { mode: 'full_refresh', streams: ['deals'], config: PAGES, state });
      expect(idsOf(s.records.get('deals')).length).to.equal(all);
    }
  });

  it('a state the full refresh cannot use is a config_error naming the stream', async function () {
    const bad = {
      type: 'STREAM',
      stream: { stream_descriptor: { name: 'deals' }, stream_state: { [LISTS_DONE]: { '/api/v2/deals': 'soon' } } },
    };
    const s = await sync(sim(), { mode: 'full_refresh', streams: ['deals'], state: [bad] });
    expect(s.run.exitCode).to.not.equal(0);
    const error = s.run.messages.find((m: AirbyteMessage) => m.type === 'TRACE' && m.trace?.type === 'ERROR');
    expect(error?.trace?.error?.failure_type).to.equal('config_error');
    expect(error?.trace?.error?.message).to.contain('deals').and.contain(LISTS_DONE);
  });
});
