import { expect } from 'chai';
import type {
  AirbyteCatalog,
  AirbyteMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
} from '../../src/generated/airbyte-protocol.js';
import { configuredCatalog } from '../../src/pipedrive/streams/catalog.js';
import {
  DEFAULT_STREAMS,
  INCREMENTAL_STREAMS,
  deriveOf,
  isIncremental,
  primaryKeyOf,
  streamByName,
} from '../../src/pipedrive/streams/table.js';
import type { PipedriveSimulator } from '../../simulator/server.js';
import { CLI, clockedProcess, runCli, spawnConnector, tempFile, type CliRun } from './cli.js';
import { latestStates, parseMessageLine } from '../../acceptance/protocol.js';
import { recordViolations } from '../../acceptance/rules.js';
import { CORE_STREAMS } from './contract.js';
import { configFor } from './simulator.js';

/** The streams a catalog selects by default: all but the opt-in ones (field history). */
export const ALL = DEFAULT_STREAMS.map((s) => s.name);
export const INCREMENTAL = INCREMENTAL_STREAMS.filter((s) => ALL.includes(s.name)).map((s) => s.name);
/** The 11 incremental streams of the product's core 16 (the streams added on top have tests of their own). */
export const CORE_INCREMENTAL = Object.entries(CORE_STREAMS).flatMap(([name, cursor]) => (cursor ? [name] : []));

/** The cursor field of a stream of the table, or undefined for a full-table stream. */
export function cursorFieldOf(name: string): string | undefined {
  const stream = streamByName.get(name);
  if (!stream) throw new Error(`no stream ${name}`);
  return isIncremental(stream) ? stream.cursor : undefined;
}

export interface Sync {
  run: CliRun;
  records: Map<string, Record<string, unknown>[]>;
  /** Every STATE message, in order. */
  stateMessages: AirbyteStateMessage[];
  /** The latest state per stream, as Airbyte keeps it, ready to pass to the next sync. */
  state: ReturnType<typeof latestStates>;
  statuses: Map<string, string[]>;
}

export function parseSync(run: CliRun, messages: AirbyteMessage[] = run.messages): Sync {
  const records = new Map<string, Record<string, unknown>[]>();
  const statuses = new Map<string, string[]>();
  const stateMessages: AirbyteStateMessage[] = [];
  for (const message of messages) {
    if (message.type === 'RECORD') {
      const { stream, data } = message.record!;
      if (!records.has(stream)) records.set(stream, []);
      records.get(stream)!.push(data as Record<string, unknown>);
    } else if (message.type === 'STATE') {
      stateMessages.push(message.state!);
    } else if (message.type === 'TRACE' && message.trace!.type === 'STREAM_STATUS') {
      const { stream_descriptor, status } = message.trace!.stream_status!;
      if (!statuses.has(stream_descriptor.name)) statuses.set(stream_descriptor.name, []);
      statuses.get(stream_descriptor.name)!.push(status);
    }
  }
  return { run, records, stateMessages, state: latestStates(stateMessages), statuses };
}

export interface SyncOptions {
  mode?: 'full_refresh' | 'incremental';
  streams?: readonly string[];
  /** The configured catalog, instead of one made of the static schemas (`mode`, `streams`). */
  catalog?: ConfiguredAirbyteCatalog;
  config?: Record<string, unknown>;
  /** What `config` adds to: the simulator's admin API token by default. */
  credentials?: Record<string, unknown>;
  state?: unknown;
}

/** Runs `read` through the real command line against the simulator, the connector's clock on the company's. */
export async function sync(simulator: PipedriveSimulator, options: SyncOptions = {}): Promise<Sync> {
  const args = [
    'read',
    '--config',
    tempFile({ ...(options.credentials ?? configFor(simulator)), start_date: '2020-01-01', ...options.config }),
    '--catalog',
    tempFile(options.catalog ?? configuredCatalog(options.mode ?? 'incremental', options.streams)),
  ];
  if (options.state !== undefined) args.push('--state', tempFile(options.state));
  return parseSync(await runCli(args, { now: simulator.clock.now(), secrets: simulator.oauth.issued }));
}

