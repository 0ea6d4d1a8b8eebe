// Lands a connector's output into a DuckDB file, keeping beside it (FILE.state.json) the state the next sync starts
// from: what `npm run load -- duckdb FILE --catalog CATALOG` and the demo do.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type {
  AirbyteMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
} from '../src/generated/airbyte-protocol.js';
import { DuckDbDestination, type StreamSummary, type SyncResult } from './duckdb.js';
import { linesOf, messageOf } from './input.js';

/** Where the loader keeps the state of the syncs landed in `file`: an array of STATE messages, as `--state` takes. */
export const stateFileOf = (file: string): string => `${file}.state.json`;

export interface LoadResult extends SyncResult {
  /** The sync failed: the connector reported an error, or its output was cut short. What it committed is landed. */
  failed: boolean;
}

/** Lands the protocol messages of `input` into `file`, given the catalog the connector read with; `say` gets what the
 * connector warned of and what went wrong. Writes the state file once the sync is landed. */
export async function load(
  file: string,
  catalog: ConfiguredAirbyteCatalog,
  input: Readable,
  say: (line: string) => void,
): Promise<LoadResult> {
  const stateFile = stateFileOf(file);
  const destination = await DuckDbDestination.open(file);
  try {
    const sync = await destination.begin(catalog, readStates(stateFile));
    let failed = false;
    for await (const line of linesOf(input)) {
      let message: AirbyteMessage;
      try {
        message = messageOf(line);
      } catch (error) {
        if (line.ended) throw error;
        say(`The input ended inside line ${line.number} (was the connector stopped?): that line is ignored.`);
        failed = true;
        break;
      }
      tell(message, say);
      failed ||= message.trace?.error !== undefined;
      await sync.write(message).catch((error: Error) => {
        throw new Error(`line ${line.number}: ${error.message}`, { cause: error });
      });
    }
    const result = await sync.end();
    writeStates(stateFile, result.states);
    return { ...result, failed };
  } finally {
    destination.close();
  }
}

/** Passes on the connector's warnings and errors, which would otherwise be lost in the pipe. */
function tell(message: AirbyteMessage, say: (line: string) => void): void {
  const { log, trace } = message;
  if (log && log.level !== 'INFO' && log.level !== 'DEBUG' && log.level !== 'TRACE') say(`${log.level} ${log.message}`);
  if (trace?.error) say(`ERROR ${trace.error.message}`);
}

function readStates(file: string): AirbyteStateMessage[] {
  if (!existsSync(file)) return [];
  const states: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(states)) throw new Error(`${file} is not an array of STATE messages`);
  return states as AirbyteStateMessage[];
}

/** Writes the states whole or not at all: a crash leaves the previous file. */
function writeStates(file: string, states: readonly AirbyteStateMessage[]): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(states, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** A table of what a sync did to each stream's table. */
export function summaryOf({ streams }: SyncResult): string[] {
  const note = (s: StreamSummary) =>
    s.kept
      ? 'did not complete: previous table kept'
      : s.received > s.landed
        ? `${s.received - s.landed} records after the last state, discarded`
        : '';
  const rows = streams.map((s) => [s.stream, String(s.rows), String(s.landed), note(s)]);
  const header = ['table', 'rows', 'records landed', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  return [header, ...rows].map((cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}
