// The connector into a real warehouse, through the command lines a user runs: `read | npm run load -- duckdb FILE
// --catalog CATALOG`, against the simulator. After a first sync, a day of changes (creations, edits, deletions, a
// purge, a new custom field) and a second sync from the state the loader kept, DuckDB's tables hold the simulator's
// data; a full refresh that fails midway leaves the previous table. The landing rules themselves: test/loader.test.ts.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { ConfiguredAirbyteCatalog } from '../src/generated/airbyte-protocol.js';
import type { PipedriveSimulator } from '../simulator/server.js';
import { fieldKey } from '../simulator/fields.js';
import { DuckDbDestination } from '../loader/duckdb.js';
import { stateFileOf } from '../loader/load.js';
import { CLI, clockedProcess, spawnConnector, tempFile } from './helpers/cli.js';
import { mismatchesOf } from './helpers/convergence.js';
import { configFor, useSimulator } from './helpers/simulator.js';
import { configuredCatalog, configuredFrom, discover } from './helpers/sync.js';

const HOUR = 3_600_000;
const LOAD = fileURLToPath(new URL('../scripts/load.ts', import.meta.url));

interface Run {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the loader's command line on `input` (protocol lines, or a connector's stdout). */
function load(args: string[], input: NodeJS.ReadableStream | string): Promise<Run> {
  const loader = spawn(process.execPath, ['--import', 'tsx', LOAD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const run = { exitCode: null as number | null, stdout: '', stderr: '' };
  loader.stdout.setEncoding('utf8').on('data', (chunk: string) => (run.stdout += chunk));
  loader.stderr.setEncoding('utf8').on('data', (chunk: string) => (run.stderr += chunk));
  if (typeof input === 'string') loader.stdin.end(input);
  else input.pipe(loader.stdin);
  return new Promise((resolve) => loader.on('close', (exitCode) => resolve({ ...run, exitCode })));
}

/** `read` into the loader, as the README shows it: with the state the loader kept, if any. Returns both exits. */
async function syncInto(
  sim: PipedriveSimulator,
  file: string,
  catalog: ConfiguredAirbyteCatalog,
  config: Record<string, unknown> = {},
): Promise<{ read: number | null; load: Run }> {
  const catalogFile = tempFile(catalog);
  const args = [CLI, 'read', '--config', tempFile(configFor(sim, { start_date: '2020-01-01', ...config }))];
  args.push('--catalog', catalogFile, ...(existsSync(stateFileOf(file)) ? ['--state', stateFileOf(file)] : []));
  const clocked = clockedProcess(sim.clock.now());
  const connector = spawnConnector([...clocked.nodeOptions, ...args], { env: clocked.env });
  const read = new Promise<number | null>((resolve) => connector.on('close', resolve));
  const landed = await load(['duckdb', file, '--catalog', catalogFile], connector.stdout);
  return { read: await read, load: landed };
}

/** Works on the database file once the loader has let go of it. */
async function inDuckDb<T>(file: string, work: (db: DuckDbDestination) => Promise<T>): Promise<T> {
  const db = await DuckDbDestination.open(file);
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

const newFile = () => join(mkdtempSync(join(tmpdir(), 'duckdb-test-')), 'pipedrive.duckdb');

describe('DuckDB as the destination, through the command line', function () {
  this.timeout(120_000);
  const sim = useSimulator({}, true);

  it("after a first sync, a day of changes and a second sync from the loader's state, the tables hold Pipedrive's data", async () => {
    const file = newFile();
    const first = configuredFrom(await discover(sim()), 'incremental');
    const initial = await syncInto(sim(), file, first);
    expect(initial.read).to.equal(0);
    expect(initial.load).to.include({ exitCode: 0, stdout: '' });
    expect(initial.load.stderr).to.include(`Landed in ${file}`);
    expect(await inDuckDb(file, (db) => mismatchesOf(sim(), first, db))).to.deep.equal([]);

    sim().clock.advance(HOUR);
    const data = sim().dataset;
    const customerType = data.fields.deal.find((field) => field.name === 'Customer type')!;
    const churn = fieldKey(data.seed, 'deal', 'Churn risk');
    data.addField('deal', { key: churn, name: 'Churn risk', type: 'double' });
    const fields = { ...(data.tables.deals.get(1)!.custom_fields as object), [customerType.key]: 191, [churn]: 0.25 };
    data.update('deals', 1, { title: 'Renamed', custom_fields: fields });
    const added = data.add('deals', { title: 'New deal' });
    data.add('persons', { name: 'New Person' });
    data.archiveDeal(3);
    for (const [stream, id] of [
      ['deals', 2],
      ['persons', 3],
      ['activities', 4],
      ['notes', 5],
      ['files', 6],
    ] as const)
      data.remove(stream, id);
    data.purge('notes', 21);
    data.update('activities', 8, { done: true });
    sim().clock.advance(HOUR);
    // Airbyte discovers again before a sync: the new field is a new column of the catalog.
    const second = configuredFrom(await discover(sim()), 'incremental');
    const next = await syncInto(sim(), file, second);
    expect(next.read).to.equal(0);
    expect(next.load).to.include({ exitCode: 0, stdout: '' });

    await inDuckDb(file, async (db) => {
      expect(await mismatchesOf(sim(), second, db)).to.deep.equal([]);
      const deal = async (id: unknown) =>
        (await db.query(`SELECT title, customer_type, churn_risk, is_archived FROM deals WHERE id = ${Number(id)}`))[0];
      expect(await deal(1)).to.deep.equal({
        title: 'Renamed',
        customer_type: 'Company',
        churn_risk: 0.25,
        is_archived: false,
      });
      expect(await deal(2), 'a deleted deal').to.equal(undefined);
      expect(await deal(3)).to.include({ is_archived: true });
      expect(await deal(added.id)).to.include({ title: 'New deal' });
      const types = await db.query('SELECT column_name, column_type FROM (DESCRIBE deals)');
      expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).to.include({
        id: 'BIGINT',
        update_time: 'TIMESTAMP WITH TIME ZONE',
        customer_type: 'VARCHAR',
        product_lines: 'JSON',
        seats: 'BIGINT',
        contract_value: 'DOUBLE',
        renewal_date: 'DATE',
        churn_risk: 'DOUBLE',
      });
    });
    // The state the next sync needs: the incremental streams', not the full tables' (read whole every sync).
    const states = JSON.parse(readFileSync(stateFileOf(file), 'utf8')) as {
      stream: { stream_descriptor: { name: string } };
    }[];
    const incremental = second.streams.filter((s) => s.sync_mode === 'incremental').map((s) => s.stream.name);
    expect(states.map((s) => s.stream.stream_descriptor.name).sort()).to.deep.equal(incremental.sort());
  });

  it('a full refresh that fails midway keeps the previous table; the next one that completes replaces it', async () => {
    const file = newFile();
    const catalog = configuredCatalog('full_refresh', ['deals', 'stages']);
    expect((await syncInto(sim(), file, catalog)).load.exitCode).to.equal(0);
    const before = await inDuckDb(file, (db) => db.query('SELECT id, title FROM deals ORDER BY id'));
    sim().clock.advance(HOUR);
    sim().dataset.update('deals', 3, { title: 'Renamed' });
    sim().dataset.remove('deals', 4);
    sim().inject({ kind: 'http500', path: '/api/v2/deals', after: 1, times: 100 });
    const failed = await syncInto(sim(), file, catalog, { page_size: 50, max_retries: 0 });
    expect(failed.read).to.equal(1);
    expect(failed.load.exitCode, 'the sync failed').to.equal(1);
    expect(failed.load.stderr).to.include('The sync failed (above)');
    expect(failed.load.stderr).to.match(/deals .* did not complete: previous table kept/);
    expect(await inDuckDb(file, (db) => db.query('SELECT id, title FROM deals ORDER BY id'))).to.deep.equal(before);

    sim().reset();
    expect((await syncInto(sim(), file, catalog)).read).to.equal(0);
    await inDuckDb(file, async (db) => {
      expect(await mismatchesOf(sim(), catalog, db)).to.deep.equal([]);
      expect(await db.query('SELECT title FROM deals WHERE id = 3')).to.deep.equal([{ title: 'Renamed' }]);
    });
    expect(JSON.parse(readFileSync(stateFileOf(file), 'utf8'))).to.deep.equal([]);
  });

  describe("the loader's command line", () => {
    it('needs a catalog, and says so', async () => {
      const run = await load(['duckdb', newFile()], '');
      expect(run.exitCode).to.equal(1);
      expect(run.stderr).to.include('Missing required argument: catalog');
    });

    it('names a line that is not a message, lands nothing of that sync and writes no state', async () => {
      const file = newFile();
      const catalog = tempFile(configuredCatalog('incremental', ['deals']));
      const run = await load(
        ['duckdb', file, '--catalog', catalog],
        '{"type":"LOG","log":{"level":"INFO","message":"hi"}}\nnot json\n',
      );
      expect(run).to.include({ exitCode: 1, stdout: '' });
      expect(run.stderr).to.include('load: line 2 is not JSON: not json');
      expect(existsSync(stateFileOf(file))).to.equal(false);
    });

    it('says when the catalog is not one', async () => {
      const run = await load(['duckdb', newFile(), '--catalog', tempFile({ streams: 'none' })], '');
      expect(run.exitCode).to.equal(1);
      expect(run.stderr).to.match(/load: .* is not a configured catalog: it has no streams/);
    });
  });
});
