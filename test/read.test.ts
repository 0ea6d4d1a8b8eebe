import { expect } from 'chai';
import { DateTime } from 'luxon';
import { FULL_REFRESH_COMPLETE } from '../src/pipedrive/streams/state.js';
import { isResumable, streamByName } from '../src/pipedrive/streams/table.js';
import { ofType, runCli, tempFile, traceErrors } from './helpers/cli.js';
import { ANCHOR, configFor, useSimulator } from './helpers/simulator.js';
import {
  ALL,
  CORE_INCREMENTAL as INCREMENTAL,
  configuredCatalog,
  expectValidRecords,
  expectedIds,
  idsOf,
  killedSync,
  sync,
  cursorFieldOf,
  type Sync,
} from './helpers/sync.js';

const FUTURE = '2999-01-01T00:00:00Z';
/** The cursor value of a stream's latest state in a sync. */
function cursorOf(s: Sync, stream: string): string {
  const state = s.state.find((m) => m.stream?.stream_descriptor.name === stream)?.stream?.stream_state;
  const value = (state as Record<string, unknown> | undefined)?.[cursorFieldOf(stream) ?? ''];
  if (typeof value !== 'string') throw new Error(`${stream} has no cursor in its state: ${JSON.stringify(state)}`);
  return value;
}
const futureState = (streams: readonly string[]) =>
  streams.map((name) => ({
    type: 'STREAM',
    stream: { stream_descriptor: { name }, stream_state: { [cursorFieldOf(name)!]: FUTURE } },
  }));

