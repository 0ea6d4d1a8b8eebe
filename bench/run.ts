// The benchmark (`npm run bench`, not part of `npm test`). Each case starts the simulator in its own process (every
// record serialised in advance) and measures, side by side against it in the same run, a first sync through the real
// command line (plain node, or the Docker image under a pod's limits) and a reference: the bare fetch-parse-print loop
// (bench/bare-loop.mjs, the same lists), the ceiling a burst limit allows, or the same sync unconstrained. Every run is
// repeated three times, taking turns, and the run of median speed stands for its kind. The targets are ratios.
//   npm run bench                 every case but `huge`
//   npm run bench -- deals mix    some cases
//   npm run bench -- huge         2M deals in the image with the sync pod's limits (--cpus 1 --memory 512m)
// Prints a Markdown table; keeps each case's result in bench/results.json (the README's benchmark table, rendered by
// scripts/docs.ts) and every run's figures in .bench/.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { streamByName } from '../src/pipedrive/streams/table.js';
import type { Counts } from '../simulator/dataset.js';
import { TOKENS } from '../simulator/server.js';
import { renderResults, saveResults, type CaseResult } from './results.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = `${root}.bench`;
mkdirSync(work, { recursive: true });
const IMAGE = 'ghcr.io/source-pipedrive-ts/source-pipedrive-ts:dev';

const SEVEN = ['activities', 'deals', 'organizations', 'persons', 'pipelines', 'products', 'stages'];
/** About 68k records in the 7 lists of a medium company. */
const SEVEN_COUNTS: Partial<Counts> = {
  activities: 28_000,
  deals: 14_000,
  persons: 14_000,
  organizations: 8_000,
  products: 4_000,
  pipelines: 8,
  stages: 48,
};
/** The top plan's burst limit for an OAuth app: 480 requests per 2 s. */
const TOP_PLAN = 480;

/** Where the connector runs: plain node, or the image with a pod's limits (none: unconstrained). */
type Runner = { in: 'node' } | { in: 'image'; cpus?: number; memoryMb?: number };

/** What a sync is measured against: the bare loop (sequential or every list at once), the ceiling a burst limit allows
 * (limit ÷ 2 s full pages a second), or the same sync run otherwise. */
type Reference =
  { kind: 'loop'; mode: 'sequential' | 'parallel' } | { kind: 'ceiling' } | { kind: 'sync'; runner: Runner };

interface SyncCase {
  kind: 'sync';
  id: string;
  title: string;
  streams: string[];
  counts: Partial<Counts>;
  latencyMs: number;
  burstLimit: number;
  runner: Runner;
  reference: Reference;
  /** Targets, as ratios: records/s of the reference's (at least), CPU per record (at most), requests ÷ the fewest
   * possible (at most). */
  targets: { speed?: number; cpu?: number; requests?: number };
}

/** A first sync killed at 90 % of its parent's records and resumed from its last STATE: how many parent records the
 * second attempt reads again. */
interface ResumeCase {
  kind: 'resume';
  id: string;
  title: string;
  parent: string;
  streams: string[];
  counts: Partial<Counts>;
  target: number;
}

/** The process time of the commands that start a sync, above bare node's. */
interface StartCase {
  kind: 'start';
  id: string;
  title: string;
  target: number;
}

type Case = SyncCase | ResumeCase | StartCase;

/** A sync case: a first sync of 200k deals with plain node at the top plan's limit against the sequential bare loop,
 * unless said otherwise. */
const syncCase = (c: Pick<SyncCase, 'id' | 'title' | 'targets'> & Partial<SyncCase>): SyncCase => ({
  kind: 'sync',
  streams: ['deals'],
  counts: { deals: 200_000 },
  latencyMs: 0,
  burstLimit: TOP_PLAN,
  runner: { in: 'node' },
  reference: { kind: 'loop', mode: 'sequential' },
  ...c,
});
const TWO_MILLION = { counts: { deals: 2_000_000 } };

