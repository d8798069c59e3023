/**
 * GET /v1/mutual_rooms over HTTP: the rooms both users are joined to (not
 * invites, not rooms left), pages of 100 with next_batch and the total count,
 * the unstable path, and the 400s (user_id missing, invalid or one's own, a
 * bad `from`, another query's token).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { serverSuite } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

interface Mutual {
  joined: string[];
  count: number;
  next_batch?: string;
}

const PATH = '/_matrix/client/v1/mutual_rooms';
const UNSTABLE = '/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms';
/** One more than a page. */
const MANY = 101;

describe('mutual rooms', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol, dave] = suite.users('alice', 'bob', 'carol', 'dave');
  const shared: string[] = [];

  const query = (userId: string, from?: string) =>
    `?user_id=${encodeURIComponent(userId)}${from === undefined ? '' : `&from=${encodeURIComponent(from)}`}`;
  const mutual = async (userId: string, from?: string): Promise<Mutual> =>
    expectSpec(
      await api.get<Mutual>(PATH + query(userId, from), { token: alice.access_token }),
      'GET',
      PATH,
    );

  before(async () => {
    for (const name of ['one', 'two', 'left']) {
      const roomId = await suite.createRoom(alice, { preset: 'public_chat', name });
      await suite.join(bob, roomId);
      shared.push(roomId);
    }
    await suite.leave(bob, shared.pop()!);
    const invited = await suite.createRoom(alice, { invite: [bob.user_id] });
    assert.ok(invited);
    await suite.createRoom(bob, { name: 'bob alone' });
    shared.sort();
  });

  it('lists the rooms both are joined to, not invites nor rooms left', async () => {
    assert.deepEqual(await mutual(bob.user_id), { joined: shared, count: 2 });
    const fromBob = await api.get<Mutual>(PATH + query(alice.user_id), { token: bob.access_token });
    assert.deepEqual(expectSpec(fromBob, 'GET', PATH).joined, shared);
    assert.deepEqual(await mutual(carol.user_id), { joined: [], count: 0 });
    // The spec: a user that does not exist shares no rooms (not a 400).
    assert.deepEqual(await mutual('@nobody:localhost'), { joined: [], count: 0 });
  });

  it('serves the unstable path the same', async () => {
    const res = await api.get<Mutual>(UNSTABLE + query(bob.user_id), { token: alice.access_token });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { joined: shared, count: 2 });
  });

  it('pages 100 rooms at a time with next_batch, every room once', async () => {
    const rooms: string[] = [];
    for (let i = 0; i < MANY; i++) {
      const roomId = await suite.createRoom(carol, { preset: 'public_chat' });
      await suite.join(dave, roomId);
      rooms.push(roomId);
    }
    const fetch = async (from?: string) =>
      expectSpec(
        await api.get<Mutual>(PATH + query(dave.user_id, from), { token: carol.access_token }),
        'GET',
        PATH,
      );
    const first = await fetch();
    assert.equal(first.joined.length, 100);
    assert.equal(first.count, MANY);
    assert.ok(first.next_batch, 'next_batch when there is more');
    const second = await fetch(first.next_batch);
    assert.equal(second.count, MANY);
    assert.equal(second.next_batch, undefined);
    assert.deepEqual([...first.joined, ...second.joined], rooms.sort());
    // Someone else's query cannot continue with it.
    const stolen = await api.get(PATH + query(carol.user_id, first.next_batch), {
      token: dave.access_token,
    });
    expectError(stolen, 400, 'M_INVALID_PARAM');
  });

  it('refuses a missing, invalid or own user_id, and a bad from', async () => {
    const refusals = [
      PATH,
      `${PATH}?user_id=bob`,
      `${PATH}?user_id=${encodeURIComponent('@bob')}`,
      PATH + query(alice.user_id),
      PATH + query(bob.user_id, 'not-a-token'),
      `${PATH}?user_id=${encodeURIComponent(bob.user_id)}&user_id=${encodeURIComponent(carol.user_id)}`,
    ];
    for (const path of refusals) {
      expectError(await api.get(path, { token: alice.access_token }), 400, 'M_INVALID_PARAM');
    }
    expectError(await api.get(PATH + query(bob.user_id)), 401, 'M_MISSING_TOKEN');
  });
});
