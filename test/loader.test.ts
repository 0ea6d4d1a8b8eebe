// The DuckDB loader's landing rules (loader/duckdb.ts), message by message: Airbyte's dedup, deletions, commits at
// STATE, overwrites only on COMPLETE, resumable full refreshes, typed and added columns, the state kept for the next
// sync. test/duckdb.test.ts runs it through the command line against the simulator.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import type {
  AirbyteMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteStream,
} from '../src/generated/airbyte-protocol.js';
import { DuckDbDestination, type SyncResult } from '../loader/duckdb.js';
import { linesOf, messageOf } from '../loader/input.js';
import { load, stateFileOf } from '../loader/load.js';

type Properties = Record<string, { type: string | string[]; format?: string }>;

const PROPERTIES: Properties = {
  id: { type: 'integer' },
  name: { type: ['string', 'null'] },
  updated: { type: ['string', 'null'], format: 'date-time' },
  _ab_cdc_deleted_at: { type: ['string', 'null'], format: 'date-time' },
};

const configured = (
  name: string,
  mode: 'append_dedup' | 'overwrite' | 'append',
  options: { properties?: Properties; resumable?: boolean } = {},
): ConfiguredAirbyteStream => ({
  stream: {
    name,
    json_schema: { type: 'object', properties: options.properties ?? PROPERTIES },
    supported_sync_modes: ['full_refresh', 'incremental'],
    is_resumable: options.resumable ?? mode === 'append_dedup',
  },
  sync_mode: mode === 'overwrite' ? 'full_refresh' : 'incremental',
  destination_sync_mode: mode,
  ...(mode === 'overwrite' ? {} : { cursor_field: ['updated'] }),
  primary_key: [['id']],
});

let emitted = 1_000;
const record = (stream: string, data: Record<string, unknown>, at = ++emitted): AirbyteMessage => ({
  type: 'RECORD',
  record: { stream, data, emitted_at: at },
});
const state = (stream: string, stream_state: Record<string, unknown> = {}): AirbyteMessage => ({
  type: 'STATE',
  state: { type: 'STREAM', stream: { stream_descriptor: { name: stream }, stream_state } },
});
const complete = (stream: string): AirbyteMessage => ({
  type: 'TRACE',
  trace: {
    type: 'STREAM_STATUS',
    emitted_at: 0,
    stream_status: { stream_descriptor: { name: stream }, status: 'COMPLETE' },
  },
});
const at = (day: number) => `2026-11-${String(day).padStart(2, '0')}T00:00:00Z`;

