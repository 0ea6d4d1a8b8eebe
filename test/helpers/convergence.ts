// A seeded, randomised hunt for silent loss. A replica (the DuckDB loader of loader/duckdb.ts, in memory, landing data
// as an Airbyte destination does) is fed by a long series of syncs through the real command line against the
// simulator, with random changes, creations, soft deletes, purges and rows dated in the future, between and during
// syncs, and random trouble: `Date` skew, injected faults (429, 5xx, resets, malformed pages, 403s, a spent daily
// budget), kills at random points followed by a resume from the last STATE, token budget caps, OAuth access tokens that
// expire. Every sync must either exit 0 with every stream COMPLETE or say what it left, no state may pass the company's
// time, and after a final clean sync the replica must hold exactly the simulator's rows (ids and cursors) of every
// stream.
//
// Scenarios are fast-check values: a seed gives the same scenario again, and a failing one can be shrunk.
import fc from 'fast-check';
import type {
  AirbyteMessage,
  AirbyteStateMessage,
  ConfiguredAirbyteCatalog,
} from '../../src/generated/airbyte-protocol.js';
import { isChild, primaryKeyOf, streamByName } from '../../src/pipedrive/streams/table.js';
import type { Counts, MutableStream } from '../../simulator/dataset.js';
import { PipedriveSimulator, type Fault } from '../../simulator/server.js';
import { parseMessageLine } from '../../acceptance/protocol.js';
import { CLI, clockedProcess, expectNoSecret, spawnConnector, tempFile } from './cli.js';
import { DuckDbDestination } from '../../loader/duckdb.js';
import { ANCHOR, configFor, oauthConfigFor } from './simulator.js';
import { configuredCatalog, cursorFieldOf, expectedIds } from './sync.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Pipedrive purges a deleted row this long after its deletion. */
const PURGE_AFTER = 30 * DAY;

/** A small company: a sync takes well under a second, and a page size of 10 still makes many pages. */
const COMPANY: Partial<Counts> = {
  users: 6,
  activity_types: 5,
  currencies: 3,
  pipelines: 2,
  stages: 4,
  goals: 3,
  leads: 25,
  lead_labels: 3,
  lead_sources: 4,
  filters: 10,
  products: 15,
  organizations: 30,
  persons: 40,
  deals: 40,
  activities: 60,
  notes: 30,
  files: 25,
  email_threads: 12,
};

/** What Pipedrive deletes and later purges; users are deactivated, leads deleted without a trace, mail only flagged. */
const DELETABLE_STREAMS = [
  'activities',
  'deals',
  'organizations',
  'persons',
  'products',
  'notes',
  'files',
  'filters',
] as const satisfies readonly MutableStream[];
/** Full tables change too: a full refresh that ends COMPLETE must have the rows of the moment. */
const FULL_TABLES = ['stages', 'pipelines', 'activity_types'] as const satisfies readonly MutableStream[];
const MUTABLE = [...DELETABLE_STREAMS, 'users', 'email_threads', 'email_messages', 'leads', ...FULL_TABLES] as const;
type Mutable = (typeof MUTABLE)[number];
const DELETABLE: ReadonlySet<Mutable> = new Set(DELETABLE_STREAMS);

const OPERATIONS = ['update', 'update', 'update', 'add', 'delete', 'delete', 'purge', 'future', 'archive'] as const;
interface Change {
  op: (typeof OPERATIONS)[number];
  stream: Mutable;
  /** Which row: an index into the rows the operation may take, modulo their number. */
  pick: number;
}

/** Faults the simulator injects: `http403` fails a stream for a sync (a permission), `daily429` spends the budget. */
const FAULTS = [
  'http500',
  'http502',
  'http503',
  'reset',
  'truncate',
  'invalid-json',
  'burst429',
  'malformed',
  'http403',
  'daily429',
  'expire-access',
] as const;
const FAULT_PATHS = [
  '/api/v2/activities',
  '/api/v2/deals',
  '/api/v2/deals/archived',
  '/api/v2/deals/products',
  '/api/v2/organizations',
  '/api/v2/persons',
  '/api/v2/products',
  '/api/v2/stages',
  '/api/v2/dealFields',
  '/v1/notes',
  '/v1/files',
  '/v1/filters',
  '/v1/recents',
  '/v1/users',
  '/v1/leads',
  '/v1/goals/find',
  '/v1/mailbox/mailThreads',
  '/v1/mailbox/mailThreads/',
];
interface FaultPlan {
  kind: (typeof FAULTS)[number];
  path: string;
  after: number;
  times: number;
}

