// Runs the Pipedrive simulator on its own, for trying the connector (or its Docker image) by hand:
//   npm run simulator -- [--port 8089] [--size small|medium|large] [--counts '{"deals":200000}'] [--seed 42]
//                        [--burst-limit 40] [--latency-ms 0] [--anchor 2026-11-01T00:00:00Z] [--prewarm]
// --counts sets the number of records of some entities, on top of the small company.
// GET /__simulator/stats (counters), GET /__simulator/requests (the request log), POST /__simulator/reset.
import { parseArgs } from 'node:util';
import type { Counts } from './dataset.js';
import { OAUTH_APP } from './oauth.js';
import { PipedriveSimulator, TOKENS } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8089' },
    host: { type: 'string', default: '127.0.0.1' },
    size: { type: 'string', default: 'small' },
    counts: { type: 'string' },
    seed: { type: 'string', default: '42' },
    'burst-limit': { type: 'string', default: '40' },
    'latency-ms': { type: 'string', default: '0' },
    'daily-budget': { type: 'string', default: '600000' },
    anchor: { type: 'string' },
    prewarm: { type: 'boolean', default: false },
  },
});

const simulator = new PipedriveSimulator({
  size: values.counts
    ? (JSON.parse(values.counts) as Partial<Counts>)
    : values.size === 'large' || values.size === 'medium'
      ? values.size
      : 'small',
  seed: Number(values.seed),
  burstLimit: Number(values['burst-limit']),
  latencyMs: Number(values['latency-ms']),
  dailyBudget: Number(values['daily-budget']),
  ...(values.anchor ? { anchor: Date.parse(values.anchor) } : {}),
});
if (values.prewarm) simulator.prewarm();
const origin = await simulator.start(Number(values.port), values.host);
console.log(`Pipedrive simulator listening on ${origin}`);
console.log(`  admin token:      ${TOKENS.admin}`);
console.log(`  non-admin token:  ${TOKENS.user}`);
console.log(`  config: {"api_token": "${TOKENS.admin}", "base_url": "${origin}"}`);
console.log(
  `  OAuth: {"credentials": {"auth_type": "oauth2.0", "client_id": "${OAUTH_APP.clientId}", "client_secret": "${OAUTH_APP.clientSecret}", "refresh_token": "${OAUTH_APP.refreshToken}"}, "base_url": "${origin}"}`,
);
console.log('         (POST /oauth/token rotates the refresh token: use the one in the CONTROL message next time)');
const stop = () => void simulator.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
