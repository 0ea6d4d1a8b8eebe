// A DuckDB database as an Airbyte destination (Destinations V2) lands a sync: one typed table per stream, in `main`;
// what the landing keeps for itself (deleted rows' versions, full refreshes under way) in `airbyte_internal`.
//
// - append_dedup: per primary key the newest version wins (`ORDER BY cursor DESC NULLS LAST, _airbyte_extracted_at
//   DESC`, the later received among equals); a winning version with `_ab_cdc_deleted_at` removes the row, and is kept
//   aside so that an older version received later does not bring it back.
// - overwrite: records go to a staging table, which replaces the stream's table only when the stream ends COMPLETE.
// - append: every record a row.
// A stream's records count only up to its last STATE message: those after it are discarded at the end, as Airbyte does
// for an attempt that failed. Records wait in a temporary table, typed by DuckDB from their JSON when they are landed.
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type {
  AirbyteMessage,
  AirbyteRecordMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
  ConfiguredAirbyteStream,
} from '../src/generated/airbyte-protocol.js';
import { DELETED_AT, EXTRACTED_AT, columnsOf, literal, quote, type Columns } from './columns.js';

type Json = Record<string, unknown>;

/** Committed records are landed once this many have gathered, and at the end: few merges, a bounded staging table. */
const BATCH = 50_000;
const INTERNAL = 'airbyte_internal';
/** Arrival order: the last tie-breaker between versions. */
const SEQ = '_airbyte_seq';

/** What a sync did to one stream's table. */
export interface StreamSummary {
  stream: string;
  received: number;
  landed: number;
  /** Rows in the table after the sync. */
  rows: number;
  /** A full refresh that did not complete: the previous table is kept (and, if resumable, what it read so far). */
  kept: boolean;
}

export interface SyncResult {
  /** The states to pass to the next sync, as the connector's `--state` takes them. */
  states: AirbyteStateMessage[];
  streams: StreamSummary[];
}

export class DuckDbDestination {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** Opens (or creates) a database file; `:memory:` for one that lives in this process only. */
  static async open(path: string): Promise<DuckDbDestination> {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    // Timestamps without an offset are read as UTC, whatever this machine's time zone.
    await connection.run(`SET TimeZone = 'UTC'; CREATE SCHEMA IF NOT EXISTS ${INTERNAL}`);
    return new DuckDbDestination(instance, connection);
  }

  /** Starts landing a sync of `catalog`; `states` are those the previous sync left (see SyncResult.states). */
  async begin(catalog: ConfiguredAirbyteCatalog, states: readonly AirbyteStateMessage[]): Promise<Sync> {
    const previous = new Map(states.flatMap((s) => (s.stream ? [[s.stream.stream_descriptor.name, s] as const] : [])));
    const landings = new Map<string, StreamLanding>();
    for (const configured of catalog.streams) {
      const name = configured.stream.name;
      landings.set(name, await StreamLanding.prepare(this.connection, configured, previous.has(name)));
    }
    return new Sync(landings, previous);
  }

  /** The rows of a stream's table, as JSON values (timestamps as text with their offset). */
  async rows(stream: string): Promise<Json[]> {
    const result = await this.connection.runAndReadAll(
      `SELECT to_json(t)::VARCHAR AS row FROM main.${quote(stream)} t`,
    );
    return result.getRowObjectsJson().map(({ row }) => JSON.parse(String(row)) as Json);
  }