/** One step of a scenario: the company's clock moves on, the CRM changes, and a sync runs (unless `active` is false:
 * shrinking switches steps off). */
export interface Step {
  active: boolean;
  advance: number;
  changes: Change[];
  /** Changes made while the sync runs, once it has written `at` messages. */
  during: { at: number; changes: Change[] }[];
  /** Killed (SIGKILL) once it has written this many messages. */
  kill: number | null;
  faults: FaultPlan[];
  /** How far Pipedrive's `Date` header is off, for the whole sync. */
  skew: number | null;
  /** How far the connector's machine clock is off (only when the `Date` header is right: both wrong the same way is
   * beyond any connector). */
  machineSkew: number | null;
  budget: number | null;
  pageSize: number;
  concurrency: number;
}

export interface Scenario {
  company: number;
  oauth: boolean;
  /** Incremental streams the catalog configures in full refresh (overwrite) instead. */
  fullRefresh: string[];
  steps: Step[];
}

const weighted = <T>(...choices: [number, fc.Arbitrary<T>][]) =>
  fc.oneof(...choices.map(([weight, arbitrary]) => ({ weight, arbitrary })));
const rarely = <T>(arbitrary: fc.Arbitrary<T>, weight = 1, none = 5) =>
  weighted<T | null>([none, fc.constant(null)], [weight, arbitrary]);

const changeArbitrary: fc.Arbitrary<Change> = fc.record({
  op: fc.constantFrom(...OPERATIONS),
  stream: fc.constantFrom(...MUTABLE),
  pick: fc.nat(1_000_000),
});
const faultArbitrary: fc.Arbitrary<FaultPlan> = fc.record({
  kind: fc.constantFrom(...FAULTS),
  path: fc.constantFrom(...FAULT_PATHS),
  after: fc.nat(6),
  times: weighted([3, fc.constant(1)], [1, fc.constant(100)]),
});
const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  // Always on, but shrinks to false: a step switched off.
  active: fc.nat(1_000_000).map((n) => n > 0),
  advance: weighted(
    [1, fc.constant(0)],
    [10, fc.integer({ min: 1, max: 30 }).map((n) => n * MINUTE)],
    [6, fc.integer({ min: 1, max: 12 }).map((n) => n * HOUR)],
    [3, fc.integer({ min: 1, max: 3 }).map((n) => n * DAY)],
    // Close to the month /v1/recents reaches back (taken only after a sync that completed: see step()).
    [3, fc.integer({ min: 26 * 24, max: 27 * 24 + 20 }).map((n) => n * HOUR)],
  ),
  changes: fc.array(changeArbitrary, { maxLength: 8 }),
  during: weighted(
    [4, fc.constant([])],
    [
      1,
      fc.array(
        fc.record({
          at: fc.integer({ min: 1, max: 400 }),
          changes: fc.array(changeArbitrary, { minLength: 1, maxLength: 3 }),
        }),
        { minLength: 1, maxLength: 2 },
      ),
    ],
  ),
  kill: rarely(fc.integer({ min: 1, max: 600 })),
  faults: weighted([3, fc.constant([])], [2, fc.array(faultArbitrary, { minLength: 1, maxLength: 3 })]),
  skew: rarely(fc.integer({ min: -DAY, max: DAY }), 1, 8),
  machineSkew: rarely(fc.integer({ min: -DAY, max: DAY }), 1, 10),
  budget: rarely(fc.integer({ min: 10, max: 1500 }), 1, 8),
  pageSize: fc.constantFrom(10, 50, 500),
  concurrency: fc.constantFrom(1, 3),
});

const INCREMENTAL = configuredCatalog('incremental')
  .streams.filter((s) => s.sync_mode === 'incremental')
  .map((s) => s.stream.name);

