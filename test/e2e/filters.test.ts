import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import { FilterService } from '../../src/sync/filter-service.js';
import { DEFAULT_SYNC_FILTER } from '../../src/sync/filters.js';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const CREATE = `${CLIENT_V3}/user/{userId}/filter`;
const DOWNLOAD = `${CLIENT_V3}/user/{userId}/filter/{filterId}`;

/** A filter using most fields (the spec's example, with lazy loading as Element asks). */
const FULL_FILTER = {
  room: {
    state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'], lazy_load_members: true },
    timeline: {
      limit: 10,
      types: ['m.room.message'],
      not_rooms: ['!726s6s6q:example.com'],
      not_senders: ['@spam:example.com'],
    },
    ephemeral: { types: ['m.receipt', 'm.typing'] },
    include_leave: false,
  },
  presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
  event_format: 'client',
  event_fields: ['type', 'content', 'sender'],
  // Unknown keys are kept and given back: the definition is the client's own.
  'org.example.custom': { anything: [1, 2, 3] },
};

/** `(v3|r0)/user/{userId}/filter[/{filterId}]` with the path parts encoded. */
function filterUrl(userId: string, filterId?: string, version = 'v3'): string {
  const base = `/_matrix/client/${version}/user/${encodeURIComponent(userId)}/filter`;
  return filterId === undefined ? base : `${base}/${encodeURIComponent(filterId)}`;
}

