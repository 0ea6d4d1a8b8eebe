import { expect } from 'chai';
import { ConnectorError } from '../src/airbyte/errors.js';
import { HttpStatusError, PipedriveClient, type ClientOptions } from '../src/pipedrive/http/client.js';
import { apiTokenAuth } from '../src/pipedrive/http/auth.js';
import { documentedCost } from '../scripts/openapi.js';
import { TOKENS } from '../simulator/server.js';
import { useFakeClock } from './helpers/clock.js';
import { useSimulator } from './helpers/simulator.js';

const DEALS = { endpoint: '/api/v2/deals', query: { limit: 1 }, stream: 'deals' };

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ConnectorError);
    return error as ConnectorError;
  }
  throw new Error('expected a rejection');
}

describe('Pipedrive client', () => {
  const sim = useSimulator();
  let client: PipedriveClient;
  const newClient = (options: Partial<ClientOptions> = {}) =>
    (client = new PipedriveClient({
      auth: apiTokenAuth(sim().origin, TOKENS.admin),
      timeoutMs: 5000,
      maxRetries: 3,
      ...options,
    }));
  beforeEach(() => {
    sim().reset();
    sim().burstLimit = 1000;
    sim().dailyBudget = 600_000;
  });
  afterEach(() => client?.close());

  describe('requests', () => {
    it('sends the token in the x-api-token header only, over one kept-alive connection', async () => {
      newClient();
      for (let i = 0; i < 5; i++) await client.get(DEALS);
      expect(sim().requests.map((r) => r.tokenVia)).to.deep.equal(['header', 'header', 'header', 'header', 'header']);
      expect(sim().requests.filter((r) => 'api_token' in r.query)).to.deep.equal([]);
      expect(sim().stats.connections).to.equal(1);
    });

    it('counts requests and token costs per stream as Pipedrive documents them, retries and failures free', async () => {
      newClient({ maxRetries: 1 });
      sim().inject({ kind: 'http500', path: '/v1/notes' });
      await client.get(DEALS);
      await client.get({ endpoint: '/api/v2/pipelines', stream: 'pipelines' });
      await client.get({ endpoint: '/v1/notes', stream: 'notes' });
      await client.get({
        endpoint: '/v1/mailbox/mailThreads/{id}/mailMessages',
        pathParams: { id: 3 },
        stream: 'email_messages',
      });
      // The costs in Pipedrive's OpenAPI documents (vendor/pipedrive-openapi), not the connector's copy of them.
      for (const [stream, endpoint, requests] of [
        ['deals', '/api/v2/deals', 1],
        ['pipelines', '/api/v2/pipelines', 1],
        ['notes', '/v1/notes', 2],
        ['email_messages', '/v1/mailbox/mailThreads/{id}/mailMessages', 1],
      ] as const) {
        expect(client.stats.of(stream), stream).to.deep.include({ requests, tokens: documentedCost(endpoint) });
      }
      expect(client.stats.total()).to.deep.include({ requests: 5, retries: 1, tokens: 10 + 5 + 20 + 20 });
    });

    it('abandons a request that outlives the timeout, and retries it', async () => {
      sim().inject({ kind: 'latency', delayMs: 1500 });
      newClient({ timeoutMs: 300, maxRetries: 1 });
      const body = await client.get(DEALS);
      expect(body.success).to.equal(true);
      expect(client.stats.of('deals').retries).to.equal(1);
    });

    it("counts a request in the burst window from its response's headers, not from the end of its body", async () => {
      // A limit of 2 leaves one slot: a request a window. The second one's body comes 4 s after its headers.
      sim().burstLimit = 2;
      sim().inject({ kind: 'slow-body', after: 1, delayMs: 4000 });
      newClient();
      await client.get(DEALS);
      await Promise.all([client.get(DEALS), client.get(DEALS)]);
      const [, slow, next] = sim().requests.map((r) => r.at);
      expect(sim().stats.burst429).to.equal(0);
      // The third went out a window after the second's headers, while its body was still on its way.
      expect(next! - slow!)
        .to.be.at.least(2000)
        .and.below(4000);
    });
  });

  describe('with a fake clock', () => {
    const fake = useFakeClock();
    const settle = <T>(promise: Promise<T>) => fake.settle(promise, () => client.inFlight > 0);

    for (const kind of [
      'http500',
      'http502',
      'http503',
      'http504',
      'http408',
      'reset',
      'truncate',
      'invalid-json',
    ] as const) {
      it(`retries after ${kind}, with exponential backoff`, async () => {
        sim().inject({ kind, times: 2 });
        newClient();
        const body = await settle(client.get(DEALS));
        expect(body.success).to.equal(true);
        expect(client.stats.of('deals')).to.deep.include({ requests: 3, retries: 2 });
        // 1 s then 2 s, each with jitter between 50% and 100%.
        expect(fake.elapsed()).to.be.within(1500, 3000);
      });
    }

    it('gives up after max_retries with a transient_error that says what happened', async () => {
      sim().inject({ kind: 'http500', times: 10 });
      newClient({ maxRetries: 3 });
      const error = await rejection(settle(client.get(DEALS)));
      expect(error.failureType).to.equal('transient_error');
      expect(error.message).to.equal(
        'Pipedrive answered HTTP 500 to GET /api/v2/deals 4 times in a row; it may be down or in maintenance. Try again later.',
      );
      expect(sim().stats.requests).to.equal(4);
    });

    it('waits for retry-after on a 503', async () => {
      sim().inject({ kind: 'http503', retryAfter: 20 });
      newClient();
      await settle(client.get(DEALS));
      expect(fake.elapsed()).to.be.at.least(20_000);
    });

    for (const [kind, type, pattern] of [
      ['http401', 'config_error', /^Pipedrive rejected the API token \(401 invalid API token\)/],
      ['http402', 'config_error', /402 Payment Required.*the account is not open/],
      ['http403', 'config_error', /refused GET \/api\/v2\/deals \(403\): "You do not have permissions to do this\."/],
      ['http404', 'system_error', /HTTP 404 to GET \/api\/v2\/deals: "Entity was not found"/],
      ['http400', 'system_error', /HTTP 400/],
    ] as const) {
      it(`does not retry ${kind}: ${type}`, async () => {
        if (kind === 'http401') newClient({ auth: apiTokenAuth(sim().origin, 'wrong-token') });
        else if (kind === 'http402') {
          sim().accountClosed = true;
          newClient();
        } else {
          sim().inject({ kind: kind as 'http403' });
          newClient();
        }
        const error = await rejection(settle(client.get(DEALS)));
        sim().accountClosed = false;
        expect(error.failureType).to.equal(type);
        expect(error.message).to.match(pattern);
        expect(sim().stats.requests).to.equal(1);
        if (kind === 'http404') expect((error as HttpStatusError).status).to.equal(404);
      });
    }

    it('waits out a burst 429 for x-ratelimit-reset, holding back every other stream too', async () => {
      sim().inject({ kind: 'burst429', retryAfter: 7 });
      const calls: [string, number][] = [];
      let other: Promise<unknown> | undefined;
      newClient({
        onRateLimited: (stream, resumeAt) => {
          calls.push([stream, resumeAt - Date.now()]);
          other ??= client.get({ ...DEALS, stream: 'other' });
        },
      });
      expect((await settle(client.get(DEALS))).success).to.equal(true);
      await settle(other!);
      expect(calls).to.deep.equal([['deals', 7000]]);
      expect(client.stats.of('deals').rateLimited).to.equal(1);
      const [rejected, ...later] = sim().requests;
      expect(rejected!.status).to.equal(429);
      expect(Math.min(...later.map((r) => r.at - rejected!.at))).to.be.at.least(7000);
      expect(later).to.have.length(2);
    });

    it('stops at once, without spinning, when the daily budget is spent, and says when it resets', async () => {
      sim().dailyBudget = 30;
      newClient();
      await settle(client.get(DEALS));
      await settle(client.get(DEALS));
      await settle(client.get(DEALS));
      const error = await rejection(settle(client.get(DEALS)));
      expect(error.failureType).to.equal('transient_error');
      expect(error.message).to.match(
        /^Pipedrive's daily API token budget for this company is used up \(429 on GET \/api\/v2\/deals\)\. It resets in about \d+ (min|h \d+ min) \(around \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/,
      );
      const sent = sim().stats.requests;
      const again = await rejection(settle(client.get({ endpoint: '/v1/users', stream: 'users' })));
      expect(again.message).to.equal(error.message);
      expect(sim().stats.requests).to.equal(sent);
      expect(fake.elapsed()).to.be.below(1000);
    });

    it('takes a 429 whose retry-after is longer than a minute for the daily budget too', async () => {
      sim().inject({ kind: 'http429', retryAfter: 3600 });
      newClient();
      const error = await rejection(settle(client.get(DEALS)));
      expect(error.message).to.match(/daily API token budget .* resets in about 1 h 0 min/);
    });

    it("reports Cloudflare's HTML 403 as rate-limit blocking and sends nothing more", async () => {
      sim().inject({ kind: 'cloudflare403' });
      newClient();
      const error = await rejection(settle(client.get(DEALS)));
      expect(error.failureType).to.equal('transient_error');
      expect(error.message).to.match(/This is rate-limit blocking, not a permission problem/);
      await rejection(settle(client.get(DEALS)));
      expect(sim().stats.requests).to.equal(1);
    });

    it('keeps 60 concurrent requests within a burst limit of 20 per 2 s, without a single 429', async () => {
      sim().burstLimit = 20;
      newClient();
      await settle(Promise.all(Array.from({ length: 60 }, () => client.get(DEALS))));
      expect(sim().stats.burst429).to.equal(0);
      expect(client.throttle.burstLimit).to.equal(20);
      // 19 per window of 2 s (plus a 10 ms margin) counted from each response: the last of 60 requests starts in the
      // fourth window.
      expect(fake.elapsed()).to.be.within(3 * 2010, 4 * 2010);
    });

    it('learns a higher limit from x-ratelimit-limit and uses it', async () => {
      sim().burstLimit = 80;
      newClient();
      await settle(client.get(DEALS));
      expect(client.throttle.burstLimit).to.equal(80);
      await settle(Promise.all(Array.from({ length: 79 }, () => client.get(DEALS))));
      expect(sim().stats.burst429).to.equal(0);
      expect(fake.elapsed()).to.be.below(2100);
    });

    /** Another user of the same token (the previous sync, another integration) spends `count` requests now. */
    const spendElsewhere = async (count: number) => {
      const other = new PipedriveClient({
        auth: apiTokenAuth(sim().origin, TOKENS.admin),
        timeoutMs: 5000,
        maxRetries: 0,
      });
      await fake.settle(
        Promise.all(Array.from({ length: count }, () => other.get({ ...DEALS, stream: 'other' }))),
        () => other.inFlight > 0,
      );
      other.close();
    };

    it('counts what another process spent from the same token in this window, and waits for it, without a 429', async () => {
      sim().burstLimit = 20;
      await spendElsewhere(19);
      newClient();
      await settle(Promise.all(Array.from({ length: 30 }, () => client.get(DEALS))));
      expect(sim().stats.burst429).to.equal(0);
      // The first request goes alone and learns that 19 slots are taken until the window resets.
      expect(
        sim()
          .requests.slice(19, 21)
          .map((r) => r.at - sim().requests[0]!.at),
      ).to.deep.equal([0, 2000]);
    });

    it('pauses when x-ratelimit-remaining reaches 0, and one request at a time never meets a 429', async () => {
      sim().burstLimit = 20;
      await spendElsewhere(19);
      newClient();
      for (let i = 0; i < 10; i++) await settle(client.get(DEALS));
      expect(sim().stats.burst429).to.equal(0);
      expect(fake.elapsed()).to.be.at.least(2000);
    });
  });
});
