// `node dist/main.js discover --config c.json | npm run --silent catalog [-- full_refresh] > catalog.json`: the
// configured catalog Airbyte would make of a discover, for `read` and `npm run load`: the discovered schemas (so every
// custom field is a typed column), the streams a catalog selects by default, the incremental ones incremental and
// deduplicated (or all in full refresh), the others in full refresh.
import type { AirbyteCatalog } from '../src/generated/airbyte-protocol.js';
import { configuredCatalog, type JsonSchema } from '../src/pipedrive/streams/catalog.js';
import { linesOf, messageOf } from '../loader/input.js';

const mode = process.argv[2] ?? 'incremental';

async function discovered(): Promise<AirbyteCatalog> {
  for await (const line of linesOf(process.stdin)) {
    const { catalog } = messageOf(line);
    if (catalog) return catalog;
  }
  throw new Error('no CATALOG message on stdin (pipe the output of discover into it)');
}

try {
  if (mode !== 'incremental' && mode !== 'full_refresh')
    throw new Error('usage: node dist/main.js discover --config FILE | npm run --silent catalog [-- full_refresh]');
  const schemas = new Map((await discovered()).streams.map((s) => [s.name, s.json_schema as JsonSchema]));
  console.log(
    JSON.stringify(
      configuredCatalog(mode, undefined, (stream) => schemas.get(stream.name)),
      null,
      2,
    ),
  );
} catch (error) {
  console.error(`catalog: ${(error as Error).message}`);
  process.exitCode = 1;
}
