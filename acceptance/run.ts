// `npm run acceptance`: what Airbyte's Connector Acceptance Tests (CAT 3.9) assert, suite by suite as
// acceptance-test-config.yml declares them, run against the connector's Docker image with the Pipedrive simulator
// reachable from the container (host network). Exit 0 only if every test passed; no Docker engine is a failure.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import type {
  AirbyteCatalog,
  AirbyteMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
  ConnectorSpecification,
} from '../src/generated/airbyte-protocol.js';
import { ACCEPTANCE } from '../simulator/presets.js';
import { PipedriveSimulator } from '../simulator/server.js';
import { latestStates, parseMessageLine } from './protocol.js';
import { catalogViolations, recordViolations, specViolations } from './rules.js';

const root = new URL('../', import.meta.url);
const readText = (path: string) => readFileSync(new URL(path, root), 'utf8');
const readJson = <T>(path: string) => JSON.parse(readText(path)) as T;
const exec = promisify(execFile);

type Test = Record<string, unknown> & { config_path?: string; configured_catalog_path?: string };
type SuiteConfig = { tests?: Test[]; bypass_reason?: string };
interface AcceptanceConfig {
  connector_image: string;
  test_strictness_level?: 'high' | 'low';
  acceptance_tests: Record<string, SuiteConfig>;
}

const SUITES = ['spec', 'connection', 'discovery', 'basic_read', 'full_refresh', 'incremental'] as const;
const results: { name: string; error?: string; skipped?: string }[] = [];

async function test(name: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
    results.push({ name });
    console.log(`  PASS ${name}`);
  } catch (error) {
    results.push({ name, error: (error as Error).message });
    console.log(`  FAIL ${name}\n       ${(error as Error).message.split('\n').join('\n       ')}`);
  }
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// ------------------------------------------------------------------------------------------------- the image

interface Output {
  messages: AirbyteMessage[];
  exitCode: number;
  /** What the connector wrote on stderr, when the caller asked to keep it (otherwise it goes to this process's). */
  stderr: string;
}

/** A config file as the platform keeps it: the file, until the connector asks (a CONTROL CONNECTOR_CONFIG message)
 * to store another, e.g. with a rotated OAuth refresh token that replaces the one exchanged. */
class StoredConfig {
  private static readonly saved = new Map<string, unknown>();
  constructor(readonly path: string) {}
  get value(): unknown {
    return StoredConfig.saved.get(this.path) ?? readJson(this.path);
  }
  save(config: unknown): void {
    StoredConfig.saved.set(this.path, config);
  }
}

/** Runs the image as CAT does: the entrypoint with the command, input files in /data, and, as on the platform, the
 * working directory /source. Every stdout line must be an Airbyte message. */
