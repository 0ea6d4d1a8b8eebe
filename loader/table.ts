// A stream's table in DuckDB and the tables beside it, and the SQL that lands typed records in them:
// - append_dedup: per primary key the newest version wins (`ORDER BY cursor DESC NULLS LAST, _airbyte_extracted_at
//   DESC`, the later received among equals); a winning version with `_ab_cdc_deleted_at` removes the row, and is kept
//   aside (airbyte_internal.<stream>_deleted) so that an older version received later does not bring the row back;
// - overwrite: records go to a staging table, which replaces the table when the stream completes: the newest version per
//   key, deletions left out. It is temporary, unless the stream is resumable: then it is airbyte_internal.
//   <stream>_overwrite, which a later sync that resumes the stream continues;
// - append: every record a row.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ConfiguredAirbyteStream } from '../src/generated/airbyte-protocol.js';
import { DELETED_AT, EXTRACTED_AT, columnsOf, literal, quote, type Columns } from './columns.js';

export const INTERNAL = 'airbyte_internal';
/** The columns of raw records (see RawRecords in duckdb.ts): a record's arrival order in its stream (the last
 * tie-breaker between versions), its RECORD's emitted_at, its data as JSON. Named so as to meet no property. */
export const [SEQ, EMITTED, DATA] = ['_airbyte_seq', '_airbyte_emitted_at', '_airbyte_data'];
const TYPED = '_airbyte_typed';
/** Where temporary tables are. */
const TEMP = 'temp.main';

type Mode = 'append' | 'append_dedup' | 'overwrite';
const MODES: readonly string[] = ['append', 'append_dedup', 'overwrite'] satisfies Mode[];

/** The tables of the database and their columns, by qualified name (`main."deals"`). */
export type Tables = Map<string, Columns>;

/** The tables of schemas main and airbyte_internal, read once for a sync. */
export async function tablesOf(connection: DuckDBConnection): Promise<Tables> {
  const result = await connection.runAndReadAll(
    `SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name IN ('main', '${INTERNAL}') ORDER BY column_index`,
  );
  const tables: Tables = new Map();
  for (const row of result.getRowObjectsJson()) {
    const table = `${row.schema_name}.${quote(String(row.table_name))}`;
    if (!tables.has(table)) tables.set(table, new Map());
    tables.get(table)?.set(String(row.column_name), String(row.data_type));
  }
  return tables;
}

export class LandingTable {
  readonly final: string;
  private readonly deleted: string;

  private constructor(
    private readonly connection: DuckDBConnection,
    readonly mode: Mode,
    name: string,
    /** The columns records are typed to: the table's (the staging table's for an overwrite). */
    private readonly columns: Columns,
    private readonly key: readonly string[],
    private readonly cursor: string | undefined,
    private readonly staging: Staging | undefined,
  ) {
    this.final = tableName('main', name);
    this.deleted = tableName(INTERNAL, `${name}_deleted`);
  }

  /** Creates or evolves the tables a stream lands in (`tables`: those the database has); `resume`: an overwrite
   * continues the staging table an earlier attempt left. */
  static async prepare(
    connection: DuckDBConnection,
    configured: ConfiguredAirbyteStream,
    tables: Tables,
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
    const evolved = await evolve(connection, tableName('main', stream.name), schema, tables);
    const staging = await Staging.prepare(connection, configured, schema, tables, mode === 'overwrite' && resume);
    const columns = mode === 'overwrite' ? schema : evolved;
    const table = new LandingTable(connection, mode as Mode, stream.name, columns, key, cursor, staging);
    if (table.keepsDeletions() && !tables.has(table.deleted)) await table.createDeleted();
    return table;
  }

  /** Lands, typed, the raw records (SEQ, EMITTED, DATA) that `raw` selects. */
  async land(raw: string): Promise<void> {
    const typed = this.typed(raw);
    await this.transaction(async () => {
      if (this.staging) return this.staging.add(typed);
      if (this.mode === 'append')
        return this.run(`INSERT INTO ${this.final} BY NAME SELECT * EXCLUDE (${SEQ}) FROM (${typed})`);
      return this.merge(typed);
    });
  }

