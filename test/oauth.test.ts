// OAuth 2.0 through the real command line against the simulator's OAuth server: token exchange, refresh before
// expiry and on a 401, refresh-token rotation saved back with a CONTROL message, and no secret anywhere else.
import { expect } from 'chai';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { ALL_SCOPES, OAUTH_APP } from '../simulator/oauth.js';
import { ofType, runCli, tempFile, traceErrors, type CliRun } from './helpers/cli.js';
import { configFor, oauthConfigFor, useSimulator } from './helpers/simulator.js';
import { expectedIds, idsOf, sync } from './helpers/sync.js';

type Config = ReturnType<typeof oauthConfigFor>;

const controls = (run: CliRun) => ofType(run, 'CONTROL').map((m) => m.control!);
/** The config of the last CONTROL message, as the platform would store it. */
const savedConfig = (run: CliRun) => controls(run).at(-1)?.connectorConfig?.config as Config | undefined;
const refreshTokenOf = (config: Config | undefined) => config?.credentials.refresh_token;

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
      expect(saved).to.deep.equal({
        ...config,
        credentials: { ...config.credentials, refresh_token: refreshTokenOf(saved) },
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

    it('FAILED naming the missing scopes when the app was granted too few', async () => {
      const scopes = ALL_SCOPES.filter((scope) => scope !== 'mail:read' && scope !== 'admin');
      const run = await check(oauthConfigFor(sim(), sim().oauth.issueRefreshToken(1, scopes)));
      expect(status(run).status).to.equal('FAILED');
      expect(status(run).message)
        .to.match(/lacks scopes the streams need: .*mail:read \(for \/v1\/mailbox\/mailThreads/)
        .and.match(/admin \(for \/api\/v2\/activityFields\)/);
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
      const next = await sync(sim(), { streams, credentials: savedConfig(s.run), state: s.state });
      expect(next.run.exitCode).to.equal(0);
      expect(controls(next.run)).to.have.length(1);
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
      expect(logs.map((m) => m.log!.message).join('\n')).to.match(/rotated the OAuth refresh token/);
      expect(sim().oauth.issued.length).to.be.at.least(4);
      // The secrets were there to leak: each CONTROL message carries the client secret and a rotated refresh token.
      for (const control of controls(s.run)) {
        const { credentials } = control.connectorConfig!.config as Config;
        expect(credentials.client_secret).to.equal(OAUTH_APP.clientSecret);
        expect(sim().oauth.issued).to.include(credentials.refresh_token);
      }
    });
  });
});
