// A DuckDB database as an Airbyte destination (Destinations V2) lands a sync: one typed table per stream, in `main`
// (how each sync mode lands: loader/table.ts); what the landing keeps for itself in `airbyte_internal`.
//
// A stream's records count only up to its last STATE message: those after it are discarded at the end, as Airbyte
// does for an attempt that failed. Records wait in a temporary table, appended as they come, and are typed by DuckDB
// from their JSON when they are landed: at the end of the sync, when the stream completes, or once many are committed.
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type {
  AirbyteMessage,
  AirbyteRecordMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
  ConfiguredAirbyteStream,
} from '../src/generated/airbyte-protocol.js';
import { literal, quote } from './columns.js';
import { DATA, EMITTED, INTERNAL, LandingTable, SEQ, tablesOf } from './table.js';

type Json = Record<string, unknown>;

/** A stream's committed records are landed once this many have gathered (and when it completes, and at the end): what
 * waits stays small (20,000 records of 2 kB: 40 MB), and merges few. */
const BATCH = 20_000;
const RAW = '_airbyte_raw';

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
    const tables = await tablesOf(this.connection);
    const landings = new Map<string, StreamLanding>();
    for (const configured of catalog.streams) {
      const name = configured.stream.name;
      const resume = previous.has(name) && isResumable(configured);
      const table = await LandingTable.prepare(this.connection, configured, tables, resume);
      landings.set(name, new StreamLanding(configured, table, new RawRecords(this.connection, `${RAW}_${name}`)));
    }
    return new Sync(this.connection, landings, previous);
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
    private readonly connection: DuckDBConnection,
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
    for (const landing of this.landings.values()) await landing.finish();
    const counts = [...this.landings.keys()].map(
      (name) => `SELECT ${literal(name)} AS stream, count(*)::INTEGER AS n FROM main.${quote(name)}`,
    );
    const rows =
      counts.length === 0 ? [] : (await this.connection.runAndReadAll(counts.join(' UNION ALL '))).getRowObjectsJson();
    const count = new Map(rows.map(({ stream, n }) => [stream, Number(n)]));
    const streams = [...this.landings].map(([name, landing]) => landing.summary(count.get(name) ?? 0));
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
    if (!landing) throw new Error(`stream ${stream} is not in the catalog`);
    return landing;
  }
}

/** A stream's records not landed yet, in a temporary table (SEQ, EMITTED, DATA: a record's arrival order in the stream
 * from 1, its emitted_at, its data). Made anew once all of them are landed: DuckDB frees a table dropped, not rows
 * deleted. */
class RawRecords {
  private appender: DuckDBAppender | undefined;
  private readonly table: string;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly name: string,
  ) {
    this.table = `temp.main.${quote(name)}`;
  }

  async append(seq: number, { emitted_at, data }: AirbyteRecordMessage): Promise<void> {
    this.appender ??= await this.create();
    this.appender.appendInteger(seq);
    this.appender.appendDouble(emitted_at);
    this.appender.appendVarchar(JSON.stringify(data));
    this.appender.endRow();
  }

  /** The SQL of the records up to `seq`, with everything appended so far in the table. */
  upTo(seq: number): string {
    this.appender?.flushSync();
    return `SELECT * FROM ${this.table} WHERE ${SEQ} <= ${seq}`;
  }

  /** Forgets the records up to `seq`; `all`: they are all there is. */
  async discard(seq: number, all: boolean): Promise<void> {
    if (all) return this.drop();
    await this.connection.run(`DELETE FROM ${this.table} WHERE ${SEQ} <= ${seq}`);
  }

  async drop(): Promise<void> {
    if (!this.appender) return;
    this.appender.closeSync();
    this.appender = undefined;
    await this.connection.run(`DROP TABLE ${this.table}`);
  }

  private async create(): Promise<DuckDBAppender> {
    await this.connection.run(`CREATE TEMP TABLE ${this.table} (${SEQ} INTEGER, ${EMITTED} DOUBLE, ${DATA} VARCHAR)`);
    return this.connection.createAppender(this.name, 'main', 'temp');
  }
}

/** How the records of one stream reach its table. */
class StreamLanding {
  private received = 0;
  /** Records up to this one (by arrival, from 1) are committed by a STATE message. */
  private committedUpTo = 0;
  private landedUpTo = 0;
  private completed = false;

  constructor(
    private readonly configured: ConfiguredAirbyteStream,
    private readonly table: LandingTable,
    private readonly raw: RawRecords,
  ) {}

  async append(record: AirbyteRecordMessage): Promise<void> {
    if (this.completed) throw new Error(`a record of ${this.configured.stream.name} after its COMPLETE status`);
    await this.raw.append(++this.received, record);
  }

  async commit(): Promise<void> {
    this.committedUpTo = this.received;
    if (this.committedUpTo - this.landedUpTo >= BATCH) await this.land();
  }

  async complete(): Promise<void> {
    if (this.completed) return;
    this.completed = true;
    if (this.table.mode !== 'overwrite') return this.land();
    const pending = this.committedUpTo > this.landedUpTo ? this.raw.upTo(this.committedUpTo) : undefined;
    await this.table.replace(pending);
    await this.landed();
  }

  /** Lands what is committed; a full refresh that did not complete keeps the previous table, and what it read so far
   * only if it can be resumed. */
  async finish(): Promise<void> {
    await this.land();
    await this.raw.drop();
    if (this.keptPrevious() && !isResumable(this.configured)) await this.table.dropStaging();
  }

  summary(rows: number): StreamSummary {
    const { received, landedUpTo: landed } = this;
    return { stream: this.configured.stream.name, received, landed, rows, kept: this.keptPrevious() };
  }

  /** Whether the next sync gets this stream's state: an incremental one's always, a full refresh's only while it is
   * under way and resumable. */
  keepsState(): boolean {
    return this.configured.sync_mode === 'incremental' || (!this.completed && isResumable(this.configured));
  }

  private keptPrevious(): boolean {
    return this.table.mode === 'overwrite' && !this.completed;
  }

  private async land(): Promise<void> {
    if (this.committedUpTo === this.landedUpTo) return;
    await this.table.land(this.raw.upTo(this.committedUpTo));
    await this.landed();
  }

  /** The committed records are in the table: they need waiting no more. */
  private async landed(): Promise<void> {
    if (this.committedUpTo === this.landedUpTo) return;
    await this.raw.discard(this.committedUpTo, this.committedUpTo === this.received);
    this.landedUpTo = this.committedUpTo;
  }
}

const isResumable = (configured: ConfiguredAirbyteStream) => configured.stream.is_resumable === true;