describe('read', function () {
  this.timeout(60_000);

  describe('a full refresh of every stream', () => {
    const sim = useSimulator();
    let first: Sync;
    before(async () => {
      first = await sync(sim(), { mode: 'full_refresh', config: { page_size: 50 } });
    });

    it('exits 0 and returns every record the simulator holds, across page boundaries', () => {
      expect(first.run.exitCode).to.equal(0);
      for (const stream of ALL)
        expect(idsOf(first.records.get(stream), stream), stream).to.deep.equal(expectedIds(sim(), stream));
      // Pages of 50 (files: 50 too, under the cap of 100): the big streams took many requests each. Activities is read
      // in time slices; a split costs at most one partial page, and a slice is split only when 8 pages or more remain.
      const pages = Math.ceil(sim().dataset.counts.activities / 50);
      expect(sim().requestsTo('/api/v2/activities').length).to.be.within(pages, pages * 1.25);
    });

    it('emits each record once', () => {
      for (const [stream, records] of first.records)
        expect(records.length, stream).to.equal(idsOf(records, stream).length);
    });

    it('every record validates against its discovered schema, with timestamps in RFC 3339 UTC', () => {
      expectValidRecords(first.records);
      const note = first.records.get('notes')![0]!;
      const raw = sim().dataset.tables.notes.get(note.id as number)!;
      expect(raw.update_time).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(note.update_time).to.equal(`${(raw.update_time as string).replace(' ', 'T')}Z`);
    });

    it('reports STARTED, RUNNING and COMPLETE for every stream, and at least one STATE with a record count', () => {
      for (const stream of ALL) {
        const statuses = first.statuses.get(stream)!;
        expect(statuses[0], stream).to.equal('STARTED');
        expect(statuses.at(-1), stream).to.equal('COMPLETE');
        expect(statuses.slice(1, -1), stream)
          .to.have.length.above(0)
          .and.satisfy((between: string[]) => between.every((s) => s === 'RUNNING'));
        const states = first.stateMessages.filter((m) => m.stream!.stream_descriptor.name === stream);
        expect(states.length, stream).to.be.at.least(1);
        expect(
          states.reduce((n, m) => n + m.sourceStats!.recordCount!, 0),
          stream,
        ).to.equal(first.records.get(stream)!.length);
      }
    });

    it('checkpoints after every page of the ascending streams, and once at the end of the others', () => {
      const checkpoints = (stream: string) =>
        first.stateMessages.filter((m) => m.stream!.stream_descriptor.name === stream).length;
      // One per page (of every time slice), one when the last slice's held-back records go out, and one at the end
      // of the read.
      const pages = sim().requestsTo('/api/v2/activities').length;
      expect(checkpoints('activities')).to.be.within(pages, pages + 2);
      expect(checkpoints('notes')).to.be.at.least(sim().dataset.counts.notes / 50);
      expect(checkpoints('email_threads')).to.equal(1);
      expect(checkpoints('users')).to.equal(1);
      // The cursor never moves backwards.
      for (const stream of INCREMENTAL) {
        const cursor = cursorFieldOf(stream)!;
        const values = first.stateMessages
          .filter((m) => m.stream!.stream_descriptor.name === stream)
          .map((m) => (m.stream!.stream_state as Record<string, string>)[cursor]!);
        expect(values, stream).to.deep.equal([...values].sort());
      }
    });

    it('states the highest cursor of the incremental streams and when their read began, and an empty state for full-table ones', () => {
      const newest = (stream: string, field: string) =>
        first.records
          .get(stream)!
          .map((r) => r[field] as string)
          .sort()
          .at(-1);
      for (const stream of ALL) {
        const cursor = cursorFieldOf(stream);
        const last = first.state.find((m) => m.stream!.stream_descriptor.name === stream)!.stream!
          .stream_state as Record<string, string>;
        if (!cursor) {
          expect(last, stream).to.deep.equal({});
          continue;
        }
        // A resumable full refresh ends saying so (a further attempt of the sync reads nothing of it).
        if (isResumable(streamByName.get(stream)!)) {
          expect(last, stream).to.deep.equal({ [FULL_REFRESH_COMPLETE]: true });
          continue;
        }
        expect(last[cursor], stream).to.equal(newest(stream, cursor));
        // synced_at is Pipedrive's time (the simulated company's clock, from its Date header, which has whole seconds,
        // so up to a second early) when the read began.
        expect(Date.parse(last.synced_at!), stream)
          .to.be.within(ANCHOR - 1000, sim().clock.now())
          .and.satisfy((ms: number) => ms % 1000 === 0);
      }
      // The mail messages' state also tracks the threads they were read for.
      const messages = first.state.find((m) => m.stream!.stream_descriptor.name === 'email_messages')!.stream!
        .stream_state;
      expect(messages).to.have.property('email_threads_update_time', newest('email_threads', 'update_time'));
    });

    it('emits deleted deals (status deleted) and archived deals (from their own list), whose flags tell the warehouse', () => {
      const deals = first.records.get('deals')!;
      expect(deals.filter((d) => d.status === 'deleted' && d.is_deleted === true)).to.not.have.length(0);
      expect(deals.filter((d) => d.is_archived === true)).to.not.have.length(0);
      expect(
        new Set(
          sim()
            .requestsTo('/api/v2/deals')
            .map((r) => r.query.status),
        ),
      ).to.deep.equal(new Set(['open,won,lost,deleted']));
    });

    it("emits a thread listed in several folders once, and reads each thread's messages once", () => {
      const threads = first.records.get('email_threads')!;
      expect(
        threads.filter((t) => (t.folders as string[]).length > 1),
        'threads in several folders',
      ).to.not.have.length(0);
      expect(threads.length).to.equal(new Set(threads.map((t) => t.id)).size);
      expect(sim().requests.filter((r) => r.path.endsWith('/mailMessages')).length).to.equal(threads.length);
    });

    it('reads every goal of the company, active and inactive, whoever it is assigned to', () => {
      const goals = first.records.get('goals')!;
      expect(new Set(goals.map((g) => (g.assignee as { type: string }).type)))
        .to.have.property('size')
        .above(1);
      expect(
        goals.filter((g) => g.is_active === false),
        'inactive goals',
      ).to.not.have.length(0);
    });

    it('stamps each record with the integer millisecond time of its emission', () => {
      const stamps = ofType(first.run, 'RECORD').map((m) => m.record!.emitted_at);
      expect(stamps.filter((stamp) => !Number.isInteger(stamp))).to.deep.equal([]);
      // The process runs on the company's clock (test/helpers/company-clock.mjs), as on a machine set to its time.
      expect(Math.min(...stamps)).to.be.at.least(sim().clock.now() - 120_000);
    });

    it('never calls a retired v1 list, and sends the configured page size', () => {
      expect(sim().requests.filter((r) => r.status === 410)).to.deep.equal([]);
      expect(
        new Set(
          sim()
            .requestsTo('/v1/files')
            .map((r) => r.query.limit),
        ),
      ).to.deep.equal(new Set(['50']));
    });
  });

  describe('start date', () => {
    const sim = useSimulator();

    it('defaults to one year back and bounds the incremental streams in both sync modes, not the full-table ones nor users', async () => {
      // The connector's clock is the simulated company's (the tests' sync helper sets it), not the machine's.
      const yearAgo = DateTime.fromMillis(sim().clock.now(), { zone: 'utc' }).minus({ years: 1 }).toMillis();
      for (const mode of ['full_refresh', 'incremental'] as const) {
        const s = await sync(sim(), { mode, config: { start_date: undefined } });
        expect(s.run.exitCode).to.equal(0);
        for (const stream of ['deals', 'persons', 'notes', 'files', 'email_messages']) {
          expect(idsOf(s.records.get(stream), stream), `${mode} ${stream}`).to.deep.equal(
            expectedIds(sim(), stream, yearAgo),
          );
        }
        expect(idsOf(s.records.get('stages'))).to.deep.equal(expectedIds(sim(), 'stages'));
        expect(s.records.get('persons')!.length).to.be.below(sim().dataset.counts.persons);
        // Users unchanged for a year still own deals and activities: every one is read, not only the recent ones.
        expect(idsOf(s.records.get('users')), `${mode} users`).to.deep.equal(expectedIds(sim(), 'users'));
        expect(expectedIds(sim(), 'users', yearAgo).length).to.be.below(expectedIds(sim(), 'users').length);
      }
    });

    it('is sent to the API as updated_since where the API filters, and applied by the connector where it cannot; pages are the largest allowed', async () => {
      sim().reset();
      await sync(sim(), { streams: ['persons', 'users', 'files'], config: { start_date: '2026-03-01' } });
      expect(sim().requestsTo('/api/v2/persons')[0]!.query).to.include({
        updated_since: '2026-03-01T00:00:00Z',
        sort_by: 'update_time',
        sort_direction: 'asc',
        limit: '500',
      });
      expect(sim().requestsTo('/v1/users')[0]!.query).to.not.have.property('updated_since');
      // The largest pages the API allows: 500, and 100 for /v1/files.
      expect(sim().requestsTo('/v1/files')[0]!.query).to.include({ limit: '100', sort: 'update_time ASC' });
    });
  });

  describe('page size', () => {
    const sim = useSimulator();

    it('reads every record at the smallest page size, 1, offset lists included', async () => {
      const streams = ['email_threads', 'files', 'notes', 'stages'];
      const s = await sync(sim(), { streams, config: { page_size: 1 } });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of streams)
        expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(
          expectedIds(sim(), stream, Date.parse('2020-01-01')),
        );
    });
  });

  describe('incremental syncs', () => {
    const sim = useSimulator({}, true);

    it('return every changed and new record, and few others, with state that only moves forward', async () => {
      const first = await sync(sim(), { streams: INCREMENTAL });
      expect(first.run.exitCode).to.equal(0);
      const data = sim().dataset;
      const changed: Record<string, (number | string)[]> = {
        activities: [data.update('activities', 10).id as number],
        deals: [
          data.update('deals', 11, { title: 'Renamed deal' }).id as number,
          data.remove('deals', 12).id as number,
          data.archiveDeal(13).id as number,
        ],
        email_threads: [data.update('email_threads', 2).id as number],
        email_messages: [data.update('email_messages', data.messagesOf(5)[0]!).id as number],
        files: [data.update('files', 3).id as number, data.add('files').id as number],
        filters: [data.update('filters', 4).id as number],
        notes: [data.update('notes', 5, { content: '<p>edited</p>' }).id as number],
        organizations: [data.add('organizations', { name: 'Brand new org' }).id as number],
        persons: [
          data.update('persons', 6, { name: 'Renamed person' }).id as number,
          data.remove('persons', 7).id as number,
        ],
        products: [data.update('products', 8).id as number],
        users: [data.update('users', 4).id as number],
      };
      sim().reset();
      const second = await sync(sim(), { streams: INCREMENTAL, state: first.state });
      expect(second.run.exitCode).to.equal(0);
      for (const stream of INCREMENTAL) {
        const ids = idsOf(second.records.get(stream));
        for (const id of changed[stream] ?? []) expect(ids, stream).to.include(id);
        // Besides the changes, at most the records at the previous cursor's second (the inclusive boundary).
        expect(ids.length, stream).to.be.at.most((changed[stream]?.length ?? 0) + 2);
        expect(Date.parse(cursorOf(second, stream)), stream).to.be.at.least(Date.parse(cursorOf(first, stream)));
      }
      const deals = second.records.get('deals')!;
      expect(deals.find((d) => d.id === 12)).to.include({ status: 'deleted', is_deleted: true });
      expect(deals.find((d) => d.id === 13)).to.include({ is_archived: true });
      expect(second.records.get('persons')!.find((p) => p.id === 7)).to.include({ is_deleted: true });
      // Only the changed thread's messages were fetched (plus its neighbours on the boundary, if any).
      expect(sim().requests.filter((r) => r.path.endsWith('/mailMessages')).length).to.be.at.most(3);
      expectValidRecords(second.records);
    });

    it('resume from the last STATE of a sync killed midway without losing a record', async () => {
      const config = { page_size: 50, max_concurrent_streams: 2 };
      const killed = await killedSync(
        sim(),
        { config, streams: INCREMENTAL },
        (_, seen) => seen.filter((m) => m.type === 'STATE').length === 12,
      );
      const resumed = await sync(sim(), { config, streams: INCREMENTAL, state: killed.state });
      expect(resumed.run.exitCode).to.equal(0);
      for (const stream of INCREMENTAL) {
        const union = idsOf([...(killed.records.get(stream) ?? []), ...(resumed.records.get(stream) ?? [])]);
        expect(union, stream).to.deep.equal(expectedIds(sim(), stream, Date.parse('2020-01-01')));
      }
      // The killed sync checkpointed the streams it had begun, so the resumed one did not read them again.
      const partial = [...killed.records.keys()].filter(
        (s) => INCREMENTAL.includes(s) && killed.state.some((m) => m.stream!.stream_descriptor.name === s),
      );
      expect(partial).to.not.have.length(0);
      for (const stream of partial)
        expect(resumed.records.get(stream)?.length ?? 0, stream).to.be.below(expectedIds(sim(), stream).length);
    });

    it('resume deals from any point: one cursor covers both the deals list and the archived list', async () => {
      const config = { page_size: 50 };
      const killed = await killedSync(
        sim(),
        { config, streams: ['deals'] },
        (_, seen) => seen.filter((m) => m.type === 'STATE').length === 4,
      );
      const resumed = await sync(sim(), { config, streams: ['deals'], state: killed.state });
      const union = idsOf([...killed.records.get('deals')!, ...resumed.records.get('deals')!]);
      expect(union).to.deep.equal(expectedIds(sim(), 'deals'));
      const archived = killed.records.get('deals')!.filter((d) => d.is_archived);
      expect(archived, 'the killed sync had read archived deals already').to.not.have.length(0);
    });

    it('with a lookback window ask the API for that much before the saved cursor', async () => {
      const first = await sync(sim(), { streams: ['persons'] });
      sim().reset();
      await sync(sim(), { streams: ['persons'], state: first.state, config: { lookback_window_minutes: 90 } });
      const cursor = Date.parse(cursorOf(first, 'persons'));
      expect(sim().requestsTo('/api/v2/persons')[0]!.query.updated_since).to.equal(
        new Date(cursor - 90 * 60_000).toISOString().replace('.000', ''),
      );
    });

    it('read files from /v1/recents for a cursor younger than a month, and from the full list otherwise (deletions still from /v1/recents)', async () => {
      const young = [
        {
          type: 'STREAM',
          stream: {
            stream_descriptor: { name: 'files' },
            stream_state: { update_time: new Date(sim().clock.now() - 5 * 86_400_000).toISOString() },
          },
        },
      ];
      const old = [
        {
          type: 'STREAM',
          stream: { stream_descriptor: { name: 'files' }, stream_state: { update_time: '2026-01-01T00:00:00Z' } },
        },
      ];
      const recent = await sync(sim(), { streams: ['files'], state: young });
      expect(sim().requestsTo('/v1/recents')).to.have.length(1);
      expect(sim().requestsTo('/v1/files')).to.have.length(0);
      // since_timestamp is exclusive and in v1's format: asked a second before the saved cursor.
      const cursor = Date.parse(young[0]!.stream.stream_state.update_time);
      expect(sim().requestsTo('/v1/recents')[0]!.query).to.include({
        items: 'file',
        since_timestamp: new Date(cursor - 1000).toISOString().slice(0, 19).replace('T', ' '),
      });
      expect(recent.stateMessages).to.have.length(1);
      sim().reset();
      const full = await sync(sim(), { streams: ['files'], state: old });
      // The full list, and /v1/recents only for the deletions that list leaves out (as far back as it reaches).
      expect(sim().requestsTo('/v1/files')).to.not.have.length(0);
      expect(
        sim()
          .requestsTo('/v1/recents')
          .map((r) => r.query.items),
      ).to.deep.equal(['file']);
      expect(idsOf(full.records.get('files'))).to.deep.equal(
        expectedIds(sim(), 'files', Date.parse('2026-01-01T00:00:00Z')),
      );
    });

    it('with a state in the future return no records, and set the state back to the time the read began with a warning', async () => {
      const started = sim().clock.now();
      const s = await sync(sim(), { streams: INCREMENTAL, state: futureState(INCREMENTAL) });
      expect(s.run.exitCode).to.equal(0);
      expect(ofType(s.run, 'RECORD')).to.have.length(0);
      // The second the read began (Pipedrive's Date header has whole seconds), so that a later sync misses no change.
      for (const stream of INCREMENTAL)
        expect(Date.parse(cursorOf(s, stream)), stream).to.be.within(started - 2000, sim().clock.now());
      const warnings = ofType(s.run, 'LOG')
        .filter((m) => m.log!.level === 'WARN')
        .map((m) => m.log!.message);
      for (const stream of INCREMENTAL)
        expect(warnings.join('\n'), stream).to.include(
          `${stream}: the saved state (${FUTURE}) is later than the time this read began`,
        );
    });
  });

  describe('input state', () => {
    const sim = useSimulator();
    const read = (state: unknown, streams = ['persons']) =>
      runCli([
        'read',
        '--config',
        tempFile(configFor(sim(), { start_date: '2020-01-01' })),
        '--catalog',
        tempFile(configuredCatalog('incremental', streams)),
        '--state',
        tempFile(state),
      ]);

    it('accepts a legacy state object, ignores streams not in the catalog, and treats a null stream state as none', async () => {
      const legacy = await read({ persons: { update_time: FUTURE }, no_such_stream: { x: 1 } });
      expect(legacy.exitCode).to.equal(0);
      expect(ofType(legacy, 'RECORD')).to.have.length(0);
      const reset = await read([
        { type: 'STREAM', stream: { stream_descriptor: { name: 'persons' }, stream_state: null } },
      ]);
      expect(ofType(reset, 'RECORD')).to.have.length(sim().dataset.counts.persons);
      const empty = await read([]);
      expect(ofType(empty, 'RECORD')).to.have.length(sim().dataset.counts.persons);
    });

    for (const [title, state, pattern] of [
      ['not a state', '"hello"', /is not a state: expected a JSON array of Airbyte state messages/],
      ['an unknown state type', [{ type: 'WEIRD' }], /unknown type "WEIRD"/],
      [
        'a stream state that is not an object',
        [{ type: 'STREAM', stream: { stream_descriptor: { name: 'persons' }, stream_state: 5 } }],
        /gives stream "persons" a state that is not an object/,
      ],
      [
        'a cursor that is not a timestamp',
        [
          {
            type: 'STREAM',
            stream: { stream_descriptor: { name: 'persons' }, stream_state: { update_time: 'yesterday' } },
          },
        ],
        /gives stream "persons" an invalid update_time: "yesterday"/,
      ],
      [
        'slices_done that is not a list',
        [
          {
            type: 'STREAM',
            stream: { stream_descriptor: { name: 'persons' }, stream_state: { slices_done: 'all' } },
          },
        ],
        /gives stream "persons" an invalid slices_done: "all"/,
      ],
      [
        'a slices_done range that ends before it starts',
        [
          {
            type: 'STREAM',
            stream: {
              stream_descriptor: { name: 'persons' },
              stream_state: {
                slices_done: [
                  { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' },
                  { start: '2026-03-01T00:00:00Z', end: '2026-02-01T00:00:00Z' },
                ],
              },
            },
          },
        ],
        /gives stream "persons" an invalid slices_done\[1\]: .*"start":"2026-03-01T00:00:00Z"/,
      ],
    ] as const) {
      it(`rejects ${title} with a config_error naming the file, before reading anything`, async () => {
        sim().reset();
        const run = await read(state);
        expect(run.exitCode).to.equal(1);
        const errors = traceErrors(run);
        expect(errors).to.have.length(1);
        expect(errors[0]!.failure_type).to.equal('config_error');
        expect(errors[0]!.message)
          .to.match(/^The --state file ".*\.json" /)
          .and.match(pattern);
        expect(sim().requests).to.have.length(0);
      });
    }
  });

  describe('catalog', () => {
    const sim = useSimulator();
    const read = (catalog: unknown) =>
      runCli(['read', '--config', tempFile(configFor(sim())), '--catalog', tempFile(catalog)]);

    it("answers Airbyte's invalid-catalog test with a TRACE error for the stream, and still reads the valid ones", async () => {
      const catalog: { streams: object[] } = configuredCatalog('full_refresh', ['currencies']);
      catalog.streams.push({
        stream: {
          name: '__AIRBYTE__stream_that_does_not_exist',
          json_schema: {},
          supported_sync_modes: ['full_refresh'],
        },
        sync_mode: 'INVALID',
        destination_sync_mode: 'INVALID',
      });
      const run = await read(catalog);
      expect(run.exitCode).to.equal(1);
      const [error] = traceErrors(run);
      expect(error).to.deep.include({
        failure_type: 'config_error',
        stream_descriptor: { name: '__AIRBYTE__stream_that_does_not_exist' },
      });
      expect(error!.message).to.match(/does not have: "__AIRBYTE__stream_that_does_not_exist"/);
      expect(ofType(run, 'RECORD').filter((m) => m.record!.stream === 'currencies')).to.have.length(
        sim().dataset.counts.currencies,
      );
    });

    it('rejects a sync mode a stream does not support', async () => {
      const catalog = configuredCatalog('full_refresh', ['stages', 'deals']);
      (catalog.streams[0] as { sync_mode: string }).sync_mode = 'incremental';
      (catalog.streams[1] as { sync_mode: string }).sync_mode = 'append';
      const run = await read(catalog);
      expect(run.exitCode).to.equal(1);
      const messages = traceErrors(run).map((e) => [e.stream_descriptor!.name, e.message]);
      expect(messages).to.deep.equal([
        ['stages', 'The catalog asks for stream "stages" in sync mode "incremental"; it supports full_refresh.'],
        [
          'deals',
          'The catalog asks for stream "deals" in sync mode "append"; it supports full_refresh and incremental.',
        ],
      ]);
    });

    it('rejects a file that is not a configured catalog', async () => {
      const run = await read({ catalog: [] });
      expect(run.exitCode).to.equal(1);
      expect(traceErrors(run)[0]!.message).to.match(/^The --catalog file is not a configured catalog/);
    });
  });

  describe('failures', () => {
    const sim = useSimulator({}, true);

    it('rides out server errors, resets, truncated bodies and burst 429s in the middle of streams', async () => {
      sim().inject({ kind: 'http500', path: '/api/v2/persons', after: 1, times: 2 });
      sim().inject({ kind: 'reset', path: '/v1/notes', after: 1 });
      sim().inject({ kind: 'truncate', path: '/api/v2/activities', after: 2 });
      sim().inject({ kind: 'burst429', path: '/api/v2/deals', after: 1, retryAfter: 1 });
      sim().inject({ kind: 'invalid-json', path: '/v1/mailbox/mailThreads', after: 2 });
      const s = await sync(sim(), { config: { page_size: 100 } });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of ALL)
        expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(
          expectedIds(sim(), stream, Date.parse('2020-01-01')),
        );
      const rateLimited = ofType(s.run, 'TRACE').filter(
        (m) => m.trace!.stream_status?.reasons?.[0]?.type === 'RATE_LIMITED',
      );
      expect(rateLimited.map((m) => m.trace!.stream_status!.stream_descriptor.name)).to.deep.equal(['deals']);
      expect(ofType(s.run, 'LOG').filter((m) => m.log!.level === 'WARN').length).to.equal(5);
    });

    it('a failing stream ends INCOMPLETE with a TRACE error, while the others complete with their state; exit 1', async () => {
      sim().inject({ kind: 'http403', path: '/api/v2/products', times: 100 });
      const s = await sync(sim(), { streams: ['products', 'persons', 'stages'] });
      expect(s.run.exitCode).to.equal(1);
      expect(s.statuses.get('products')).to.deep.equal(['STARTED', 'RUNNING', 'INCOMPLETE']);
      expect(traceErrors(s.run)).to.have.length(1);
      expect(traceErrors(s.run)[0]).to.deep.include({
        failure_type: 'config_error',
        stream_descriptor: { name: 'products' },
      });
      for (const stream of ['persons', 'stages']) {
        expect(s.statuses.get(stream)!.at(-1)).to.equal('COMPLETE');
        expect(idsOf(s.records.get(stream), stream)).to.deep.equal(expectedIds(sim(), stream));
      }
      expect(s.state.map((m) => m.stream!.stream_descriptor.name).sort()).to.deep.equal(['persons', 'stages']);
    });

    it('under --disallow-code-generation-from-strings stops with a config_error that says so (records are mapped by compiled code)', async () => {
      const config = tempFile({ ...configFor(sim()), start_date: '2020-01-01' });
      const catalog = tempFile(configuredCatalog('full_refresh', ['deals', 'stages']));
      const run = await runCli(['read', '--config', config, '--catalog', catalog], {
        now: sim().clock.now(),
        nodeOptions: ['--disallow-code-generation-from-strings'],
      });
      expect(run.exitCode).to.equal(1);
      expect(ofType(run, 'RECORD')).to.have.length(0);
      const errors = traceErrors(run);
      expect(errors).to.not.have.length(0);
      for (const error of errors) {
        expect(error).to.deep.include({ failure_type: 'config_error' });
        expect(error.message).to.include('--disallow-code-generation-from-strings');
      }
    });

    it('keeps the state of what was read when a stream fails midway, so the next sync resumes there', async () => {
      sim().inject({ kind: 'http500', path: '/api/v2/activities', after: 3, times: 100 });
      const s = await sync(sim(), { streams: ['activities'], config: { page_size: 100, max_retries: 1 } });
      expect(s.statuses.get('activities')!.at(-1)).to.equal('INCOMPLETE');
      // Three pages, less the records of the third's last second, held back until a page would tell that second is
      // over: what was emitted is what the state covers.
      const read = s.records.get('activities')!;
      expect(read).to.have.length.within(290, 299);
      expect(cursorOf(s, 'activities')).to.equal(
        read
          .map((r) => r.update_time as string)
          .sort()
          .at(-1),
      );
      expect(traceErrors(s.run)[0]).to.include({ failure_type: 'transient_error' });
    });

    it('skips a mail thread that vanished between its listing and the read of its messages', async () => {
      const threads = sim().dataset.tables.email_threads;
      sim().inject({
        kind: 'http404',
        path: `/v1/mailbox/mailThreads/${Array.from(threads.order('index'))[3]}/mailMessages`,
      });
      const s = await sync(sim(), { streams: ['email_messages'] });
      expect(s.run.exitCode).to.equal(0);
      expect(s.statuses.get('email_messages')!.at(-1)).to.equal('COMPLETE');
      const logs = ofType(s.run, 'LOG').map((m) => m.log!.message);
      expect(logs.join('\n')).to.match(/skipped email_threads \d+, gone since it was listed \(HTTP 404\)/);
    });

    it('a 403 on a child is an error of that stream, not a vanished parent: INCOMPLETE, its state kept, and the next sync reads every child', async () => {
      sim().inject({ kind: 'http403', path: '/v1/mailbox/mailThreads/', times: 10_000 });
      const streams = ['email_threads', 'email_messages'];
      const first = await sync(sim(), { streams });
      expect(first.run.exitCode).to.equal(1);
      expect(first.statuses.get('email_messages')!.at(-1)).to.equal('INCOMPLETE');
      expect(first.statuses.get('email_threads')!.at(-1)).to.equal('COMPLETE');
      const [error] = traceErrors(first.run);
      expect(error).to.deep.include({ failure_type: 'config_error', stream_descriptor: { name: 'email_messages' } });
      expect(error!.message).to.include('/v1/mailbox/mailThreads/{id}/mailMessages').and.include('permission');
      expect(first.state.map((m) => m.stream!.stream_descriptor.name)).to.deep.equal(['email_threads']);
      // The permission is fixed: every message arrives, although no thread changed.
      sim().reset();
      sim().clock.advance(3_600_000);
      const second = await sync(sim(), { streams, state: first.state });
      expect(second.run.exitCode).to.equal(0);
      expect(idsOf(second.records.get('email_messages'))).to.deep.equal(
        expectedIds(sim(), 'email_messages', Date.parse('2020-01-01')),
      );
    });

    it('reads several streams at once under one throttle, without a 429 at a burst limit of 20 per 2 s', async () => {
      sim().burstLimit = 20;
      const streams = ['activities', 'deals', 'persons', 'notes', 'organizations', 'files'];
      const s = await sync(sim(), { streams, config: { page_size: 100, max_concurrent_streams: 4 } });
      expect(s.run.exitCode).to.equal(0);
      expect(sim().stats.burst429).to.equal(0);
      expect(sim().stats.requests).to.be.at.least(40);
      const order = ofType(s.run, 'TRACE')
        .map((m) => m.trace!.stream_status)
        .filter((status) => status !== undefined);
      const firstComplete = order.findIndex((status) => status!.status === 'COMPLETE');
      expect(order.slice(0, firstComplete).filter((status) => status!.status === 'STARTED')).to.have.length(4);
    });
  });
});
