import { expect } from 'chai';
import { Dataset } from '../simulator/dataset.js';
import { TOKENS } from '../simulator/server.js';
import { ANCHOR, useSimulator } from './helpers/simulator.js';

type Body = {
  success: boolean;
  data: unknown;
  additional_data?: {
    next_cursor?: string | null;
    pagination?: { more_items_in_collection: boolean; next_start?: number };
  };
  error?: string;
};

describe('Pipedrive simulator', () => {
  const sim = useSimulator({}, true);
  const get = async (path: string, headers: Record<string, string> = { 'x-api-token': TOKENS.admin }) => {
    const response = await fetch(`${sim().origin}${path}`, { headers });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json().catch(() => null)) as Body,
    };
  };
  it('builds the same company from the same seed, and another from another seed', () => {
    const a = new Dataset({ seed: 7, anchor: ANCHOR });
    const b = new Dataset({ seed: 7, anchor: ANCHOR });
    const c = new Dataset({ seed: 8, anchor: ANCHOR });
    for (const id of [1, 250, 600]) expect(a.tables.deals.get(id)).to.deep.equal(b.tables.deals.get(id));
    expect(a.tables.deals.get(1)).to.not.deep.equal(c.tables.deals.get(1));
  });

  it('accepts the token in the x-api-token header or the api_token query parameter, and nothing else', async () => {
    expect((await get('/v1/users/me')).status).to.equal(200);
    expect((await get(`/v1/users/me?api_token=${TOKENS.admin}`, {})).status).to.equal(200);
    const none = await get('/v1/users/me', {});
    expect(none.status).to.equal(401);
    expect(none.body).to.deep.equal({ success: false, error: 'unauthorized access', errorCode: 401 });
  });

  it('answers 410 on the retired v1 lists, like Pipedrive', async () => {
    for (const path of [
      '/v1/deals',
      '/api/v1/deals',
      '/v1/persons',
      '/v1/organizations/collection',
      '/v1/activities',
      '/v1/products',
      '/v1/pipelines',
      '/v1/stages',
      '/v1/deals/archived',
    ]) {
      expect((await get(path)).status, path).to.equal(410);
    }
  });

  it('pages v2 lists by cursor, sorted by update_time, from updated_since (inclusive)', async () => {
    const since = '2026-01-01T00:00:00Z';
    const seen: { id: number; update_time: string }[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await get(
        `/api/v2/persons?limit=100&sort_by=update_time&sort_direction=asc&updated_since=${since}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...(page.body.data as { id: number; update_time: string }[]));
      cursor = page.body.additional_data?.next_cursor;
    } while (cursor);
    const persons = sim().dataset.tables.persons;
    const expected = Array.from(persons.order('index')).filter((id) => persons.time(id) >= Date.parse(since));
    expect(seen.map((p) => p.id).sort((a, b) => a - b)).to.deep.equal(expected);
    expect(seen.map((p) => p.update_time)).to.deep.equal(seen.map((p) => p.update_time).sort());
    expect(seen.length).to.be.above(100);
  });

  it('returns optional fields only when include_fields names them', async () => {
    const plain = (await get('/api/v2/deals?limit=1')).body.data as Record<string, unknown>[];
    const counted = (await get('/api/v2/deals?limit=1&include_fields=activities_count,smart_bcc_email')).body
      .data as Record<string, unknown>[];
    expect(plain[0]).to.not.have.property('activities_count');
    expect(counted[0]).to.include.keys('activities_count', 'smart_bcc_email');
    expect(counted[0]).to.not.have.property('notes_count');
  });

  it('lists deleted deals only on request, and archived deals only on their own list', async () => {
    const all = async (path: string) => {
      const ids: { status: string; is_archived: boolean }[] = [];
      let cursor: string | null | undefined;
      do {
        const page = await get(`${path}${path.includes('?') ? '&' : '?'}limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        ids.push(...(page.body.data as never[]));
        cursor = page.body.additional_data?.next_cursor;
      } while (cursor);
      return ids;
    };
    const open = await all('/api/v2/deals');
    const withDeleted = await all('/api/v2/deals?status=open,won,lost,deleted');
    const archived = await all('/api/v2/deals/archived');
    expect(open.filter((d) => d.status === 'deleted')).to.deep.equal([]);
    expect(withDeleted.filter((d) => d.status === 'deleted')).to.not.have.length(0);
    expect([...open, ...withDeleted].filter((d) => d.is_archived)).to.deep.equal([]);
    expect(archived.length).to.be.above(0);
    expect(archived.filter((d) => !d.is_archived)).to.deep.equal([]);
    expect(withDeleted.length + archived.length).to.equal(sim().dataset.counts.deals);
  });

  it('pages v1 lists by start/limit, and enforces the largest page sizes (500; files 100)', async () => {
    const first = await get('/v1/notes?limit=500');
    expect(first.body.additional_data!.pagination).to.deep.equal({
      start: 0,
      limit: 500,
      more_items_in_collection: true,
      next_start: 500,
    });
    const last = await get('/v1/notes?limit=500&start=500');
    expect((last.body.data as unknown[]).length).to.equal(200);
    expect(last.body.additional_data!.pagination!.more_items_in_collection).to.equal(false);
    expect((await get('/v1/notes?limit=501')).status).to.equal(400);
    expect((await get('/v1/files?limit=100')).status).to.equal(200);
    expect((await get('/v1/files?limit=101')).status).to.equal(400);
  });

  it('/v1/recents reaches back one month only, and reports purged items with null data', async () => {
    const at = sim().clock.now() - 3600_000;
    sim().dataset.update('files', 5, {}, Math.floor(at / 1000) * 1000);
    sim().dataset.purge('files', 6, at);
    const recent = await get('/v1/recents?since_timestamp=2000-01-01%2000:00:00&items=file&limit=500');
    const items = recent.body.data as { id: number; data: { update_time: string } | null }[];
    const monthAgo = new Date(sim().clock.now());
    monthAgo.setUTCMonth(monthAgo.getUTCMonth() - 1);
    expect(items.find((i) => i.id === 5)!.data).to.not.equal(null);
    expect(items.find((i) => i.id === 6)!.data).to.equal(null);
    for (const item of items.filter((i) => i.data))
      expect(Date.parse(`${item.data!.update_time.replace(' ', 'T')}Z`)).to.be.above(monthAgo.getTime());
    const users = await get('/v1/recents?since_timestamp=2000-01-01%2000:00:00&items=user');
    for (const item of users.body.data as { data: unknown }[]) expect(item.data).to.be.an('array');
    expect((await get('/v1/recents?items=file')).status).to.equal(400);
  });

  it("/v1/goals/find returns the token user's active goals unless asked for everyone's", async () => {
    const goals = async (query: string) =>
      (
        (await get(`/v1/goals/find${query}`)).body.data as {
          goals: { assignee: { type: string; id: number }; is_active: boolean }[];
        }
      ).goals;
    const mine = await goals('');
    expect(mine.filter((g) => !(g.assignee.type === 'person' && g.assignee.id === 1 && g.is_active))).to.deep.equal([]);
    let everyone = 0;
    for (const type of ['person', 'team', 'company'])
      for (const active of [true, false])
        everyone += (await goals(`?assignee.type=${type}&is_active=${active}`)).length;
    expect(everyone).to.equal(sim().dataset.counts.goals);
    expect(mine.length).to.be.below(everyone);
  });

  it('lists a mail thread in each of its folders, newest first, and its messages', async () => {
    const threads = sim().dataset.tables.email_threads;
    const multi = Array.from(threads.order('index')).find((id) => (threads.get(id)!.folders as string[]).length > 1)!;
    const folders = threads.get(multi)!.folders as string[];
    for (const folder of folders) {
      const listed = (await get(`/v1/mailbox/mailThreads?folder=${folder}&limit=500`)).body.data as {
        id: number;
        update_time: string;
      }[];
      expect(listed.map((t) => t.id)).to.include(multi);
      expect(listed.map((t) => t.update_time)).to.deep.equal(
        listed
          .map((t) => t.update_time)
          .sort()
          .reverse(),
      );
    }
    const messages = (await get(`/v1/mailbox/mailThreads/${multi}/mailMessages`)).body.data as {
      mail_thread_id: number;
    }[];
    expect(messages.length).to.be.within(1, 4);
    expect(new Set(messages.map((m) => m.mail_thread_id))).to.deep.equal(new Set([multi]));
    expect((await get('/v1/mailbox/mailThreads/999999/mailMessages')).status).to.equal(404);
  });

  it('lets a test change, add, delete, archive and purge records', async () => {
    const data = sim().dataset;
    const changed = data.update('persons', 3, { name: 'Renamed Person' });
    const added = data.add('organizations', { name: 'New Org' });
    data.remove('deals', 7);
    data.archiveDeal(8);
    data.purge('notes', 9);
    expect(changed.name).to.equal('Renamed Person');
    expect(Date.parse(changed.update_time as string)).to.be.closeTo(sim().clock.now(), 2000);
    const recent = (
      await get(`/api/v2/persons?updated_since=${new Date(sim().clock.now() - 5000).toISOString().slice(0, 19)}Z`)
    ).body.data as { id: number; name: string }[];
    expect(recent).to.deep.equal([{ ...recent[0]!, id: 3, name: 'Renamed Person' }]);
    expect(added.id).to.equal(data.counts.organizations + 1);
    expect(data.tables.deals.get(7)).to.include({ status: 'deleted', is_deleted: true });
    expect(data.tables.deals.get(8)).to.include({ is_archived: true });
    expect(data.tables.notes.get(9)).to.equal(undefined);
  });

  it('sends rate-limit headers, answers 429 past the burst limit, and blocks with an HTML 403 clients that keep going', async () => {
    sim().burstLimit = 5;
    const first = await get('/v1/users/me');
    expect(first.headers.get('x-ratelimit-limit')).to.equal('5');
    expect(first.headers.get('x-ratelimit-remaining')).to.equal('4');
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await fetch(`${sim().origin}/v1/users/me`, { headers: { 'x-api-token': TOKENS.admin } })).status);
    expect(statuses.slice(0, 4)).to.deep.equal([200, 200, 200, 200]);
    expect(statuses).to.include(429);
    const blocked = await fetch(`${sim().origin}/v1/users/me`, { headers: { 'x-api-token': TOKENS.admin } });
    expect(blocked.status).to.equal(403);
    expect(blocked.headers.get('content-type')).to.include('text/html');
    expect(await blocked.text()).to.include('Cloudflare');
  });

  it('charges each endpoint its token cost and answers 429 once the daily budget is spent', async () => {
    sim().dailyBudget = 25;
    expect((await get('/api/v2/deals?limit=1')).status).to.equal(200);
    expect((await get('/api/v2/pipelines')).status).to.equal(200);
    expect((await get('/api/v2/stages')).status).to.equal(200);
    expect(sim().stats.tokensSpent).to.equal(20);
    const spent = await get('/v1/users');
    expect(spent.status).to.equal(429);
    expect(spent.body.error).to.equal('daily request budget exceeded');
    expect(Number(spent.headers.get('retry-after'))).to.be.within(1, 86_400);
    sim().dailyBudget = 600_000;
  });
});
