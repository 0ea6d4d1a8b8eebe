// Preloaded (node --import) into the connector's process by tests that run the real command line against a
// simulated company: moves the process's `Date.now` to the company's time, as faketime would move the machine's
// clock, so the connector's clock (src/pipedrive/clock.ts) and with it the default start date follow the simulated
// calendar instead of the machine's. (The connector is one bundled file, so its clock module cannot be reached from
// here; it takes "now" from `Date.now` only, never from `new Date()`.) The time comes from COMPANY_NOW (epoch ms),
// taken by the test when it started the process; the clock moves on with real time from there.
const realNow = Date.now;
const offset = Number(process.env.COMPANY_NOW) - realNow();
if (!Number.isFinite(offset)) throw new Error('COMPANY_NOW must be epoch milliseconds');
Date.now = () => realNow() + offset;
