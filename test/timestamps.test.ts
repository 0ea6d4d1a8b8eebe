import { expect } from 'chai';
import { streamSchema, timestampNormaliser } from '../src/pipedrive/streams/catalog.js';

describe('timestamp normalisation', () => {
  it("rewrites every date-time a stream's schema declares, nested ones included, and nothing else", () => {
    const normalise = timestampNormaliser(streamSchema('deal_participants'));
    const record: Record<string, unknown> = {
      id: 1,
      add_time: '2026-01-02 03:04:05',
      person: { add_time: '2026-01-02T03:04:05.000Z', name: '2026-01-02 03:04:05', picture_id: { add_time: '' } },
    };
    normalise(record);
    expect(record).to.deep.equal({
      id: 1,
      add_time: '2026-01-02T03:04:05Z',
      person: { add_time: '2026-01-02T03:04:05Z', name: '2026-01-02 03:04:05', picture_id: { add_time: null } },
    });
    // Absent, null or not an object where the schema has an object: left as it is.
    for (const person of [undefined, null, [], 'x']) {
      const other: Record<string, unknown> = { id: 2, person };
      normalise(other);
      expect(other).to.deep.equal({ id: 2, person });
    }
  });

  it('takes any property name as a name: quotes, backslashes, line breaks, code', () => {
    const names = ['a "quoted" \\ name', "x'];process.exit(3);//\n", 'line\u2028${process.pid}`', '__proto__x'];
    const properties = Object.fromEntries(names.map((name) => [name, { type: 'string', format: 'date-time' }]));
    const normalise = timestampNormaliser({ type: 'object', properties: { ...properties, inner: { properties } } });
    const record = Object.fromEntries(names.map((name) => [name, '2026-01-02 03:04:05']));
    const nested = { ...record, inner: { ...record } };
    normalise(nested);
    const expected = Object.fromEntries(names.map((name) => [name, '2026-01-02T03:04:05Z']));
    expect(nested).to.deep.equal({ ...expected, inner: expected });
  });
});
