import { expect } from 'chai';
import { DateTime } from 'luxon';
import { parseConfig } from '../src/pipedrive/config.js';
import { secretsOf } from '../src/pipedrive/spec.js';
import { ConnectorError } from '../src/airbyte/errors.js';
import { ofType, runCli, tempFile, traceErrors } from './helpers/cli.js';

const invalid = (config: unknown): string => {
  try {
    parseConfig(config);
  } catch (error) {
    expect(error).to.be.instanceOf(ConnectorError);
    expect((error as ConnectorError).failureType).to.equal('config_error');
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
};

describe('configuration', () => {
  it('applies the defaults: api.pipedrive.com, one year of history, page size 500', () => {
    const now = DateTime.fromISO('2026-11-25T12:00:00Z', { zone: 'utc' });
    const config = parseConfig({ api_token: ' token \n' }, now);
    expect(config.credentials).to.deep.equal({
      kind: 'api_token',
      apiToken: 'token',
      origin: 'https://api.pipedrive.com',
    });
    expect(config).to.include({
      pageSize: 500,
      maxConcurrentStreams: 3,
      maxRetries: 5,
      requestTimeoutMs: 60_000,
    });
    expect(config.startDate.toISO()).to.equal('2025-11-25T12:00:00.000Z');
    expect(config.lookback.as('minutes')).to.equal(0);
  });

  it('sends requests to the company domain, or to base_url, which wins', () => {
    expect(parseConfig({ api_token: 't', company_domain: 'Acme' }).credentials.origin).to.equal(
      'https://acme.pipedrive.com',
    );
    expect(
      parseConfig({ api_token: 't', company_domain: 'acme', base_url: 'https://proxy.example.com/pd/' }).credentials
        .origin,
    ).to.equal('https://proxy.example.com/pd');
    expect(parseConfig({ api_token: 't', base_url: 'http://127.0.0.1:8089' }).credentials.origin).to.equal(
      'http://127.0.0.1:8089',
    );
  });

  it('reads start_date as a date (midnight UTC) or an RFC 3339 date-time', () => {
    expect(parseConfig({ api_token: 't', start_date: '2024-03-01' }).startDate.toISO()).to.equal(
      '2024-03-01T00:00:00.000Z',
    );
    expect(parseConfig({ api_token: 't', start_date: '2024-03-01T10:00:00+02:00' }).startDate.toISO()).to.equal(
      '2024-03-01T08:00:00.000Z',
    );
  });

  it('names every invalid field and what was expected', () => {
    const message = invalid({ api_token: 1, page_size: 1000, start_date: '2024/01/01', lookback_window_minutes: -1 });
    expect(message).to.include('`api_token` must be string');
    expect(message).to.include('`page_size` must be <= 500 (got 1000)');
    expect(message).to.include('`start_date` must look like YYYY-MM-DD or YYYY-MM-DDTHH:mm:ssZ (got "2024/01/01")');
    expect(message).to.include('`lookback_window_minutes` must be >= 0');
    expect(invalid({})).to.match(/^Invalid configuration: `credentials` is required: an OAuth app .* or an API token/);
    expect(invalid({ api_token: 't', start_date: '2024-02-30' })).to.match(/`start_date` is not a valid date/);
    expect(invalid({ api_token: 't', company_domain: 'acme.pipedrive.com' })).to.match(
      /`company_domain` must look like acme/,
    );
    // Stored under `__proto__`, a column would set the record's prototype: its values would vanish.
    const pin = (column_name: string) => ({
      api_token: 't',
      custom_field_names: [{ field_key: 'a'.repeat(40), column_name }],
    });
    expect(invalid(pin('__proto__'))).to.include(
      '`custom_field_names.0.column_name` must look like lower case letters',
    );
    expect(parseConfig(pin('__proto___x')).customFieldNames.get('a'.repeat(40))).to.equal('__proto___x');
  });

  it('reads credentials: OAuth (token URL from base_url, else oauth.pipedrive.com), an API token, or the legacy api_token', () => {
    const oauth = { auth_type: 'oauth2.0', client_id: ' id ', client_secret: 'secret', refresh_token: 'refresh' };
    expect(parseConfig({ credentials: oauth }).credentials).to.deep.equal({
      kind: 'oauth',
      clientId: 'id',
      clientSecret: 'secret',
      refreshToken: 'refresh',
      accessToken: { state: 'absent' },
      tokenUrl: 'https://oauth.pipedrive.com/oauth/token',
      origin: undefined,
      defaultOrigin: 'https://api.pipedrive.com',
    });
    expect(parseConfig({ credentials: oauth, base_url: 'https://proxy.example.com/pd' }).credentials).to.include({
      tokenUrl: 'https://proxy.example.com/pd/oauth/token',
      origin: 'https://proxy.example.com/pd',
    });
    // The access token the OAuth flow left, used until it expires (an RFC 3339 date-time with an offset).
    const flow = { ...oauth, access_token: 'access', token_expiry_date: '2026-12-06T16:00:00.000000+01:00' };
    expect(parseConfig({ credentials: flow, company_domain: 'acme' }).credentials).to.deep.include({
      accessToken: { state: 'usable', token: 'access', expiresAt: Date.parse('2026-12-06T15:00:00Z') },
      defaultOrigin: 'https://acme.pipedrive.com',
    });
    // Without an expiry date it can read, an access token is not used; the platform's forms are read.
    const expiryOf = (token_expiry_date?: string) =>
      parseConfig({ credentials: { ...oauth, access_token: 'access', token_expiry_date } }).credentials;
    const fifteen = Date.parse('2026-12-06T15:00:00Z');
    expect(expiryOf(undefined)).to.deep.include({
      accessToken: { state: 'unusable', why: 'it has no token_expiry_date' },
    });
    expect(expiryOf('soon')).to.have.nested.property('accessToken.state', 'unusable');
    for (const form of ['2026-12-06 15:00:00.000000+00:00', '2026-12-06T15:00:00', '1796569200'])
      expect(expiryOf(form), form).to.have.nested.property('accessToken.expiresAt', fifteen);
    expect(parseConfig({ credentials: { auth_type: 'api_token', api_token: 'abc' } }).credentials).to.include({
      kind: 'api_token',
      apiToken: 'abc',
    });
    // The whole config as given, to hand back with a rotated refresh token.
    expect(parseConfig({ credentials: oauth, page_size: 100 }).raw).to.deep.equal({
      credentials: oauth,
      page_size: 100,
    });
  });

  it('names what the chosen kind of credentials lacks, and only that, never echoing a secret', () => {
    expect(invalid({ credentials: { auth_type: 'oauth2.0', client_id: 'x', client_secret: 5 } })).to.equal(
      'Invalid configuration: `credentials.refresh_token` is required; `credentials.client_secret` must be string.',
    );
    expect(invalid({ credentials: { auth_type: 'api_token' } })).to.equal(
      'Invalid configuration: `credentials.api_token` is required.',
    );
    expect(invalid({ credentials: { auth_type: 'magic' } })).to.equal(
      'Invalid configuration: `credentials.auth_type` must be "oauth2.0" or "api_token".',
    );
  });

  it('lists nested secrets among those to mask', () => {
    const credentials = {
      auth_type: 'oauth2.0',
      client_id: 'the-id',
      client_secret: 'the-secret',
      refresh_token: 'r1',
    };
    expect(secretsOf({ credentials, api_token: 'legacy' })).to.include.members([
      'the-id',
      'the-secret',
      'r1',
      'legacy',
    ]);
    expect(secretsOf({ credentials: { auth_type: 'api_token', api_token: 'tok' } })).to.include('tok');
  });

  it('never echoes the token in a validation error', () => {
    expect(invalid({ api_token: '' })).to.equal(
      'Invalid configuration: `api_token` must NOT have fewer than 1 characters.',
    );
  });

  it('requires https for base_url unless the host is a loopback address', () => {
    expect(invalid({ api_token: 't', base_url: 'http://proxy.example.com' })).to.match(
      /`base_url` must use https:\/\//,
    );
    for (const host of ['localhost', '127.0.0.1', '[::1]'])
      expect(parseConfig({ api_token: 't', base_url: `http://${host}:1` }).credentials.origin).to.include(host);
  });

  it('discover with an invalid config: one TRACE config_error naming the field, exit 1', async () => {
    const run = await runCli(['discover', '--config', tempFile({ api_token: 'abc', page_size: 'big' })]);
    expect(run.exitCode).to.equal(1);
    expect(traceErrors(run)).to.have.length(1);
    expect(traceErrors(run)[0]).to.include({ failure_type: 'config_error' });
    expect(traceErrors(run)[0]!.message).to.include('`page_size` must be integer');
    expect(ofType(run, 'CATALOG')).to.have.length(0);
  });

  it('read with an invalid config: TRACE config_error, exit 1', async () => {
    const run = await runCli(['read', '--config', tempFile({ page_size: 5 }), '--catalog', tempFile({ streams: [] })]);
    expect(run.exitCode).to.equal(1);
    expect(traceErrors(run)[0]).to.include({
      failure_type: 'config_error',
      message:
        'Invalid configuration: `credentials` is required: an OAuth app (auth_type "oauth2.0" with client_id, client_secret and refresh_token) or an API token (auth_type "api_token" with api_token).',
    });
  });
});
