// The benchmark (`npm run bench`, not part of `npm test`). Each scenario starts the simulator in its own process (every
// record serialised in advance), then runs, one after the other against it, the bare fetch-parse-print loop
// (bench/bare-loop.mjs: the same lists, sequential and in parallel) and a first sync through the real command line.
// It reports records/s, CPU ms per 1,000 records, peak RSS, requests/s and 429s, side by side with the reference:
//   (a) the 7 big v2 streams, no binding limit: against the sequential bare loop;
//   (b) the same, 50 ms latency: against the parallel bare loop;
//   (c) the same, 50 ms latency and 40 requests / 2 s: against the ceiling (20 requests/s of full pages);
//   (d) one stream of 200k deals, 50 ms latency and 40 requests / 2 s: against the ceiling.
// Every run is repeated three times, taking turns; medians are reported. Prints a Markdown table and writes
// .bench/results.json. `npm run bench -- a d` runs some scenarios only.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { streamByName } from '../src/pipedrive/streams/table.js';
import type { Counts } from '../simulator/dataset.js';
import { TOKENS } from '../simulator/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = `${root}.bench`;
mkdirSync(work, { recursive: true });

const SEVEN = ['activities', 'deals', 'organizations', 'persons', 'pipelines', 'products', 'stages'];
/** About 68k records in the 7 streams. */
const SEVEN_COUNTS: Partial<Counts> = {
  activities: 28_000,
  deals: 14_000,
  persons: 14_000,
  organizations: 8_000,
  products: 4_000,
  pipelines: 8,
  stages: 48,
};
/** "No binding limit": far more than the connector can use, and within what it believes of a burst header. */
const UNBOUND = 1000;

interface Scenario {
  id: string;
  title: string;
  streams: string[];
  counts: Partial<Counts>;
  latencyMs: number;
  burstLimit: number;
  /** What the connector's records/s is measured against, and the share of it the issue asks for. */
  reference: 'sequential' | 'parallel' | 'ceiling';
  target: number;
}

const SCENARIOS: Scenario[] = [
  {
    id: 'a',
    title: '7 big streams, no binding limit',
    streams: SEVEN,
    counts: SEVEN_COUNTS,
    latencyMs: 0,
    burstLimit: UNBOUND,
    reference: 'sequential',
    target: 0.67,
  },
  {
    id: 'b',
    title: '7 big streams, 50 ms latency',
    streams: SEVEN,
    counts: SEVEN_COUNTS,
    latencyMs: 50,
    burstLimit: UNBOUND,
    reference: 'parallel',
    target: 0.8,
  },
  {
    id: 'c',
    title: '7 big streams, 50 ms latency, 40 requests / 2 s',
    streams: SEVEN,
    counts: SEVEN_COUNTS,
    latencyMs: 50,
    burstLimit: 40,
    reference: 'ceiling',
    target: 0.9,
  },
  {
    id: 'd',
    title: 'one stream of 200k deals, 50 ms latency, 40 requests / 2 s',
    streams: ['deals'],
    counts: { deals: 200_000 },
    latencyMs: 50,
    burstLimit: 40,
    reference: 'ceiling',
    target: 0.9,
  },
];

/** What one run measured: the connector's own end-of-sync summary, or the bare loop's figures. */
interface Figures {
  records: number;
  seconds: number;
  requests: number;
  cpuSeconds: number;
  maxRssMb: number;
  tokens?: number;
}

async function startSimulator(scenario: Scenario) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'simulator/main.ts',
      '--counts',
      JSON.stringify(scenario.counts),
      '--prewarm',
      '--port',
      '0',
      '--anchor',
      '2026-11-01T00:00:00Z',
      '--latency-ms',
      String(scenario.latencyMs),
      '--burst-limit',
      String(scenario.burstLimit),
      '--daily-budget',
      '100000000',
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
  const control = async <T>(path: string, method = 'GET') =>
    (await (await fetch(`${origin}/__simulator/${path}`, { method })).json()) as T;
  return { origin, control, stop: () => child.kill() };
}

/** Runs a command, consuming its stdout as fast as a platform would (counting lines); returns its output's tail and
 * its stderr. */
async function run(command: string[], input?: string): Promise<{ lines: number; tail: string; stderr: string }> {
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
  return { lines, tail, stderr };
}

/** The lists the streams read, with the queries the connector sends (paging and time bounds aside). */
function listsOf(streams: string[]) {
  return streams.flatMap((name) => {
    const stream = streamByName.get(name);
    if (!stream || stream.kind === 'fields') return [];
    return stream.lists.map((list) => ({ stream: name, endpoint: list.endpoint, query: list.query ?? {} }));
  });
}

async function bareLoop(origin: string, streams: string[], mode: 'sequential' | 'parallel'): Promise<Figures> {
  const { stderr } = await run(['bench/bare-loop.mjs', origin, TOKENS.admin, mode], JSON.stringify(listsOf(streams)));
  return JSON.parse(stderr.trim().split('\n').at(-1)!) as Figures;
}

