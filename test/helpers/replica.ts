// A warehouse as an Airbyte destination keeps it, for tests that follow a connector over many syncs: incremental
// streams in append + dedup mode, full-table streams overwritten. The dedup is Airbyte's (Destinations V2): per primary
// key, the version with the highest cursor wins, a missing cursor losing to any (`ORDER BY cursor DESC NULLS LAST,
// _airbyte_extracted_at DESC`), the later emitted among equals; a winning version with `_ab_cdc_deleted_at` removes
// the row.
import type { AirbyteMessage } from '../../src/generated/airbyte-protocol.js';

type Row = Record<string, unknown>;
type Key = string | number;

interface Version {
  cursor: number;
  row: Row;
}

/** How the replica lands a stream: deduplicated on a key by a cursor, or overwritten. */
export type Landing = { mode: 'dedup'; key: string; cursor: string } | { mode: 'overwrite'; key: string };

export class Replica {
  private readonly tables = new Map<string, Map<Key, Version>>();

  constructor(private readonly landings: ReadonlyMap<string, Landing>) {}

  /** Lands what a sync delivered: `committed` are the messages the destination kept (all of a successful sync; of one
   * that failed or was killed, each stream's records up to its last STATE); `complete` the overwritten streams whose
   * new table replaces the old one. */
  land(committed: readonly AirbyteMessage[], complete: ReadonlySet<string>): void {
    const fresh = new Map<string, Map<Key, Version>>();
    for (const message of committed) {
      if (message.type !== 'RECORD' || !message.record) continue;
      const { stream, data } = message.record;
      const landing = this.landings.get(stream);
      if (!landing) continue;
      const row = data as Row;
      const key = row[landing.key] as Key;
      if (landing.mode === 'overwrite') {
        if (!fresh.has(stream)) fresh.set(stream, new Map());
        fresh.get(stream)!.set(key, { cursor: NaN, row });
        continue;
      }
      const table = this.table(stream);
      const cursor = Date.parse(String(row[landing.cursor] ?? ''));
      const held = table.get(key);
      // NULLS LAST: a version without a cursor never replaces one with it.
      if (held && (Number.isNaN(cursor) ? !Number.isNaN(held.cursor) : held.cursor > cursor)) continue;
      table.set(key, { cursor, row });
    }
    for (const stream of complete) this.tables.set(stream, fresh.get(stream) ?? new Map());
  }

  /** The rows of a stream's final table: key → row, the deleted ones left out. */
  rows(stream: string): Map<Key, Row> {
    const rows = new Map<Key, Row>();
    for (const [key, { row }] of this.table(stream)) if (typeof row._ab_cdc_deleted_at !== 'string') rows.set(key, row);
    return rows;
  }

  private table(stream: string): Map<Key, Version> {
    let table = this.tables.get(stream);
    if (!table) this.tables.set(stream, (table = new Map()));
    return table;
  }
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