describe('filters', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');

  const upload = (who: Session, filter: unknown, version = 'v3') =>
    api.post(filterUrl(who.user_id, undefined, version), filter, { token: who.access_token });
  const download = (who: Session, filterId: string, version = 'v3') =>
    api.get(filterUrl(who.user_id, filterId, version), { token: who.access_token });
  const uploadOk = async (who: Session, filter: unknown) =>
    String(expectSpec(await upload(who, filter), 'POST', CREATE).filter_id);

  it('stores a filter and gives back the definition as uploaded', async () => {
    const filterId = await uploadOk(alice, FULL_FILTER);
    assert.ok(!filterId.startsWith('{'), 'a filter ID must not look like inline JSON');
    const body = expectSpec(await download(alice, filterId), 'GET', DOWNLOAD);
    assert.deepEqual(body, FULL_FILTER);
  });

  it('accepts the empty filter', async () => {
    const filterId = await uploadOk(alice, {});
    assert.deepEqual(expectSpec(await download(alice, filterId), 'GET', DOWNLOAD), {});
  });

  it('gives the same ID to the same definition and another to a different one', async () => {
    const first = await uploadOk(bob, { room: { timeline: { limit: 5 } } });
    const again = await uploadOk(bob, { room: { timeline: { limit: 5 } } });
    const other = await uploadOk(bob, { room: { timeline: { limit: 6 } } });
    assert.equal(again, first);
    assert.notEqual(other, first);
  });

  it('serves the r0 aliases', async () => {
    const filter = { presence: { not_types: ['*'] } };
    const res = await upload(alice, filter, 'r0');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const filterId = String(res.body.filter_id);
    const viaR0 = await download(alice, filterId, 'r0');
    assert.equal(viaR0.status, 200, JSON.stringify(viaR0.body));
    assert.deepEqual(viaR0.body, filter);
    assert.deepEqual(expectSpec(await download(alice, filterId), 'GET', DOWNLOAD), filter);
  });

  it("refuses to create or read another user's filters with 403", async () => {
    const bobsFilter = await uploadOk(bob, { room: { include_leave: true } });
    const create = await api.post(filterUrl(bob.user_id), {}, { token: alice.access_token });
    expectError(create, 403, 'M_FORBIDDEN');
    assert.equal(create.body.error, 'Cannot create filters for other users');
    const read = await api.get(filterUrl(bob.user_id, bobsFilter), { token: alice.access_token });
    expectError(read, 403, 'M_FORBIDDEN');
    assert.equal(read.body.error, 'Cannot get filters for other users');
  });

  it("keeps IDs per user: one user's ID does not reach another's filter", async () => {
    const carol = await api.register('carol');
    const bobsFilter = await uploadOk(bob, { room: { rooms: ['!only:bob'] } });
    expectError(await download(carol, bobsFilter), 404, 'M_NOT_FOUND');
  });

  it('answers 404 M_NOT_FOUND for an unknown or non-numeric filter ID', async () => {
    for (const filterId of ['999999', 'abc', '01', '-1', '1.5']) {
      const res = await download(alice, filterId);
      expectError(res, 404, 'M_NOT_FOUND');
    }
  });

  it('refuses an invalid filter with 400 M_BAD_JSON and stores nothing', async () => {
    const dave = await api.register('dave');
    const invalid = [
      { room: { timeline: { limit: 'ten' } } },
      { event_format: 'xml' },
      { room: { not_rooms: ['not-a-room-id'] } },
      { presence: { senders: 'alice' } },
      [],
    ];
    for (const filter of invalid) {
      expectError(await upload(dave, filter), 400, 'M_BAD_JSON');
    }
    // Nothing was stored: dave's first filter gets the first ID.
    expectError(await download(dave, '1'), 404, 'M_NOT_FOUND');
    assert.equal(await uploadOk(dave, {}), '1');
  });

  it('refuses a body that is not JSON with 400 M_NOT_JSON', async () => {
    const res = await api.post(filterUrl(alice.user_id), undefined, {
      token: alice.access_token,
      rawBody: '{"room": ',
      headers: { 'content-type': 'application/json' },
    });
    expectError(res, 400, 'M_NOT_JSON');
  });

  it('requires an access token', async () => {
    expectError(await api.post(filterUrl(alice.user_id), {}), 401, 'M_MISSING_TOKEN');
    expectError(await api.get(filterUrl(alice.user_id, '1')), 401, 'M_MISSING_TOKEN');
  });

  it('refuses guests, whom the spec does not give these endpoints', async () => {
    const guest = await api.post(`${CLIENT_V3}/register?kind=guest`, {});
    assert.equal(guest.status, 200, JSON.stringify(guest.body));
    const token = String(guest.body.access_token);
    const res = await api.post(filterUrl(String(guest.body.user_id)), {}, { token });
    expectError(res, 403, 'M_GUEST_ACCESS_FORBIDDEN');
  });

  describe('resolving the filter parameter of /sync', () => {
    let filters: FilterService;
    before(() => {
      filters = new FilterService(suite.server.weft.storage.filters);
    });

    const refusal = (errcode: string, message?: RegExp) => (err: unknown) => {
      assert.ok(err instanceof MatrixError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.errcode, errcode);
      if (message) assert.match(err.message, message);
      return true;
    };

    it('gives the default filter when there is none', async () => {
      assert.equal(await filters.resolve(alice.user_id, undefined), DEFAULT_SYNC_FILTER);
    });

    it('reads a stored filter by ID, again from the cache', async () => {
      const filterId = await uploadOk(alice, { room: { timeline: { limit: 3 } } });
      const first = await filters.resolve(alice.user_id, filterId);
      assert.equal(first.room.timeline.limit, 3);
      assert.equal(await filters.resolve(alice.user_id, filterId), first);
    });

    it('reads an inline filter', async () => {
      const filter = await filters.resolve(alice.user_id, ' {"room":{"timeline":{"limit":4}}}');
      assert.equal(filter.room.timeline.limit, 4);
    });

    it("refuses an unknown ID, or another user's, with 400 M_INVALID_PARAM", async () => {
      const bobsFilter = await uploadOk(bob, { room: { timeline: { limit: 7 } } });
      const eve = await api.register('eve');
      await assert.rejects(
        filters.resolve(eve.user_id, bobsFilter),
        refusal('M_INVALID_PARAM', /No such filter/),
      );
      await assert.rejects(filters.resolve(alice.user_id, 'nope'), refusal('M_INVALID_PARAM'));
    });

    it('refuses invalid inline JSON or filters with 400 M_INVALID_PARAM', async () => {
      await assert.rejects(filters.resolve(alice.user_id, '{"room":'), refusal('M_INVALID_PARAM'));
      await assert.rejects(
        filters.resolve(alice.user_id, '{"room":{"timeline":{"limit":"x"}}}'),
        refusal('M_INVALID_PARAM', /limit/),
      );
    });
  });
});
