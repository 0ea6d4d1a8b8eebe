// A sync never spends more of the company's daily token budget than the user allows, and stops cleanly when
// Pipedrive's own budget runs out: what was read stands, and the next sync resumes the rest.
import { expect } from 'chai';
import type { PipedriveSimulator } from '../simulator/server.js';
import { ofType, traceErrors } from './helpers/cli.js';
import { useSimulator } from './helpers/simulator.js';
import { ALL, INCREMENTAL, configuredCatalog, expectedIds, idsOf, sync, type Sync } from './helpers/sync.js';
import { STREAMS } from '../src/pipedrive/streams/table.js';

const DAY = 86_400_000;
const FULL_TABLE = STREAMS.filter((s) => (s.kind === 'full_table' || s.kind === 'fields') && ALL.includes(s.name)).map(
  (s) => s.name,
);
const config = { page_size: 100 };

/** What a first sync of every stream costs, measured on a simulator of its own. */
async function fullCost(simulator: PipedriveSimulator): Promise<number> {
  const s = await sync(simulator, { config });
  expect(s.run.exitCode).to.equal(0);
  return simulator.stats.tokensSpent;
}

const statusesOf = (s: Sync, stream: string) => s.statuses.get(stream) ?? [];
const warnings = (s: Sync) =>
  ofType(s.run, 'LOG')
    .filter((m) => m.log!.level === 'WARN')
    .map((m) => m.log!.message);

/** The second sync finishes what the first left: every row is in one of them. */
function expectUnionComplete(simulator: PipedriveSimulator, first: Sync, second: Sync): void {
  for (const stream of INCREMENTAL) {
    const union = idsOf([...(first.records.get(stream) ?? []), ...(second.records.get(stream) ?? [])], stream);
    expect(union, stream).to.deep.equal(expectedIds(simulator, stream, Date.parse('2020-01-01')));
  }
  for (const stream of FULL_TABLE)
    expect(idsOf(second.records.get(stream), stream), stream).to.deep.equal(expectedIds(simulator, stream));
}

/** Streams begun end COMPLETE with their state; full-table ones are whole or not started; the rest is deferred. */
function expectCleanStop(s: Sync): void {
  for (const stream of ALL) {
    const statuses = statusesOf(s, stream);
    if (statuses.length === 0) continue; // not started: left to the next sync whole
    expect(statuses.at(-1), stream).to.equal('COMPLETE');
    if (FULL_TABLE.includes(stream)) expect(idsOf(s.records.get(stream), stream).length, stream).to.be.above(0);
  }
  expect(traceErrors(s.run)).to.deep.equal([]);
  expect(warnings(s).join('\n')).to.match(
    /Left to the next sync, which resumes them: .*\((not started|at its last checkpoint)\)/,
  );
}

