// What an incremental sync costs when little or nothing changed, on any day: the simulated company's clock is moved,
// the machine's is never read.
import { expect } from 'chai';
import {
  answered,
  configuredFrom,
  cursorFieldOf,
  discover,
  idsOf,
  CORE_INCREMENTAL as INCREMENTAL,
  sync,
  type Sync,
} from './helpers/sync.js';
import { ofType } from './helpers/cli.js';
import { useSimulator } from './helpers/simulator.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAIL_FOLDERS = ['inbox', 'drafts', 'sent', 'archive'];
/** The lists of the 11 incremental streams when nothing changed: deals has two, files reads /v1/recents, notes and
 * filters read it too for their deletions, and the mail streams share the four folder lists. */
const LISTS = [
  '/api/v2/activities',
  '/api/v2/deals',
  '/api/v2/deals/archived',
  '/api/v2/organizations',
  '/api/v2/persons',
  '/api/v2/products',
  '/v1/notes',
  '/v1/filters',
  '/v1/users',
];
const RECENTS = ['file', 'filter', 'note'];

const stateOf = (s: Sync, stream: string) =>
  s.state.find((m) => m.stream!.stream_descriptor.name === stream)!.stream!.stream_state as Record<string, string>;

describe('incremental syncs cost what changed', function () {
  this.timeout(60_000);
  const sim = useSimulator({}, true);
  const mailMessageRequests = () => sim().requests.filter((r) => r.path.endsWith('/mailMessages'));

  it('a sync an hour after one made 40 days on makes one request per list, although the newest file is older than a month', async () => {
    // The catalog as Airbyte has it from discover: custom fields as columns, so a read needs no field definitions.
    const catalog = configuredFrom(await discover(sim()), 'incremental', INCREMENTAL);
    const first = await sync(sim(), { catalog });
    expect(first.run.exitCode).to.equal(0);

    sim().clock.advance(40 * DAY);
    sim().reset();
    const second = await sync(sim(), { catalog, state: first.state });
    expect(second.run.exitCode).to.equal(0);
    // The previous sync is beyond /v1/recents' reach: the files come from their full list; the deletions of files,
    // notes and filters from /v1/recents as far back as it reaches, with a warning that older ones may not be seen.
    expect(
      sim()
        .requestsTo('/v1/recents')
        .map((r) => r.query.items)
        .sort(),
    ).to.deep.equal(RECENTS);
    expect(answered(sim(), '/v1/files')).to.be.above(0);
    const warned = ofType(second.run, 'LOG').map((m) => m.log!.message);
    for (const stream of ['files', 'notes', 'filters'])
      expect(warned.join('\n'), stream).to.match(
        new RegExp(
          `^${stream}: the previous complete sync began .*, about as long ago as Pipedrive's list of deletions reaches back`,
          'm',
        ),
      );
    expect(mailMessageRequests(), 'no mail thread changed').to.deep.equal([]);
    expect(Date.parse(stateOf(second, 'files').synced_at!)).to.be.closeTo(sim().clock.now(), 60_000);

    sim().clock.advance(HOUR);
    sim().reset();
    const third = await sync(sim(), { catalog, state: second.state });
    expect(third.run.exitCode).to.equal(0);
    const newestFile = Math.max(
      ...Array.from(sim().dataset.tables.files.order('index'), (id) => sim().dataset.tables.files.time(id)),
    );
    expect(newestFile, 'the newest file is more than a month old').to.be.below(sim().clock.now() - 31 * DAY);
    for (const path of LISTS) expect(answered(sim(), path), path).to.equal(1);
    expect(
      sim()
        .requestsTo('/v1/recents')
        .map((r) => r.query.items)
        .sort(),
    ).to.deep.equal(RECENTS);
    const folders = sim()
      .requestsTo('/v1/mailbox/mailThreads')
      .map((r) => r.query.folder);
    expect(folders.sort()).to.deep.equal([...MAIL_FOLDERS].sort());
    expect(answered(sim(), '/v1/files')).to.equal(0);
    expect(mailMessageRequests()).to.deep.equal([]);
    expect(sim().requests, 'requests in all').to.have.length(LISTS.length + RECENTS.length + MAIL_FOLDERS.length);
    // 5 v2 lists at 10 tokens, deals/archived 20, 3 v1 lists, 3 recents and 4 mail folders at 20 (the README quotes
    // this).
    expect(sim().stats.tokensSpent).to.equal(270);
    // The previous sync came well after each stream's last change, so not even the records of the saved second come
    // back; no cursor moves.
    for (const stream of INCREMENTAL) {
      expect(third.records.get(stream) ?? [], stream).to.deep.equal([]);
      const cursor = cursorFieldOf(stream) ?? '';
      expect(stateOf(third, stream)[cursor], stream).to.equal(stateOf(second, stream)[cursor]);
    }
  });

  it('lists the mail folders once for both mail streams, and reads messages only of threads that changed', async () => {
    const streams = ['email_threads', 'email_messages'];
    const first = await sync(sim(), { streams });
    const threads = sim().dataset.counts.email_threads;
    expect(sim().requestsTo('/v1/mailbox/mailThreads')).to.have.length(MAIL_FOLDERS.length);
    expect(mailMessageRequests(), 'each thread once').to.have.length(threads);
    expect(idsOf(first.records.get('email_threads'))).to.have.length(threads);

    sim().clock.advance(HOUR);
    sim().reset();
    const unchanged = await sync(sim(), { streams, state: first.state });
    expect(unchanged.run.exitCode).to.equal(0);
    expect(sim().requestsTo('/v1/mailbox/mailThreads')).to.have.length(MAIL_FOLDERS.length);
    expect(mailMessageRequests()).to.deep.equal([]);
    expect(unchanged.records.get('email_messages') ?? []).to.deep.equal([]);

    // A thread with a new (here: changed) message costs one request.
    const data = sim().dataset;
    const message = data.messagesOf(7)[0]!;
    data.update('email_messages', message, { snippet: 'A new message' });
    sim().clock.advance(HOUR);
    sim().reset();
    const changed = await sync(sim(), { streams, state: unchanged.state });
    expect(mailMessageRequests().map((r) => r.path)).to.deep.equal(['/v1/mailbox/mailThreads/7/mailMessages']);
    expect(idsOf(changed.records.get('email_messages'))).to.include(message);
    expect(idsOf(changed.records.get('email_threads'))).to.include(7);
  });

  it('reads the messages of threads changed since a state written before the threads cursor was kept', async () => {
    const first = await sync(sim(), { streams: ['email_messages'] });
    const legacy = first.state.map((m) => {
      const { update_time } = m.stream!.stream_state as Record<string, string>;
      return { ...m, stream: { ...m.stream!, stream_state: { update_time } } };
    });
    const data = sim().dataset;
    const message = data.messagesOf(9)[0]!;
    sim().clock.advance(HOUR);
    data.update('email_messages', message);
    sim().reset();
    const second = await sync(sim(), { streams: ['email_messages'], state: legacy });
    expect(second.run.exitCode).to.equal(0);
    expect(idsOf(second.records.get('email_messages'))).to.include(message);
    expect(stateOf(second, 'email_messages')).to.have.property('email_threads_update_time');
  });

  describe('goals', () => {
    const lenient = useSimulator({ goalFiltersIgnored: true }, true);

    it('come once each, in four requests, also when the "everyone\'s goals" filters do not filter', async () => {
      for (const simulator of [sim(), lenient()]) {
        const s = await sync(simulator, { streams: ['goals'], mode: 'full_refresh' });
        const goals = s.records.get('goals')!;
        expect(goals).to.have.length(simulator.dataset.counts.goals);
        expect(idsOf(goals)).to.have.length(goals.length);
        expect(simulator.requestsTo('/v1/goals/find')).to.have.length(4);
      }
    });
  });
});
