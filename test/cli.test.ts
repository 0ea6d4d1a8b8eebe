import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { runCli, tempFile, traceErrors } from './helpers/cli.js';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

describe('command line', () => {
  it('--version prints the package version', async () => {
    const run = await runCli(['--version'], { protocol: false });
    expect(run.exitCode).to.equal(0);
    expect(run.stdout.trim()).to.equal(version);
  });

  it('--help lists the four commands', async () => {
    const run = await runCli(['--help'], { protocol: false });
    expect(run.exitCode).to.equal(0);
    for (const command of ['spec', 'check', 'discover', 'read'])
      expect(run.stdout).to.include(`source-pipedrive ${command}`);
  });

  for (const [title, args, pattern] of [
    ['an unknown command', ['sync'], /Unknown argument: sync/],
    ['no command', [], /Name a command/],
    ['check without --config', ['check'], /Missing required argument: config/],
    ['read without --catalog', ['read', '--config', 'c.json'], /Missing required argument: catalog/],
  ] as const) {
    it(`${title}: one TRACE config_error naming it, exit 1, usage on stderr only`, async () => {
      const run = await runCli([...args]);
      expect(run.exitCode).to.equal(1);
      const errors = traceErrors(run);
      expect(errors).to.have.length(1);
      expect(errors[0]!.failure_type).to.equal('config_error');
      expect(errors[0]!.message).to.match(pattern);
      expect(run.stderr).to.include('Options:');
    });
  }

  it('a missing --config file: config_error naming the option and the file', async () => {
    const run = await runCli(['discover', '--config', '/nonexistent/config.json']);
    expect(run.exitCode).to.equal(1);
    expect(traceErrors(run)[0]).to.include({
      failure_type: 'config_error',
      message: 'Cannot read the --config file "/nonexistent/config.json": no such file.',
    });
  });

  it('an unreadable --catalog file: config_error naming the option and the file', async () => {
    const run = await runCli(['read', '--config', tempFile({ api_token: 't' }), '--catalog', '/']);
    expect(run.exitCode).to.equal(1);
    expect(traceErrors(run)[0]!.message).to.match(/^Cannot read the --catalog file "\/"/);
  });

  it('invalid JSON: config_error with the position, without quoting the file (it may hold the token)', async () => {
    const path = tempFile('{"api_token": "super-secret-token-value", oops}', 'broken.json');
    const run = await runCli(['check', '--config', path], { secrets: ['super-secret-token-value'] });
    expect(run.exitCode).to.equal(1);
    const error = traceErrors(run)[0]!;
    expect(error.failure_type).to.equal('config_error');
    expect(error.message).to.match(
      /^The --config file ".*broken\.json" is not valid JSON \(error near character \d+\)\.$/,
    );
  });

  it('an invalid --state file: config_error naming it', async () => {
    const run = await runCli([
      'read',
      '--config',
      tempFile({ api_token: 't' }),
      '--catalog',
      tempFile({ streams: [] }),
      '--state',
      tempFile('not json', 'state.json'),
    ]);
    expect(run.exitCode).to.equal(1);
    expect(traceErrors(run)[0]!.message).to.match(/--state file ".*state\.json" is not valid JSON/);
  });
});