const CASES: Case[] = [
  syncCase({ id: 'deals', title: '200k deals, 480 requests / 2 s', targets: { cpu: 1.2, requests: 1.05 } }),
  syncCase({
    id: 'latency',
    title: '200k deals, 50 ms latency, 480 requests / 2 s',
    latencyMs: 50,
    targets: { speed: 1, requests: 1.05 },
  }),
  syncCase({
    id: 'mix',
    title: '7 big lists of a medium company, 480 requests / 2 s',
    streams: SEVEN,
    counts: SEVEN_COUNTS,
    targets: { cpu: 1.2, requests: 1.05 },
  }),
  syncCase({
    id: 'limit',
    title: '200k deals, 50 ms latency, 40 requests / 2 s',
    latencyMs: 50,
    burstLimit: 40,
    reference: { kind: 'ceiling' },
    targets: { speed: 0.9, requests: 1.05 },
  }),
  syncCase({ id: '2m', title: '2M deals, 480 requests / 2 s', ...TWO_MILLION, targets: { cpu: 1.2, requests: 1.05 } }),
  syncCase({
    id: 'memory',
    title: '2M deals in the image, --memory 256m, against the image unconstrained',
    ...TWO_MILLION,
    runner: { in: 'image', memoryMb: 256 },
    reference: { kind: 'sync', runner: { in: 'image' } },
    targets: { speed: 1 / 1.2 },
  }),
  {
    kind: 'resume',
    id: 'resume',
    title: '200k deals with deal_products, killed at 90 % and resumed',
    parent: 'deals',
    streams: ['deals', 'deal_products'],
    counts: { deals: 200_000 },
    target: 1000,
  },
  { kind: 'start', id: 'start', title: 'spec, check, discover: process time above `node -e 0`', target: 0.1 },
  syncCase({
    id: 'huge',
    title: '2M deals in the image, --cpus 1 --memory 512m, 480 requests / 2 s',
    ...TWO_MILLION,
    runner: { in: 'image', cpus: 1, memoryMb: 512 },
    targets: { requests: 1.05 },
  }),
];
/** Cases run only when named. */
const ON_REQUEST = new Set(['huge']);

/** What one run measured: the connector's own end-of-sync summary, or the bare loop's figures. */
interface Figures {
  records: number;
  seconds: number;
  requests: number;
  cpuSeconds: number;
  maxRssMb: number;
}