describe('the DuckDB loader', () => {
  let destination: DuckDbDestination;
  beforeEach(async () => (destination = await DuckDbDestination.open(':memory:')));
  afterEach(() => destination.close());

  /** Lands one sync of `streams` and returns what the loader says the next sync starts from. */
  async function land(
    streams: ConfiguredAirbyteStream[],
    messages: AirbyteMessage[],
    states: AirbyteStateMessage[] = [],
  ): Promise<SyncResult> {
    const sync = await destination.begin({ streams }, states);
    for (const message of messages) await sync.write(message);
    return sync.end();
  }

  const rows = async (stream: string, columns = 'id, name') =>
    destination.query(`SELECT ${columns} FROM ${stream} ORDER BY id`);

  describe('append_dedup', () => {
    const deals = [configured('deals', 'append_dedup')];

    it('keeps per key the version with the highest cursor, whatever order they come in; a missing cursor loses', async () => {
      await land(deals, [
        record('deals', { id: 1, name: 'newest', updated: at(3) }),
        record('deals', { id: 1, name: 'older', updated: at(2) }),
        record('deals', { id: 2, name: 'dated', updated: at(1) }),
        record('deals', { id: 2, name: 'undated', updated: null }),
        record('deals', { id: 3, name: 'undated' }),
        state('deals'),
      ]);
      await land(deals, [record('deals', { id: 1, name: 'late and old', updated: at(2) }), state('deals')]);
      expect(await rows('deals')).to.deep.equal([
        { id: '1', name: 'newest' },
        { id: '2', name: 'dated' },
        { id: '3', name: 'undated' },
      ]);
    });

    it('among versions with the same cursor keeps the one read last, in the same sync or a later one', async () => {
      await land(deals, [
        record('deals', { id: 1, name: 'read later', updated: at(2) }, 2_000),
        record('deals', { id: 1, name: 'read first', updated: at(2) }, 1_000),
        record('deals', { id: 2, name: 'first', updated: at(2) }, 1_000),
        record('deals', { id: 2, name: 'received last', updated: at(2) }, 1_000),
        record('deals', { id: 3, name: 'first sync', updated: at(2) }, 1_000),
        state('deals'),
      ]);
      await land(deals, [record('deals', { id: 3, name: 'second sync', updated: at(2) }, 3_000), state('deals')]);
      expect((await rows('deals')).map((row) => row.name)).to.deep.equal([
        'read later',
        'received last',
        'second sync',
      ]);
    });

    it('removes a row whose newest version is a deletion; an older version received later does not bring it back', async () => {
      await land(deals, [
        record('deals', { id: 1, name: 'a', updated: at(1) }),
        record('deals', { id: 2, name: 'b', updated: at(1) }),
        state('deals'),
      ]);
      await land(deals, [
        record('deals', { id: 1, name: 'a', updated: at(2), _ab_cdc_deleted_at: at(2) }),
        record('deals', { id: 3, updated: at(2), _ab_cdc_deleted_at: at(2) }),
        state('deals'),
      ]);
      expect(await rows('deals')).to.deep.equal([{ id: '2', name: 'b' }]);
      await land(deals, [
        record('deals', { id: 1, name: 'stale', updated: at(1) }),
        record('deals', { id: 3, name: 'restored', updated: at(3) }),
        state('deals'),
      ]);
      expect(await rows('deals')).to.deep.equal([
        { id: '2', name: 'b' },
        { id: '3', name: 'restored' },
      ]);
    });

    it("lands a stream's records only up to its last STATE, and passes on its latest state", async () => {
      const result = await land(deals, [
        record('deals', { id: 1, name: 'a', updated: at(1) }),
        state('deals', { updated: at(1) }),
        record('deals', { id: 2, name: 'b', updated: at(2) }),
        state('deals', { updated: at(2) }),
        record('deals', { id: 3, name: 'after the last state', updated: at(3) }),
      ]);
      expect(await rows('deals')).to.deep.equal([
        { id: '1', name: 'a' },
        { id: '2', name: 'b' },
      ]);
      expect(result.states).to.deep.equal([
        { type: 'STREAM', stream: { stream_descriptor: { name: 'deals' }, stream_state: { updated: at(2) } } },
      ]);
      expect(result.streams).to.deep.equal([{ stream: 'deals', received: 3, landed: 2, rows: 2, kept: false }]);
    });

    it('keeps the states of streams this sync did not read, and of streams the catalog no longer has', async () => {
      const previous = [state('deals', { updated: at(1) }).state!, state('gone', { x: 1 }).state!];
      const result = await land(deals, [], previous);
      expect(result.states.map((s) => s.stream?.stream_descriptor.name)).to.deep.equal(['deals', 'gone']);
    });
  });

  describe('overwrite', () => {
    const stages = (resumable = false) => [configured('stages', 'overwrite', { resumable })];
    const firstTable = () =>
      land(stages(), [record('stages', { id: 1, name: 'old' }), state('stages'), complete('stages')]);

    it('replaces the table with what the sync read when the stream completes, deletions left out, and keeps no state', async () => {
      await firstTable();
      const result = await land(stages(), [
        record('stages', { id: 2, name: 'new' }),
        record('stages', { id: 3, name: 'deleted', _ab_cdc_deleted_at: at(1) }),
        state('stages'),
        complete('stages'),
      ]);
      expect(await rows('stages')).to.deep.equal([{ id: '2', name: 'new' }]);
      expect(result.states).to.deep.equal([]);
    });

    it('a stream that completes with no records leaves an empty table', async () => {
      await firstTable();
      await land(stages(), [state('stages'), complete('stages')]);
      expect(await rows('stages')).to.deep.equal([]);
    });

    it('keeps the previous table when the stream does not complete; a stream that cannot resume starts over', async () => {
      await firstTable();
      const cut = await land(stages(), [record('stages', { id: 2, name: 'cut short' }), state('stages', { page: 1 })]);
      expect(await rows('stages')).to.deep.equal([{ id: '1', name: 'old' }]);
      expect(cut.streams[0]).to.include({ kept: true });
      expect(cut.states).to.deep.equal([]);
      await land(stages(), [record('stages', { id: 3, name: 'whole' }), state('stages'), complete('stages')]);
      expect(await rows('stages')).to.deep.equal([{ id: '3', name: 'whole' }]);
    });

    it('a resumable stream keeps what it read and its state until a later sync completes it', async () => {
      await firstTable();
      const slices = { slices_done: [1] };
      const cut = await land(stages(true), [
        record('stages', { id: 2, name: 'slice 1' }),
        state('stages', slices),
        record('stages', { id: 3, name: 'after the state' }),
      ]);
      expect(await rows('stages')).to.deep.equal([{ id: '1', name: 'old' }]);
      expect(cut.states.map((s) => s.stream?.stream_state)).to.deep.equal([slices]);
      const resumed = await land(
        stages(true),
        [
          record('stages', { id: 3, name: 'slice 2' }),
          state('stages', { __ab_full_refresh_sync_complete: true }),
          complete('stages'),
        ],
        cut.states,
      );
      expect(await rows('stages')).to.deep.equal([
        { id: '2', name: 'slice 1' },
        { id: '3', name: 'slice 2' },
      ]);
      expect(resumed.states).to.deep.equal([]);
    });

    it('a resumable stream whose sync starts afresh (no state passed) does not keep an earlier attempt', async () => {
      await land(stages(true), [record('stages', { id: 2, name: 'attempt' }), state('stages', { slices_done: [1] })]);
      await land(stages(true), [record('stages', { id: 3, name: 'afresh' }), state('stages'), complete('stages')]);
      expect(await rows('stages')).to.deep.equal([{ id: '3', name: 'afresh' }]);
    });
  });

  it('append: every committed record is a row', async () => {
    const notes = [configured('notes', 'append')];
    await land(notes, [
      record('notes', { id: 1, updated: at(1) }),
      record('notes', { id: 1, updated: at(2) }),
      state('notes'),
    ]);
    expect(await rows('notes', 'id, updated')).to.have.length(2);
  });

  it('types each column from the JSON schema; a value that does not fit its type is NULL', async () => {
    const properties: Properties = {
      id: { type: 'integer' },
      text: { type: ['string', 'null'] },
      at: { type: ['string', 'null'], format: 'date-time' },
      day: { type: ['string', 'null'], format: 'date' },
      amount: { type: ['number', 'null'] },
      done: { type: ['boolean', 'null'] },
      labels: { type: ['array', 'null'] },
      address: { type: ['object', 'null'] },
      either: { type: ['string', 'integer'] },
      updated: { type: ['string', 'null'], format: 'date-time' },
    };
    const things = [configured('things', 'append_dedup', { properties })];
    const data = {
      id: 1,
      text: 'x',
      at: '2026-11-01T10:00:00+02:00',
      day: '2026-11-02',
      amount: 2.5,
      done: true,
      labels: ['a', 'b'],
      address: { city: 'Tallinn' },
      either: 5,
      updated: 'not a time',
    };
    await land(things, [record('things', data), record('things', { id: 2, amount: 'lots' }), state('things')]);
    const types = await destination.query('SELECT column_name, column_type FROM (DESCRIBE things)');
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).to.deep.equal({
      id: 'BIGINT',
      text: 'VARCHAR',
      at: 'TIMESTAMP WITH TIME ZONE',
      day: 'DATE',
      amount: 'DOUBLE',
      done: 'BOOLEAN',
      labels: 'JSON',
      address: 'JSON',
      either: 'JSON',
      updated: 'TIMESTAMP WITH TIME ZONE',
      _airbyte_extracted_at: 'TIMESTAMP WITH TIME ZONE',
    });
    const [first, second] = (await destination.rows('things')).sort((a, b) => Number(a.id) - Number(b.id));
    expect(first).to.deep.include({ id: 1, at: '2026-11-01 08:00:00+00', day: '2026-11-02', labels: ['a', 'b'] });
    expect(first).to.deep.include({ address: { city: 'Tallinn' }, either: 5, updated: null, done: true });
    expect(second).to.include({ id: 2, amount: null });
  });

  it('adds a column when a later catalog has a new property (a new custom field); older rows have it NULL', async () => {
    await land([configured('deals', 'append_dedup')], [record('deals', { id: 1, updated: at(1) }), state('deals')]);
    const properties = { ...PROPERTIES, seats: { type: ['integer', 'null'] } };
    await land(
      [configured('deals', 'append_dedup', { properties })],
      [record('deals', { id: 2, updated: at(1), seats: 12 }), state('deals')],
    );
    expect(await rows('deals', 'id, seats')).to.deep.equal([
      { id: '1', seats: null },
      { id: '2', seats: '12' },
    ]);
  });

  it('refuses what it cannot land as Airbyte would: a record of a stream not in the catalog, a GLOBAL state', async () => {
    const deals = [configured('deals', 'append_dedup')];
    const sync = await destination.begin({ streams: deals }, []);
    await expectRejection(sync.write(record('persons', { id: 1 })), /stream persons is not in the catalog/);
    const global: AirbyteMessage = { type: 'STATE', state: { type: 'GLOBAL', global: { stream_states: [] } } };
    await expectRejection(sync.write(global), /STREAM\) states only/);
    await expectRejection(
      destination.begin({ streams: [{ ...deals[0]!, primary_key: [] }] }, []),
      /needs a primary key/,
    );
  });

  it('is a tool beside the connector: of the connector it imports only the protocol types', () => {
    const folder = new URL('../loader/', import.meta.url);
    const imports = readdirSync(folder).flatMap((file) =>
      [...readFileSync(new URL(file, folder), 'utf8').matchAll(/from '(\.[^']+)'/g)].map((match) => match[1]),
    );
    const allowed = /^(\.\/[\w-]+\.js|\.\.\/src\/generated\/airbyte-protocol\.js)$/;
    expect(imports).to.include('./duckdb.js');
    expect(imports.filter((path) => !allowed.test(path ?? ''))).to.deep.equal([]);
  });

  describe('its input', () => {
    const input = (text: string) => Readable.from([text.slice(0, 5), text.slice(5)]);

    it('reads lines across chunks, numbered, blank ones skipped; the last one may lack its newline', async () => {
      const lines = [];
      for await (const line of linesOf(input('{"a":1}\n\n{"b":\n2}\n{"c"'))) lines.push(line);
      expect(lines).to.deep.equal([
        { text: '{"a":1}', number: 1, ended: true },
        { text: '{"b":', number: 3, ended: true },
        { text: '2}', number: 4, ended: true },
        { text: '{"c"', number: 5, ended: false },
      ]);
    });

    it('says which line is not a message', () => {
      expect(() => messageOf({ text: '{"b":', number: 3, ended: true })).to.throw(/^line 3 is not JSON: \{"b":/);
      expect(() => messageOf({ text: '[1]', number: 4, ended: true })).to.throw(/^line 4 is not an Airbyte message/);
      const record = '{"type":"RECORD","record":{"stream":"deals"}}';
      expect(() => messageOf({ text: record, number: 5, ended: true })).to.throw(/^line 5 is a RECORD without/);
    });

    it('of a connector stopped mid-message: lands what was committed, ignores the cut line, and calls the sync failed', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'loader-test-')), 'cut.duckdb');
      const lines = [record('deals', { id: 1, updated: at(1) }), state('deals', { updated: at(1) })].map((m) =>
        JSON.stringify(m),
      );
      const said: string[] = [];
      const input = Readable.from([`${lines.join('\n')}\n{"type":"REC`]);
      const result = await load(file, { streams: [configured('deals', 'append_dedup')] }, input, (line) =>
        said.push(line),
      );
      expect(result).to.deep.include({ failed: true });
      expect(result.streams[0]).to.include({ rows: 1 });
      expect(said).to.deep.equal(['The input ended inside line 3 (was the connector stopped?): that line is ignored.']);
      expect(JSON.parse(readFileSync(stateFileOf(file), 'utf8'))).to.deep.equal([
        state('deals', { updated: at(1) }).state,
      ]);
    });
  });
});

async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error?.message).to.match(pattern);
}