  /** Replaces the table (an overwrite's, its stream complete) by what the sync read: the records staged and `pending`,
   * raw records not landed yet; the newest version per key, deleted ones left out. Without a staging table, as when
   * all of a small table comes at once, straight from the raw records. */
  async replace(pending: string | undefined): Promise<void> {
    const { staging } = this;
    if (!staging) throw new Error(`${this.final} is not overwritten`);
    await this.transaction(async () => {
      if (pending && !staging.exists) {
        const newest = `SELECT * EXCLUDE (${SEQ}) FROM (${this.typed(pending)}) ${this.newestClause()}`;
        return this.run(`CREATE OR REPLACE TABLE ${this.final} AS SELECT * FROM (${newest}) WHERE ${this.live}`);
      }
      if (pending) await staging.add(this.typed(pending));
      const table = await staging.table();
      const rows = `SELECT * EXCLUDE (${SEQ}) FROM ${table} WHERE ${this.newest(table)} AND ${this.live}`;
      await this.run(`CREATE OR REPLACE TABLE ${this.final} AS ${rows}`);
      await staging.drop();
    });
  }

  /** Forgets what an overwrite read, when its stream did not complete and cannot be resumed. */
  async dropStaging(): Promise<void> {
    await this.staging?.drop();
  }

  /** The typed rows of raw records: a column per property, read from the record's JSON by DuckDB (a value that does
   * not fit its column's type is NULL), the time it was read, its arrival order. */
  private typed(raw: string): string {
    const properties = [...this.columns.keys()].filter((name) => name !== EXTRACTED_AT && name !== SEQ);
    const structure = JSON.stringify(Object.fromEntries(properties.map((name) => [name, this.columns.get(name)])));
    const values = properties.map((name) => `${TYPED}.${quote(name)} AS ${quote(name)}`);
    const transformed = properties.length > 0 ? `, json_transform(${DATA}, ${literal(structure)}) AS ${TYPED}` : '';
    const read = [...values, `to_timestamp(${EMITTED} / 1000) AS ${EXTRACTED_AT}`, SEQ];
    return `SELECT ${read.join(', ')} FROM (SELECT ${SEQ}, ${EMITTED}${transformed} FROM (${raw}))`;
  }

  /** Merges typed records into the table: the newest record per key, unless the row held (or its deletion, kept
   * aside) is newer, replaces the row, or removes it if it is a deletion. */
  private async merge(typed: string): Promise<void> {
    const batch = tableName(TEMP, '_airbyte_batch');
    const holders = [this.final, ...(this.keepsDeletions() ? [this.deleted] : [])];
    const ranks = this.rankColumns().map(quote).join(', ');
    const held = holders.map((table) => `SELECT ${ranks} FROM ${table}`).join(' UNION ALL ');
    const sameKey = (t: string) => this.key.map((k) => `${t}.${quote(k)} = b.${quote(k)}`).join(' AND ');
    await this.run(`CREATE OR REPLACE TEMP TABLE _airbyte_batch AS ${typed}`);
    await this.run(`DELETE FROM ${batch} WHERE NOT ${this.newest(batch)}`);
    await this.run(`DELETE FROM ${batch} AS b USING (${held}) AS h WHERE ${sameKey('h')} AND ${this.newer('h', 'b')}`);
    for (const table of holders) await this.run(`DELETE FROM ${table} AS t USING ${batch} AS b WHERE ${sameKey('t')}`);
    await this.run(`INSERT INTO ${this.final} BY NAME SELECT * EXCLUDE (${SEQ}) FROM ${batch} WHERE ${this.live}`);
    if (this.keepsDeletions())
      await this.run(`INSERT INTO ${this.deleted} BY NAME SELECT ${ranks} FROM ${batch} WHERE NOT (${this.live})`);
    await this.run(`DROP TABLE ${batch}`);
  }

  /** Whether the version `a` held is newer than the record `b`: a higher cursor (any beats a missing one), or the same
   * and read later. Among equals the record, received later, wins. */
  private newer(a: string, b: string): string {
    const read = `${a}.${EXTRACTED_AT} > ${b}.${EXTRACTED_AT}`;
    if (!this.cursor) return read;
    const [x, y] = [`${a}.${quote(this.cursor)}`, `${b}.${quote(this.cursor)}`];
    return `(${x} > ${y} OR (${y} IS NULL AND ${x} IS NOT NULL) OR (${x} IS NOT DISTINCT FROM ${y} AND ${read}))`;
  }

  /** A condition on `table`'s rows: the newest version of its key (every row if there is no key). Ranked on the
   * columns that order versions alone, which is much cheaper than sorting whole rows. */
  private newest(table: string): string {
    return this.key.length === 0 ? 'true' : `rowid IN (SELECT rowid FROM ${table} ${this.newestClause()})`;
  }

