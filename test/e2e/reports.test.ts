/** Reporting events, rooms and users: stored for admins, with the spec's 404s. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';
import { queryDatabase } from '../support/server.js';

describe('reporting content', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');
  let roomId: string;
  before(async () => {
    roomId = await suite.createRoom(alice, { preset: 'public_chat' });
  });

  const storedReports = () =>
    queryDatabase(
      suite.server.config,
      'SELECT reporter, room_id, event_id, user_id, reason FROM content_reports ORDER BY id',
    );

  it('reports an event (joined reporters only; score accepted and ignored)', async () => {
    const eventId = await suite.send(alice, roomId, 'bad words');
    const url = `${CLIENT_V3}/rooms/${roomId}/report/${encodeURIComponent(eventId)}`;
    const notJoined = await api.post(url, { reason: 'x' }, { token: bob.access_token });
    assert.equal(notJoined.status, 404);
    assertSpecError(notJoined.body, 'M_NOT_FOUND');
    await suite.join(bob, roomId);
    const res = await api.post(url, { reason: 'rude', score: -100 }, { token: bob.access_token });
    assert.equal(res.status, 200);
    assertResponseMatchesSpec(
      'post',
      '/_matrix/client/v3/rooms/{roomId}/report/{eventId}',
      200,
      res.body,
    );
    const unknown = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/report/%24nope`,
      {},
      { token: bob.access_token },
    );
    assert.equal(unknown.status, 404);
    assert.deepEqual((await storedReports()).at(-1), {
      reporter: bob.user_id,
      room_id: roomId,
      event_id: eventId,
      user_id: null,
      reason: 'rude',
    });
  });

  it('reports a room and a user; reason is required; unknown ones are 404', async () => {
    const room = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/report`,
      { reason: 'spam room' },
      { token: bob.access_token },
    );
    assert.equal(room.status, 200);
    assertResponseMatchesSpec('post', '/_matrix/client/v3/rooms/{roomId}/report', 200, room.body);
    const user = await api.post(
      `${CLIENT_V3}/users/${encodeURIComponent(alice.user_id)}/report`,
      { reason: 'spammer' },
      { token: bob.access_token },
    );
    assert.equal(user.status, 200);
    assertResponseMatchesSpec('post', '/_matrix/client/v3/users/{userId}/report', 200, user.body);
    const noReason = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/report`,
      {},
      { token: bob.access_token },
    );
    assertSpecError(noReason.body, 'M_MISSING_PARAM');
    const noRoom = await api.post(
      `${CLIENT_V3}/rooms/!nope:localhost/report`,
      { reason: 'x' },
      { token: bob.access_token },
    );
    assert.equal(noRoom.status, 404);
    const noUser = await api.post(
      `${CLIENT_V3}/users/%40nobody%3Alocalhost/report`,
      { reason: 'x' },
      { token: bob.access_token },
    );
    assert.equal(noUser.status, 404);
    const stored = (await storedReports()).slice(-2);
    assert.deepEqual(stored, [
      {
        reporter: bob.user_id,
        room_id: roomId,
        event_id: null,
        user_id: null,
        reason: 'spam room',
      },
      {
        reporter: bob.user_id,
        room_id: null,
        event_id: null,
        user_id: alice.user_id,
        reason: 'spammer',
      },
    ]);
  });
});