/** A first sync of the streams through the command line (incremental where the stream allows it). */
async function connector(origin: string, streams: string[]): Promise<Figures & { rateLimited: number }> {
  const config = `${work}/config.json`;
  const catalog = `${work}/catalog.json`;
  writeFileSync(config, JSON.stringify({ api_token: TOKENS.admin, base_url: origin, start_date: '2020-01-01' }));
  writeFileSync(catalog, JSON.stringify(configuredCatalog('incremental', streams)));
  const { tail } = await run(['dist/main.js', 'read', '--config', config, '--catalog', catalog]);
  const message = (JSON.parse(tail.trim().split('\n').at(-1)!) as { log: { message: string } }).log.message;
  return JSON.parse(message.slice(message.indexOf('{'))) as Figures & { rateLimited: number };
}

const rate = (figures: Figures) => figures.records / figures.seconds;
const cpuPerThousand = (figures: Figures) => (1_000_000 * figures.cpuSeconds) / figures.records;

/** Each run is repeated, the runs of each kind taking turns; the run of median records/s stands for its kind. CPU time
 * on a shared 2-core machine varies by a tenth from run to run. */
const ROUNDS = 3;

function median<T extends Figures>(runs: T[]): T {
  return [...runs].sort((a, b) => rate(a) - rate(b))[Math.floor(runs.length / 2)]!;
}

async function measure(scenario: Scenario) {
  const simulator = await startSimulator(scenario);
  try {
    const unbound = scenario.burstLimit === UNBOUND;
    const runs = {
      sequential: [] as Figures[],
      parallel: [] as Figures[],
      sync: [] as (Figures & { rateLimited: number })[],
    };
    const served = { requests: 0, burst429: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      // A bare loop has no throttle: under a binding limit it would be answered 429s, and blocked.
      if (unbound) {
        runs.sequential.push(await bareLoop(simulator.origin, scenario.streams, 'sequential'));
        runs.parallel.push(await bareLoop(simulator.origin, scenario.streams, 'parallel'));
      }
      await simulator.control('reset', 'POST');
      runs.sync.push(await connector(simulator.origin, scenario.streams));
      const stats = await simulator.control<{ requests: number; burst429: number }>('stats');
      served.requests += stats.requests;
      served.burst429 += stats.burst429;
      // The burst window of the previous run must not count against the next.
      await new Promise((resolve) => setTimeout(resolve, 2500));
    }
    const sync = median(runs.sync);
    const sequential = unbound ? median(runs.sequential) : undefined;
    const parallel = unbound ? median(runs.parallel) : undefined;
    // The fewest requests that bring these records: one per full page of each list.
    const minimumRequests = listsOf(scenario.streams).length + Math.floor(sync.records / 500);
    const ceiling = (scenario.burstLimit / 2) * (sync.records / minimumRequests);
    const reference =
      scenario.reference === 'ceiling' ? ceiling : rate(scenario.reference === 'sequential' ? sequential! : parallel!);
    return {
      scenario,
      sync,
      sequential,
      parallel,
      ceiling,
      minimumRequests,
      share: rate(sync) / reference,
      share429: served.burst429 / served.requests,
    };
  } finally {
    simulator.stop();
  }
}

const chosen = process.argv.slice(2);
const results = [];
for (const scenario of SCENARIOS.filter((s) => chosen.length === 0 || chosen.includes(s.id))) {
  process.stderr.write(`scenario ${scenario.id}: ${scenario.title}\n`);
  results.push(await measure(scenario));
}
writeFileSync(`${work}/results.json`, JSON.stringify(results, null, 2));

const f = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const loop = (figures: Figures | undefined) =>
  figures
    ? `${f(rate(figures))} records/s, ${f(cpuPerThousand(figures))} CPU ms / 1,000, ${f(figures.maxRssMb)} MB`
    : '—';
const lines = [
  '| case | records | connector | sequential bare loop | parallel bare loop | ceiling | connector ÷ reference (target) | requests/s (ceiling) | 429s | requests (fewest possible) |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => {
    const { scenario, sync } = r;
    const cell = `${f(rate(sync))} records/s, ${f(cpuPerThousand(sync))} CPU ms / 1,000, ${f(sync.maxRssMb)} MB`;
    const ceiling = scenario.burstLimit === UNBOUND ? '—' : `${f(r.ceiling)} records/s`;
    const requestRate = `${f(sync.requests / sync.seconds, 1)} (${scenario.burstLimit === UNBOUND ? 'none' : f(scenario.burstLimit / 2)})`;
    return `| (${scenario.id}) ${scenario.title} | ${f(sync.records)} | ${cell} | ${loop(r.sequential)} | ${loop(r.parallel)} | ${ceiling} | **${f(r.share, 2)}×** of the ${scenario.reference === 'ceiling' ? 'ceiling' : `${scenario.reference} loop`} (${f(scenario.target, 2)}) | ${requestRate} | ${f(100 * r.share429, 2)} % | ${f(sync.requests)} (${f(r.minimumRequests)}) |`;
  }),
];
const cpuRatio = results.find((r) => r.scenario.id === 'a');
if (cpuRatio?.sequential) {
  lines.push(
    '',
    `CPU per record, (a): the connector ${f(cpuPerThousand(cpuRatio.sync) / cpuPerThousand(cpuRatio.sequential), 2)}× the sequential bare loop (target ≤ 1.25×).`,
  );
}
console.log(lines.join('\n'));