  /** The clause that keeps the newest version of each key: the highest cursor (a missing one loses), then the latest
   * read, then the last received. */
  private newestClause(): string {
    if (this.key.length === 0) return '';
    const order = [
      ...(this.cursor ? [`${quote(this.cursor)} DESC NULLS LAST`] : []),
      `${EXTRACTED_AT} DESC`,
      `${SEQ} DESC`,
    ];
    const window = `PARTITION BY ${this.key.map(quote).join(', ')} ORDER BY ${order.join(', ')}`;
    return `QUALIFY row_number() OVER (${window}) = 1`;
  }

  /** Rows that are not deletions. */
  private get live(): string {
    return this.columns.has(DELETED_AT) ? `${quote(DELETED_AT)} IS NULL` : 'true';
  }

  private keepsDeletions(): boolean {
    return this.mode === 'append_dedup' && this.columns.has(DELETED_AT);
  }

  /** What ranks a version: its key, cursor and time read; all that is kept of a deletion. */
  private rankColumns(): string[] {
    return [...new Set([...this.key, ...(this.cursor ? [this.cursor] : []), EXTRACTED_AT])];
  }

  private async createDeleted(): Promise<void> {
    const columns = this.rankColumns().map(quote).join(', ');
    await this.run(`CREATE TABLE ${this.deleted} AS SELECT ${columns} FROM ${this.final} LIMIT 0`);
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

const tableName = (schema: string, name: string) => `${schema}.${quote(name)}`;

/** Where an overwrite gathers what a sync reads until its stream completes: a temporary table, or, if the stream is
 * resumable, airbyte_internal.<stream>_overwrite, which outlives a sync that did not complete so that the next one,
 * resuming the stream, continues it. Made when first needed. */
class Staging {
  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly name: string,
    private readonly columns: Columns,
    /** It was made (or continues an earlier sync's). */
    public exists: boolean,
  ) {}

  /** The staging of an overwrite (none for another mode); `resume`: an earlier sync's is continued. A table a sync
   * left that is not continued is dropped. */
  static async prepare(
    connection: DuckDBConnection,
    { stream, destination_sync_mode }: ConfiguredAirbyteStream,
    schema: Columns,
    tables: Tables,
    resume: boolean,
  ): Promise<Staging | undefined> {
    const kept = tableName(INTERNAL, `${stream.name}_overwrite`);
    const columns = new Map([...schema, [SEQ, 'BIGINT']]);
    const continued = resume && tables.has(kept);
    if (continued) await evolve(connection, kept, columns, tables);
    else if (tables.has(kept)) await connection.run(`DROP TABLE ${kept}`);
    if (destination_sync_mode !== 'overwrite') return undefined;
    const name = stream.is_resumable ? kept : tableName(TEMP, `_airbyte_overwrite_${stream.name}`);
    return new Staging(connection, name, columns, continued);
  }

  /** The staging table's name, made if it was not. */
  async table(): Promise<string> {
    if (!this.exists) await evolve(this.connection, this.name, this.columns, new Map());
    this.exists = true;
    return this.name;
  }

  /** Adds typed records, after those it has (of an earlier sync it continues, or of this one). */
  async add(typed: string): Promise<void> {
    const table = await this.table();
    const after = `(SELECT coalesce(max(${SEQ}), 0) FROM ${table})`;
    await this.connection.run(
      `INSERT INTO ${table} BY NAME SELECT * REPLACE (${SEQ} + ${after} AS ${SEQ}) FROM (${typed})`,
    );
  }

  async drop(): Promise<void> {
    if (this.exists) await this.connection.run(`DROP TABLE ${this.name}`);
    this.exists = false;
  }
}

/** Creates a table with `columns`, or adds those it lacks (a new custom field: a new column); returns its columns. */
async function evolve(connection: DuckDBConnection, table: string, columns: Columns, tables: Tables): Promise<Columns> {
  const existing = tables.get(table);
  if (!existing) {
    const definitions = [...columns].map(([name, type]) => `${quote(name)} ${type}`);
    const kind = table.startsWith(`${TEMP}.`) ? 'TEMP TABLE' : 'TABLE';
    await connection.run(`CREATE ${kind} ${table} (${definitions.join(', ')})`);
    return columns;
  }
  const evolved = new Map(existing);
  for (const [name, type] of columns) {
    if (existing.has(name)) continue;
    await connection.run(`ALTER TABLE ${table} ADD COLUMN ${quote(name)} ${type}`);
    evolved.set(name, type);
  }
  return evolved;
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
