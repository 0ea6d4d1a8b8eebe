// The connector against a server that is not a well-behaved Pipedrive (a misconfigured proxy, a captive portal, a
// broken deploy, an attacker on the path), through the real command line: it must stay safe (the token goes nowhere
// else), correct (no record skipped with its state advanced, no state in the future) and bounded (memory, waits).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { PipedriveSimulator, TOKENS } from '../simulator/server.js';
import { CLI, ofType, runCli, spawnConnector, tempFile, traceErrors, type CliRun } from './helpers/cli.js';
import { ANCHOR, configFor, useSimulator } from './helpers/simulator.js';
import { idsOf, sync, type Sync } from './helpers/sync.js';

const TLS_DIR = new URL('./fixtures/tls/', import.meta.url);
/** A self-signed certificate for 127.0.0.1 (valid 2020 to 2129), trusted by the connector's process in these tests. */
const TLS = {
  key: readFileSync(new URL('key.pem', TLS_DIR), 'utf8'),
  cert: readFileSync(new URL('cert.pem', TLS_DIR), 'utf8'),
};
const TRUST_TEST_CA = { NODE_EXTRA_CA_CERTS: fileURLToPath(new URL('cert.pem', TLS_DIR)) };
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const check = async (config: Record<string, unknown>, options: Parameters<typeof runCli>[1] = {}) => {
  const run = await runCli(['check', '--config', tempFile(config)], options);
  expect(run.exitCode, run.stdout).to.equal(0);
  const [status] = ofType(run, 'CONNECTION_STATUS');
  return status!.connectionStatus!;
};
const warnings = (run: CliRun) =>
  ofType(run, 'LOG')
    .filter((m) => m.log!.level === 'WARN')
    .map((m) => m.log!.message);
const stateOf = (s: Sync, stream: string) =>
  s.state.find((m) => m.stream!.stream_descriptor.name === stream)?.stream!.stream_state as
    Record<string, string> | undefined;
/** The figures of the summary at the end of a read (the process's own accounting of its peak memory among them). */
const summaryOf = (run: CliRun) => {
  const line = ofType(run, 'LOG').find((m) => m.log!.message.startsWith('Sync finished'))!.log!.message;
  return JSON.parse(line.slice(line.indexOf('{'))) as { maxRssMb: number; requests: number };
};

