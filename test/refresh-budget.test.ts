// A resumable full refresh cut short by a token budget (the sync's cap, or Pipedrive's daily budget) and retried
// delivers every record once across the attempts: with deal_products riding along, deals must not end with a STATE
// that acknowledges what it emitted while telling the next attempt nothing. (Found by a cold review.)
import { expect } from 'chai';
import { acknowledged } from './helpers/sync.js';
import { useSimulator } from './helpers/simulator.js';
import { expectedIds, parseSync, sync, type Sync } from './helpers/sync.js';

const START = Date.parse('2020-01-01T00:00:00Z');
type State = { stream: { stream_descriptor: { name: string }; stream_state?: unknown } };

const deals = (s: Sync) => (s.records.get('deals') ?? []).map((r) => Number(r.id));

describe('review: resumable full refresh with children, cut short by the token budget', function () {
  this.timeout(600_000);
  const sim = useSimulator({ size: { deals: 3_000 } }, true);

  const cases: [string[], 'cap' | 'daily'][] = [
    [['deals'], 'cap'],
    [['deals', 'deal_products'], 'cap'],
    [['deals', 'deal_products'], 'daily'],
  ];
  for (const [streams, stop] of cases) {
    it(`${streams.join(' + ')}, stopped by ${stop === 'cap' ? 'token_budget_per_sync' : "Pipedrive's daily budget (429)"}: every deal once across the attempts`, async function () {
      const options = { mode: 'full_refresh' as const, streams };
      if (stop === 'daily') sim().inject({ kind: 'daily429', path: '/api/v2/deals', after: 6, times: 1000 });
      const budget = stop === 'cap' ? { token_budget_per_sync: 150 } : {};
      const first = await sync(sim(), { ...options, config: { page_size: 100, ...budget } });
      expect(first.statuses.get('deals')?.at(-1)).to.equal('INCOMPLETE');
      const state = (first.state as State[]).filter((s) => s.stream.stream_descriptor.name === 'deals');
      sim().reset();
      const second = await sync(sim(), { ...options, config: { page_size: 100 }, state });
      expect(second.run.exitCode).to.equal(0);
      const kept = deals(parseSync(first.run, acknowledged(first.run.messages)));
      const all = [...kept, ...deals(second)];
      const counts = new Map<number, number>();
      for (const id of all) counts.set(id, (counts.get(id) ?? 0) + 1);
      const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      const firstStates = first.stateMessages
        .filter((m) => m.stream?.stream_descriptor.name === 'deals')
        .map((m) => JSON.stringify(m.stream?.stream_state));
      console.log(
        `      attempt 1: ${deals(first).length} deals emitted, ${kept.length} acknowledged; ${firstStates.length} deals STATEs, the last ${firstStates.at(-1)?.slice(0, 120)}`,
      );
      console.log(`      attempt 2: ${deals(second).length} deals; ${twice.length} delivered twice`);
      const expected = expectedIds(sim(), 'deals', START).map(Number);
      expect(expected.filter((id) => !counts.has(id))).to.deep.equal([]);
      expect(twice.length, 'deals delivered twice across the attempts').to.equal(0);
    });
  }
});