/** Starts a sync and kills it (SIGKILL) once `stop` says so, keeping only the messages received by then. */
export async function killedSync(
  simulator: PipedriveSimulator,
  options: SyncOptions,
  stop: (message: AirbyteMessage, seen: AirbyteMessage[]) => boolean,
): Promise<Sync> {
  const args = [
    CLI,
    'read',
    '--config',
    tempFile(configFor(simulator, { start_date: '2020-01-01', ...options.config })),
    '--catalog',
    tempFile(configuredCatalog(options.mode ?? 'incremental', options.streams)),
    ...(options.state === undefined ? [] : ['--state', tempFile(options.state)]),
  ];
  const clocked = clockedProcess(simulator.clock.now());
  const child = spawnConnector([...clocked.nodeOptions, ...args], { env: clocked.env });
  const seen: AirbyteMessage[] = [];
  let rest = '';
  let killed = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (killed) return;
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const message = parseMessageLine(line);
      seen.push(message);
      if (stop(message, seen)) {
        killed = true;
        child.kill('SIGKILL');
        return;
      }
    }
  });
  await new Promise((resolve) => child.on('close', resolve));
  expect(killed, 'the sync ended before it could be killed').to.equal(true);
  return parseSync({ exitCode: null, stdout: '', stderr: '', messages: seen }, seen);
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Runs `discover` through the real command line against the simulator, as Airbyte does before a sync. */
export async function discover(
  simulator: PipedriveSimulator,
  config: Record<string, unknown> = {},
): Promise<AirbyteCatalog> {
  const run = await runCli(['discover', '--config', tempFile(configFor(simulator, config))]);
  const catalog = run.messages.find((m) => m.type === 'CATALOG')?.catalog;
  if (!catalog) throw new Error(`discover printed no catalog: ${run.stdout}`);
  return catalog;
}

/** A configured catalog made from a discovered one, as Airbyte makes it: incremental streams in `mode`. */
export function configuredFrom(
  catalog: AirbyteCatalog,
  mode: 'full_refresh' | 'incremental',
  names?: readonly string[],
) {
  const schemas = new Map(catalog.streams.map((s) => [s.name, s.json_schema]));
  return configuredCatalog(mode, names, (stream) => schemas.get(stream.name));
}

/** Every record passes the acceptance tests' record checks against its discovered schema (`catalog`, the static
 * schemas if none), and every top-level date-time in it is RFC 3339 UTC (stricter than the acceptance tests ask). */
export function expectValidRecords(records: Map<string, Record<string, unknown>[]>, catalog?: AirbyteCatalog): void {
  const streams = catalog?.streams ?? configuredCatalog('full_refresh').streams.map((s) => s.stream);
  const all = [...records].flatMap(([stream, list]) => list.map((data) => ({ stream, data })));
  expect(recordViolations(all, streams)).to.deep.equal([]);
  for (const { stream, data } of all) {
    const properties = (
      streams.find((s) => s.name === stream)!.json_schema as { properties: Record<string, { format?: string }> }
    ).properties;
    for (const [field, property] of Object.entries(properties)) {
      if (property.format === 'date-time' && data[field] !== null && data[field] !== undefined)
        expect(data[field], `${stream}.${field}`).to.match(RFC3339_UTC);
    }
  }
}

/** The ids the simulator holds for a stream, updated at or after `since` (epoch ms) for incremental streams: a table's
 * rows; a field-definition stream's keys; a list derived from another table's rows (a child stream, or a full table
 * read per record of another list) with ids made as the connector makes them, of the parents changed since (and, for
 * a list the connector reads down to its saved point, such as a changelog, only the records since). */
