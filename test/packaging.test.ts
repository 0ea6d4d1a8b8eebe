import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { expect } from 'chai';
import yaml from 'js-yaml';
import { DEFAULT_STREAMS, STREAMS } from '../src/pipedrive/streams/table.js';
import { ACCEPTANCE } from '../simulator/presets.js';
import { PipedriveSimulator } from '../simulator/server.js';
import { runCli, tempFile } from './helpers/cli.js';
import { configuredCatalog, parseSync } from './helpers/sync.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const readJson = <T>(path: string) => JSON.parse(read(path)) as T;
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;
const validator = (schema: string) => addFormats(new Ajv({ strict: false, allErrors: true })).compile(readJson(schema));

const metadata = yaml.load(read('metadata.yaml')) as { data: Record<string, unknown> };
const dockerfile = read('Dockerfile');
const label = (name: string) => new RegExp(`^LABEL ${name.replace(/\./g, '\\.')}=(\\S+)$`, 'm').exec(dockerfile)?.[1];

describe('packaging', () => {
  it("metadata.yaml is valid against Airbyte's metadata schema", () => {
    const validate = validator('vendor/airbyte/ConnectorMetadataDefinitionV0.ajv.json');
    expect(validate(metadata), JSON.stringify(validate.errors)).to.equal(true);
    expect(metadata.data).to.include({ connectorType: 'source', connectorSubtype: 'api', license: 'MIT' });
    expect(metadata.data.tags).to.deep.equal(['language:typescript']);
    expect((metadata.data.allowedHosts as { hosts: string[] }).hosts).to.include.members([
      'api.pipedrive.com',
      '*.pipedrive.com',
    ]);
  });

  it('metadata.yaml suggests streams of the table, and sizes the sync job', () => {
    const data = metadata.data as {
      suggestedStreams: { streams: string[] };
      resourceRequirements: { jobSpecific: { jobType: string; resourceRequirements: Record<string, string> }[] };
    };
    expect(STREAMS.map((s) => s.name)).to.include.members(data.suggestedStreams.streams);
    expect(data.suggestedStreams.streams).to.include.members(['deals', 'persons', 'organizations', 'activities']);
    const sync = data.resourceRequirements.jobSpecific.find((job) => job.jobType === 'sync');
    expect(sync?.resourceRequirements).to.include.keys('memory_request', 'memory_limit', 'cpu_request', 'cpu_limit');
  });

  it("the GitHub workflow runs Airbyte's standard tests and its acceptance tests at pinned versions, on files that exist", () => {
    const workflow = yaml.load(read('.github/workflows/ci.yml')) as {
      env: Record<string, string>;
      jobs: Record<string, { steps: { run?: string }[] }>;
    };
    expect(workflow.env.AIRBYTE_CDK_VERSION).to.match(/^\d+\.\d+\.\d+$/);
    expect(workflow.env.CAT_COMMIT).to.match(/^[0-9a-f]{40}$/);
    const runs = (job: string) => (workflow.jobs[job]?.steps ?? []).map((step) => step.run ?? '').join('\n');
    expect(runs('standard-tests')).to.include('pip install "airbyte-cdk==${AIRBYTE_CDK_VERSION}"');
    expect(runs('standard-tests')).to.match(/airbyte-cdk image test \.\/ --image "\$IMAGE:dev"/);
    expect(runs('test'))
      .to.include('npm test')
      .and.include('npm run acceptance')
      .and.include('faketime -f +400d npm test');
    for (const path of [
      'acceptance/real-account/acceptance-test-config.yml',
      'metadata.yaml',
      'spec.json',
      'integration_tests',
      'catalogs',
    ]) {
      expect(existsSync(new URL(`../${path}`, import.meta.url)), path).to.equal(true);
      expect(runs('airbyte-cat')).to.include(path);
    }
    // airbyte-cdk image test finds the connector by its metadata.yaml and acceptance-test-config.yml at the root.
    expect(metadata.data.dockerRepository).to.equal(workflow.env.IMAGE);
  });

  it('keeps package.json, metadata.yaml and the Dockerfile labels in step', () => {
    const { version } = readJson<{ version: string }>('package.json');
    expect(metadata.data.dockerImageTag).to.equal(version);
    expect(label('io.airbyte.version')).to.equal(version);
    expect(label('io.airbyte.name')).to.equal(metadata.data.dockerRepository);
  });

  it('the Dockerfile follows the image contract: node:24-bookworm-slim, user airbyte, absolute entrypoint mirrored in AIRBYTE_ENTRYPOINT', () => {
    expect(dockerfile).to.not.match(/^#\s*syntax=/m);
    expect(dockerfile.match(/^FROM (\S+)/gm)).to.deep.equal([
      'FROM node:24-bookworm-slim',
      'FROM node:24-bookworm-slim',
    ]);
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint.filter((part) => !part.startsWith('/'))).to.deep.equal([]);
    expect(/^ENV AIRBYTE_ENTRYPOINT="(.*)"$/m.exec(dockerfile)![1]).to.equal(entrypoint.join(' '));
    expect(dockerfile.match(/^USER .*/gm)?.at(-1)).to.equal('USER airbyte');
    // One bundled file: no node_modules in the image.
    expect(dockerfile).to.not.match(/^COPY .*node_modules/m);
  });

  it("acceptance-test-config.yml (and the real-account one) are valid against the acceptance tests' config schema, at high strictness with every suite", () => {
    const validate = validator('vendor/airbyte/acceptance-test-config.schema.json');
    for (const path of ['acceptance-test-config.yml', 'acceptance/real-account/acceptance-test-config.yml']) {
      const config = yaml.load(read(path));
      expect(validate(config), `${path}: ${JSON.stringify(validate.errors)}`).to.equal(true);
    }
    const config = yaml.load(read('acceptance-test-config.yml')) as {
      connector_image: string;
      test_strictness_level: string;
      acceptance_tests: Record<string, unknown>;
    };
    expect(config.test_strictness_level).to.equal('high');
    expect(Object.keys(config.acceptance_tests)).to.have.members([
      'spec',
      'connection',
      'discovery',
      'basic_read',
      'full_refresh',
      'incremental',
    ]);
    expect(config.connector_image).to.equal(`${String(metadata.data.dockerRepository)}:dev`);
  });

  it('the schema check catches a key CAT does not know (the whole CAT run would fail on it)', () => {
    const validate = validator('vendor/airbyte/acceptance-test-config.schema.json');
    const config = yaml.load(read('acceptance-test-config.yml')) as {
      acceptance_tests: { basic_read: { tests: Record<string, unknown>[] } };
    };
    config.acceptance_tests.basic_read.tests[0]!.ignored_fields = {};
    expect(validate(config)).to.equal(false);
  });

  it('integration_tests/ and catalogs/ are what the generator makes of the current streams and simulator data', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/generate-integration-tests.ts', '--check'],
      { cwd: new URL('..', import.meta.url) },
    ).catch((error: { stdout: string; stderr: string }) => error);
    expect(stderr, stdout).to.equal('');
  });

  describe('against the acceptance simulator', () => {
    let simulator: PipedriveSimulator;
    /** integration_tests/sample_config.json, pointed at this test's simulator instead of port 8089. */
    let config: string;
    before(async () => {
      simulator = new PipedriveSimulator({ seed: ACCEPTANCE.seed, anchor: ACCEPTANCE.anchor, burstLimit: 1000 });
      config = tempFile({
        ...readJson<object>('integration_tests/sample_config.json'),
        base_url: await simulator.start(),
      });
    });
    after(() => simulator.stop());

    it('the ready-made catalogs work with read as they are, and the expected records come out exactly', async () => {
      const expected = read('integration_tests/expected_records.jsonl')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { stream: string; data: Record<string, unknown> });
      // The ready-made catalogs, and every stream as the acceptance tests' basic_read reads the discovered catalog.
      const everyStream = tempFile(
        configuredCatalog(
          'full_refresh',
          STREAMS.map((s) => s.name),
        ),
      );
      for (const [catalog, streams] of [
        ['catalogs/full_refresh.json', DEFAULT_STREAMS],
        ['catalogs/incremental.json', DEFAULT_STREAMS],
        [everyStream, STREAMS],
      ] as const) {
        const sync = parseSync(await runCli(['read', '--config', config, '--catalog', catalog]));
        expect(sync.run.exitCode, catalog).to.equal(0);
        // The ready-made ones: every stream but the opt-in ones (a request per changed entity, a plan feature).
        expect([...sync.statuses.keys()].sort(), catalog).to.deep.equal(streams.map((s) => s.name).sort());
        for (const { stream, data } of expected.filter((e) => sync.statuses.has(e.stream)))
          expect(sync.records.get(stream), `${catalog} ${stream} ${String(data.id)}`).to.deep.include(data);
      }
    });

    it('the sample state resumes, the abnormal state yields nothing', async () => {
      for (const [state, some] of [
        ['integration_tests/sample_state.json', true],
        ['integration_tests/abnormal_state.json', false],
      ] as const) {
        const run = await runCli([
          'read',
          '--config',
          config,
          '--catalog',
          'integration_tests/configured_catalog_incremental.json',
          '--state',
          state,
        ]);
        expect(run.exitCode).to.equal(0);
        expect(run.messages.filter((m) => m.type === 'RECORD').length > 0, `${state}: records emitted`).to.equal(some);
      }
    });
  });
});