async function startSimulator(counts: Partial<Counts>, latencyMs: number, burstLimit: number) {
  const child = spawn(
    process.execPath,
    [
      ...['--max-old-space-size=16000', '--import', 'tsx', 'simulator/main.ts', '--counts', JSON.stringify(counts)],
      ...['--prewarm', '--port', '0', '--anchor', '2026-11-01T00:00:00Z'],
      ...['--latency-ms', String(latencyMs), '--burst-limit', String(burstLimit), '--daily-budget', '1000000000'],
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
type Simulator = Awaited<ReturnType<typeof startSimulator>>;

/** Runs a command, consuming its stdout as fast as a platform would; `onLine` sees every line (and may stop it). */
async function run(
  command: string,
  args: string[],
  options: { input?: string; onLine?: (line: string) => boolean } = {},
): Promise<{ tail: string; stderr: string; code: number | null }> {
  const child = spawn(command, args, {
    cwd: root,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let tail = '';
  let rest = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-20_000);
    if (!options.onLine) return;
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (options.onLine(line) === true) child.kill('SIGKILL');
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-100_000)));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { tail, stderr, code };
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
  const { stderr } = await run(process.execPath, ['bench/bare-loop.mjs', origin, TOKENS.admin, mode], {
    input: JSON.stringify(listsOf(streams)),
  });
  return JSON.parse(stderr.trim().split('\n').at(-1)!) as Figures;
}

/** The config and catalog of a first sync of the streams (incremental where the stream allows it), as files. */
function syncFiles(origin: string, streams: string[]) {
  const config = `${work}/config.json`;
  const catalog = `${work}/catalog.json`;
  writeFileSync(config, JSON.stringify({ api_token: TOKENS.admin, base_url: origin, start_date: '2020-01-01' }));
  writeFileSync(catalog, JSON.stringify(configuredCatalog('incremental', streams)));
  return { config, catalog };
}

/** The command that runs the connector, plain or in the image (host network, .bench mounted at the same path). */
function connectorCommand(runner: Runner, args: string[]): [string, string[]] {
  if (runner.in === 'node') return [process.execPath, ['dist/main.js', ...args]];
  const limits = [
    ...(runner.cpus === undefined ? [] : ['--cpus', String(runner.cpus)]),
    ...(runner.memoryMb === undefined
      ? []
      : ['--memory', `${runner.memoryMb}m`, '--memory-swap', `${runner.memoryMb}m`]),
  ];
  return ['docker', ['run', '--rm', '-i', '--network', 'host', '-v', `${work}:${work}`, ...limits, IMAGE, ...args]];
}

/** A first sync through the command line: its own summary, the last LOG line. */
async function connector(origin: string, streams: string[], runner: Runner): Promise<Figures> {
  const { config, catalog } = syncFiles(origin, streams);
  const [command, args] = connectorCommand(runner, ['read', '--config', config, '--catalog', catalog]);
  const { tail, stderr, code } = await run(command, args);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${stderr}`);
  const message = (JSON.parse(tail.trim().split('\n').at(-1)!) as { log: { message: string } }).log.message;
  return JSON.parse(message.slice(message.indexOf('{'))) as Figures;
}

const rate = (figures: Figures) => figures.records / figures.seconds;
const cpuPerThousand = (figures: Figures) => (1_000_000 * figures.cpuSeconds) / figures.records;
const ROUNDS = 3;
const median = <T>(runs: T[], by: (run: T) => number): T =>
  [...runs].sort((a, b) => by(a) - by(b))[Math.floor(runs.length / 2)]!;
/** The burst window of the previous run must not count against the next. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 2500));

async function referenceRun(simulator: Simulator, c: SyncCase): Promise<Figures | undefined> {
  if (c.reference.kind === 'ceiling') return undefined;
  if (c.reference.kind === 'loop') return bareLoop(simulator.origin, c.streams, c.reference.mode);
  await simulator.control('reset', 'POST');
  return connector(simulator.origin, c.streams, c.reference.runner);
}

interface SyncResult {
  c: SyncCase;
  sync: Figures;
  reference?: Figures;
  /** The fewest requests that bring these records: the bare loop's (one per page of each list), or one per full page. */
  fewest: number;
  speed: number;
  cpu?: number;
}

async function measureSync(c: SyncCase): Promise<SyncResult> {
  const simulator = await startSimulator(c.counts, c.latencyMs, c.burstLimit);
  try {
    const runs: { sync: Figures; reference?: Figures }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const reference = await referenceRun(simulator, c);
      await pause();
      await simulator.control('reset', 'POST');
      runs.push({ sync: await connector(simulator.origin, c.streams, c.runner), reference });
      await pause();
    }
    const sync = median(
      runs.map((r) => r.sync),
      rate,
    );
    const loops = runs.flatMap((r) => (r.reference ? [r.reference] : []));
    const reference = loops.length > 0 ? median(loops, rate) : undefined;
    const fewest =
      c.reference.kind === 'loop' ? reference!.requests : listsOf(c.streams).length + Math.floor(sync.records / 500);
    const ceiling = (c.burstLimit / 2) * (sync.records / fewest);
    const speed = rate(sync) / (reference ? rate(reference) : ceiling);
    const cpu = reference && c.reference.kind === 'loop' ? cpuPerThousand(sync) / cpuPerThousand(reference) : undefined;
    return { c, sync, reference, fewest, speed, cpu };
  } finally {
    simulator.stop();
  }
}

/** Kills a first sync once it has emitted 90 % of the parent's records, resumes it from the last STATE of each stream,
 * and counts the parent records the second attempt emits that the first had acknowledged (emitted before its
 * stream's last STATE). */
async function measureResume(c: ResumeCase) {
  const simulator = await startSimulator(c.counts, 0, TOP_PLAN);
  try {
    const { config, catalog } = syncFiles(simulator.origin, c.streams);
    const total = c.counts[c.parent as keyof Counts] ?? 0;
    const states = new Map<string, unknown>();
    const pending: string[] = [];
    const acknowledged = new Set<string>();
    let emitted = 0;
    await run(process.execPath, ['dist/main.js', 'read', '--config', config, '--catalog', catalog], {
      onLine: (line) => {
        const message = JSON.parse(line) as {
          type: string;
          record?: { stream: string; data: { id: unknown } };
          state?: { stream: { stream_descriptor: { name: string }; stream_state: unknown } };
        };
        if (message.type === 'RECORD' && message.record!.stream === c.parent) {
          pending.push(String(message.record!.data.id));
          return ++emitted >= 0.9 * total;
        }
        if (message.type !== 'STATE') return false;
        states.set(message.state!.stream.stream_descriptor.name, message.state);
        if (message.state!.stream.stream_descriptor.name === c.parent)
          for (const id of pending.splice(0)) acknowledged.add(id);
        return false;
      },
    });
    const state = `${work}/state.json`;
    writeFileSync(state, JSON.stringify([...states.values()].map((s) => ({ type: 'STREAM', ...(s as object) }))));
    let again = 0;
    const resumed = await run(
      process.execPath,
      ['dist/main.js', 'read', '--config', config, '--catalog', catalog, '--state', state],
      {
        onLine: (line) => {
          if (!line.includes('"RECORD"')) return false;
          const message = JSON.parse(line) as { record: { stream: string; data: { id: unknown } } };
          if (message.record.stream === c.parent && acknowledged.has(String(message.record.data.id))) again++;
          return false;
        },
      },
    );
    if (resumed.code !== 0) throw new Error(`the resumed sync exited ${String(resumed.code)}: ${resumed.stderr}`);
    return { c, total, acknowledged: acknowledged.size, again };
  } finally {
    simulator.stop();
  }
}

/** A command's process time (user and system CPU, of every thread: Node compiles and collects garbage on helper
 * threads) and its wall time, each the median of nine runs. bash's `times` reports what its children used; `via`
 * runs that bash elsewhere (`docker exec` in a container). */
async function timed(command: string[], via: string[] = []): Promise<{ cpu: number; wall: number }> {
  const runs: { cpu: number; wall: number }[] = [];
  const [program = 'bash', ...rest] = [...via, 'bash', '-c', '"$@" > /dev/null 2>&1; times', '_', ...command];
  for (let i = 0; i < 9; i++) {
    const started = performance.now();
    const { tail } = await run(program, rest);
    const wall = (performance.now() - started) / 1000;
    const children = tail.trim().split('\n').at(-1) ?? '';
    const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, s]) => Number(m) * 60 + Number(s));
    if (seconds.length !== 2) throw new Error(`bash's times said "${children}"`);
    runs.push({ cpu: (seconds[0] ?? 0) + (seconds[1] ?? 0), wall });
  }
  return { cpu: median(runs, (r) => r.cpu).cpu, wall: median(runs, (r) => r.wall).wall };
}

