import { expect } from 'chai';
import { TOKENS } from '../simulator/server.js';
import { ofType, runCli, tempFile, type CliRun } from './helpers/cli.js';
import { configFor, useSimulator } from './helpers/simulator.js';

/** Runs check; every outcome must be exactly one CONNECTION_STATUS and exit 0. */
async function check(config: Record<string, unknown>): Promise<{ status: string; message: string; run: CliRun }> {
  const run = await runCli(['check', '--config', tempFile(config)]);
  expect(run.exitCode, run.stdout).to.equal(0);
  const statuses = ofType(run, 'CONNECTION_STATUS');
  expect(statuses, run.stdout).to.have.length(1);
  const { status, message } = statuses[0]!.connectionStatus!;
  return { status, message: message ?? '', run };
}

describe('check', () => {
  const sim = useSimulator();
  beforeEach(() => {
    sim().reset();
    sim().accountClosed = false;
  });

  it('SUCCEEDED for a global admin, naming the company and the user', async () => {
    const { status, message } = await check(configFor(sim()));
    expect(status).to.equal('SUCCEEDED');
    const admin = sim().dataset.tables.users.get(1)!;
    expect(message).to.equal(
      `Connected to Pipedrive company "Acme Simulated" as admin ${admin.name} <${admin.email}>.`,
    );
  });

  it('asks only GET /v1/users/me, with the token in the x-api-token header and never in the URL', async () => {
    await check(configFor(sim()));
    expect(sim().requests.map((r) => r.path)).to.deep.equal(['/v1/users/me']);
    expect(sim().requests[0]!.tokenVia).to.equal('header');
    expect(sim().requests[0]!.query).to.not.have.property('api_token');
  });

  it('SUCCEEDED for an admin known only by the legacy is_admin flag', async () => {
    const { status } = await check(configFor(sim(), { api_token: TOKENS.legacyAdmin }));
    expect(status).to.equal('SUCCEEDED');
  });

  it('FAILED for a non-admin: names the user, says what is missed and how to fix it', async () => {
    const { status, message } = await check(configFor(sim(), { api_token: TOKENS.user }));
    const user = sim().dataset.tables.users.get(2)!;
    expect(status).to.equal('FAILED');
    expect(message).to.include(`The API token belongs to ${user.name} <${user.email}>, who is not a Pipedrive admin.`);
    expect(message).to.include("miss other users' deals");
    expect(message).to.include('Use the API token of a global admin');
  });

  it('FAILED for an invalid token: "invalid API token"', async () => {
    const { status, message } = await check(configFor(sim(), { api_token: 'not-a-real-token-0000000000000000000' }));
    expect(status).to.equal('FAILED');
    expect(message).to.match(/^Pipedrive rejected the API token \(401 invalid API token\)/);
  });

  it('FAILED when the company account is not open (402)', async () => {
    sim().accountClosed = true;
    const { status, message } = await check(configFor(sim()));
    expect(status).to.equal('FAILED');
    expect(message).to.match(/402 Payment Required.*the account is not open/);
  });

  it('FAILED when the host is unreachable, after retrying', async () => {
    const { status, message, run } = await check({
      api_token: TOKENS.admin,
      base_url: 'http://127.0.0.1:9',
      max_retries: 1,
    });
    expect(status).to.equal('FAILED');
    expect(message).to.equal(
      'Could not reach Pipedrive at http://127.0.0.1:9 (ECONNREFUSED; 2 attempts). Check company_domain or base_url (set it to the address that answers directly), and that this machine can reach Pipedrive.',
    );
    expect(
      ofType(run, 'LOG')
        .map((m) => m.log!.message)
        .join('\n'),
    ).to.match(/retrying in \d+ ms/);
  });

  it('FAILED with the reset time when the daily token budget is spent', async () => {
    sim().inject({ kind: 'daily429', retryAfter: 3939 });
    const { status, message } = await check(configFor(sim()));
    expect(status).to.equal('FAILED');
    expect(message).to.match(/daily API token budget for this company is used up .* resets in about 1 h 6 min/);
  });

  it("FAILED as rate-limit blocking, not a permission problem, on Cloudflare's HTML 403", async () => {
    sim().inject({ kind: 'cloudflare403' });
    const { status, message } = await check(configFor(sim()));
    expect(status).to.equal('FAILED');
    expect(message).to.match(
      /Cloudflare protection is blocking this API token .* This is rate-limit blocking, not a permission problem/,
    );
  });

  it('FAILED with the config error when the configuration is invalid', async () => {
    const { status, message } = await check({ api_token: TOKENS.admin, start_date: 'yesterday' });
    expect(status).to.equal('FAILED');
    expect(message).to.match(/`start_date` must look like YYYY-MM-DD/);
    expect(sim().requests).to.have.length(0);
  });

  it('retries a server error and then succeeds', async () => {
    sim().inject({ kind: 'http503' });
    const { status } = await check(configFor(sim()));
    expect(status).to.equal('SUCCEEDED');
    expect(sim().requests.map((r) => r.status)).to.deep.equal([503, 200]);
  });
});
