// `npm run load -- duckdb FILE --catalog CATALOG`: lands the protocol messages of a connector's `read` (stdin) into a
// DuckDB file as Airbyte's destinations would, and keeps beside it (FILE.state.json) the state to pass to the next
// `read --state`. Nothing is written to stdout; the connector's warnings and a summary go to stderr. Exits 1 if the
// sync failed (the connector reported an error), having landed what it committed.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { ConfiguredAirbyteCatalog } from '../src/generated/airbyte-protocol.js';
import { load, stateFileOf, summaryOf } from '../loader/load.js';

const args = await yargs(hideBin(process.argv))
  .scriptName('npm run load --')
  .command('duckdb <file>', 'land the messages on stdin into a DuckDB database file', (command) =>
    command
      .positional('file', { type: 'string', demandOption: true, describe: 'the database file (created if missing)' })
      .option('catalog', {
        type: 'string',
        demandOption: true,
        describe: 'the configured catalog the connector read with (its read --catalog)',
      }),
  )
  .example(
    'node dist/main.js read --config c.json --catalog catalogs/incremental.json --state pipedrive.duckdb.state.json | $0 duckdb pipedrive.duckdb --catalog catalogs/incremental.json',
    '',
  )
  .demandCommand(1)
  .strict()
  .parseAsync();

const say = (line: string) => process.stderr.write(`${line}\n`);

function catalogFrom(file: string): ConfiguredAirbyteCatalog {
  let catalog: unknown;
  try {
    catalog = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the catalog ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray((catalog as { streams?: unknown } | null)?.streams))
    throw new Error(`${file} is not a configured catalog: it has no streams`);
  return catalog as ConfiguredAirbyteCatalog;
}

try {
  const file = String(args.file);
  const catalog = catalogFrom(String(args.catalog));
  if (process.stdin.isTTY) throw new Error("nothing to load: pipe a connector's read into it (see --help)");
  const result = await load(file, catalog, process.stdin, say);
  say(`Landed in ${file}; the next sync starts from ${stateFileOf(file)}.`);
  for (const line of summaryOf(result)) say(line);
  if (result.failed) {
    say('The sync failed (above): what it committed is landed, and the next sync resumes from there.');
    process.exitCode = 1;
  }
} catch (error) {
  say(`load: ${(error as Error).message}`);
  process.exitCode = 1;
}