  /** Runs a query; its rows as JSON values (big integers as text). */
  async query(sql: string): Promise<Json[]> {
    return (await this.connection.runAndReadAll(sql)).getRowObjectsJson();
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** One sync being landed: messages in, in the order the connector wrote them. */
export class Sync {
  private readonly committed = new Map<string, AirbyteStateMessage>();

  constructor(
    private readonly landings: ReadonlyMap<string, StreamLanding>,
    private readonly previous: ReadonlyMap<string, AirbyteStateMessage>,
  ) {}

  async write(message: AirbyteMessage): Promise<void> {
    if (message.type === 'RECORD' && message.record) return this.landing(message.record.stream).append(message.record);
    if (message.type === 'STATE' && message.state) return this.commit(message.state);
    const status = message.type === 'TRACE' ? message.trace?.stream_status : undefined;
    if (status?.status === 'COMPLETE') await this.landing(status.stream_descriptor.name).complete();
  }

  /** Lands what was committed, drops the rest, and says what the next sync should start from. */
  async end(): Promise<SyncResult> {
    const streams: StreamSummary[] = [];
    for (const landing of this.landings.values()) streams.push(await landing.finish());
    return { states: this.nextStates(), streams };
  }

  private async commit({ type, stream }: AirbyteStateMessage): Promise<void> {
    if (type !== 'STREAM' || !stream)
      throw new Error(`a ${type ?? 'LEGACY'} state: the loader keeps per-stream (STREAM) states only`);
    const name = stream.stream_descriptor.name;
    // As the platform keeps it: the stream's state, without the counts that came with it.
    this.committed.set(name, { type, stream: { ...stream, stream_state: stream.stream_state ?? {} } });
    await this.landings.get(name)?.commit();
  }

  /** Each stream's latest committed state; a full refresh's only while it is under way and can be resumed (Airbyte
   * forgets a full refresh's state once it completes: the next sync reads the stream whole again). */
  private nextStates(): AirbyteStateMessage[] {
    const states = new Map(this.previous);
    for (const [name, state] of this.committed) states.set(name, state);
    for (const [name, landing] of this.landings) if (!landing.keepsState()) states.delete(name);
    return [...states.values()];
  }

  private landing(stream: string): StreamLanding {
    const landing = this.landings.get(stream);
    if (!landing) throw new Error(`a record of ${stream}, a stream the catalog does not configure`);
    return landing;
  }
}

/** How the records of one stream reach its table. */
class StreamLanding {
  private received = 0;
  /** Records up to this one (by arrival, from 1) are committed by a STATE message. */
  private committedUpTo = 0;
  private landedUpTo = 0;
  private completed = false;

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly configured: ConfiguredAirbyteStream,
    private readonly table: LandingTable,
    /** Appends to the stream's temporary table of raw records (seq, emitted_at, data). */
    private readonly appender: DuckDBAppender,
  ) {}

  static async prepare(
    connection: DuckDBConnection,
    configured: ConfiguredAirbyteStream,
    underWay: boolean,
  ): Promise<StreamLanding> {
    const table = await LandingTable.prepare(connection, configured, underWay && isResumable(configured));
    const raw = rawTableOf(configured.stream.name);
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${quote(raw)} (seq INTEGER, emitted_at DOUBLE, data VARCHAR)`);
    const appender = await connection.createAppender(raw, 'main', 'temp');
    return new StreamLanding(connection, configured, table, appender);
  }

  append(record: AirbyteRecordMessage): void {
    if (this.completed) throw new Error(`a record of ${this.name} after its COMPLETE status`);
    this.appender.appendInteger(++this.received);
    this.appender.appendDouble(record.emitted_at);
    this.appender.appendVarchar(JSON.stringify(record.data));
    this.appender.endRow();
  }

  async commit(): Promise<void> {
    this.committedUpTo = this.received;
    if (this.committedUpTo - this.landedUpTo >= BATCH) await this.land();
  }

  async complete(): Promise<void> {
    this.completed = true;
    await this.land();
    if (this.table.mode === 'overwrite') await this.table.replace();
  }

  /** Lands what is committed; a full refresh that did not complete keeps the previous table. */
  async finish(): Promise<StreamSummary> {
    await this.land();
    this.appender.closeSync();
    await this.connection.run(`DROP TABLE ${this.raw}`);
    const kept = this.table.mode === 'overwrite' && !this.completed;
    if (kept && !isResumable(this.configured)) await this.table.dropStaging();
    const rows = await this.connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${this.table.final}`);
    const [count] = rows.getRowObjectsJson();
    return { stream: this.name, received: this.received, landed: this.landedUpTo, rows: Number(count?.n), kept };
  }

  /** Whether the next sync gets this stream's state: an incremental one's always, a full refresh's only while it is
   * under way and resumable. */
  keepsState(): boolean {
    return this.configured.sync_mode === 'incremental' || (!this.completed && isResumable(this.configured));
  }

  private get name(): string {
    return this.configured.stream.name;
  }

  private get raw(): string {
    return `temp.main.${quote(rawTableOf(this.name))}`;
  }

  private async land(): Promise<void> {
    if (this.committedUpTo === this.landedUpTo) return;
    this.appender.flushSync();
    const batch = `SELECT * FROM ${this.raw} WHERE seq <= ${this.committedUpTo}`;
    await this.table.land(batch);
    await this.connection.run(`DELETE FROM ${this.raw} WHERE seq <= ${this.committedUpTo}`);
    this.landedUpTo = this.committedUpTo;
  }
}

/** The temporary table a stream's records wait in until they are landed. */
const rawTableOf = (stream: string) => `_airbyte_raw_${stream}`;

const isResumable = (configured: ConfiguredAirbyteStream) => configured.stream.is_resumable === true;

type Mode = 'append' | 'append_dedup' | 'overwrite';
const MODES: readonly string[] = ['append', 'append_dedup', 'overwrite'] satisfies Mode[];

/** A stream's table (and the tables beside it), and the SQL that lands typed records in it. */
class LandingTable {
  readonly final: string;
  private readonly staging: string;
  private readonly deleted: string;

