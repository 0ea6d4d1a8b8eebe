// The benchmark (`npm run bench`, not part of `npm test`): a full sync of all 16 streams of a large simulated company
// (half a million records), once with no latency and no rate limit, once with 50 ms latency and a burst limit of 40
// requests per 2 s, plus a bare loop that only fetches, parses and prints the same pages. Prints a Markdown table
// and writes .bench/results.json.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STREAMS } from '../src/pipedrive/streams/table.js';
import { TOKENS } from '../simulator/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = `${root}.bench`;
mkdirSync(work, { recursive: true });
const V2 = ['activities', 'deals', 'organizations', 'persons', 'pipelines', 'products', 'stages'];
const CONCURRENCY = 3;

interface Summary {
  records: number;
  seconds: number;
  requests: number;
  rateLimited: number;
  tokens: number;
  cpuSeconds: number;
  maxRssMb: number;
  streams: Record<string, { records: number; requests: number; tokens: number }>;
}

async function startSimulator(latencyMs: number, burstLimit: number) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'simulator/main.ts',
      '--size',
      'large',
      '--prewarm',
      '--port',
      '0',
      '--anchor',
      '2026-11-01T00:00:00Z',
      '--latency-ms',
      String(latencyMs),
      '--burst-limit',
      String(burstLimit),
      '--daily-budget',
      '10000000',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const origin = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    child.on('exit', () => reject(new Error('the simulator stopped')));
  });
  const control = async (path: string, method = 'GET') =>
    (await fetch(`${origin}/__simulator/${path}`, { method })).json();
  return { origin, control, stop: () => child.kill() };
}

/** Runs a command, consuming its stdout as fast as a platform would (counting lines); returns what it printed last. */
async function run(command: string[], input?: string): Promise<{ lines: number; lastLine: string; stderr: string }> {
  const child = spawn(process.execPath, command, {
    cwd: root,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin!.end(input);
  let lines = 0;
  let tail = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    tail = (tail + chunk.toString('utf8', Math.max(0, chunk.length - 20_000))).slice(-20_000);
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${String(code)}: ${stderr}`);
  return { lines, lastLine: tail.trim().split('\n').at(-1)!, stderr };
}

async function sync(origin: string): Promise<Summary> {
  const config = `${work}/config.json`;
  const catalog = `${work}/catalog.json`;
  writeFileSync(
    config,
    JSON.stringify({
      api_token: TOKENS.admin,
      base_url: origin,
      start_date: '2020-01-01',
      max_concurrent_streams: CONCURRENCY,
    }),
  );
  writeFileSync(
    catalog,
    JSON.stringify({
      streams: STREAMS.map((s) => ({
        stream: { name: s.name, json_schema: {}, supported_sync_modes: ['full_refresh'] },
        sync_mode: 'full_refresh',
        destination_sync_mode: 'overwrite',
      })),
    }),
  );
  const { lastLine } = await run(['dist/main.js', 'read', '--config', config, '--catalog', catalog]);
  const message = (JSON.parse(lastLine) as { log: { message: string } }).log.message;
  return JSON.parse(message.slice(message.indexOf('{'))) as Summary;
}

const perThousand = (n: number, records: number) => (1000 * n) / records;
const sum = (summary: Summary, field: 'records' | 'tokens') =>
  V2.reduce((n, name) => n + summary.streams[name]![field], 0);

/** The figures every scenario reports, from the connector's own end-of-sync summary. */
const figures = (summary: Summary) => ({
  records: summary.records,
  seconds: summary.seconds,
  recordsPerSecond: summary.records / summary.seconds,
  cpuSecondsPer100k: (summary.cpuSeconds * 100_000) / summary.records,
  peakRssMb: summary.maxRssMb,
  requestsPer1000: perThousand(summary.requests, summary.records),
  tokensPer1000: perThousand(summary.tokens, summary.records),
  v2TokensPer1000: perThousand(sum(summary, 'tokens'), sum(summary, 'records')),
});

// 1. No latency, no rate limit: the connector against the bare loop.
async function noLatency() {
  const simulator = await startSimulator(0, 1_000_000);
  const summary = await sync(simulator.origin);
  const requests = (await simulator.control('requests')) as {
    path: string;
    query: Record<string, string>;
    status: number;
  }[];
  await simulator.control('reset', 'POST');
  const paths = requests
    .filter((r) => r.status === 200)
    .map((r) => `${r.path}?${new URLSearchParams(r.query).toString()}`);
  const bare = await run(
    ['--import', 'tsx', 'bench/bare-loop.ts', simulator.origin, TOKENS.admin, String(CONCURRENCY)],
    paths.join('\n'),
  );
  const bareFigures = JSON.parse(bare.stderr.trim().split('\n').at(-1)!) as { records: number; seconds: number };
  simulator.stop();
  return {
    ...figures(summary),
    bareLoop: {
      records: bareFigures.records,
      seconds: bareFigures.seconds,
      recordsPerSecond: bareFigures.records / bareFigures.seconds,
    },
    slowerThanBareLoop: summary.seconds / bareFigures.seconds,
  };
}

// 2. 50 ms latency and 40 requests per 2 s: how close to the burst ceiling, and how few 429s.
async function rateLimited() {
  const limit = 40;
  const simulator = await startSimulator(50, limit);
  const summary = await sync(simulator.origin);
  const stats = (await simulator.control('stats')) as { requests: number; burst429: number };
  simulator.stop();
  const recordsPerRequest = summary.records / (summary.requests - summary.rateLimited);
  const ceiling = (limit / 2) * recordsPerRequest;
  return {
    ...figures(summary),
    ceilingRecordsPerSecond: ceiling,
    shareOfCeiling: summary.records / summary.seconds / ceiling,
    requestsPerSecond: summary.requests / summary.seconds,
    share429: stats.burst429 / stats.requests,
  };
}

const a = await noLatency();
const b = await rateLimited();
writeFileSync(`${work}/results.json`, JSON.stringify({ noLatency: a, rateLimited: b }, null, 2));
const f = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log(`
| full sync of ${f(a.records)} records, 16 streams | no latency, no limit | 50 ms latency, 40 requests / 2 s |
|---|---|---|
| wall time | ${f(a.seconds, 1)} s | ${f(b.seconds, 1)} s |
| records per second | ${f(a.recordsPerSecond)} | ${f(b.recordsPerSecond)} |
| bare loop (fetch, parse, print the same pages) | ${f(a.bareLoop.recordsPerSecond)} records/s; connector takes ${f(a.slowerThanBareLoop, 2)}× its time | |
| share of the burst ceiling (${f(b.ceilingRecordsPerSecond)} records/s at this mix's ${f(b.ceilingRecordsPerSecond / 20, 0)} records per request) | | ${f(100 * b.shareOfCeiling, 1)} % |
| requests answered 429 | | ${f(100 * b.share429, 2)} % |
| CPU seconds per 100k records | ${f(a.cpuSecondsPer100k, 2)} | ${f(b.cpuSecondsPer100k, 2)} |
| peak RSS | ${f(a.peakRssMb)} MB | ${f(b.peakRssMb)} MB |
| requests per 1000 records | ${f(a.requestsPer1000, 2)} | ${f(b.requestsPer1000, 2)} |
| tokens per 1000 records (all streams / v2 streams) | ${f(a.tokensPer1000, 1)} / ${f(a.v2TokensPer1000, 1)} | ${f(b.tokensPer1000, 1)} / ${f(b.v2TokensPer1000, 1)} |
`);