export const scenarioArbitrary = (syncs: number): fc.Arbitrary<Scenario> =>
  fc.record({
    company: fc.nat(1_000_000),
    oauth: fc.nat(3).map((n) => n === 3),
    fullRefresh: weighted([3, fc.constant([])], [2, fc.subarray(INCREMENTAL, { minLength: 1, maxLength: 3 })]),
    steps: fc.array(stepArbitrary, { minLength: syncs, maxLength: syncs }),
  });

/** What a run did, for the README and the soak's report. */
export interface Figures {
  syncs: number;
  changes: number;
  faults: number;
  kills: number;
  skewed: number;
  capped: number;
  failed: number;
  reauthorised: number;
  mismatches: number;
}
export const noFigures = (): Figures => ({
  syncs: 0,
  changes: 0,
  faults: 0,
  kills: 0,
  skewed: 0,
  capped: 0,
  failed: 0,
  reauthorised: 0,
  mismatches: 0,
});

/** Runs a scenario and its final clean sync; throws, saying what went wrong, if a sync broke a rule or the replica
 * does not hold the simulator's data at the end. `figures` are added to as it goes. */
export async function runScenario(scenario: Scenario, figures: Figures, log: (line: string) => void = () => {}) {
  const sim = new PipedriveSimulator({ anchor: ANCHOR, seed: scenario.company, size: COMPANY, burstLimit: 200 });
  await sim.start();
  const replica = await DuckDbDestination.open(':memory:');
  try {
    const run = new ScenarioRun(sim, replica, scenario, figures, log);
    for (const [index, step] of scenario.steps.entries()) if (step.active) await run.step(index, step);
    await run.finalSync();
  } finally {
    replica.close();
    await sim.stop();
  }
}

/** The output of one sync. */
interface SyncResult {
  messages: AirbyteMessage[];
  exitCode: number | null;
  killed: boolean;
  /** The company's time when each STATE message arrived, by its index in `messages`. */
  stateTimes: Map<number, number>;
}

class ScenarioRun {
  private readonly catalog: ConfiguredAirbyteCatalog;
  private readonly incremental: ReadonlySet<string>;
  /** The states the replica kept, for the next sync. */
  private state: AirbyteStateMessage[] = [];
  /** The keys the replica holds of each stream whose rows Pipedrive purges, as of the last landing. */
  private held = new Map<string, Set<string | number>>();
  private credentials: Record<string, unknown>;
  private lastKilled = false;
  /** The previous sync ran to its end and read every stream: the next may come close to a month later. */
  private lastClean = true;
  /** Changes were made while the current sync ran. */
  private changedDuring = false;
  /** Rows dated in the future: changed no more, since a destination keeps the version with the highest cursor. */
  private readonly future = new Set<string>();

  constructor(
    private readonly sim: PipedriveSimulator,
    private readonly replica: DuckDbDestination,
    { oauth, fullRefresh }: Scenario,
    private readonly figures: Figures,
    private readonly log: (line: string) => void,
  ) {
    this.credentials = oauth ? oauthConfigFor(sim) : configFor(sim);
    this.catalog = {
      streams: configuredCatalog('incremental').streams.map((configured) =>
        fullRefresh.includes(configured.stream.name)
          ? { ...configured, sync_mode: 'full_refresh', destination_sync_mode: 'overwrite', cursor_field: undefined }
          : configured,
      ),
    };
    this.incremental = new Set(
      this.catalog.streams.filter((s) => s.sync_mode === 'incremental').map((s) => s.stream.name),
    );
  }

