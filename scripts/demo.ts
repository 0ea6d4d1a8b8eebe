// `npm run demo`: the connector at work in one command, on its embedded default, a local Pipedrive simulator (no
// account needed). Through the real command line: check, discover, a full read, a day of changes in the CRM, then an
// incremental read from the saved state. The protocol output goes to demo-output/; a summary is printed.
// `npm run demo -- --oauth` signs in with the simulator's OAuth app instead of an API token, keeping each rotated
// refresh token from the connector's CONTROL message in the config, as the platform does.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { latestStates } from '../acceptance/protocol.js';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { OAUTH_APP } from '../simulator/oauth.js';
import { PipedriveSimulator, TOKENS } from '../simulator/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const output = `${root}demo-output`;
mkdirSync(output, { recursive: true });
const config = `${output}/config.json`;

/** Runs the connector's command line, its stdout into demo-output/<name>.jsonl; returns the messages. */
async function connector(name: string, args: string[]): Promise<AirbyteMessage[]> {
  const file = `${output}/${name}.jsonl`;
  const child = spawn(process.execPath, [`${root}dist/main.js`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.pipe(createWriteStream(file));
  await new Promise((resolve) => child.on('close', resolve));
  const messages = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AirbyteMessage);
  const saved = messages.filter((m) => m.type === 'CONTROL').at(-1)?.control?.connectorConfig?.config;
  if (saved) writeFileSync(config, JSON.stringify(saved, null, 2));
  return messages;
}

type StreamFigures = { records: number | null; seconds: number; requests: number; tokens: number };
const summaryOf = (messages: AirbyteMessage[]) => {
  const log = messages.filter((m) => m.type === 'LOG' && m.log!.message.startsWith('Sync finished')).at(-1)!.log!
    .message;
  return JSON.parse(log.slice(log.indexOf('{'))) as {
    seconds: number;
    tokens: number;
    requests: number;
    streams: Record<string, StreamFigures>;
  };
};
const latestOf = (messages: AirbyteMessage[]) =>
  latestStates(messages.filter((m) => m.type === 'STATE').map((m) => m.state!));

const simulator = new PipedriveSimulator({ burstLimit: 40 });
const origin = await simulator.start();
// No start_date: the connector's default, one year of history.
const credentials = process.argv.includes('--oauth')
  ? {
      credentials: {
        auth_type: 'oauth2.0',
        client_id: OAUTH_APP.clientId,
        client_secret: OAUTH_APP.clientSecret,
        refresh_token: OAUTH_APP.refreshToken,
      },
    }
  : { api_token: TOKENS.admin };
writeFileSync(config, JSON.stringify({ ...credentials, base_url: origin }, null, 2));
console.log(
  `Pipedrive simulator: ${origin} (a company of ${Object.values(simulator.dataset.tables).reduce((n, t) => n + t.count, 0)} records over two years)\n`,
);

const check = await connector('1-check', ['check', '--config', config]);
const status = check.find((m) => m.type === 'CONNECTION_STATUS')!.connectionStatus!;
console.log(`check     ${status.status}: ${status.message}`);

const discover = await connector('2-discover', ['discover', '--config', config]);
console.log(`discover  ${discover.find((m) => m.type === 'CATALOG')!.catalog!.streams.length} streams`);

const full = await connector('3-read-full', [
  'read',
  '--config',
  config,
  '--catalog',
  `${root}catalogs/full_refresh.json`,
]);
const state = `${output}/state.json`;
writeFileSync(state, JSON.stringify(latestOf(full), null, 2));
console.log(`read      full refresh: ${full.filter((m) => m.type === 'RECORD').length} records`);

// A day of work in the CRM.
const data = simulator.dataset;
data.update('deals', 1, { title: 'Renamed in the demo' });
data.remove('deals', 2);
data.archiveDeal(3);
data.add('persons', { name: 'New Person (demo)' });
data.update('notes', 4, { content: '<p>Edited in the demo</p>' });
data.update('activities', 5, { done: true });
data.update('files', 6);
data.update('email_messages', data.messagesOf(7)[0]!);
console.log(
  'changes   renamed, deleted and archived a deal; added a person; edited a note, an activity, a file, a mail message',
);

const incremental = await connector('4-read-incremental', [
  'read',
  '--config',
  config,
  '--catalog',
  `${root}catalogs/incremental.json`,
  '--state',
  state,
]);
writeFileSync(`${output}/state-after.json`, JSON.stringify(latestOf(incremental), null, 2));
console.log(`read      incremental: ${incremental.filter((m) => m.type === 'RECORD').length} records\n`);
await simulator.stop();

const [before, after] = [summaryOf(full), summaryOf(incremental)];
const finalState = new Map(
  latestOf(incremental).map((s) => [s.stream.stream_descriptor.name, JSON.stringify(s.stream.stream_state)]),
);
const rows = Object.keys(before.streams).map((name) => {
  const [a, b] = [before.streams[name]!, after.streams[name]!];
  return [
    name,
    String(a.records),
    `${a.seconds.toFixed(1)} s`,
    String(a.tokens),
    String(b.records),
    String(b.tokens),
    finalState.get(name) ?? '',
  ];
});
const header = ['stream', 'full: records', 'time', 'tokens', 'incremental: records', 'tokens', 'state after'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of rows) console.log(line(row));
console.log(
  `\nfull: ${before.requests} requests, ${before.tokens} API tokens in ${before.seconds.toFixed(1)} s; incremental: ${after.requests} requests, ${after.tokens} API tokens in ${after.seconds.toFixed(1)} s`,
);
console.log(
  `The protocol output of every step is in demo-output/ (1-check.jsonl … 4-read-incremental.jsonl, state.json).`,
);
