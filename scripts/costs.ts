// `npm run costs`: what a sync costs in Pipedrive's daily token budget, measured through the real command line on
// simulated companies of three sizes: discover, a first sync (the default start date: one year back), a sync with
// nothing changed, and a sync after half an hour of typical work in the CRM; then the same for the opt-in field-history
// streams (small and medium: a first sync asks once per entity). Prints Markdown tables for the README.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latestStates, parseMessageLine } from '../acceptance/protocol.js';
import type { AirbyteCatalog, AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { STREAMS, isOptIn } from '../src/pipedrive/streams/table.js';
import { PipedriveSimulator, TOKENS } from '../simulator/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'costs-'));
let files = 0;
const file = (content: unknown) => {
  const path = join(work, `${++files}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
};

/** Runs the connector; keeps every message but records, which it only counts (a first sync can be large). */
async function connector(args: string[]): Promise<{ messages: AirbyteMessage[]; records: number }> {
  const child = spawn(process.execPath, [`${root}dist/main.js`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: AirbyteMessage[] = [];
  let records = 0;
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{"type":"RECORD"')) records++;
      else if (line) messages.push(parseMessageLine(line));
    }
  });
  await new Promise((resolve) => child.on('close', resolve));
  return { messages, records };
}

/** Half an hour of a sales team's work: changes spread over the busiest streams (and a new mail in one thread). */
function work30Minutes(simulator: PipedriveSimulator, changes: number): void {
  const data = simulator.dataset;
  const streams = ['deals', 'persons', 'organizations', 'activities', 'notes'] as const;
  for (let i = 0; i < changes; i++) {
    const stream = streams[i % streams.length]!;
    data.update(stream, 1 + ((i * 7919) % data.counts[stream]));
  }
  data.update('email_messages', data.messagesOf(1)[0]!);
}

const HALF_HOUR = 30 * 60_000;
const sizes = [
  ['small', 10],
  ['medium', 50],
  ['large', 200],
] as const;
const HISTORY = ['deal_changelog', 'person_changelog', 'organization_changelog'];
/** The other opt-in streams: those that ask once per changed parent, or re-read a whole list every sync. */
const OTHER_OPT_IN = STREAMS.filter((stream) => isOptIn(stream) && !HISTORY.includes(stream.name)).map((s) => s.name);
const rows: { size: string; records: number; discover: number; first: number; none: number; typical: number }[] = [];
const history: typeof rows = [];
const others: typeof rows = [];
for (const [size, changes] of sizes) {
  rows.push(await measure(size, changes));
  if (size !== 'large') history.push(await measure(size, changes, HISTORY));
  if (size !== 'large') others.push(await measure(size, changes, OTHER_OPT_IN));
  console.error(`${size}: done`);
}

/** Discover, then a first sync, one with nothing changed and one after 30 minutes of work, of `streams` (default:
 * every stream a catalog selects unless told otherwise). */
async function measure(size: (typeof sizes)[number][0], changes: number, streams?: string[]) {
  const simulator = new PipedriveSimulator({ size, burstLimit: 1000, dailyBudget: 1e9, logRequests: false });
  const origin = await simulator.start();
  const config = file({ api_token: TOKENS.admin, base_url: origin });
  const spent = () => simulator.stats.tokensSpent;
  const discovered = (await connector(['discover', '--config', config])).messages.find(
    (m) => m.type === 'CATALOG',
  )?.catalog;
  const schemas = new Map((discovered as AirbyteCatalog).streams.map((s) => [s.name, s.json_schema]));
  const catalog = file(configuredCatalog('incremental', streams, (stream) => schemas.get(stream.name)));
  const discover = spent();
  const read = async (state?: unknown) => {
    const before = spent();
    const { messages, records } = await connector([
      'read',
      '--config',
      config,
      '--catalog',
      catalog,
      ...(state ? ['--state', file(state)] : []),
    ]);
    const states = latestStates(messages.filter((m) => m.type === 'STATE').map((m) => m.state!));
    return { tokens: spent() - before, states, records };
  };
  const first = await read();
  simulator.clock.advance(HALF_HOUR);
  const none = await read(first.states);
  simulator.clock.advance(HALF_HOUR);
  work30Minutes(simulator, changes);
  const typical = await read(none.states);
  await simulator.stop();
  return { size, records: first.records, discover, first: first.tokens, none: none.tokens, typical: typical.tokens };
}

const f = (n: number) => n.toLocaleString('en-US');
console.log(
  '| company | records in a first sync | discover | first sync | incremental, nothing changed | incremental, 30 minutes of work |',
);
console.log('|---|---|---|---|---|---|');
const table = (measured: typeof rows) => {
  for (const r of measured) {
    const changes = sizes.find(([size]) => size === r.size)![1];
    console.log(
      `| ${r.size} | ${f(r.records)} | ${f(r.discover)} | ${f(r.first)} | ${f(r.none)} | ${f(r.typical)} (${changes} changes) |`,
    );
  }
};
table(rows);
console.log('\nThe opt-in field-history streams (deal_changelog, person_changelog, organization_changelog) alone:\n');
console.log(
  '| company | changes in a first sync | discover | first sync | incremental, nothing changed | incremental, 30 minutes of work |',
);
console.log('|---|---|---|---|---|---|');
table(history);
console.log(`\nThe other opt-in streams (${OTHER_OPT_IN.join(', ')}) alone:\n`);
console.log(
  '| company | records in a first sync | discover | first sync | incremental, nothing changed | incremental, 30 minutes of work |',
);
console.log('|---|---|---|---|---|---|');
table(others);
// How often each plan can sync, every stream selected, spending at most half its daily budget on this connector.
const plans = [
  ['Lite / Essential', 1],
  ['Growth / Advanced', 2],
  ['Premium / Power', 5],
  ['Ultimate / Enterprise', 7],
] as const;
console.log('\n| plan (multiplier) | seats | daily budget | small | medium | large |');
console.log('|---|---|---|---|---|---|');
for (const [plan, multiplier] of plans) {
  for (const seats of [1, 5, 20]) {
    const budget = 30_000 * multiplier * seats;
    const every = rows.map((r) => {
      const minutes = Math.ceil((24 * 60) / Math.floor(budget / 2 / r.typical));
      return minutes <= 30
        ? 'every 30 min'
        : minutes < 24 * 60
          ? `every ${minutes < 120 ? `${minutes} min` : `${Math.ceil(minutes / 60)} h`}`
          : 'less than daily';
    });
    console.log(`| ${plan} (×${multiplier}) | ${seats} | ${f(budget)} | ${every.join(' | ')} |`);
  }
}
