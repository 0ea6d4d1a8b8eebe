// `npm run demo`: the connector at work in one command, on its embedded default, a local Pipedrive simulator (no
// account needed), into a real warehouse. Through the real command line: check, discover, a first sync (it reads
// everything), a day of changes in the CRM, then an incremental sync from the state the loader kept. Both syncs land
// in a DuckDB file (demo-output/pipedrive.duckdb) through the loader `npm run load` runs, as Airbyte's destinations
// land data; then a few questions a sales analyst would ask are answered from it. The protocol output goes to
// demo-output/; a summary is printed. `npm run demo -- --oauth` signs in with the simulator's OAuth app instead of an
// API token, keeping each rotated refresh token from the connector's CONTROL message in the config, as the platform
// does.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DuckDbDestination } from '../loader/duckdb.js';
import type { SyncResult } from '../loader/duckdb.js';
import { load, stateFileOf } from '../loader/load.js';
import type { AirbyteMessage, ConfiguredAirbyteCatalog } from '../src/generated/airbyte-protocol.js';
import { configuredCatalog, type JsonSchema } from '../src/pipedrive/streams/catalog.js';
import { OAUTH_APP } from '../simulator/oauth.js';
import { PipedriveSimulator, TOKENS } from '../simulator/server.js';
import { ANALYST_QUERIES, textTable } from './demo-queries.js';

const started = performance.now();
const root = fileURLToPath(new URL('..', import.meta.url));
const output = `${root}demo-output`;
mkdirSync(output, { recursive: true });
const config = `${output}/config.json`;
const database = `${output}/pipedrive.duckdb`;
for (const file of [database, `${database}.wal`, stateFileOf(database)]) rmSync(file, { force: true });

/** Runs the connector's command line, its stdout into demo-output/<name>.jsonl; returns the messages. */
async function connector(name: string, args: string[]): Promise<AirbyteMessage[]> {
  return (await sync(name, args)).messages;
}

/** Runs the connector's command line, its stdout into demo-output/<name>.jsonl and, given the catalog it reads, into
 * the DuckDB file through the loader; returns the messages and what the loader did. */