describe('when the server misbehaves', function () {
  this.timeout(60_000);
  const sim = useSimulator({}, true);

  describe('redirects are never followed with the token', () => {
    const elsewhere = useSimulator({}, true);

    for (const status of [301, 302, 307, 308]) {
      it(`a ${status} to another host: check FAILED and read a config_error, both naming the host; nothing reaches it`, async () => {
        const target = new URL(elsewhere().origin);
        sim().inject({ kind: 'redirect', status, location: `${elsewhere().origin}/v1/users/me`, times: 10 });
        const status1 = await check(configFor(sim()));
        expect(status1.status).to.equal('FAILED');
        expect(status1.message)
          .to.include(`redirect (HTTP ${status}) to http://${target.host}`)
          .and.include('Check company_domain or base_url (set it to the address that answers directly)');
        const read = await sync(sim(), { streams: ['stages'], mode: 'full_refresh' });
        expect(read.run.exitCode).to.equal(1);
        expect(traceErrors(read.run)[0]).to.deep.include({
          failure_type: 'config_error',
          stream_descriptor: { name: 'stages' },
        });
        expect(elsewhere().requests, 'requests that reached the other host').to.deep.equal([]);
      });
    }

    it('from an https origin to plain http on another host: FAILED, nothing sent there', async () => {
      const secure = new PipedriveSimulator({ anchor: ANCHOR, tls: TLS });
      await secure.start();
      try {
        secure.inject({ kind: 'redirect', status: 302, location: `${elsewhere().origin}/v1/users/me` });
        const status = await check({ api_token: TOKENS.admin, base_url: secure.origin }, { env: TRUST_TEST_CA });
        expect(status.status).to.equal('FAILED');
        expect(status.message).to.include(`to http://${new URL(elsewhere().origin).host}`);
        expect(elsewhere().requests).to.deep.equal([]);
        // The same origin without the redirect works: the certificate is trusted, so the failure was the redirect.
        expect(
          (await check({ api_token: TOKENS.admin, base_url: secure.origin }, { env: TRUST_TEST_CA })).status,
        ).to.equal('SUCCEEDED');
      } finally {
        await secure.stop();
      }
    });

    it('to the same host: a system_error that names it, not followed', async () => {
      sim().inject({ kind: 'redirect', status: 301, location: '/somewhere/else', path: '/api/v2/stages', times: 10 });
      const read = await sync(sim(), { streams: ['stages'], mode: 'full_refresh' });
      const [error] = traceErrors(read.run);
      expect(error).to.deep.include({ failure_type: 'system_error' });
      expect(error!.message).to.include(`redirect (HTTP 301) to ${sim().origin}`);
      expect(sim().requests.filter((r) => r.path === '/somewhere/else')).to.deep.equal([]);
    });
  });

  describe('malformed pages fail the stream instead of losing data', () => {
    const page = (data: string, extra = '') => `{"success":true,"data":${data}${extra}}`;
    const cases: [string, string][] = [
      ['success: false', '{"success":false,"error":"Something broke","data":null}'],
      ['a body that is not an object', '[{"id":1}]'],
      ['data as a string', page('"oops"')],
      ['data as an object where a list belongs', page('{"id":1,"name":"x"}')],
      ['a record that is not an object', page('[42]')],
      ['a null record', page('[null]')],
      ['a record without its id', page('[{"name":"no id"}]')],
      ['a next_cursor that is not a string', page('[]', ',"additional_data":{"next_cursor":7}')],
    ];
    for (const [title, body] of cases) {
      it(`${title}, mid-list: the pages before it emitted and checkpointed, nothing after, INCOMPLETE`, async () => {
        sim().inject({ kind: 'body', body, path: '/api/v2/products', after: 2, times: 10 });
        const s = await sync(sim(), { streams: ['products'], config: { page_size: 10, max_retries: 1 } });
        expect(s.run.exitCode).to.equal(1);
        expect(s.statuses.get('products')!.at(-1)).to.equal('INCOMPLETE');
        const [error] = traceErrors(s.run);
        expect(error!.failure_type).to.equal('transient_error');
        expect(error!.message).to.match(
          /^Pipedrive sent a broken response to GET \/api\/v2\/products 2 times in a row \(malformed response: /,
        );
        // The first two pages, in update_time order, each record once, but for the records of the second page's last
        // second: they are held back until a page shows that second is over, so what is emitted is what is covered.
        const records = s.records.get('products')!;
        const products = sim().dataset.tables.products;
        const twoPages = Array.from(products.order('time')).slice(0, 20);
        const timeOf = (id: number) => products.get(id)!.update_time;
        const lastSecond = timeOf(twoPages.at(-1)!);
        expect(records.map((r) => r.id)).to.deep.equal(twoPages.filter((id) => timeOf(id) !== lastSecond));
        expect(stateOf(s, 'products')!.update_time).to.equal(
          records
            .map((r) => r.update_time as string)
            .sort()
            .at(-1),
        );
      });
    }

    it('on the first page: INCOMPLETE, not COMPLETE with no records', async () => {
      sim().inject({ kind: 'body', body: '{"success":true,"data":"nothing"}', path: '/v1/users', times: 10 });
      const s = await sync(sim(), { streams: ['users', 'currencies'], config: { max_retries: 0 } });
      expect(s.statuses.get('users')).to.deep.equal(['STARTED', 'RUNNING', 'INCOMPLETE']);
      expect(s.statuses.get('currencies')!.at(-1)).to.equal('COMPLETE');
      expect(s.records.get('users')).to.equal(undefined);
      expect(stateOf(s, 'users')).to.equal(undefined);
    });

    it('a malformed answer that comes once is retried, and nothing is lost', async () => {
      sim().inject({ kind: 'body', body: '{"success":true,"data":{"oops":1}}', path: '/api/v2/products', after: 1 });
      const s = await sync(sim(), { streams: ['products'], config: { page_size: 10 } });
      expect(s.run.exitCode).to.equal(0);
      expect(idsOf(s.records.get('products'))).to.have.length(sim().dataset.counts.products);
    });
  });

  describe('pagination that never ends is stopped, naming the endpoint', () => {
    const v2 = (cursor: string) =>
      `{"success":true,"data":[{"id":1,"update_time":"2026-01-01T00:00:00Z"}],"additional_data":{"next_cursor":"${cursor}"}}`;
    const offsets =
      '{"success":true,"data":[],"additional_data":{"pagination":{"start":0,"limit":100,"more_items_in_collection":true}}}';

    const expectStuck = (s: Sync, stream: string, endpoint: string) => {
      expect(s.statuses.get(stream)!.at(-1)).to.equal('INCOMPLETE');
      const [error] = traceErrors(s.run);
      expect(error!.message).to.match(
        new RegExp(`^The pages of ${endpoint} .*, so reading it would never end; stopped`),
      );
      expect(sim().stats.requests, 'requests').to.be.below(12);
    };

    it('a repeated next_cursor', async () => {
      sim().inject({ kind: 'body', body: v2('same'), path: '/api/v2/products', times: 100 });
      const s = await sync(sim(), { streams: ['products'] });
      expectStuck(s, 'products', '/api/v2/products');
      // Its one record was held back for the next page to say its second is over; none came.
      expect(s.records.get('products')).to.equal(undefined);
    });

    it('cursors that cycle', async () => {
      for (const cursor of ['a', 'b', 'c', 'a', 'b', 'c', 'a'])
        sim().inject({ kind: 'body', body: v2(cursor), path: '/api/v2/products' });
      expectStuck(await sync(sim(), { streams: ['products'] }), 'products', '/api/v2/products');
    });

    it('empty pages with new cursors forever', async () => {
      let n = 0;
      sim().inject({
        kind: 'body',
        body: () => `{"success":true,"data":[],"additional_data":{"next_cursor":"c${n++}"}}`,
        path: '/api/v2/products',
        times: 1000,
      });
      expectStuck(await sync(sim(), { streams: ['products'] }), 'products', '/api/v2/products');
    });

    it('more_items_in_collection with empty pages, on an offset list', async () => {
      sim().inject({ kind: 'body', body: offsets, path: '/v1/files', times: 1000 });
      expectStuck(await sync(sim(), { streams: ['files'] }), 'files', '/v1/files');
    });

    it('an offset list that answers the same records page after page while next_start advances', async () => {
      let start = 0;
      const repeated = () => {
        start += 100;
        return `{"success":true,"data":[{"id":1,"update_time":"2026-01-01 00:00:00"},{"id":2,"update_time":"2026-01-02 00:00:00"}],"additional_data":{"pagination":{"start":${start - 100},"limit":100,"more_items_in_collection":true,"next_start":${start}}}}`;
      };
      sim().inject({ kind: 'body', body: repeated, path: '/v1/files', times: 1000 });
      const s = await sync(sim(), { streams: ['files'] });
      expect(s.run.exitCode).to.equal(1);
      expectStuck(s, 'files', '/v1/files');
      expect(idsOf(s.records.get('files'))).to.deep.equal([1, 2]);
    });

    it('more_items_in_collection with empty pages, on a keyset list', async () => {
      sim().inject({ kind: 'body', body: offsets.replace('"data":[]', '"data":null'), path: '/v1/notes', times: 1000 });
      expectStuck(await sync(sim(), { streams: ['notes'] }), 'notes', '/v1/notes');
    });
  });

  describe('bodies are bounded, whatever the server sends', () => {
    for (const [title, fault] of [
      ['a 256 MiB body', { bytes: 256 * 1024 * 1024 }],
      ['a gzip bomb (256 MiB of zeros)', { bytes: 256 * 1024 * 1024, gzip: true }],
      ['an endless chunked body', { bytes: 'endless' as const }],
    ] as const) {
      it(`${title}: the stream fails with a clear message, and the process's peak memory stays bounded`, async () => {
        sim().inject({ kind: 'flood', path: '/api/v2/stages', ...fault });
        const s = await sync(sim(), { streams: ['stages', 'currencies'], mode: 'full_refresh' });
        expect(s.statuses.get('stages')!.at(-1)).to.equal('INCOMPLETE');
        expect(s.statuses.get('currencies')!.at(-1)).to.equal('COMPLETE');
        expect(traceErrors(s.run)[0]!.message).to.match(
          /^Pipedrive's answer to GET \/api\/v2\/stages was larger than 32 MiB; stopped reading it/,
        );
        // Reading it whole would have taken 256 MiB and more; the cap is 32 MiB.
        expect(summaryOf(s.run).maxRssMb).to.be.below(200);
      });
    }
  });

  describe('timestamps in the future never reach the state', () => {
    it('a record updated in 2099 is emitted with a warning; no state passes the time its read began, so a change a minute later is read', async () => {
      const data = sim().dataset;
      const future = Date.parse('2099-01-01T00:00:00Z');
      data.update('products', 5, { name: 'From the future' }, future);
      data.update('notes', 4, {}, future);
      const streams = ['products', 'notes'];
      // Changed a minute after each sync: the next one must read them.
      const changes = [
        { product: 8, note: 10 },
        { product: 11, note: 12 },
      ];
      let state: unknown;
      for (let round = 0; round <= changes.length; round++) {
        const s = await sync(sim(), { streams, state });
        const ended = sim().clock.now();
        expect(s.run.exitCode).to.equal(0);
        expect(idsOf(s.records.get('products'))).to.include(5);
        expect(idsOf(s.records.get('notes'))).to.include(4);
        const changed = changes[round - 1];
        if (changed) {
          expect(idsOf(s.records.get('products')), `sync ${round + 1}`).to.include(changed.product);
          expect(idsOf(s.records.get('notes')), `sync ${round + 1}`).to.include(changed.note);
        }
        for (const stream of streams) expect(Date.parse(stateOf(s, stream)!.update_time!), stream).to.be.at.most(ended);
        expect(warnings(s.run).join('\n')).to.match(
          /^products: record 5 has update_time "2099-01-01T00:00:00Z", later than the time this read began/m,
        );
        state = s.state;
        const next = changes[round];
        if (!next) break;
        sim().clock.advance(60_000);
        data.update('products', next.product, { name: `Changed in round ${round}` });
        data.update('notes', next.note, {});
      }
    });

    it('an absurd timestamp (year 275760) leaves a well-formed state', async () => {
      sim().dataset.update('activities', 3, {}, 8.64e15);
      const s = await sync(sim(), { streams: ['activities'] });
      const state = stateOf(s, 'activities')!;
      expect(state.update_time).to.match(RFC3339);
      expect(Date.parse(state.update_time!)).to.be.at.most(sim().clock.now());
    });
  });

  describe("Pipedrive's clock is not trusted blindly", () => {
    const MINUTE = 60_000;
    const DAY = 86_400_000;
    const streams = ['files', 'notes', 'filters', 'persons', 'email_threads', 'users'];
    const deletedIds = (s: Sync, stream: string) =>
      idsOf((s.records.get(stream) ?? []).filter((record) => typeof record._ab_cdc_deleted_at === 'string'));
    /** No state of a sync is later than the company's clock when it ended. */
    const expectNoStateAhead = (s: Sync) => {
      const ended = sim().clock.now();
      for (const message of s.state) {
        const state = message.stream!.stream_state as Record<string, unknown>;
        for (const [key, value] of Object.entries(state))
          if (typeof value === 'string')
            expect(Date.parse(value), `${key} of ${message.stream!.stream_descriptor.name}`).to.be.at.most(ended);
      }
    };

    for (const [title, skew] of [
      ['a day ahead', DAY],
      ['a day behind', -DAY],
    ] as const) {
      it(`a Date header ${title} for a whole sync loses nothing: the sync after it catches up`, async () => {
        const data = sim().dataset;
        const first = await sync(sim(), { streams });
        sim().clock.advance(30 * MINUTE);
        data.update('files', 3);
        data.update('persons', 4);
        sim().dateSkewMs = skew;
        const skewed = await sync(sim(), { streams, state: first.state });
        sim().dateSkewMs = 0;
        expect(skewed.run.exitCode).to.equal(0);
        expect(idsOf(skewed.records.get('files'))).to.include(3);
        expect(idsOf(skewed.records.get('persons'))).to.include(4);
        expectNoStateAhead(skewed);

        sim().clock.advance(MINUTE);
        data.update('files', 5);
        data.remove('files', 6);
        data.remove('notes', 7);
        data.remove('filters', 2);
        data.update('persons', 8);
        data.update('email_threads', 9);
        data.update('users', 4);
        sim().clock.advance(10 * MINUTE);
        const after = await sync(sim(), { streams, state: skewed.state });
        expect(after.run.exitCode).to.equal(0);
        expect(idsOf(after.records.get('files')), 'files').to.include.members([5, 6]);
        expect(deletedIds(after, 'files'), 'deleted files').to.include(6);
        expect(deletedIds(after, 'notes'), 'deleted notes').to.include(7);
        expect(deletedIds(after, 'filters'), 'deleted filters').to.include(2);
        expect(idsOf(after.records.get('persons')), 'persons').to.include(8);
        expect(idsOf(after.records.get('email_threads')), 'threads').to.include(9);
        expect(idsOf(after.records.get('users')), 'users').to.include(4);
        expectNoStateAhead(after);
      });
    }
  });

  describe('waits the server dictates are capped', () => {
    it('x-ratelimit-remaining 0 with a reset of a day on a success: waits a burst window at most, with a warning', async () => {
      sim().inject({
        kind: 'headers',
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '86400' },
        path: '/api/v2/pipelines',
      });
      const s = await sync(sim(), { streams: ['pipelines', 'stages'], mode: 'full_refresh' });
      expect(s.run.exitCode).to.equal(0);
      expect(warnings(s.run).join('\n')).to.include('x-ratelimit-reset of 86400 s on a 2-second window');
    });

    for (const reset of [3000, 99_999_999]) {
      it(`a 429 asking to wait ${reset} s: stops at once, saying when to try again`, async () => {
        sim().inject({
          kind: 'body',
          status: 429,
          body: '{"success":false,"error":"Request over limit","errorCode":429}',
          headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
          path: '/api/v2/stages',
          times: 100,
        });
        const s = await sync(sim(), { streams: ['stages'], mode: 'full_refresh' });
        const [error] = traceErrors(s.run);
        expect(error!.failure_type).to.equal('transient_error');
        expect(error!.message).to.match(
          /answered 429 to GET \/api\/v2\/stages and asked to wait .*; stopped instead of waiting\. Try again after \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
        );
        expect(sim().requestsTo('/api/v2/stages')).to.have.length(1);
      });
    }

    it('a 503 with retry-after of a day: that stream fails at once, saying when to try again; the others go on', async () => {
      sim().inject({ kind: 'http503', retryAfter: 86_400, path: '/api/v2/stages', times: 100 });
      const s = await sync(sim(), { streams: ['stages', 'currencies'], mode: 'full_refresh' });
      expect(s.statuses.get('stages')!.at(-1)).to.equal('INCOMPLETE');
      expect(s.statuses.get('currencies')!.at(-1)).to.equal('COMPLETE');
      expect(traceErrors(s.run)[0]!.message).to.match(
        /asked to wait 24 h 0 min; stopped instead of waiting that long\. Try again after /,
      );
      expect(sim().requestsTo('/api/v2/stages')).to.have.length(1);
    });

    it('a burst 429 asking for more than a few seconds is waited out, and logged', async () => {
      sim().inject({ kind: 'burst429', retryAfter: 6, path: '/api/v2/stages' });
      const s = await sync(sim(), { streams: ['stages'], mode: 'full_refresh' });
      expect(s.run.exitCode).to.equal(0);
      expect(warnings(s.run).join('\n')).to.match(/rate limited \(429\); waiting 6 s as Pipedrive asked/);
    });
  });

  describe('secrets and inputs', () => {
    it('masks a token with quotes and backslashes wherever the server echoes it', async () => {
      const token = 'tok"en\\with-quote-0123456789abcdef';
      sim().inject({
        kind: 'body',
        status: 400,
        body: (received) => JSON.stringify({ success: false, error: `Unknown token ${received}` }),
        times: 10,
      });
      const status = await check(configFor(sim(), { api_token: token }), { secrets: [token] });
      expect(status.status).to.equal('FAILED');
      expect(status.message).to.include('Unknown token **********');
    });

    it('rejects a base_url with user:password@, without echoing the password', async () => {
      const status = await check(
        { api_token: TOKENS.admin, base_url: `http://user:hunter2-secret@127.0.0.1:${new URL(sim().origin).port}` },
        { secrets: ['hunter2-secret'] },
      );
      expect(status.status).to.equal('FAILED');
      expect(status.message).to.include('`base_url` must look like https://host[:port][/path], without user:password@');
    });

    it('a port out of range is a config_error', async () => {
      const run = await runCli([
        'discover',
        '--config',
        tempFile({ api_token: TOKENS.admin, base_url: 'http://127.0.0.1:99999' }),
      ]);
      expect(run.exitCode).to.equal(1);
      expect(traceErrors(run)[0]).to.deep.include({ failure_type: 'config_error' });
      expect(traceErrors(run)[0]!.message).to.include('`base_url` is not a valid URL');
    });

    it('accepts a config file that starts with a UTF-8 byte-order mark', async () => {
      const path = tempFile(`\uFEFF${JSON.stringify(configFor(sim()))}`, 'bom.json');
      const run = await runCli(['check', '--config', path]);
      expect(ofType(run, 'CONNECTION_STATUS')[0]!.connectionStatus!.status).to.equal('SUCCEEDED');
    });

    it('rejects a catalog that configures one stream twice in different sync modes, before any request', async () => {
      const catalog = configuredCatalog('incremental', ['deals']);
      catalog.streams.push({ ...catalog.streams[0]!, sync_mode: 'full_refresh' });
      const run = await runCli(['read', '--config', tempFile(configFor(sim())), '--catalog', tempFile(catalog)]);
      expect(run.exitCode).to.equal(1);
      expect(traceErrors(run)[0]).to.deep.include({ failure_type: 'config_error' });
      expect(traceErrors(run)[0]!.message).to.include(
        'configures stream "deals" twice, in sync modes "incremental" and "full_refresh"',
      );
      expect(sim().requests).to.deep.equal([]);
    });
  });

  describe('work stops when it is no longer wanted', () => {
    it('a stream that fails while its next page is being retried does not go on retrying', async () => {
      // The deals list's second page is requested while the first is handled, and keeps failing; the archived list
      // fails for good meanwhile, which ends the stream.
      sim().inject({ kind: 'http403', path: '/api/v2/deals/archived', times: 100 });
      sim().inject({ kind: 'http500', path: '/api/v2/deals', after: 1, times: 100 });
      const s = await sync(sim(), { streams: ['deals'], config: { page_size: 50 } });
      expect(s.statuses.get('deals')!.at(-1)).to.equal('INCOMPLETE');
      // Retrying at the defaults would take 5 more requests over half a minute; the stream's end cancelled them.
      expect(sim().requestsTo('/api/v2/deals').length).to.be.at.most(3);
    });

    it('stops reading from Pipedrive when the reader of stdout goes away (EPIPE)', async () => {
      const args = [
        'read',
        '--config',
        tempFile(configFor(sim(), { start_date: '2020-01-01', page_size: 50 })),
        '--catalog',
        tempFile(configuredCatalog('full_refresh')),
      ];
      const child = spawnConnector([CLI, ...args]);
      let closedAt = -1;
      child.stdout.on('data', (chunk: Buffer) => {
        if (closedAt < 0 && chunk.toString().includes('"type":"RECORD"')) {
          closedAt = sim().stats.requests;
          child.stdout.destroy();
        }
      });
      const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(closedAt, 'a record was read').to.be.above(0);
      expect(exitCode).to.not.equal(0);
      // A full read takes over a hundred requests; after the reader left, at most those already under way went out.
      expect(sim().stats.requests - closedAt).to.be.at.most(5);
    });
  });
});
