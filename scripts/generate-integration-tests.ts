// Writes the acceptance-test inputs (integration_tests/) and the ready-made catalogs (catalogs/) from the stream
// table and the simulator's deterministic company, so that they stay true when either changes.
//   npx tsx scripts/generate-integration-tests.ts           write them
//   npx tsx scripts/generate-integration-tests.ts --check   exit 1 if a committed file is out of date (a test runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { INCREMENTAL_STREAMS, STREAMS } from '../src/pipedrive/streams/table.js';
import { Dataset } from '../simulator/dataset.js';
import { ACCEPTANCE } from '../simulator/presets.js';
import { TOKENS } from '../simulator/server.js';

const root = new URL('../', import.meta.url);
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const origin = `http://127.0.0.1:${ACCEPTANCE.port}`;
const stateOf = (cursor: (name: string) => string) =>
  INCREMENTAL_STREAMS.map((s) => ({
    type: 'STREAM',
    stream: { stream_descriptor: { name: s.name }, stream_state: { [s.cursor]: cursor(s.name) } },
  }));

/**
 * The first records of every stream as the connector must emit them: the simulator's record with its top-level
 * timestamps in RFC 3339 UTC. (This rule is written here independently of the connector's, on purpose.)
 */
function expectedRecords(): string {
  const data = new Dataset({ seed: ACCEPTANCE.seed, anchor: ACCEPTANCE.anchor });
  const rfc3339 = (value: unknown) =>
    typeof value !== 'string'
      ? value
      : /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)
        ? `${value.replace(' ', 'T')}Z`
        : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/.test(value)
          ? `${value.slice(0, 19)}Z`
          : value;
  const lines: string[] = [];
  for (const { name } of STREAMS) {
    const table = data.table(name);
    for (const index of Array.from(table.order('index')).slice(0, 3)) {
      const record = JSON.parse(JSON.stringify(table.get(index))) as Record<string, unknown>;
      // /v1/users marks the token's own user (the admin, user 1).
      if (name === 'users') record.is_you = index === 1;
      const normalised = Object.fromEntries(Object.entries(record).map(([key, value]) => [key, rfc3339(value)]));
      lines.push(JSON.stringify({ stream: name, data: normalised, emitted_at: ACCEPTANCE.anchor }));
    }
  }
  return `${lines.join('\n')}\n`;
}

const files: Record<string, string> = {
  'integration_tests/sample_config.json': json({ api_token: TOKENS.admin, base_url: origin, start_date: '2020-01-01' }),
  'integration_tests/invalid_config.json': json({
    api_token: 'not-a-valid-pipedrive-api-token-0000000000',
    base_url: origin,
  }),
  // For Airbyte's own CAT against the real API (acceptance/real-account/).
  'integration_tests/invalid_token_config.json': json({ api_token: 'not-a-valid-pipedrive-api-token-0000000000' }),
  'integration_tests/configured_catalog.json': json(configuredCatalog('full_refresh')),
  'integration_tests/configured_catalog_incremental.json': json(
    configuredCatalog(
      'incremental',
      INCREMENTAL_STREAMS.map((s) => s.name),
    ),
  ),
  'integration_tests/sample_state.json': json(stateOf(() => '2026-10-01T00:00:00Z')),
  'integration_tests/abnormal_state.json': json(stateOf(() => '2999-12-31T23:59:59Z')),
  'integration_tests/expected_records.jsonl': expectedRecords(),
  'catalogs/full_refresh.json': json(configuredCatalog('full_refresh')),
  'catalogs/incremental.json': json(configuredCatalog('incremental')),
};

const check = process.argv.includes('--check');
const stale = Object.entries(files).filter(([path, content]) => {
  let current = '';
  try {
    current = readFileSync(new URL(path, root), 'utf8');
  } catch {
    // missing: stale
  }
  return current !== content;
});
if (check) {
  if (stale.length > 0) {
    console.error(
      `Out of date: ${stale.map(([path]) => path).join(', ')}. Run: npx tsx scripts/generate-integration-tests.ts`,
    );
    process.exit(1);
  }
} else {
  for (const [path, content] of stale) writeFileSync(new URL(path, root), content);
  console.log(stale.length ? `wrote ${stale.map(([path]) => path).join(', ')}` : 'all files up to date');
}