async function sync(name: string, args: string[], landing?: ConfiguredAirbyteCatalog) {
  const file = `${output}/${name}.jsonl`;
  const child = spawn(process.execPath, [`${root}dist/main.js`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const written = new Promise<void>((resolve) => child.stdout.pipe(createWriteStream(file)).on('finish', resolve));
  const landed = landing && load(database, landing, child.stdout.pipe(new PassThrough()), sayErrors);
  const [, result] = await Promise.all([written, landed]);
  const messages = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AirbyteMessage);
  const saved = messages.filter((m) => m.type === 'CONTROL').at(-1)?.control?.connectorConfig?.config;
  if (saved) writeFileSync(config, JSON.stringify(saved, null, 2));
  return { messages, landed: result };
}

/** The connector's warnings are in its output: of what the loader passes on, the demo prints only errors. */
function sayErrors(line: string): void {
  if (line.startsWith('ERROR')) console.log(`          ${line}`);
}

type StreamFigures = { records: number | null; seconds: number; requests: number; tokens: number };
const summaryOf = (messages: AirbyteMessage[]) => {
  const log = messages.filter((m) => m.type === 'LOG' && m.log!.message.startsWith('Sync finished')).at(-1)!.log!
    .message;
  return JSON.parse(log.slice(log.indexOf('{'))) as {
    seconds: number;
    tokens: number;
    requests: number;
    streams: Record<string, StreamFigures>;
  };
};

const simulator = new PipedriveSimulator({ burstLimit: 40 });
const origin = await simulator.start();
// No start_date: the connector's default, one year of history.
const credentials = process.argv.includes('--oauth')
  ? {
      credentials: {
        auth_type: 'oauth2.0',
        client_id: OAUTH_APP.clientId,
        client_secret: OAUTH_APP.clientSecret,
        refresh_token: OAUTH_APP.refreshToken,
      },
    }
  : { api_token: TOKENS.admin };
writeFileSync(config, JSON.stringify({ ...credentials, base_url: origin }, null, 2));
console.log(
  `Pipedrive simulator: ${origin} (a company of ${Object.values(simulator.dataset.tables).reduce((n, t) => n + t.count, 0)} records over two years)\n`,
);

const check = await connector('1-check', ['check', '--config', config]);
const status = check.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus!;
console.log(`check     ${status.status}: ${status.message}`);

const discover = await connector('2-discover', ['discover', '--config', config]);
const discovered = discover.find((m) => m.type === 'CATALOG')!.catalog!.streams;
console.log(`discover  ${discovered.length} streams`);

// As Airbyte configures a connection: the discovered schemas (every custom field a typed column), the incremental
// streams incremental and deduplicated, the others in full refresh.
const schemas = new Map(discovered.map((stream) => [stream.name, stream.json_schema as JsonSchema]));
const catalog = configuredCatalog('incremental', undefined, (stream) => schemas.get(stream.name));
const catalogFile = `${output}/catalog.json`;
writeFileSync(catalogFile, JSON.stringify(catalog, null, 2));
const read = (...extra: string[]) => ['read', '--config', config, '--catalog', catalogFile, ...extra];

const { messages: first } = await sync('3-read-first', read(), catalog);
console.log(`read      first sync: ${first.filter((m) => m.type === 'RECORD').length} records`);

// A day of work in the CRM.
const data = simulator.dataset;
data.update('deals', 1, { title: 'Renamed in the demo' });
data.remove('deals', 2);
data.archiveDeal(3);
data.add('persons', { name: 'New Person (demo)' });
data.update('notes', 4, { content: '<p>Edited in the demo</p>' });
data.update('activities', 5, { done: true });
data.update('files', 6);
data.update('email_messages', data.messagesOf(7)[0]!);
console.log(
  'changes   renamed, deleted and archived a deal; added a person; edited a note, an activity, a file, a mail message',
);

const { messages: incremental, landed } = await sync(
  '4-read-incremental',
  read('--state', stateFileOf(database)),
  catalog,
);
console.log(`read      incremental: ${incremental.filter((m) => m.type === 'RECORD').length} records\n`);
await simulator.stop();

const { states, streams: tables } = landed as SyncResult;
const tableRows = new Map(tables.map((table) => [table.stream, table.rows]));
const finalState = new Map(
  states.map((s) => [s.stream?.stream_descriptor.name, JSON.stringify(s.stream?.stream_state)]),
);
const [before, after] = [summaryOf(first), summaryOf(incremental)];
const streams = Object.keys(before.streams).map((name) => {
  const [a, b] = [before.streams[name]!, after.streams[name]!];
  return {
    stream: name,
    'first: records': a.records,
    time: `${a.seconds.toFixed(1)} s`,
    tokens: a.tokens,
    'incremental: records': b.records,
    ' tokens': b.tokens,
    'rows in DuckDB': tableRows.get(name) ?? '',
    'state after': finalState.get(name) ?? '',
  };
});
for (const line of textTable(streams)) console.log(line);
console.log(
  `\nfirst sync: ${before.requests} requests, ${before.tokens} API tokens in ${before.seconds.toFixed(1)} s; incremental: ${after.requests} requests, ${after.tokens} API tokens in ${after.seconds.toFixed(1)} s`,
);

const warehouse = await DuckDbDestination.open(database);
const file = relative(process.cwd(), database) || database;
console.log(`\nFrom the warehouse: ${file}, a DuckDB database, both syncs landed as Airbyte's destinations land them`);
for (const { title, sql } of ANALYST_QUERIES) {
  console.log(`\n${title}\n`);
  for (const line of textTable(await warehouse.query(sql))) console.log(`  ${line}`);
}
warehouse.close();

console.log(`
Open it with the DuckDB command line (duckdb.org/docs/installation): duckdb ${file}
or with this project's query script:     npm run query -- ${file} "SELECT title, customer_type FROM deals LIMIT 5"
The protocol output of every step is in demo-output/ (1-check.jsonl … 4-read-incremental.jsonl, catalog.json, the
state the next sync would start from: pipedrive.duckdb.state.json). Done in ${((performance.now() - started) / 1000).toFixed(0)} s.`);