export function expectedIds(simulator: PipedriveSimulator, stream: string, since = -Infinity): (number | string)[] {
  const data = simulator.dataset;
  const definition = streamByName.get(stream);
  const sorted = (ids: (number | string)[]) =>
    ids.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1));
  if (definition?.kind === 'fields')
    return data.fieldKeys(definition.list?.endpoint === '/v1/leadFields' ? 'lead' : definition.entity).sort();
  if (stream === 'goals') {
    return Array.from(data.tables.goals.order('index'), (i) => String(data.tables.goals.get(i)?.id)).sort();
  }
  if (stream === 'email_messages') {
    const threads = data.tables.email_threads;
    return Array.from(threads.order('index'))
      .filter((thread) => threads.time(thread) >= since)
      .flatMap((thread) => data.messagesOf(thread))
      .filter((message) => data.tables.email_messages.time(message) >= since)
      .sort((a, b) => a - b);
  }
  const parentTable = data.parentTableOf(stream);
  if (definition && parentTable) {
    const parents = data.tables[parentTable];
    const cursor = cursorFieldOf(stream);
    const lists = definition.kind === 'child' || definition.kind === 'full_table' ? definition.lists : [];
    const derive = deriveOf(definition);
    // A list whose older records the connector keeps is read whole for each parent changed since; any other (a
    // changelog) down to the stream's saved point.
    const whole = lists.every((list) => list.older === 'keep');
    const millis = (value: unknown) => {
      const text = String(value);
      return Date.parse(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
    };
    return sorted(
      Array.from(parents.order('index'))
        .filter((index) => cursor === undefined || !whole || parents.time(index) >= since)
        .flatMap((index) => {
          const parent = parents.get(index)!;
          return data.childrenOf(stream, parent.id as number | string).map((record) => {
            derive?.(record, parent);
            return record;
          });
        })
        .filter((record) => cursor === undefined || whole || !(millis(record[cursor]) < since))
        .map((record) => record[primaryKeyOf(definition)] as number | string),
    );
  }
  const table = data.table(stream);
  const incremental = cursorFieldOf(stream) !== undefined;
  const indexes = Array.from(table.order('index')).filter((id) => !incremental || table.time(id) >= since);
  if (definition?.kind !== 'full_table' && stream !== 'leads') return indexes;
  // Rows whose ids are not their indexes: leads and lead labels (UUIDs), lead sources (names), call logs, permission
  // sets. A full table's lists leave deleted rows out (projects a test deleted: status deleted).
  const key = primaryKeyOf(definition!);
  const ids = indexes
    .map((index) => table.get(index)!)
    .filter((record) => definition?.kind !== 'full_table' || record.status !== 'deleted')
    .map((record) => record[key] as number | string);
  return typeof ids[0] === 'string' ? ids.sort() : ids;
}

/** The primary keys of records, each once, sorted; of `stream`'s records if named (field definitions: `key`). */
export function idsOf(records: Record<string, unknown>[] | undefined, stream?: string): (number | string)[] {
  const definition = stream === undefined ? undefined : streamByName.get(stream);
  const key = definition ? primaryKeyOf(definition) : 'id';
  return [...new Set((records ?? []).map((r) => r[key] as number | string))].sort((a, b) =>
    typeof a === 'number' ? a - (b as number) : a < b ? -1 : 1,
  );
}

/** How many requests to `path` the simulator answered with 200. */
export const answered = (simulator: PipedriveSimulator, path: string) =>
  simulator.requests.filter((r) => r.path === path && r.status === 200).length;

export { configuredCatalog };

/** A batched child of deals was read in about one request per 100 deals (a partly filled batch at most per page of
 * deals, which the batches follow), every deal asked for once, none more than 100 at a time; and read whole. */
export function expectDealsBatched(simulator: PipedriveSimulator, s: Sync, stream: string, endpoint: string): void {
  expect(s.run.exitCode).to.equal(0);
  expect(idsOf(s.records.get(stream), stream)).to.deep.equal(expectedIds(simulator, stream));
  const requests = simulator.requestsTo(endpoint);
  const deals = simulator.dataset.counts.deals;
  const dealPages =
    simulator.requestsTo('/api/v2/deals').length + simulator.requestsTo('/api/v2/deals/archived').length;
  expect(requests.length).to.be.within(deals / 100, deals / 100 + dealPages - 1);
  const asked = requests.flatMap((request) => request.query.deal_ids!.split(','));
  expect(asked).to.have.length(deals);
  for (const request of requests) expect(request.query.deal_ids!.split(',').length).to.be.at.most(100);
}

/** What a destination keeps of a sync that failed or was killed: each stream's records up to its last STATE (the
 * records after it were never acknowledged), and every other message. */
export function acknowledged(messages: readonly AirbyteMessage[]): AirbyteMessage[] {
  const lastState = new Map<string, number>();
  messages.forEach((message, index) => {
    const name = message.type === 'STATE' ? message.state?.stream?.stream_descriptor.name : undefined;
    if (name !== undefined) lastState.set(name, index);
  });
  return messages.filter(
    (message, index) => message.type !== 'RECORD' || index < (lastState.get(message.record?.stream ?? '') ?? -1),
  );
}