  async step(index: number, step: Step): Promise<void> {
    const { sim } = this;
    // Close to a month without a sync only after one that read everything: a longer gap than /v1/recents reaches back
    // loses deletions by Pipedrive's design (the README says so), which is not what this hunts for.
    sim.clock.advance(this.lastClean ? step.advance : Math.min(step.advance, 3 * DAY));
    for (const change of step.changes) this.change(change);
    sim.reset();
    for (const fault of step.faults) sim.inject(injected(fault));
    sim.dateSkewMs = step.skew ?? 0;
    const config = {
      page_size: step.pageSize,
      max_concurrent_streams: step.concurrency,
      max_retries: 1,
      ...(step.budget === null ? {} : { token_budget_per_sync: step.budget }),
    };
    const started = Date.now();
    const result = await this.read(config, step);
    sim.dateSkewMs = 0;
    Object.assign(this.figures, {
      syncs: this.figures.syncs + 1,
      faults: this.figures.faults + step.faults.length,
      kills: this.figures.kills + (result.killed ? 1 : 0),
      skewed: this.figures.skewed + (step.skew === null ? 0 : 1),
      capped: this.figures.capped + (step.budget === null ? 0 : 1),
      failed: this.figures.failed + (result.exitCode === 0 || result.killed ? 0 : 1),
    });
    const problems = result.killed ? [] : await this.problems(result);
    if (problems.length > 0) throw new Error(`sync ${index + 1} broke the rules:\n- ${problems.join('\n- ')}`);
    this.log(
      `sync ${index + 1}: ${result.killed ? 'killed' : `exit ${result.exitCode}`}, ${result.messages.filter((m) => m.type === 'RECORD').length} records, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  /** A sync with nothing in the way: it must succeed, and the replica must then hold the simulator's data. */
  async finalSync(): Promise<void> {
    this.sim.clock.advance(MINUTE);
    this.sim.reset();
    const reauthorised = this.figures.reauthorised;
    let result = await this.read({ page_size: 500 }, null);
    // The last step's kill cost the refresh token: the user re-authorised, and syncs again.
    if (this.figures.reauthorised > reauthorised) result = await this.read({ page_size: 500 }, null);
    this.figures.syncs++;
    const problems = await this.problems(result);
    if (result.exitCode !== 0) problems.push(`the final clean sync exited ${result.exitCode}`);
    const mismatches = await mismatchesOf(this.sim, this.catalog, this.replica);
    this.figures.mismatches += mismatches.length;
    if (problems.length + mismatches.length > 0)
      throw new Error(`after the final clean sync:\n- ${[...problems, ...mismatches].join('\n- ')}`);
  }

  /** Runs `read` with the state the replica kept, making the step's changes while it runs and killing it where the
   * step says; then lands what it wrote (the replica keeps what a destination would: see loader/duckdb.ts) and saves
   * the replica's state and any rotated config. */
  private async read(extra: Record<string, unknown>, step: Step | null): Promise<SyncResult> {
    this.changedDuring = false;
    const result = await this.spawnRead({ ...this.credentials, start_date: '2020-01-01', ...extra }, step);
    const ok = result.exitCode === 0 && !result.killed;
    const sync = await this.replica.begin(this.catalog, this.state);
    for (const message of result.messages) {
      await sync.write(message);
      // The platform saves the config a CONTROL message hands it: its credentials are what the next run signs in with.
      if (message.type === 'CONTROL' && message.control?.connectorConfig) {
        const { credentials, base_url } = message.control.connectorConfig.config as Record<string, unknown>;
        this.credentials = { credentials, base_url };
      }
    }
    this.state = (await sync.end()).states;
    // Their ids only (all numbers), cheaper than whole rows.
    for (const stream of DELETABLE_STREAMS) {
      const ids = await this.replica.query(`SELECT id FROM ${stream}`);
      this.held.set(stream, new Set(ids.map(({ id }) => Number(id))));
    }
    this.reauthoriseIfRefused(result);
    this.lastKilled = result.killed;
    this.lastClean = ok && deferredStreams(result.messages).size === 0;
    return result;
  }

  /** A refresh token lost to a kill between its exchange and the CONTROL message that saves the next one is refused
   * from then on (every stream fails, saying to re-authorise): the user re-authorises. Without a kill, it is a bug. */
  private reauthoriseIfRefused(result: SyncResult): void {
    const refused = traceErrors(result.messages).some((e) => /refused the OAuth refresh token/.test(e.message));
    if (!refused || !('credentials' in this.credentials)) return;
    if (!this.lastKilled && !result.killed) throw new Error('the OAuth refresh token was refused without a kill');
    this.figures.reauthorised++;
    this.credentials = oauthConfigFor(this.sim);
  }

  private spawnRead(config: Record<string, unknown>, step: Step | null): Promise<SyncResult> {
    const args = [CLI, 'read', '--config', tempFile(config), '--catalog', tempFile(this.catalog)];
    if (this.state.length > 0) args.push('--state', tempFile(this.state));
    const machineSkew = step?.skew === null ? (step.machineSkew ?? 0) : 0;
    const clocked = clockedProcess(this.sim.clock.now() + machineSkew);
    const child = spawnConnector([...clocked.nodeOptions, ...args], { env: clocked.env });
    const result: SyncResult = { messages: [], exitCode: null, killed: false, stateTimes: new Map() };
    let stdout = '';
    let stderr = '';
    let rest = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const message = parseMessageLine(line);
        result.messages.push(message);
        const count = result.messages.length;
        if (message.type === 'STATE') result.stateTimes.set(count - 1, this.sim.clock.now());
        for (const during of step?.during ?? [])
          if (during.at === count) {
            this.changedDuring = true;
            during.changes.forEach((c) => this.change(c));
          }
        if (step?.kill === count && !result.killed) {
          result.killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    return new Promise((resolve, reject) => {
      child.on('close', (code) => {
        try {
          expectNoSecret(stdout, stderr, this.sim.oauth.issued, 'read');
          if (rest !== '' && !result.killed) throw new Error(`stdout ended without a newline: ${rest.slice(0, 200)}`);
          resolve({ ...result, exitCode: code });
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** What a sync that ran to its end did wrong: a stream that neither completed nor said why, a full table cut short
   * and called complete, a state later than the company's time, a crash. */
  private async problems(result: SyncResult): Promise<string[]> {
    const { messages, exitCode } = result;
    const problems: string[] = [];
    const errors = traceErrors(messages);
    const deferred = deferredStreams(messages);
    if (exitCode !== 0 && exitCode !== 1) problems.push(`exit code ${exitCode}`);
    if (exitCode === 0 && errors.length > 0)
      problems.push(`exit 0 with TRACE errors: ${errors.map((e) => e.message).join(' | ')}`);
    if (exitCode === 1 && errors.length === 0) problems.push('exit 1 without a TRACE error');
    for (const error of errors)
      if (error.message.startsWith('Unexpected error'))
        problems.push(`a crash: ${error.message} ${error.stack_trace ?? ''}`);
    for (const { stream } of this.catalog.streams) {
      const last = lastStatus(messages, stream.name);
      const said = errors.some((e) => e.stream_descriptor?.name === stream.name);
      if (last === 'INCOMPLETE' && !said)
        problems.push(`${stream.name} ended INCOMPLETE without a TRACE error naming it`);
      if (last === undefined && !(this.incremental.has(stream.name) && deferred.has(stream.name)))
        problems.push(`${stream.name} got no status and was not said to be left to the next sync`);
      if (last !== undefined && last !== 'COMPLETE' && last !== 'INCOMPLETE')
        problems.push(`${stream.name} ended ${last}`);
      if (last === 'COMPLETE' && !this.incremental.has(stream.name) && !this.changedDuring)
        problems.push(...(await this.wholeTableProblems(stream.name)));
    }
    problems.push(...futureStates(result));
    return problems;
  }

  /** What the table of a stream in full refresh that ended COMPLETE lacks (or has too many) of the rows Pipedrive
   * holds: what this sync read, with what earlier attempts of a resumable one kept. */
  private async wholeTableProblems(stream: string): Promise<string[]> {
    const rows = await this.replica.rows(stream);
    const got = new Set((await replicaRows(this.replica, stream)).keys());
    if (rows.length > got.size)
      return [`${stream} (full refresh) ended COMPLETE with ${rows.length - got.size} rows twice`];
    const want = [...expectedOf(this.sim, stream).keys()];
    if (got.size === want.length && want.every((id) => got.has(id))) return [];
    return [`${stream} (full refresh) ended COMPLETE with ${got.size} rows of ${want.length}`];
  }

  /** Makes a change in the CRM, as its users would. */
  private change(change: Change): void {
    const { sim } = this;
    const data = sim.dataset;
    const { stream, op } = change;
    const table = data.tables[stream];
    const now = sim.clock.now();
    // A message's change moves its thread too.
    const frozen = (index: number) =>
      this.future.has(`${stream}:${index}`) ||
      (stream === 'email_messages' && this.future.has(`email_threads:${data.threadOf(index)}`));
    const rows = Array.from(table.order('index')).filter((index) => !frozen(index));
    const live = rows.filter((index) => !isDeleted(table.get(index)));
    const pick = (candidates: number[]) => candidates[change.pick % candidates.length];
    this.figures.changes++;
    if (op === 'add' && stream !== 'email_messages') return void data.add(stream);
    if (op === 'purge' && DELETABLE.has(stream)) {
      // Pipedrive purges a row 30 days after its deletion; one whose deletion never reached the warehouse by then
      // only if no sync ran for a month, which is not what this hunts for (the final comparison catches a deletion
      // that never arrives).
      const held = this.held.get(stream) ?? new Set();
      const purgeable = rows.filter(
        (index) => isDeleted(table.get(index)) && table.time(index) <= now - PURGE_AFTER && !held.has(index),
      );
      const index = pick(purgeable);
      if (index !== undefined) data.purge(stream, index);
      return;
    }
    const index = pick(op === 'archive' ? live.filter((i) => stream === 'deals' && !table.get(i)?.is_archived) : live);
    if (index === undefined) return;
    if (op === 'delete') return void this.remove(stream, index);
    if (op === 'archive') return void data.archiveDeal(index);
    if (op === 'future') {
      this.future.add(`${stream}:${index}`);
      if (stream === 'email_messages') this.future.add(`email_threads:${data.threadOf(index)}`);
      return void data.update(stream, index, {}, Date.parse('2099-01-01T00:00:00Z') + (change.pick % 1000) * 1000);
    }
    data.update(stream, index, stream === 'deals' ? { title: `Changed ${change.pick}` } : {});
  }

  /** Deletes a row as Pipedrive does: flagged (listed as deleted, or left out of v1 lists); a user is deactivated,
   * mail is flagged and stays listed; a lead is deleted for good, without a trace, so it is only changed here. */
  private remove(stream: Mutable, index: number): void {
    const data = this.sim.dataset;
    if (DELETABLE.has(stream) || stream === 'email_threads' || stream === 'email_messages')
      return void data.remove(stream, index);
    data.update(stream, index, stream === 'users' ? { active_flag: false } : {});
  }
}

/** The rows the warehouse should hold of a stream: key → cursor (epoch ms; NaN for a full table). */
function expectedOf(sim: PipedriveSimulator, stream: string): Map<string | number, number> {
  return cursorFieldOf(stream) === undefined
    ? new Map(expectedIds(sim, stream).map((id) => [id, NaN]))
    : expectedRows(sim, stream);
}

/** The rows of a stream's table in a replica, by key. */
async function replicaRows(replica: DuckDbDestination, stream: string) {
  const key = primaryKeyOf(streamByName.get(stream)!);
  return new Map((await replica.rows(stream)).map((row) => [row[key] as string | number, row]));
}

/** How a replica differs from the simulator's data, for every stream of `catalog`: rows missing, rows too many, rows
 * at another version (cursor). */
export async function mismatchesOf(
  sim: PipedriveSimulator,
  catalog: ConfiguredAirbyteCatalog,
  replica: DuckDbDestination,
): Promise<string[]> {
  const found: string[] = [];
  for (const { stream } of catalog.streams) {
    const name = stream.name;
    const want = expectedOf(sim, name);
    const cursor = cursorFieldOf(name);
    const have = await replicaRows(replica, name);
    const missing = [...want.keys()].filter((key) => !have.has(key));
    const extra = [...have.keys()].filter((key) => !want.has(key));
    const stale = cursor
      ? [...want]
          .filter(([key, at]) => have.has(key) && Date.parse(String(have.get(key)![cursor])) !== at)
          .map(([key]) => key)
      : [];
    const show = (keys: unknown[]) => `${keys.length} (${keys.slice(0, 8).map(String).join(', ')})`;
    if (missing.length > 0) found.push(`${name}: missing ${show(missing)}`);
    if (extra.length > 0) found.push(`${name}: not in Pipedrive ${show(extra)}`);
    if (stale.length > 0) found.push(`${name}: another version ${show(stale)}`);
  }
  return found;
}

/** The fault the simulator injects for a planned one. */
function injected({ kind, path, after, times }: FaultPlan): Fault {
  const base = { path, after, times };
  switch (kind) {
    case 'burst429':
      return { ...base, kind, retryAfter: 1 };
    case 'daily429':
      return { ...base, kind, retryAfter: 3600 };
    case 'malformed':
      return { ...base, kind: 'body', body: '{"success":true,"data":"not a list"}' };
    case 'expire-access':
      return { ...base, kind };
    default:
      return { ...base, kind };
  }
}

const isDeleted = (record: Record<string, unknown> | undefined) =>
  record?.is_deleted === true || record?.active_flag === false;

/** A Pipedrive timestamp (v1's `2024-01-01 10:00:00` is UTC) in epoch ms. */
const millis = (value: unknown) => {
  const text = String(value);
  return Date.parse(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
};

/** The rows the warehouse should hold of an incremental stream: key → cursor (epoch ms). */
function expectedRows(sim: PipedriveSimulator, stream: string): Map<string | number, number> {
  const data = sim.dataset;
  const rows = new Map<string | number, number>();
  const cursor = cursorFieldOf(stream)!;
  const add = (record: Record<string, unknown>) => rows.set(record.id as string | number, millis(record[cursor]));
  if (stream === 'email_messages') {
    for (const thread of data.tables.email_threads.order('index'))
      for (const message of data.messagesOf(thread)) add(data.tables.email_messages.get(message)!);
    return rows;
  }
  // A child's rows: those of each parent still there, with what the connector derives from the parent.
  const parentTable = data.parentTableOf(stream);
  const definition = streamByName.get(stream);
  if (parentTable && definition && isChild(definition)) {
    const parents = data.tables[parentTable];
    for (const index of parents.order('index')) {
      const parent = parents.get(index)!;
      if (isDeleted(parent)) continue;
      for (const record of data.childrenOf(stream, parent.id as number)) {
        definition.derive?.(record, parent);
        add(record);
      }
    }
    return rows;
  }
  const table = data.table(stream);
  for (const index of table.order('index')) {
    const record = table.get(index)!;
    if (!isDeleted(record) || !DELETABLE.has(stream as Mutable)) add(record);
  }
  return rows;
}

function lastStatus(messages: readonly AirbyteMessage[], stream: string): string | undefined {
  let last: string | undefined;
  for (const m of messages)
    if (m.type === 'TRACE' && m.trace?.stream_status?.stream_descriptor.name === stream)
      last = m.trace.stream_status.status;
  return last;
}

const traceErrors = (messages: readonly AirbyteMessage[]) =>
  messages.flatMap((m) => (m.type === 'TRACE' && m.trace?.error ? [m.trace.error] : []));

/** The streams a sync's warning says it left to the next sync. */
function deferredStreams(messages: readonly AirbyteMessage[]): Set<string> {
  const left = new Set<string>();
  for (const m of messages) {
    const text = m.type === 'LOG' ? m.log?.message : undefined;
    const list = text?.split('Left to the next sync, which resumes them: ')[1];
    for (const item of list?.split(', ') ?? []) left.add(item.split(' (')[0]!);
  }
  return left;
}

/** States whose timestamps are later than the company's time when they arrived. */
function futureStates({ messages, stateTimes }: SyncResult): string[] {
  const found: string[] = [];
  for (const [index, at] of stateTimes) {
    const stream = messages[index]?.state?.stream;
    const text = JSON.stringify(stream?.stream_state ?? {});
    for (const value of text.match(/\d{4}-\d\d-\d\dT[\d:.]+Z/g) ?? [])
      if (Date.parse(value) > at)
        found.push(`${stream?.stream_descriptor.name} state ${text} is later than ${new Date(at).toISOString()}`);
  }
  return found;
}
