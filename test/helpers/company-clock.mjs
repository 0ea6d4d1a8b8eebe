// Preloaded (node --import) into the connector's process by tests that run the real command line against a
// simulated company: sets the connector's clock (src/clock.ts) to the company's, so the default start date follows
// the simulated calendar instead of the machine's. The time comes from COMPANY_NOW (epoch ms), taken by the test
// when it started the process; the clock moves on with real time from there.
import { clock } from '../../dist/pipedrive/clock.js';

const offset = Number(process.env.COMPANY_NOW) - Date.now();
if (!Number.isFinite(offset)) throw new Error('COMPANY_NOW must be epoch milliseconds');
clock.now = () => Date.now() + offset;