describe('token budget', function () {
  this.timeout(90_000);
  const reference = useSimulator({}, true);
  const sim = useSimulator({}, true);

  it('a cap of about 40% of a full sync: spends no more, exits 0, defers the rest; a second sync completes the data', async () => {
    const cap = Math.round(0.4 * (await fullCost(reference())));
    const first = await sync(sim(), { config: { ...config, token_budget_per_sync: cap } });
    expect(first.run.exitCode).to.equal(0);
    expect(sim().stats.tokensSpent)
      .to.be.at.most(cap)
      .and.above(0.3 * cap);
    expectCleanStop(first);
    expect(warnings(first).join('\n')).to.include(`of the ${cap} tokens token_budget_per_sync allows`);
    // The small full-table streams came first, whole.
    for (const stream of ['activity_types', 'currencies', 'pipelines', 'stages']) {
      expect(statusesOf(first, stream).at(-1), stream).to.equal('COMPLETE');
    }
    sim().reset();
    const second = await sync(sim(), { config, state: first.state });
    expect(second.run.exitCode).to.equal(0);
    expectUnionComplete(sim(), first, second);
  });

  it("Pipedrive's daily budget running out mid-sync: states kept, no retry, the time it resets; the next day's sync completes the data", async () => {
    sim().dailyBudget = Math.round(0.4 * (await fullCost(reference())));
    const first = await sync(sim(), { config: { ...config, max_concurrent_streams: 1 } });
    expect(first.run.exitCode).to.equal(0);
    expectCleanStop(first);
    expect(warnings(first).join('\n')).to.match(
      /daily API token budget for this company is used up .* It resets in about/,
    );
    // No retry: the request that met the 429 (and one beside it, for deals' two lists) and no other.
    expect(sim().stats.daily429).to.be.within(1, 2);
    // The next day: the budget has reset (and is, this time, enough for the rest).
    sim().clock.advance(DAY);
    sim().dailyBudget = 600_000;
    sim().reset();
    const second = await sync(sim(), { config, state: first.state });
    expect(second.run.exitCode).to.equal(0);
    expectUnionComplete(sim(), first, second);
  });

  it('a first sync cut by the cap before a sliced stream emitted anything: a status, a well-formed state, no crash', async () => {
    const start = new Date(sim().clock.now() - 60_000).toISOString().replace('.000', '');
    sim().burstLimit = 2;
    const s = await sync(sim(), { streams: ['deals'], config: { start_date: start, token_budget_per_sync: 10 } });
    expect(s.run.exitCode).to.equal(0);
    expect(statusesOf(s, 'deals').at(-1)).to.equal('COMPLETE');
    expect(traceErrors(s.run)).to.deep.equal([]);
    expect(warnings(s).join('\n')).to.include('deals (at its last checkpoint)');
  });

  describe('full refresh: read whole, or the sync fails', () => {
    /** Every stream got a status; one that ended COMPLETE has every row, any other ended INCOMPLETE with a TRACE
     * error naming it; the sync exits 1. */
    function expectNoPartialTable(simulator: PipedriveSimulator, s: Sync): string[] {
      expect(s.run.exitCode).to.equal(1);
      const errors = traceErrors(s.run);
      const cut: string[] = [];
      for (const stream of ALL) {
        const last = statusesOf(s, stream).at(-1);
        expect(last, `${stream} got a status`).to.be.oneOf(['COMPLETE', 'INCOMPLETE']);
        if (last === 'COMPLETE') {
          expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(
            expectedIds(simulator, stream, Date.parse('2020-01-01')),
          );
          continue;
        }
        cut.push(stream);
        const error = errors.find((e) => e.stream_descriptor?.name === stream);
        expect(error, `a TRACE error for ${stream}`).to.not.equal(undefined);
        expect(error!.message).to.include('full refresh');
      }
      return cut;
    }

    it('a cap too small for a full refresh of every stream: none ends COMPLETE with part of its rows; exit 1, saying what to change', async () => {
      const cap = Math.round(0.4 * (await fullCost(reference())));
      const s = await sync(sim(), { mode: 'full_refresh', config: { ...config, token_budget_per_sync: cap } });
      const cut = expectNoPartialTable(sim(), s);
      expect(cut).to.not.deep.equal([]);
      expect(sim().stats.tokensSpent).to.be.at.most(cap);
      const messages = traceErrors(s.run).map((e) => e.message);
      expect(messages.join('\n')).to.include('token_budget_per_sync');
      expect(traceErrors(s.run).find((e) => e.stream_descriptor?.name === cut[0])!.failure_type).to.equal(
        'config_error',
      );
    });

    it("Pipedrive's daily budget running out during a full refresh: every stream cut short says so; exit 1", async () => {
      sim().dailyBudget = Math.round(0.4 * (await fullCost(reference())));
      const s = await sync(sim(), { mode: 'full_refresh', config });
      const cut = expectNoPartialTable(sim(), s);
      expect(cut).to.not.deep.equal([]);
      const error = traceErrors(s.run).find((e) => e.stream_descriptor?.name === cut[0])!;
      expect(error.failure_type).to.equal('transient_error');
      expect(error.message).to.include('daily API token budget');
    });

    it('incremental streams beside full-refresh ones: the full-refresh ones are read first and whole, only incremental ones are deferred', async () => {
      const full = ['persons', 'stages', 'currencies'];
      const incremental = ['deals', 'activities', 'organizations', 'notes'];
      const catalog = {
        streams: [
          ...configuredCatalog('full_refresh', full).streams,
          ...configuredCatalog('incremental', incremental).streams,
        ],
      };
      const reference_ = await sync(reference(), { catalog, config });
      const cap = Math.round(0.5 * reference().stats.tokensSpent);
      expect(reference_.run.exitCode).to.equal(0);
      const s = await sync(sim(), { catalog, config: { ...config, token_budget_per_sync: cap } });
      expect(s.run.exitCode).to.equal(0);
      for (const stream of full) {
        expect(statusesOf(s, stream).at(-1), stream).to.equal('COMPLETE');
        expect(idsOf(s.records.get(stream), stream), stream).to.deep.equal(
          expectedIds(sim(), stream, Date.parse('2020-01-01')),
        );
      }
      expect(warnings(s).join('\n')).to.match(/Left to the next sync, which resumes them: /);
      expect(warnings(s).join('\n')).to.not.match(/persons \(/);
    });
  });
});
