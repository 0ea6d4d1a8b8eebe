// OAuth 2.0 through the real command line against the simulator's OAuth server: token exchange, refresh before
// expiry and on a 401, refresh-token rotation saved back with a CONTROL message, and no secret anywhere else.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { ALL_SCOPES, OAUTH_APP } from '../simulator/oauth.js';
import {
  CLI,
  clockedProcess,
  ofType,
  runCli,
  spawnConnector,
  tempFile,
  traceErrors,
  type CliRun,
} from './helpers/cli.js';
import { configFor, flowConfigFor, oauthConfigFor, useSimulator } from './helpers/simulator.js';
import { configuredCatalog } from '../src/pipedrive/streams/catalog.js';
import { expectedIds, idsOf, sync } from './helpers/sync.js';

type Config = ReturnType<typeof oauthConfigFor>;
const HOUR = 3_600_000;
/** The OAuth server's own answer, with `changes` made to it (a faulty or hostile token endpoint). */
const rewritten = (changes: Record<string, unknown>) => (answer: string) =>
  JSON.stringify({ ...(JSON.parse(answer) as object), ...changes });

const controls = (run: CliRun) => ofType(run, 'CONTROL').map((m) => m.control!);
/** The config of the last CONTROL message, as the platform would store it. */
const savedConfig = (run: CliRun) => controls(run).at(-1)?.connectorConfig?.config as Config | undefined;
const refreshTokenOf = (config: Config | undefined) => config?.credentials.refresh_token;
const warnings = (run: CliRun) =>
  ofType(run, 'LOG')
    .filter((m) => m.log!.level === 'WARN')
    .map((m) => m.log!.message);