  private constructor(
    private readonly connection: DuckDBConnection,
    readonly mode: Mode,
    name: string,
    /** The columns records are typed to: the table's (the staging table's for an overwrite). */
    private readonly columns: Columns,
    private readonly key: readonly string[],
    private readonly cursor: string | undefined,
  ) {
    this.final = `main.${quote(name)}`;
    this.staging = `${INTERNAL}.${quote(`${name}_overwrite`)}`;
    this.deleted = `${INTERNAL}.${quote(`${name}_deleted`)}`;
  }

  /** Creates or evolves the tables a stream lands in; `resume`: an overwrite continues the staging table it left. */
  static async prepare(
    connection: DuckDBConnection,
    configured: ConfiguredAirbyteStream,
    resume: boolean,
  ): Promise<LandingTable> {
    const { stream, destination_sync_mode: mode } = configured;
    if (!MODES.includes(mode)) throw new Error(`${stream.name}: destination_sync_mode ${mode} is not supported`);
    const schema = columnsOf(stream.json_schema);
    schema.set(EXTRACTED_AT, 'TIMESTAMPTZ');
    const key = pathsOf(configured.primary_key ?? [], `${stream.name}'s primary key`);
    const [cursor] = pathsOf(configured.cursor_field ? [configured.cursor_field] : [], `${stream.name}'s cursor`);
    for (const column of [...key, ...(cursor ? [cursor] : [])])
      if (!schema.has(column)) throw new Error(`${stream.name}: ${column} is not a property of its JSON schema`);
    if (mode === 'append_dedup' && key.length === 0)
      throw new Error(`${stream.name}: append_dedup needs a primary key`);
    const names = { final: `main.${quote(stream.name)}`, staging: `${INTERNAL}.${quote(`${stream.name}_overwrite`)}` };
    await evolve(connection, names.final, schema);
    let columns = await columnsOfTable(connection, names.final);
    if (mode !== 'overwrite' || !resume) await connection.run(`DROP TABLE IF EXISTS ${names.staging}`);
    if (mode === 'overwrite') {
      await evolve(connection, names.staging, new Map([...schema, [SEQ, 'BIGINT']]));
      columns = schema;
    }
    const table = new LandingTable(connection, mode as Mode, stream.name, columns, key, cursor);
    if (table.keepsDeletions()) await table.createDeleted();
    return table;
  }

  /** Lands the records `raw` selects (seq, emitted_at, data), typed. */
  async land(raw: string): Promise<void> {
    const typed = this.typed(raw);
    await this.transaction(async () => {
      if (this.mode === 'append')
        return this.run(`INSERT INTO ${this.final} BY NAME SELECT * EXCLUDE (${SEQ}) FROM (${typed})`);
      if (this.mode === 'overwrite') return this.stage(typed);
      return this.merge(typed);
    });
  }

  /** Replaces the table by the staging table's rows, newest version per key, deleted ones left out. */
  async replace(): Promise<void> {
    await this.transaction(async () => {
      await this.run(
        `CREATE OR REPLACE TABLE ${this.final} AS SELECT * EXCLUDE (${SEQ}) FROM (${this.newest(this.staging)}) WHERE ${this.live}`,
      );
      await this.dropStaging();
    });
  }

  async dropStaging(): Promise<void> {
    await this.run(`DROP TABLE IF EXISTS ${this.staging}`);
  }

  /** The typed rows of raw records: a column per property, read from the record's JSON by DuckDB (a value that does
   * not fit its column's type is NULL), the time it was read, its arrival order. */
  private typed(raw: string): string {
    const properties = [...this.columns.keys()].filter((name) => name !== EXTRACTED_AT && name !== SEQ);
    const structure = JSON.stringify(Object.fromEntries(properties.map((name) => [name, this.columns.get(name)])));
    const values = properties.map((name) => `s.${quote(name)} AS ${quote(name)}`);
    const transformed = properties.length > 0 ? `, json_transform(data, ${literal(structure)}) AS s` : '';
    return `SELECT ${[...values, `to_timestamp(emitted_at / 1000) AS ${EXTRACTED_AT}`, `seq AS ${SEQ}`].join(', ')}
      FROM (SELECT seq, emitted_at${transformed} FROM (${raw}))`;
  }

  /** Adds typed records to the staging table, after those of an earlier attempt it resumes. */
  private async stage(typed: string): Promise<void> {
    const after = `(SELECT coalesce(max(${SEQ}), 0) FROM ${this.staging})`;
    await this.run(
      `INSERT INTO ${this.staging} BY NAME SELECT * REPLACE (${SEQ} + ${after} AS ${SEQ}) FROM (${typed})`,
    );
  }