/** spec, check and discover above bare node: with this machine's node, and in the image (its entrypoint and compile
 * cache, Node 24) when it has been built. */
async function measureStart(c: StartCase) {
  const simulator = await startSimulator({}, 0, TOP_PLAN);
  try {
    const { config } = syncFiles(simulator.origin, ['deals']);
    const commands = (entry: string[]) => ({
      spec: [...entry, 'spec'],
      check: [...entry, 'check', '--config', config],
      discover: [...entry, 'discover', '--config', config],
    });
    const host = await startAbove(commands([process.execPath, 'dist/main.js']), [process.execPath, '-e', '0']);
    if ((await run('docker', ['image', 'inspect', IMAGE])).code !== 0) return { c, host };
    const container = (
      await run('docker', [
        'run',
        '-d',
        '--rm',
        '--network',
        'host',
        '-v',
        `${work}:${work}:ro`,
        '--entrypoint',
        'sleep',
        IMAGE,
        '3600',
      ])
    ).tail.trim();
    try {
      const via = ['docker', 'exec', container];
      const image = await startAbove(commands(['/usr/local/bin/source-pipedrive']), ['node', '-e', '0'], via);
      return { c, host, image };
    } finally {
      await run('docker', ['rm', '-f', container]);
    }
  } finally {
    simulator.stop();
  }
}

