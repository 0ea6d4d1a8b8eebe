import { expect } from 'chai';
import { PipedriveClient } from '../src/pipedrive/http/client.js';
import { apiTokenAuth } from '../src/pipedrive/http/auth.js';
import { listPages, type ApiRecord, type ListDefinition, type Pages } from '../src/pipedrive/http/pagination.js';
import { streamByName } from '../src/pipedrive/streams/table.js';
import { TOKENS } from '../simulator/server.js';
import { useSimulator } from './helpers/simulator.js';

/** Drains pages; `between` runs after each page is taken, as if the API changed while the list was read. */
async function collect(pages: Pages, between?: (page: number) => void): Promise<ApiRecord[]> {
  const records: ApiRecord[] = [];
  let page = 0;
  for await (const batch of pages) {
    records.push(...batch);
    between?.(++page);
  }
  return records;
}

const ids = (records: ApiRecord[]) => [...new Set(records.map((r) => r.id as number))].sort((a, b) => a - b);

describe('pagination', () => {
  const sim = useSimulator({}, true);
  let client: PipedriveClient;
  beforeEach(() => {
    client = new PipedriveClient({
      auth: apiTokenAuth(sim().origin, TOKENS.admin),
      timeoutMs: 5000,
      maxRetries: 0,
    });
  });
  afterEach(() => client.close());
  const pages = (list: ListDefinition, limit: number, lowerBound?: number) =>
    listPages({ client, list, limit, lowerBound, stream: 'test' });

  it('v2 cursor pages: every record once, one request per page', async () => {
    const records = await collect(pages({ endpoint: '/api/v2/activities', paging: 'cursor' }, 100));
    const count = sim().dataset.counts.activities;
    expect(records.length).to.equal(count);
    expect(ids(records)).to.deep.equal([...Array(count).keys()].map((i) => i + 1));
    expect(sim().stats.requests).to.equal(Math.ceil(count / 100));
  });

  it('v1 offset pages: every record once, each page overlapping the previous by one record', async () => {
    const records = await collect(pages({ endpoint: '/v1/notes', paging: 'offset' }, 100));
    expect(records.length).to.equal(sim().dataset.counts.notes);
    expect(
      sim()
        .requestsTo('/v1/notes')
        .map((r) => r.query.start),
    ).to.deep.equal(['0', '99', '198', '297', '396', '495', '594', '693']);
  });

  it('v1 offset pages lose nothing when records ahead of the offset move to the end of the list meanwhile', async () => {
    const files = sim().dataset.tables.files;
    const list = { endpoint: '/v1/files', query: { sort: 'update_time ASC' }, paging: 'offset' } as const;
    const firstPage = Array.from(files.order('time')).slice(0, 3);
    const records = await collect(pages(list, 50), (page) => {
      // Files read on the first page are updated while the rest is read: they move to the end.
      if (page === 2) for (const id of firstPage) sim().dataset.update('files', id);
    });
    expect(ids(records)).to.deep.equal([...Array(files.count).keys()].map((i) => i + 1));
  });

  it('v1 offset pages lose nothing when records ahead of the offset are purged meanwhile', async () => {
    const list = { endpoint: '/v1/mailbox/mailThreads', query: { folder: 'inbox' }, paging: 'offset' } as const;
    const inbox = (await collect(pages(list, 500))).map((t) => t.id as number);
    const records = await collect(pages(list, 20), (page) => {
      if (page === 1) sim().dataset.purge('email_threads', inbox[5]!);
    });
    // The purged thread was read on the first page, before it went.
    expect(ids(records)).to.deep.equal([...inbox].sort((a, b) => a - b));
  });

  it('v1 offset pages stop with a transient error rather than skip records when the list shifts by more than a page', async () => {
    const list = { endpoint: '/v1/notes', query: { sort: 'update_time ASC' }, paging: 'offset' } as const;
    const first = Array.from(sim().dataset.tables.notes.order('time')).slice(0, 30);
    const error = await collect(pages(list, 20), (page) => {
      if (page === 1) for (const id of first) sim().dataset.purge('notes', id);
    }).catch((e: Error) => e);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/changed by more than a page while it was read/);
  });

  const notesStream = streamByName.get('notes');
  const notes = notesStream?.kind === 'server_filtered' ? notesStream.lists[0] : undefined;
  if (notes?.paging !== 'keyset') throw new Error('notes are read by keyset pages');

  it('keyset pages: records updated since the bound, re-queried from the last cursor value, none lost when read ones change', async () => {
    const from = Date.parse('2026-01-01T00:00:00Z');
    const table = sim().dataset.tables.notes;
    const expected = Array.from(table.order('index')).filter((id) => table.time(id) >= from);
    const records = await collect(pages(notes, 50, from), (page) => {
      if (page === 1) sim().dataset.update('notes', expected[0]!);
    });
    expect(ids(records)).to.deep.equal(expected);
    const queries = sim()
      .requestsTo('/v1/notes')
      .map((r) => r.query);
    expect(new Set(queries.map((q) => q.start))).to.deep.equal(new Set(['0']));
    expect(queries[1]!.updated_since).to.not.equal(queries[0]!.updated_since);
  });

  it('keyset pages go on by offset when a whole page shares a timestamp later than the bound', async () => {
    const at = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    for (let id = 1; id <= 130; id++) sim().dataset.update('notes', id, {}, at);
    const records = await collect(pages(notes, 50, at - 60_000));
    expect(ids(records)).to.deep.equal([...Array(130).keys()].map((i) => i + 1));
    const queries = sim()
      .requestsTo('/v1/notes')
      .map((r) => `${r.query.updated_since} ${r.query.start}`);
    const since = (ms: number) => new Date(ms).toISOString().replace('.000', '');
    expect(queries).to.deep.equal([`${since(at - 60_000)} 0`, `${since(at)} 0`, `${since(at)} 50`, `${since(at)} 100`]);
  });

  it('keyset pages fall back to offsets when a whole page shares one timestamp', async () => {
    const at = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    for (let id = 1; id <= 130; id++) sim().dataset.update('notes', id, {}, at);
    const records = await collect(pages(notes, 50, at));
    expect(ids(records)).to.deep.equal([...Array(130).keys()].map((i) => i + 1));
    expect(
      sim()
        .requestsTo('/v1/notes')
        .map((r) => r.query.start),
    ).to.deep.equal(['0', '50', '100']);
  });
});
