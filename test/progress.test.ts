// Progress a person or Airbyte can watch: TRACE ESTIMATE messages per stream, sent when the estimate first exists and
// again when it moves by more than a tenth, valid against the protocol; every ~30 s one INFO line per running stream.
// The unit tests drive the Progress class with a fake clock; the read test runs the real command line.
import { expect } from 'chai';
import sinon from 'sinon';
import { protocolValidator } from '../acceptance/protocol.js';
import type { Logger } from '../src/airbyte/logger.js';
import type { AirbyteMessage } from '../src/generated/airbyte-protocol.js';
import { PROGRESS_INTERVAL_MS, Progress } from '../src/airbyte/progress.js';
import { useSimulator } from './helpers/simulator.js';
import { sync } from './helpers/sync.js';

function recorder() {
  const messages: AirbyteMessage[] = [];
  const lines: string[] = [];
  const writer = { write: async (...m: AirbyteMessage[]) => void messages.push(...m) };
  const logger = { info: (line: string) => void lines.push(line) } as unknown as Logger;
  return { messages, lines, progress: new Progress(writer as never, logger, (s) => `${s.length} requests`) };
}

describe('progress', function () {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => (clock = sinon.useFakeTimers({ now: 1_000_000 })));
  afterEach(() => clock.restore());

  it('sends an ESTIMATE at the first estimate and again only when it moves by more than a tenth', async function () {
    const { messages, progress } = recorder();
    const deals = progress.of('deals');
    for (const rows of [1000, 1090, 1050, 1200, 1150, 900]) await deals.estimate(rows);
    const sent = messages.map((m) => m.trace!.estimate!.row_estimate);
    expect(sent).to.deep.equal([1000, 1200, 900]);
    const valid = protocolValidator('AirbyteMessage');
    for (const message of messages) {
      expect(valid(message), JSON.stringify(valid.errors)).to.equal(true);
      expect(message.trace!.estimate).to.include({ name: 'deals', type: 'STREAM' });
    }
  });

  it('never estimates fewer rows than were emitted', async function () {
    const { messages, progress } = recorder();
    const deals = progress.of('deals');
    deals.add(700);
    await deals.estimate(500);
    expect(messages[0]!.trace!.estimate!.row_estimate).to.equal(700);
  });

  it('logs one line per running stream every half minute: records, rate, spend, time left', function () {
    const { lines, progress } = recorder();
    progress.started('deals');
    progress.started('notes');
    progress.start();
    const deals = progress.of('deals');
    deals.add(30_000);
    void deals.estimate(120_000);
    clock.tick(PROGRESS_INTERVAL_MS - 1);
    expect(lines).to.deep.equal([]);
    clock.tick(1);
    expect(lines).to.have.length(2);
    expect(lines[0]).to.equal(
      'deals: 30,000 records in 30 s (1,000/s), 5 requests; about 90 s left of an estimated 120,000 records.',
    );
    expect(lines[1]).to.contain('notes: 0 records').and.contain('no estimate of its size yet');
    progress.ended('notes');
    clock.tick(PROGRESS_INTERVAL_MS);
    expect(lines).to.have.length(3);
    progress.stop();
    clock.tick(PROGRESS_INTERVAL_MS * 3);
    expect(lines).to.have.length(3);
  });
});

describe('progress of a read', function () {
  this.timeout(300_000);
  const sim = useSimulator({ size: { deals: 20_000, persons: 12_000, products: 2_000 }, burstLimit: 480 });

  it('estimates every big stream within its first pages, and the estimates converge to the true count', async function () {
    const s = await sync(sim(), { streams: ['deals', 'persons', 'products'] });
    expect(s.run.exitCode).to.equal(0);
    const emitted = new Map<string, number>();
    const estimates = new Map<string, { at: number; rows: number }[]>();
    for (const message of s.run.messages) {
      if (message.type === 'RECORD')
        emitted.set(message.record!.stream, (emitted.get(message.record!.stream) ?? 0) + 1);
      const estimate = message.type === 'TRACE' ? message.trace?.estimate : undefined;
      if (!estimate) continue;
      const list = estimates.get(estimate.name) ?? estimates.set(estimate.name, []).get(estimate.name)!;
      list.push({ at: emitted.get(estimate.name) ?? 0, rows: estimate.row_estimate! });
    }
    for (const [stream, total] of emitted) {
      const list = estimates.get(stream) ?? [];
      expect(list[0]?.at, `${stream}: an estimate within its first pages`).to.be.at.most(1500);
      const error = (at: number) => Math.abs(list.filter((e) => e.at <= at).at(-1)!.rows / total - 1);
      expect(error(total * 0.75), `${stream}: the estimate by three quarters`).to.be.below(0.2);
      expect(error(total), `${stream}: the last estimate`).to.be.below(0.1);
      expect(error(total), `${stream}: converging`).to.be.at.most(error(list[0]!.at));
    }
  });
});
