// The DuckDB loader's throughput and memory (`npx tsx bench/loader.ts [--records N] [--file F]`, after `npm run build`;
// not part of `npm test`). Records as the connector writes them, deals with every custom field as its column and
// persons, from a real discover and read against the simulator, are repeated with new ids and times up to N (200,000
// by default), with a STATE every 500 records per stream as the connector checkpoints, and fed as protocol lines to
// the loader (the code `npm run load` runs) into a fresh database file. Prints rows/s and the process's resident memory
// as the load goes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { load } from '../loader/load.js';
import type { AirbyteMessage, ConfiguredAirbyteCatalog } from '../src/generated/airbyte-protocol.js';
import { configuredCatalog, type JsonSchema } from '../src/pipedrive/streams/catalog.js';
import { PipedriveSimulator, TOKENS } from '../simulator/server.js';

const args = yargs(hideBin(process.argv))
  .option('records', { type: 'number', default: 200_000 })
  .option('file', { type: 'string', describe: 'the database file (default: a new one in a temporary folder)' })
  .strict()
  .parseSync();

const STREAMS = ['deals', 'persons'];
const CLI = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** The discovered catalog and a sync's records of STREAMS, from the connector against a simulated company. */
async function samples(): Promise<{ catalog: ConfiguredAirbyteCatalog; records: Map<string, AirbyteMessage[]> }> {
  const simulator = new PipedriveSimulator({ burstLimit: 1000 });
  const folder = mkdtempSync(join(tmpdir(), 'loader-bench-'));
  const file = (name: string, content: unknown) => {
    writeFileSync(join(folder, name), JSON.stringify(content));
    return join(folder, name);
  };
  const config = file('config.json', { api_token: TOKENS.admin, base_url: await simulator.start() });
  // Asynchronously: the simulator answers from this process.
  const run = async (...command: string[]) => {
    const options = { encoding: 'utf8', maxBuffer: 1e9 } as const;
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...command, '--config', config], options);
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AirbyteMessage);
  };
  try {
    const discovered = (await run('discover')).find((m) => m.catalog)?.catalog?.streams ?? [];
    const schemas = new Map(discovered.map((s) => [s.name, s.json_schema as JsonSchema]));
    const catalog = configuredCatalog('incremental', STREAMS, (s) => schemas.get(s.name));
    const records = new Map(STREAMS.map((stream) => [stream, [] as AirbyteMessage[]]));
    for (const message of await run('read', '--catalog', file('catalog.json', catalog)))
      records.get(message.record?.stream ?? '')?.push(message);
    return { catalog, records };
  } finally {
    await simulator.stop();
  }
}

/** N protocol lines: the samples over and over with new ids and times, a STATE every 500 records of a stream. */
async function* lines(records: Map<string, AirbyteMessage[]>, count: number): AsyncGenerator<string> {
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let n = 0; n < count; n++) {
    const stream = STREAMS[n % STREAMS.length]!;
    const sample = records.get(stream)!;
    const { record } = sample[Math.floor(n / STREAMS.length) % sample.length]!;
    const time = new Date(start + n * 1000).toISOString().replace('.000', '');
    const data = { ...record!.data, id: n + 1, update_time: time };
    yield `${JSON.stringify({ type: 'RECORD', record: { stream, data, emitted_at: start + n } })}\n`;
    if (Math.floor(n / STREAMS.length) % 500 === 499) yield `${JSON.stringify(state(stream, time))}\n`;
  }
  for (const stream of STREAMS) yield `${JSON.stringify(state(stream, 'end'))}\n`;
}

const state = (name: string, update_time: string) => ({
  type: 'STATE',
  state: { type: 'STREAM', stream: { stream_descriptor: { name }, stream_state: { update_time } } },
});

const { catalog, records } = await samples();
const file = args.file ?? join(mkdtempSync(join(tmpdir(), 'loader-bench-')), 'bench.duckdb');
rmSync(file, { force: true });
rmSync(`${file}.state.json`, { force: true });
const megabytes = () => Math.round(process.memoryUsage().rss / 1e6);
let peak = megabytes();
const sampler = setInterval(() => (peak = Math.max(peak, megabytes())), 100);
const started = performance.now();
let sent = 0;
const input = Readable.from(
  (async function* () {
    for await (const line of lines(records, args.records)) {
      if (++sent % 50_000 === 0)
        console.error(`${sent} records: ${Math.round(performance.now() - started)} ms, ${megabytes()} MB resident`);
      yield line;
    }
  })(),
);
const result = await load(file, catalog, input, (line) => console.error(line));
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const rows = result.streams.reduce((sum, s) => sum + s.rows, 0);
console.log(
  `${args.records} records into ${file}: ${seconds.toFixed(1)} s, ${Math.round(args.records / seconds)} rows/s, ${rows} rows, peak ${peak} MB resident`,
);