async function runImage(
  image: string,
  args: string[],
  files: Record<string, unknown> = {},
  dockerOptions: string[] = [],
  keepStderr = false,
): Promise<Output> {
  const dir = mkdtempSync(join(tmpdir(), 'acceptance-'));
  chmodSync(dir, 0o755);
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), JSON.stringify(content instanceof StoredConfig ? content.value : content), {
      mode: 0o644,
    });
  try {
    const child = spawn(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        'host',
        '-w',
        '/source',
        '-e',
        'DEPLOYMENT_MODE=OSS',
        '-v',
        `${dir}:/data:ro`,
        ...dockerOptions,
        image,
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (keepStderr) stderr += chunk;
      else process.stderr.write(chunk);
    });
    const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const messages = stdout.split('\n').filter(Boolean).map(parseMessageLine);
    const update = messages.filter((m) => m.type === 'CONTROL').at(-1)?.control?.connectorConfig?.config;
    for (const content of Object.values(files)) if (update && content instanceof StoredConfig) content.save(update);
    return { messages, exitCode, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ofType = <T extends AirbyteMessage['type']>(output: Output, type: T) =>
  output.messages.filter((m) => m.type === type);
const records = (output: Output) => ofType(output, 'RECORD').map((m) => m.record!);
const states = (output: Output) => ofType(output, 'STATE').map((m) => m.state!);
const errorTraces = (output: Output) => ofType(output, 'TRACE').filter((m) => m.trace!.type === 'ERROR');

// ------------------------------------------------------------------------------------------------- the suites

async function specSuite(image: string, tests: Test[], metadata: { dockerRepository: string; dockerImageTag: string }) {
  for (const entry of tests) {
    const output = await runImage(image, ['spec']);
    const specs = ofType(output, 'SPEC');
    const expected = readJson<ConnectorSpecification>((entry.spec_path as string) ?? 'secrets/spec.json');
    await test('spec › test_match_expected', () => {
      assert(specs.length === 1, `expected exactly one SPEC message, got ${specs.length}`);
      assert(isDeepStrictEqual(specs[0]!.spec, expected), 'the SPEC message differs from the spec file');
    });
    await test('spec › static rules (secrets marked, no forbidden keywords, types, objects, arrays, orders, additionalProperties, no $ref)', () => {
      const violations = specViolations(specs[0]!.spec!);
      assert(violations.length === 0, violations.join('\n'));
    });
    await test('spec › test_config_match_spec', () => {
      const config = Object.fromEntries(
        Object.entries(readJson<Record<string, unknown>>(entry.config_path ?? 'secrets/config.json')).filter(
          ([key]) => !key.startsWith('_'),
        ),
      );
      const validate = new Ajv({ strict: false }).compile(specs[0]!.spec!.connectionSpecification);
      assert(validate(config), `the config does not match the spec: ${JSON.stringify(validate.errors)}`);
    });
  }
  const [inspected] = JSON.parse((await exec('docker', ['image', 'inspect', image])).stdout) as {
    Config: { Labels: Record<string, string>; Env: string[]; Entrypoint: string[] };
  }[];
  await test('spec › test_image_labels', () => {
    const labels = inspected!.Config.Labels ?? {};
    assert(
      labels['io.airbyte.name'] === metadata.dockerRepository,
      `io.airbyte.name is ${labels['io.airbyte.name']}, metadata.yaml says ${metadata.dockerRepository}`,
    );
    assert(
      labels['io.airbyte.version'] === metadata.dockerImageTag,
      `io.airbyte.version is ${labels['io.airbyte.version']}, metadata.yaml says ${metadata.dockerImageTag}`,
    );
  });
  await test('spec › test_image_environment_variables', () => {
    const variable = inspected!.Config.Env.find((e) => e.startsWith('AIRBYTE_ENTRYPOINT='))?.slice(
      'AIRBYTE_ENTRYPOINT='.length,
    );
    const entrypoint = (inspected!.Config.Entrypoint ?? []).join(' ');
    assert(variable !== undefined, 'AIRBYTE_ENTRYPOINT is not set');
    assert(variable === entrypoint, `AIRBYTE_ENTRYPOINT "${variable}" is not the ENTRYPOINT "${entrypoint}"`);
    assert(entrypoint.startsWith('/'), 'the ENTRYPOINT must use absolute paths');
  });
}

async function connectionSuite(image: string, tests: Test[]) {
  // Not CAT's: the image holds Node's compile cache of the bundle (Dockerfile), so that a command starts without
  // parsing the code it loads, also with the heap options the entrypoint adds under a memory limit.
  await test('image › check starts from the compiled code the image holds, under a memory limit too', async () => {
    const entry = tests.find((t) => (t.status ?? 'succeed') === 'succeed') ?? tests[0]!;
    const files = { 'config.json': new StoredConfig(entry.config_path!) };
    const debug = ['--memory', '256m', '-e', 'NODE_DEBUG_NATIVE=COMPILE_CACHE'];
    const output = await runImage(image, ['check', '--config', '/data/config.json'], files, debug, true);
    const loaded = new Set(
      [...output.stderr.matchAll(/reading cache from \S+ for ESM (file:\S+?\.js)/g)].map((m) => m[1]),
    );
    const accepted = new Set(
      [...output.stderr.matchAll(/code cache for ESM (file:\S+?\.js) was accepted/g)].map((m) => m[1]),
    );
    const compiled = [...loaded].filter((file) => !accepted.has(file));
    assert(output.exitCode === 0, `check exited ${output.exitCode}`);
    assert(loaded.size >= 2, `Node read no compile cache for the bundle (${output.stderr.slice(0, 300)})`);
    assert(compiled.length === 0, `compiled without the cache: ${compiled.join(', ')}`);
  });
  for (const entry of tests) {
    const status = (entry.status as string) ?? 'succeed';
    await test(`connection › test_check (${entry.config_path}: ${status})`, async () => {
      const output = await runImage(image, ['check', '--config', '/data/config.json'], {
        'config.json': new StoredConfig(entry.config_path!),
      });
      const statuses = ofType(output, 'CONNECTION_STATUS');
      if (status === 'exception') {
        const traces = ofType(output, 'TRACE');
        assert(
          traces.length === 1 && traces[0]!.trace!.error?.message,
          `expected exactly one TRACE with an error message, got ${traces.length}`,
        );
        return;
      }
      assert(statuses.length === 1, `expected exactly one CONNECTION_STATUS, got ${statuses.length}`);
      const expected = status === 'succeed' ? 'SUCCEEDED' : 'FAILED';
      assert(
        statuses[0]!.connectionStatus!.status === expected,
        `expected ${expected}, got ${statuses[0]!.connectionStatus!.status}: ${statuses[0]!.connectionStatus!.message}`,
      );
    });
  }
}

async function discover(image: string, configPath: string): Promise<AirbyteCatalog> {
  const output = await runImage(image, ['discover', '--config', '/data/config.json'], {
    'config.json': new StoredConfig(configPath),
  });
  const catalogs = ofType(output, 'CATALOG');
  assert(catalogs.length === 1, `expected exactly one CATALOG, got ${catalogs.length}`);
  return catalogs[0]!.catalog!;
}

async function discoverySuite(image: string, tests: Test[]) {
  for (const entry of tests) {
    let catalog: AirbyteCatalog | undefined;
    await test('discovery › test_discover', async () => {
      catalog = await discover(image, entry.config_path!);
      assert(catalog.streams.length > 0, 'no streams');
    });
    await test('discovery › schema rules (valid draft-07, cursors and keys in schema, no $ref/allOf/not, additionalProperties, sync modes, key types)', () => {
      assert(catalog, 'discover failed');
      const violations = catalogViolations(catalog);
      assert(violations.length === 0, violations.join('\n'));
    });
  }
}

/** CAT's basic_read catalog at high strictness: the discovered streams minus the empty ones, in their first mode. */
function catalogFromDiscovery(catalog: AirbyteCatalog, empty: string[]): ConfiguredAirbyteCatalog {
  return {
    streams: catalog.streams
      .filter((stream) => !empty.includes(stream.name))
      .map((stream) => ({
        stream,
        sync_mode: stream.supported_sync_modes[0]!,
        destination_sync_mode: 'append',
        ...(stream.default_cursor_field ? { cursor_field: stream.default_cursor_field } : {}),
        ...(stream.source_defined_primary_key ? { primary_key: stream.source_defined_primary_key } : {}),
      })),
  };
}

const read = (image: string, config: unknown, catalog: unknown, state?: unknown, dockerOptions: string[] = []) =>
  runImage(
    image,
    [
      'read',
      '--config',
      '/data/config.json',
      '--catalog',
      '/data/catalog.json',
      ...(state === undefined ? [] : ['--state', '/data/state.json']),
    ],
    {
      'config.json': config,
      'catalog.json': catalog,
      ...(state === undefined ? {} : { 'state.json': state }),
    },
    dockerOptions,
  );

async function basicReadSuite(image: string, tests: Test[], high: boolean) {
  for (const entry of tests) {
    const config = new StoredConfig(entry.config_path!);
    assert(!(high && entry.configured_catalog_path), 'high strictness: basic_read may not set configured_catalog_path');
    const empty = ((entry.empty_streams as { name: string; bypass_reason?: string }[]) ?? []).map((s) => s.name);
    const catalog = catalogFromDiscovery(await discover(image, entry.config_path!), empty);
    const output = await read(image, config, catalog);
    const found = records(output);
    await test('basic_read › test_read: records, schema, empty streams, primary keys', () => {
      assert(found.length > 0, 'at least one record should be read');
      const violations = recordViolations(
        found as never,
        catalog.streams.map((s) => s.stream),
      );
      assert(violations.length === 0, violations.join('\n'));
      const withRecords = new Set(found.map((r) => r.stream));
      const silent = catalog.streams.map((s) => s.stream.name).filter((name) => !withRecords.has(name));
      assert(
        silent.length === 0,
        `streams without records (declare them in empty_streams with a bypass_reason): ${silent.join(', ')}`,
      );
    });
    const expect = entry.expect_records as { path?: string; bypass_reason?: string } | undefined;
    assert(!high || expect, 'high strictness: expect_records is required');
    if (expect?.path) {
      await test(`basic_read › test_read: expected records (${expect.path})`, () => {
        const problems: string[] = [];
        for (const line of readText(expect.path!).split('\n').filter(Boolean)) {
          const { stream, data } = JSON.parse(line) as { stream: string; data: Record<string, unknown> };
          const actual = found.filter((r) => r.stream === stream).map((r) => r.data as Record<string, unknown>);
          if (!actual.some((candidate) => isDeepStrictEqual(candidate, data))) {
            const sameKey = actual.find((candidate) => candidate.id === data.id);
            problems.push(
              `${stream} ${String(data.id)}: ${sameKey ? `differs: ${JSON.stringify(data).slice(0, 160)} vs ${JSON.stringify(sameKey).slice(0, 160)}` : 'not produced'}`,
            );
          }
        }
        assert(problems.length === 0, problems.slice(0, 5).join('\n'));
      });
    }
    if (entry.validate_stream_statuses !== false) {
      await test('basic_read › test_read: stream statuses STARTED, RUNNING…, COMPLETE', () => {
        for (const { stream } of catalog.streams) {
          const statuses = ofType(output, 'TRACE')
            .map((m) => m.trace!.stream_status)
            .filter((s) => s?.stream_descriptor.name === stream.name)
            .map((s) => s!.status);
          assert(
            statuses.length >= 3 &&
              statuses[0] === 'STARTED' &&
              statuses.at(-1) === 'COMPLETE' &&
              statuses.slice(1, -1).every((s) => s === 'RUNNING'),
            `${stream.name}: ${statuses.join(', ')}`,
          );
        }
      });
    }
    if (entry.validate_state_messages !== false) {
      await test('basic_read › test_read: state messages (one per stream at least, STREAM type, sourceStats)', () => {
        const all = states(output);
        assert(
          all.length >= catalog.streams.length,
          `${all.length} STATE messages for ${catalog.streams.length} streams`,
        );
        for (const state of all) {
          assert(
            state.type === 'STREAM' && state.stream?.stream_descriptor,
            `not a STREAM state: ${JSON.stringify(state)}`,
          );
          assert(
            state.sourceStats && typeof state.sourceStats.recordCount === 'number',
            `no sourceStats.recordCount: ${JSON.stringify(state)}`,
          );
        }
      });
    }
    if (entry.expect_trace_message_on_failure !== false) {
      await test('basic_read › test_airbyte_trace_message_on_failure', async () => {
        const invalid = {
          streams: [
            {
              stream: {
                name: '__AIRBYTE__stream_that_does_not_exist',
                json_schema: { type: 'object', properties: { f1: { type: 'string' } } },
                supported_sync_modes: ['full_refresh'],
              },
              sync_mode: 'INVALID',
              destination_sync_mode: 'INVALID',
            },
          ],
        };
        assert(
          errorTraces(await read(image, config, invalid)).length >= 1,
          'the connector should emit at least one TRACE ERROR',
        );
      });
    }
  }
}

/** The heap limit a read's summary line reports, in MB. */
function heapLimitMb(output: Output): number {
  const summary = ofType(output, 'LOG')
    .map((m) => m.log!.message)
    .find((message) => message.startsWith('Sync finished'));
  return summary ? (JSON.parse(summary.slice(summary.indexOf('{'))) as { heapLimitMb: number }).heapLimitMb : NaN;
}

async function fullRefreshSuite(image: string, tests: Test[]) {
  // Not CAT's: the entrypoint sizes the heap from the container's memory limit (docker/entrypoint.sh).
  await test("image › the heap is sized from the container's memory limit", async () => {
    const entry = tests[0]!;
    const [config, catalog] = [new StoredConfig(entry.config_path!), readJson(entry.configured_catalog_path!)];
    const limited = await read(image, config, catalog, undefined, ['--memory', '256m']);
    assert(limited.exitCode === 0, `the read with --memory 256m exited ${limited.exitCode}`);
    const heap = heapLimitMb(limited);
    assert(
      heap >= 150 && heap <= 200,
      `with --memory 256m the heap limit is ${heap} MB, not about 176 MB (half of it, and 48 MB of young generation)`,
    );
    const unlimited = heapLimitMb(await read(image, config, catalog));
    assert(unlimited > 256, `without a memory limit the heap limit is ${unlimited} MB, Node's own choice`);
    // A heap set by NODE_OPTIONS, in either of Node's spellings, wins over the entrypoint's.
    for (const option of ['--max-old-space-size=1024', '--max_old_space_size=1024']) {
      const chosen = heapLimitMb(
        await read(image, config, catalog, undefined, ['--memory', '256m', '-e', `NODE_OPTIONS=${option}`]),
      );
      assert(chosen >= 1024, `with NODE_OPTIONS=${option} the heap limit is ${chosen} MB`);
    }
  });
  for (const entry of tests) {
    await test('full_refresh › test_sequential_reads', async () => {
      const config = new StoredConfig(entry.config_path!);
      const catalog = readJson(entry.configured_catalog_path!);
      const first = records(await read(image, config, catalog));
      const second = records(await read(image, config, catalog));
      assert(first.length > 0, 'the first read produced no records');
      const lastOfFirst = Math.max(...first.map((r) => r.emitted_at));
      const firstOfSecond = Math.min(...second.map((r) => r.emitted_at));
      assert(
        lastOfFirst < firstOfSecond,
        `emitted_at of the second read (${firstOfSecond}) must come after the first's (${lastOfFirst})`,
      );
    });
  }
}

const sameRecords = (a: { data: unknown }[], b: { data: unknown }[]) => {
  const key = (list: { data: unknown }[]) => list.map((r) => JSON.stringify(r.data)).sort();
  return isDeepStrictEqual(key(a), key(b));
};

/** test_incremental.py's choice of checkpoints to resume from: consecutive equal states merged, empty ones dropped,
 * then (with 3 or more) a sample that skips the first and the last, else the last one. */
function checkpoints(all: AirbyteStateMessage[]): [AirbyteStateMessage, number][] {
  const count = (s: AirbyteStateMessage) => s.sourceStats?.recordCount ?? 0;
  const value = (s: AirbyteStateMessage) => JSON.stringify(s.stream?.stream_state);
  let unique: AirbyteStateMessage[];
  if (all.length <= 1) unique = all;
  else {
    unique = [];
    let current = 0;
    while (current < all.length - 1) {
      let next = current + 1;
      while (value(all[current]!) === value(all[next]!) && next < all.length - 1) next++;
      unique.push({
        ...all[current]!,
        sourceStats: { recordCount: all.slice(current, next).reduce((n, s) => n + count(s), 0) },
      });
      if (next === all.length - 1 && value(all[current]!) !== value(all[next]!)) unique.push(all[next]!);
      current = next;
    }
  }
  const nonZero = unique.filter((s) => count(s) > 0);
  if (all.length <= 1) return nonZero.map((s) => [s, 0]);
  const total = nonZero.reduce((n, s) => n + count(s), 0);
  const withExpected = nonZero.map((s, i): [AirbyteStateMessage, number] => [
    s,
    total - nonZero.slice(0, i + 1).reduce((n, x) => n + count(x), 0),
  ]);
  if (withExpected.length < 3) return withExpected.slice(-1);
  const rate = Math.floor(withExpected.length / 5) || 1;
  return withExpected.filter((_, i) => i !== 0 && i % rate === 0 && i !== withExpected.length - 1);
}

async function incrementalSuite(image: string, tests: Test[], high: boolean) {
  for (const entry of tests) {
    const config = new StoredConfig(entry.config_path!);
    const configured = readJson<ConfiguredAirbyteCatalog>(entry.configured_catalog_path!);
    const catalog = { streams: configured.streams.filter((s) => s.sync_mode === 'incremental') };
    await test('incremental › test_two_sequential_reads', async () => {
      const first = await read(image, config, catalog);
      assert(states(first).length > 0 && records(first).length > 0, 'the first read should produce states and records');
      const second = await read(image, config, catalog, latestStates(states(first)));
      assert(!sameRecords(records(first), records(second)), 'records should change between reads');
    });
    if (!entry.skip_comprehensive_incremental_tests) {
      for (const stream of catalog.streams) {
        await test(`incremental › test_read_sequential_slices (${stream.stream.name})`, async () => {
          const single = { streams: [stream] };
          const first = await read(image, config, single);
          if (records(first).length === 0 || states(first).length === 0) return;
          const chosen = checkpoints(states(first));
          assert(chosen.length > 0, 'no suitable state checkpoint (no state with a record count)');
          for (const [state, expected] of chosen) {
            const again = await read(image, config, single, latestStates([state]));
            assert(
              records(again).length >= expected,
              `from ${JSON.stringify(state.stream!.stream_state)}: ${records(again).length} records, expected at least ${expected}`,
            );
            assert(
              !sameRecords(records(first), records(again)),
              `from ${JSON.stringify(state.stream!.stream_state)}: the same records as the first read`,
            );
          }
        });
      }
    }
    const future = entry.future_state as
      | {
          future_state_path?: string;
          missing_streams?: { name: string; bypass_reason?: string }[];
          bypass_reason?: string;
        }
      | undefined;
    assert(!high || future, 'high strictness: incremental needs future_state');
    if (future?.future_state_path) {
      await test('incremental › test_state_with_abnormally_large_values', async () => {
        const state = readJson<{ stream: { stream_descriptor: { name: string } } }[]>(future.future_state_path!);
        const covered = new Set([
          ...state.map((s) => s.stream.stream_descriptor.name),
          ...(future.missing_streams ?? []).map((s) => s.name),
        ]);
        const missing = catalog.streams.map((s) => s.stream.name).filter((name) => !covered.has(name));
        assert(!high || missing.length === 0, `the future state misses streams: ${missing.join(', ')}`);
        const output = await read(image, config, catalog, state);
        assert(records(output).length === 0, `records were produced: ${records(output)[0]?.stream}`);
        assert(states(output).length > 0, 'no STATE message');
      });
    }
  }
}

// ------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const config = yaml.load(readText('acceptance-test-config.yml')) as AcceptanceConfig;
  const schema = readJson<object>('vendor/airbyte/acceptance-test-config.schema.json');
  const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
  if (!validate(config)) {
    console.error(`acceptance-test-config.yml is invalid (CAT would refuse it): ${JSON.stringify(validate.errors)}`);
    return 1;
  }
  const high = config.test_strictness_level === 'high';
  const missing = SUITES.filter((suite) => !config.acceptance_tests[suite]);
  if (high && missing.length > 0) {
    console.error(`high strictness: these suites must be declared (tests or bypass_reason): ${missing.join(', ')}`);
    return 1;
  }
  try {
    await exec('docker', ['info']);
  } catch {
    console.error(
      "No Docker engine answers on this machine, so the acceptance tests did NOT run (this is not a pass).\nStart one (on this project's machines: bash ../shared/tools/docker-offline.sh), build the image (npm run docker:build), then run npm run acceptance again.",
    );
    return 2;
  }
  const image = config.connector_image;
  try {
    await exec('docker', ['image', 'inspect', image]);
  } catch {
    console.error(`The image ${image} does not exist: build it first (npm run docker:build).`);
    return 2;
  }
  const metadata = (
    yaml.load(readText('metadata.yaml')) as { data: { dockerRepository: string; dockerImageTag: string } }
  ).data;
  const simulator = new PipedriveSimulator({ seed: ACCEPTANCE.seed, anchor: ACCEPTANCE.anchor });
  await simulator.start(ACCEPTANCE.port);
  console.log(
    `Acceptance tests of ${image} (strictness ${config.test_strictness_level ?? 'low'}), Pipedrive simulator at ${simulator.origin}`,
  );
  try {
    for (const suite of SUITES) {
      const { tests = [], bypass_reason } = config.acceptance_tests[suite] ?? {};
      console.log(`${suite}${bypass_reason ? ` (bypassed: ${bypass_reason})` : ''}`);
      if (bypass_reason) {
        results.push({ name: suite, skipped: bypass_reason });
        continue;
      }
      try {
        if (suite === 'spec') await specSuite(image, tests, metadata);
        if (suite === 'connection') await connectionSuite(image, tests);
        if (suite === 'discovery') await discoverySuite(image, tests);
        if (suite === 'basic_read') await basicReadSuite(image, tests, high);
        if (suite === 'full_refresh') await fullRefreshSuite(image, tests);
        if (suite === 'incremental') await incrementalSuite(image, tests, high);
      } catch (error) {
        // The suite could not even be set up (a bad test entry, discover failing, …).
        results.push({ name: `${suite} › setup`, error: (error as Error).message });
        console.log(`  FAIL ${suite} › setup\n       ${(error as Error).message}`);
      }
    }
  } finally {
    await simulator.stop();
  }
  const failed = results.filter((r) => r.error);
  const passed = results.filter((r) => !r.error && !r.skipped);
  console.log(
    `\n${passed.length} passed, ${failed.length} failed, ${results.filter((r) => r.skipped).length} bypassed`,
  );
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