/** Each command's process and wall time above bare node's. */
async function startAbove(commands: Record<string, string[]>, bare: string[], via: string[] = []) {
  const base = await timed(bare, via);
  const above: Record<string, { cpu: number; wall: number }> = {};
  for (const [name, command] of Object.entries(commands)) {
    const { cpu, wall } = await timed(command, via);
    above[name] = { cpu: cpu - base.cpu, wall: wall - base.wall };
  }
  return { base, above };
}

const chosen = process.argv.slice(2);
const cases = CASES.filter((c) => (chosen.length === 0 ? !ON_REQUEST.has(c.id) : chosen.includes(c.id)));
const f = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mark = (ok: boolean) => (ok ? '✓' : '✗');
const within = (value: number | undefined, target: number | undefined, atMost: boolean) =>
  value === undefined
    ? '—'
    : `**${f(value, 2)}×**${target === undefined ? '' : ` (${atMost ? '≤' : '≥'} ${f(target, 2)} ${mark(atMost ? value <= target : value >= target)})`}`;
const figures = (r: Figures) =>
  `${f(rate(r))} rec/s, ${f(cpuPerThousand(r), 1)} CPU ms/1k, ${f(r.requests)} requests, RSS ${f(r.maxRssMb)} MB`;
const referenceName = (reference: Reference) =>
  reference.kind === 'loop'
    ? `${reference.mode} bare loop`
    : reference.kind === 'ceiling'
      ? 'ceiling'
      : 'image, no limits';

const commit = (await run('git', ['rev-parse', '--short', 'HEAD'])).tail.trim();
const measured = new Date().toISOString();
const done: CaseResult[] = [];
const raw: unknown[] = [];
for (const c of cases) {
  process.stderr.write(`case ${c.id}: ${c.title}\n`);
  const result = { id: c.id, measured, commit };
  if (c.kind === 'sync') {
    const r = await measureSync(c);
    raw.push(r);
    const reference = r.reference
      ? figures(r.reference)
      : `${f((c.burstLimit / 2) * (r.sync.records / r.fewest))} rec/s`;
    const requests = r.sync.requests / r.fewest;
    const row = `| ${c.id}: ${c.title} | ${figures(r.sync)} | ${referenceName(c.reference)}: ${reference} | ${within(r.speed, c.targets.speed, false)} | ${within(r.cpu, c.targets.cpu, true)} | ${within(requests, c.targets.requests, true)} (${f(r.fewest)}) |`;
    done.push({ ...result, row });
    if (c.id === 'huge')
      done.push({
        ...result,
        id: 'huge-10m',
        note: `huge: ${f(rate(r.sync))} rows/s in one pod (--cpus 1 --memory 512m): 10M rows in ${f(10_000_000 / rate(r.sync) / 60, 1)} minutes (target: ≤ 5, ≥ 34,000 rows/s ${mark(rate(r.sync) >= 34_000)})`,
      });
  } else if (c.kind === 'resume') {
    const r = await measureResume(c);
    raw.push(r);
    const note = `${c.id}: ${c.title}: the first attempt had ${f(r.acknowledged)} of ${f(r.total)} ${c.parent} acknowledged; the second read ${f(r.again)} of them again (target ≤ ${f(c.target)} ${mark(r.again <= c.target)})`;
    done.push({ ...result, note });
  } else {
    const r = await measureStart(c);
    raw.push(r);
    const line = (where: string, { base, above }: Awaited<ReturnType<typeof startAbove>>) =>
      `${where} (bare ${f(base.cpu, 3)} s): ${Object.entries(above)
        .map(([name, { cpu, wall }]) => `${name} +${f(cpu, 3)} s ${mark(cpu <= c.target)} (wall +${f(wall, 3)} s)`)
        .join(', ')}`;
    const image = r.image ? `; ${line('the image, Node 24', r.image)}` : '; the image: not built';
    done.push({ ...result, note: `${c.id}: ${c.title} (target ≤ +${c.target} s): ${line('node', r.host)}${image}` });
  }
  // Kept case by case, so that a run cut short keeps what it measured.
  saveResults(done);
}
writeFileSync(`${work}/results.json`, JSON.stringify(raw, null, 2));
console.log(renderResults(done));