describe('OAuth 2.0', function () {
  this.timeout(60_000);
  const sim = useSimulator({}, true);
  const check = (config: unknown) =>
    runCli(['check', '--config', tempFile(config)], { now: sim().clock.now(), secrets: sim().oauth.issued });
  const status = (run: CliRun) => ofType(run, 'CONNECTION_STATUS')[0]!.connectionStatus!;

  describe('check', () => {
    it('exchanges the refresh token with Basic auth, calls the API with the Bearer token, and saves the rotated refresh token first', async () => {
      const config = oauthConfigFor(sim());
      const run = await check(config);
      expect(status(run)).to.deep.include({ status: 'SUCCEEDED' });
      expect(
        sim()
          .requestsTo('/oauth/token')
          .map((r) => r.status),
      ).to.deep.equal([200]);
      expect(
        sim()
          .requestsTo('/v1/users/me')
          .map((r) => r.tokenVia),
      ).to.deep.equal(['bearer']);
      // Exactly one CONTROL, before the status, holding the whole config with the new refresh token.
      expect(run.messages.map((m) => m.type).filter((type) => type !== 'LOG')).to.deep.equal([
        'CONTROL',
        'CONNECTION_STATUS',
      ]);
      const saved = savedConfig(run)!;
      expect(refreshTokenOf(saved)).to.not.equal(config.credentials.refresh_token);
      const { access_token, token_expiry_date } = saved.credentials as Record<string, string>;
      expect(sim().oauth.issued).to.include(access_token);
      // The simulator's access tokens live 3599 s, counted on the company's clock.
      expect(Date.parse(token_expiry_date!) - sim().clock.now()).to.be.within(3_590_000, 3_600_000);
      expect(saved).to.deep.equal({
        ...config,
        credentials: { ...config.credentials, refresh_token: refreshTokenOf(saved), access_token, token_expiry_date },
      });
      expect(controls(run)[0]!.type).to.equal('CONNECTOR_CONFIG');
      expect(controls(run)[0]!.emitted_at).to.be.a('number');
    });

    it('works again with the saved config, and fails with the re-authorise message with the exchanged one', async () => {
      const config = oauthConfigFor(sim());
      const first = await check(config);
      const again = await check(savedConfig(first));
      expect(status(again)).to.deep.include({ status: 'SUCCEEDED' });
      const stale = await check(config);
      expect(status(stale).status).to.equal('FAILED');
      expect(status(stale).message).to.match(
        /refused the OAuth refresh token .*already exchanged.*Re-authorise the source/,
      );
      expect(ofType(stale, 'CONTROL')).to.have.length(0);
    });

    it('FAILED for an app authorised by a non-admin, naming the user and what to do', async () => {
      const run = await check(oauthConfigFor(sim(), sim().oauth.issueRefreshToken(2)));
      expect(status(run).status).to.equal('FAILED');
      expect(status(run).message).to.match(
        /OAuth app was authorised by .*, who is not a Pipedrive admin.*Re-authorise the source as a global admin/,
      );
    });

    it('SUCCEEDED with a warning naming the streams a grant without some scopes cannot read, and the scope each needs', async () => {
      const scopes = ALL_SCOPES.filter((scope) => scope !== 'mail:read' && scope !== 'leads:read');
      const run = await check(oauthConfigFor(sim(), sim().oauth.issueRefreshToken(1, scopes)));
      expect(status(run).status).to.equal('SUCCEEDED');
      const warning = warnings(run).find((message) => /lacks scopes/.test(message));
      expect(warning)
        .to.match(/email_messages \(needs mail:read\)/)
        .and.match(/\bleads \(needs leads:read\)/)
        .and.not.match(/\bdeals \(/);
    });

    it('FAILED when the grant has no scope but base, which reads none of the CRM', async () => {
      const run = await check(oauthConfigFor(sim(), sim().oauth.issueRefreshToken(1, ['base'])));
      expect(status(run).status).to.equal('FAILED');
      expect(status(run).message).to.match(/grants no scope the CRM's streams need .*deals:read/);
    });

    it('FAILED with a config error for a wrong client secret, which never shows', async () => {
      const config = oauthConfigFor(sim());
      const wrong = { ...config, credentials: { ...config.credentials, client_secret: 'not-the-secret-of-this-app' } };
      const run = await runCli(['check', '--config', tempFile(wrong)], {
        now: sim().clock.now(),
        secrets: ['not-the-secret-of-this-app', config.credentials.refresh_token],
      });
      expect(status(run).status).to.equal('FAILED');
      expect(status(run).message).to.match(/rejected the client_id or client_secret/);
    });

    it('accepts an API token as credentials too, and the legacy flat api_token unchanged', async () => {
      const { api_token, base_url } = configFor(sim());
      const nested = await check({ credentials: { auth_type: 'api_token', api_token }, base_url });
      expect(status(nested)).to.deep.include({ status: 'SUCCEEDED' });
      const legacy = await check({ api_token, base_url });
      expect(status(legacy)).to.deep.include({ status: 'SUCCEEDED' });
      expect(
        sim()
          .requestsTo('/v1/users/me')
          .map((r) => r.tokenVia),
      ).to.deep.equal(['header', 'header']);
      expect(sim().requestsTo('/oauth/token')).to.have.length(0);
    });
  });

  describe('read', () => {
    const streams = ['deals', 'persons', 'stages'];

    it('reads every record with OAuth at its higher burst limit; one rotation, one CONTROL before any record; the next run works with the saved config', async () => {
      sim().burstLimit = 20;
      const config = oauthConfigFor(sim());
      const s = await sync(sim(), { streams, credentials: config, config: { page_size: 100 } });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of streams)
        expect(idsOf(s.records.get(stream), stream)).to.deep.equal(expectedIds(sim(), stream));
      expect(controls(s.run)).to.have.length(1);
      const firstData = s.run.messages.findIndex((m) => m.type === 'RECORD' || m.type === 'STATE');
      expect(s.run.messages.findIndex((m) => m.type === 'CONTROL')).to.be.below(firstData);
      expect(sim().stats.burst429).to.equal(0);
      expect(
        sim()
          .requests.filter((r) => r.path !== '/oauth/token')
          .every((r) => r.tokenVia === 'bearer'),
      ).to.equal(true);
      // The next run uses the saved access token, still valid: no exchange, nothing to save.
      const next = await sync(sim(), { streams, credentials: savedConfig(s.run), state: s.state });
      expect(next.run.exitCode).to.equal(0);
      expect(controls(next.run)).to.have.length(0);
      expect(sim().oauth.stats.exchanges).to.equal(1);
    });

    it('refreshes an access token that expires in the middle of a read, saving each rotation before the next request', async () => {
      sim().oauth.accessTokenTtlSeconds = 1;
      sim().latencyMs = 50;
      const config = oauthConfigFor(sim());
      const s = await sync(sim(), {
        streams,
        credentials: config,
        config: { page_size: 25, max_concurrent_streams: 1 },
      });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of streams)
        expect(idsOf(s.records.get(stream), stream)).to.deep.equal(expectedIds(sim(), stream));
      const exchanges = sim().oauth.stats.exchanges;
      // The read took several lives of a token (refreshed ahead of expiry: no 401).
      expect(exchanges).to.be.at.least(3);
      expect(sim().requests.filter((r) => r.status === 401)).to.have.length(0);
      expect(sim().oauth.stats.refused).to.equal(0);
      // One CONTROL per rotation, each with the refresh token the next exchange presented.
      const tokens = controls(s.run).map((control) => refreshTokenOf(control.connectorConfig!.config as Config));
      expect(tokens).to.have.length(exchanges);
      expect(new Set(tokens).size).to.equal(exchanges);
      const next = await sync(sim(), { streams: ['stages'], credentials: savedConfig(s.run) });
      expect(next.run.exitCode).to.equal(0);
    });

    it('on a 401 (the token expired early), refreshes once and goes on, losing nothing', async () => {
      sim().inject({ kind: 'expire-access', path: '/api/v2/persons', after: 2 });
      const s = await sync(sim(), { streams, credentials: oauthConfigFor(sim()), config: { page_size: 100 } });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of streams)
        expect(idsOf(s.records.get(stream), stream)).to.deep.equal(expectedIds(sim(), stream));
      expect(sim().requests.filter((r) => r.status === 401)).to.have.length.at.least(1);
      expect(sim().oauth.stats.exchanges).to.equal(2);
      expect(controls(s.run)).to.have.length(2);
    });

    it('with an exchanged refresh token, fails every stream with a config_error that says to re-authorise', async () => {
      const config = oauthConfigFor(sim());
      await check(config);
      const s = await sync(sim(), { streams, credentials: config });
      expect(s.run.exitCode).to.equal(1);
      const errors = traceErrors(s.run);
      expect(errors.length).to.be.at.least(1);
      for (const error of errors) {
        expect(error.failure_type).to.equal('config_error');
        expect(error.message).to.match(/Re-authorise the source/);
      }
      expect(s.records.size).to.equal(0);
      expect(sim().oauth.stats.refused).to.equal(1);
    });

    it('shows no secret anywhere but the CONTROL message, in logs and errors included', async () => {
      sim().oauth.accessTokenTtlSeconds = 1;
      sim().inject({ kind: 'http500', path: '/api/v2/deals', times: 2 });
      const s = await sync(sim(), { streams, credentials: oauthConfigFor(sim()), config: { page_size: 50 } });
      // runCli throws if any issued token, the client secret or the initial refresh token shows outside CONTROL.
      expect(s.run.exitCode).to.equal(0);
      const logs = s.run.messages.filter((m: AirbyteMessage) => m.type === 'LOG');
      expect(logs.map((m) => m.log!.message).join('\n')).to.match(/Exchanged the OAuth refresh token/);
      expect(sim().oauth.issued.length).to.be.at.least(4);
      // The secrets were there to leak: each CONTROL message carries the client secret and a rotated refresh token.
      for (const control of controls(s.run)) {
        const { credentials } = control.connectorConfig!.config as Config;
        expect(credentials.client_secret).to.equal(OAUTH_APP.clientSecret);
        expect(sim().oauth.issued).to.include(credentials.refresh_token);
      }
    });
  });

  describe('as Airbyte runs it', () => {
    const streams = ['deals', 'stages'];
    const discover = (config: unknown) =>
      runCli(['discover', '--config', tempFile(config)], { now: sim().clock.now(), secrets: sim().oauth.issued });
    const catalogNames = (run: CliRun) => ofType(run, 'CATALOG')[0]!.catalog!.streams.map((stream) => stream.name);

    it('creating a source (check, its CONTROL dropped, then discover and read with the same config) exchanges no refresh token while the access token is fresh', async () => {
      const config = flowConfigFor(sim());
      expect(status(await check(config))).to.deep.include({ status: 'SUCCEEDED' });
      const discovered = await discover(config);
      expect(catalogNames(discovered)).to.include.members(streams);
      const s = await sync(sim(), { streams, credentials: config });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of streams)
        expect(idsOf(s.records.get(stream), stream)).to.deep.equal(expectedIds(sim(), stream));
      expect(sim().requestsTo('/oauth/token')).to.have.length(0);
      expect([...controls(discovered), ...controls(s.run)]).to.have.length(0);
    });

    it('with the access token expired, each run exchanges once and saves the three tokens once', async () => {
      const config = flowConfigFor(sim(), { expiresAt: sim().clock.now() - 1000 });
      const checked = await check(config);
      expect(status(checked)).to.deep.include({ status: 'SUCCEEDED' });
      expect(controls(checked)).to.have.length(1);
      expect(sim().oauth.stats.exchanges).to.equal(1);
      // Two hours later the saved access token has expired as well.
      sim().clock.advance(2 * HOUR);
      const s = await sync(sim(), { streams, credentials: savedConfig(checked) });
      expect(s.run.exitCode).to.equal(0);
      expect(controls(s.run)).to.have.length(1);
      expect(sim().oauth.stats.exchanges).to.equal(2);
      const { credentials } = savedConfig(s.run) as Config & { credentials: Record<string, string> };
      expect(sim().oauth.grantOf(credentials.access_token!)).to.not.equal(undefined);
      expect(Date.parse(credentials.token_expiry_date!)).to.be.above(sim().clock.now());
    });

    it('saves the new refresh token of an answer whose expires_in is unusable, and fails saying so; the next run goes on', async () => {
      sim().inject({ kind: 'body', path: '/oauth/token', body: rewritten({ expires_in: 'soon' }) });
      const run = await check(oauthConfigFor(sim()));
      expect(status(run).status).to.equal('FAILED');
      expect(status(run).message).to.match(/expires_in .*new refresh token it carried was saved/);
      const saved = savedConfig(run)!;
      expect(sim().oauth.issued).to.include(refreshTokenOf(saved));
      expect(saved.credentials).to.not.have.property('access_token');
      expect(sim().oauth.stats.exchanges).to.equal(1);
      expect(status(await check(saved))).to.deep.include({ status: 'SUCCEEDED' });
    });

    it('retries a 429 and a 503 of the token endpoint; one that keeps failing is a transient error, not a config error', async () => {
      sim().inject({ kind: 'http429', path: '/oauth/token', retryAfter: 1 });
      sim().inject({ kind: 'http503', path: '/oauth/token' });
      expect(status(await check(oauthConfigFor(sim())))).to.deep.include({ status: 'SUCCEEDED' });
      expect(
        sim()
          .requestsTo('/oauth/token')
          .map((r) => r.status),
      ).to.deep.equal([429, 503, 200]);
      sim().inject({ kind: 'http503', path: '/oauth/token', times: 4 });
      const s = await sync(sim(), { streams: ['stages'], credentials: oauthConfigFor(sim()) });
      expect(s.run.exitCode).to.equal(1);
      expect(traceErrors(s.run).map((e) => e.failure_type)).to.deep.equal(['transient_error']);
      expect(traceErrors(s.run)[0]!.message).to.match(/HTTP 503 4 times/);
    });

    it('without leads:read: discover leaves the leads streams out, and a catalog selecting leads fails leads alone naming the scope', async () => {
      const scopes = ALL_SCOPES.filter((scope) => scope !== 'leads:read');
      const discovered = await discover(oauthConfigFor(sim(), sim().oauth.issueRefreshToken(1, scopes)));
      const names = catalogNames(discovered);
      expect(names).to.include.members(['deals', 'persons', 'email_messages']);
      // (lead_fields stays: /v1/leadFields also accepts the admin scope.)
      expect(names.filter((name) => ['leads', 'lead_labels', 'lead_sources'].includes(name))).to.deep.equal([]);
      expect(warnings(discovered).join('\n')).to.match(
        /Left out of the catalog.*leads \(it needs the OAuth scope leads:read\)/,
      );
      const s = await sync(sim(), { streams: ['leads', 'deals'], credentials: savedConfig(discovered) });
      expect(s.run.exitCode).to.equal(1);
      const errors = traceErrors(s.run);
      expect(errors.map((e) => [e.stream_descriptor?.name, e.failure_type])).to.deep.equal([['leads', 'config_error']]);
      expect(errors[0]!.message).to.match(/leads:read/);
      expect(idsOf(s.records.get('deals'), 'deals')).to.deep.equal(expectedIds(sim(), 'deals'));
    });

    it('an API token whose plan lacks a feature (402 on its list) fails that stream alone with a config error', async () => {
      sim().inject({ kind: 'http402', path: '/v1/leads', times: 100 });
      const s = await sync(sim(), { streams: ['leads', 'stages'] });
      expect(s.run.exitCode).to.equal(1);
      const errors = traceErrors(s.run);
      expect(errors.map((e) => [e.stream_descriptor?.name, e.failure_type])).to.deep.equal([['leads', 'config_error']]);
      expect(errors[0]!.message).to.match(/402 Payment Required.*plan may not include this feature/);
      expect(idsOf(s.records.get('stages'), 'stages')).to.deep.equal(expectedIds(sim(), 'stages'));
    });

    it('sends nothing to an api_domain that is not a Pipedrive address, and still saves the new refresh token', async () => {
      const trapped: string[] = [];
      const trap = createServer((request, response) => {
        trapped.push(request.url ?? '');
        response.end('{}');
      });
      await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
      const trapOrigin = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
      try {
        for (const domain of [trapOrigin, 'https://acme.pipedrive.com.example.net', 'http://acme.pipedrive.com']) {
          sim().inject({ kind: 'body', path: '/oauth/token', body: rewritten({ api_domain: domain }) });
          const run = await check(oauthConfigFor(sim()));
          expect(status(run).status).to.equal('FAILED');
          expect(status(run).message).to.match(/api_domain that is not a Pipedrive address/);
          expect(sim().oauth.issued).to.include(refreshTokenOf(savedConfig(run)));
        }
        expect(trapped).to.deep.equal([]);
        expect(sim().requestsTo('/v1/users/me')).to.have.length(0);
      } finally {
        trap.close();
      }
    });

    it('a run stopped by the platform (SIGTERM, twice) while an exchange is on the wire saves its new refresh token, then sends nothing more', async () => {
      sim().inject({ kind: 'latency', path: '/oauth/token', delayMs: 2000 });
      const args = [
        'read',
        '--config',
        tempFile(oauthConfigFor(sim())),
        '--catalog',
        tempFile(configuredCatalog('incremental', streams)),
      ];
      const clocked = clockedProcess(sim().clock.now());
      const child = spawnConnector([...clocked.nodeOptions, CLI, ...args], { env: clocked.env });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      // Pipedrive has exchanged the refresh token; its answer is on its way.
      const exchanged = setInterval(() => {
        if (sim().oauth.stats.exchanges === 0) return;
        clearInterval(exchanged);
        child.kill('SIGTERM');
        child.kill('SIGTERM');
      }, 5);
      const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearInterval(exchanged);
      expect(exitCode).to.equal(1);
      const messages = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AirbyteMessage);
      const errors = messages
        .filter((m) => m.type === 'TRACE' && m.trace?.type === 'ERROR')
        .map((m) => m.trace!.error!);
      expect(errors.map((e) => e.failure_type)).to.deep.equal(['transient_error', 'transient_error']);
      expect(errors[0]!.message).to.match(/stopped \(SIGTERM\)/);
      const control = messages.filter((m) => m.type === 'CONTROL');
      expect(control).to.have.length(1);
      expect(sim().requestsTo('/oauth/token')).to.have.length(1);
      expect(sim().requests.filter((r) => r.path !== '/oauth/token')).to.deep.equal([]);
      const saved = control[0]!.control!.connectorConfig!.config as Config;
      expect(status(await check(saved))).to.deep.include({ status: 'SUCCEEDED' });
    });

    it('says the new refresh token was lost when a retry is refused after an attempt that got no usable answer', async () => {
      // Pipedrive exchanged the token, and a proxy turned its answer into a 502: the retry presents a used token.
      sim().inject({ kind: 'body', path: '/oauth/token', body: () => '<html>Bad gateway</html>', status: 502 });
      const run = await check(oauthConfigFor(sim()));
      expect(status(run).status).to.equal('FAILED');
      expect(status(run).message).to.match(
        /after an attempt that got no usable answer \(HTTP 502 on attempt 1\).*lost/,
      );
    });

    it('ignores an access token whose expiry it cannot read, with a warning, and exchanges the refresh token', async () => {
      const config = flowConfigFor(sim());
      const unreadable = { ...config, credentials: { ...config.credentials, token_expiry_date: 'next Tuesday' } };
      const run = await check(unreadable);
      expect(status(run)).to.deep.include({ status: 'SUCCEEDED' });
      expect(warnings(run).join('\n')).to.match(
        /access token in the config is not used, as its token_expiry_date is not a date-time/,
      );
      expect(sim().oauth.stats.exchanges).to.equal(1);
      // The platform's own forms are read: a space before the time, microseconds, an offset.
      const spaced = flowConfigFor(sim());
      const expiry = new Date(Date.parse(spaced.credentials.token_expiry_date))
        .toISOString()
        .replace('T', ' ')
        .replace('Z', '000+00:00');
      const again = await check({ ...spaced, credentials: { ...spaced.credentials, token_expiry_date: expiry } });
      expect(status(again)).to.deep.include({ status: 'SUCCEEDED' });
      expect(sim().oauth.stats.exchanges).to.equal(1);
    });
  });
});