  /** Merges typed records into the table: per key, the newest of the row held, its deletion kept aside, and the
   * records; the winner replaces the row, or removes it if it is a deletion. */
  private async merge(typed: string): Promise<void> {
    const batch = `temp.main.${quote('_airbyte_batch')}`;
    const winners = `temp.main.${quote('_airbyte_winners')}`;
    const keys = this.key.map(quote).join(', ');
    const held = [this.final, ...(this.keepsDeletions() ? [this.deleted] : [])].map(
      (table) => `SELECT *, false AS _airbyte_new FROM ${table} SEMI JOIN ${batch} USING (${keys})`,
    );
    const candidates = [...held, `SELECT *, true AS _airbyte_new FROM ${batch}`].join(' UNION ALL BY NAME ');
    await this.run(`CREATE OR REPLACE TEMP TABLE _airbyte_batch AS ${typed}`);
    await this.run(
      `CREATE OR REPLACE TEMP TABLE _airbyte_winners AS ${this.newest(`(${candidates})`, '_airbyte_new DESC')}`,
    );
    for (const table of [this.final, ...(this.keepsDeletions() ? [this.deleted] : [])])
      await this.run(
        `DELETE FROM ${table} AS t USING ${batch} AS b WHERE ${this.key.map((k) => `t.${quote(k)} = b.${quote(k)}`).join(' AND ')}`,
      );
    await this.run(
      `INSERT INTO ${this.final} BY NAME SELECT * EXCLUDE (_airbyte_new, ${SEQ}) FROM ${winners} WHERE ${this.live}`,
    );
    if (this.keepsDeletions())
      await this.run(
        `INSERT INTO ${this.deleted} BY NAME SELECT ${this.deletedColumns().map(quote).join(', ')} FROM ${winners} WHERE NOT (${this.live})`,
      );
    await this.run(`DROP TABLE ${batch}; DROP TABLE ${winners}`);
  }

  /** The newest version per key of `from`'s rows (all of them without a key): the highest cursor (a missing one
   * loses), then the latest read, then `tieBreak`, then the last received. */
  private newest(from: string, tieBreak?: string): string {
    if (this.key.length === 0) return `SELECT * FROM ${from}`;
    const order = [
      ...(this.cursor ? [`${quote(this.cursor)} DESC NULLS LAST`] : []),
      `${EXTRACTED_AT} DESC`,
      ...(tieBreak ? [tieBreak] : []),
      `${SEQ} DESC`,
    ];
    return `SELECT * FROM ${from} QUALIFY row_number() OVER (PARTITION BY ${this.key.map(quote).join(', ')} ORDER BY ${order.join(', ')}) = 1`;
  }

  /** Rows that are not deletions. */
  private get live(): string {
    return this.columns.has(DELETED_AT) ? `${quote(DELETED_AT)} IS NULL` : 'true';
  }

  private keepsDeletions(): boolean {
    return this.mode === 'append_dedup' && this.columns.has(DELETED_AT);
  }

  /** What is kept of a deletion: enough to rank it against later versions. */
  private deletedColumns(): string[] {
    return [...new Set([...this.key, ...(this.cursor ? [this.cursor] : []), EXTRACTED_AT, DELETED_AT])];
  }

  private async createDeleted(): Promise<void> {
    const columns = this.deletedColumns().map(quote).join(', ');
    await this.run(`CREATE TABLE IF NOT EXISTS ${this.deleted} AS SELECT ${columns} FROM ${this.final} LIMIT 0`);
  }

  private async transaction(work: () => Promise<void>): Promise<void> {
    await this.run('BEGIN TRANSACTION');
    try {
      await work();
      await this.run('COMMIT');
    } catch (error) {
      await this.run('ROLLBACK');
      throw error;
    }
  }

  private async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }
}

/** Creates a table with `columns`, or adds those it lacks (a new custom field: a new column). */
async function evolve(connection: DuckDBConnection, table: string, columns: Columns): Promise<void> {
  const definitions = [...columns].map(([name, type]) => `${quote(name)} ${type}`);
  await connection.run(`CREATE TABLE IF NOT EXISTS ${table} (${definitions.join(', ')})`);
  const existing = await columnsOfTable(connection, table);
  for (const [name, type] of columns)
    if (!existing.has(name)) await connection.run(`ALTER TABLE ${table} ADD COLUMN ${quote(name)} ${type}`);
}

/** A table's columns and their types, as DuckDB has them. */
async function columnsOfTable(connection: DuckDBConnection, table: string): Promise<Columns> {
  const result = await connection.runAndReadAll(`DESCRIBE ${table}`);
  return new Map(result.getRowObjectsJson().map((row) => [String(row.column_name), String(row.column_type)]));
}

/** Top-level field names of the catalog's paths (a primary key, a cursor); nested paths are not supported. */
function pathsOf(paths: readonly string[][], what: string): string[] {
  return paths.map((path) => {
    const [field] = path;
    if (path.length !== 1 || field === undefined)
      throw new Error(`${what} ${JSON.stringify(path)} is not a top-level field`);
    return field;
  });
}
