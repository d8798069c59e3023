/**
 * Synapse's Admin API over events: `fetch_event` (any event, redacted ones
 * pruned), `sent_invite_count` and `cumulative_joined_room_count`.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin/v1';
const enc = encodeURIComponent;

describe('Admin API: events and membership counts', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob, carol] = suite.users('root', 'alice', 'bob', 'carol');
  const as = (session: Session) => ({ token: session.access_token });
  const rooms: string[] = [];
  let startedTs: number;

  async function createRoom(owner: Session) {
    const res = await api.post<{ room_id: string }>(`${CLIENT_V3}/createRoom`, {}, as(owner));
    assert.equal(res.status, 200);
    rooms.push(res.body.room_id);
    return res.body.room_id;
  }
  async function send(roomId: string, txn: string, body: string) {
    const res = await api.put<{ event_id: string }>(
      `${CLIENT_V3}/rooms/${enc(roomId)}/send/m.room.message/${txn}`,
      { msgtype: 'm.text', body },
      as(alice),
    );
    assert.equal(res.status, 200);
    return res.body.event_id;
  }
  const invite = async (roomId: string, who: Session) =>
    assert.equal(
      (
        await api.post(
          `${CLIENT_V3}/rooms/${enc(roomId)}/invite`,
          { user_id: who.user_id },
          as(alice),
        )
      ).status,
      200,
    );
  const join = async (roomId: string, who: Session) =>
    assert.equal((await api.post(`${CLIENT_V3}/join/${enc(roomId)}`, {}, as(who))).status, 200);

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    startedTs = Date.now();
    const first = await createRoom(alice);
    const second = await createRoom(alice);
    await invite(first, bob);
    await invite(first, carol);
    await invite(second, bob);
    await join(first, bob);
    await join(second, bob);
    // Left since: still counted, as Synapse counts rooms joined whatever came after.
    assert.equal(
      (await api.post(`${CLIENT_V3}/rooms/${enc(second)}/leave`, {}, as(bob))).status,
      200,
    );
    await invite(second, bob);
    await join(second, bob);
  });

  const count = (user: Session, what: string, fromTs: number) =>
    api.get<Record<string, number>>(
      `${ADMIN}/users/${enc(user.user_id)}/${what}?from_ts=${fromTs}`,
      as(root),
    );

  it('counts the invites a user sent since a time', async () => {
    assert.deepEqual((await count(alice, 'sent_invite_count', 0)).body, { invite_count: 4 });
    assert.deepEqual((await count(bob, 'sent_invite_count', 0)).body, { invite_count: 0 });
    const later = await count(alice, 'sent_invite_count', Date.now() + 60_000);
    assert.deepEqual(later.body, { invite_count: 0 });
  });

  it('counts the rooms a user joined since a time, each once', async () => {
    const bobs = await count(bob, 'cumulative_joined_room_count', startedTs);
    assert.deepEqual(bobs.body, { cumulative_joined_room_count: 2 });
    const alices = await count(alice, 'cumulative_joined_room_count', 0);
    assert.deepEqual(alices.body, { cumulative_joined_room_count: 2 });
    const carols = await count(carol, 'cumulative_joined_room_count', 0);
    assert.deepEqual(carols.body, { cumulative_joined_room_count: 0 });
    const later = await count(bob, 'cumulative_joined_room_count', Date.now() + 60_000);
    assert.deepEqual(later.body, { cumulative_joined_room_count: 0 });
  });

  it('needs from_ts as an integer', async () => {
    const missing = await api.get(`${ADMIN}/users/${enc(bob.user_id)}/sent_invite_count`, as(root));
    expectError(missing, 400, 'M_MISSING_PARAM');
    expectError(await count(bob, 'sent_invite_count', NaN), 400, 'M_INVALID_PARAM');
  });

  it('fetches any event in the federation format, whatever the admin’s membership', async () => {
    const roomId = rooms[0]!;
    const eventId = await send(roomId, 't1', 'hello');
    const res = await api.get<{ event: Record<string, unknown> }>(
      `${ADMIN}/fetch_event/${enc(eventId)}`,
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { event } = res.body;
    assert.equal(event.event_id, eventId);
    assert.equal(event.room_id, roomId);
    assert.deepEqual(event.content, { msgtype: 'm.text', body: 'hello' });
    // The PDU's own fields, which the client format leaves out.
    for (const key of ['auth_events', 'prev_events', 'depth', 'hashes', 'signatures']) {
      assert.ok(key in event, key);
    }
  });

  it('gives a redacted event pruned, with its redaction', async () => {
    const roomId = rooms[0]!;
    const eventId = await send(roomId, 't2', 'regrettable');
    const redacted = await api.put<{ event_id: string }>(
      `${CLIENT_V3}/rooms/${enc(roomId)}/redact/${enc(eventId)}/r1`,
      { reason: 'oops' },
      as(alice),
    );
    assert.equal(redacted.status, 200);
    const res = await api.get<{ event: { content: unknown; unsigned: Record<string, unknown> } }>(
      `${ADMIN}/fetch_event/${enc(eventId)}`,
      as(root),
    );
    assert.deepEqual(res.body.event.content, {});
    const because = res.body.event.unsigned.redacted_because as { event_id: string };
    assert.equal(because.event_id, redacted.body.event_id);
  });

  it('answers 404 for an unknown event and 403 to non-admins', async () => {
    expectError(
      await api.get(`${ADMIN}/fetch_event/${enc('$nope')}`, as(root)),
      404,
      'M_NOT_FOUND',
    );
    expectError(
      await api.get(`${ADMIN}/fetch_event/${enc('$nope')}`, as(alice)),
      403,
      'M_FORBIDDEN',
    );
    expectError(
      await api.get(`${ADMIN}/users/${enc(alice.user_id)}/sent_invite_count?from_ts=0`, as(bob)),
      403,
      'M_FORBIDDEN',
    );
  });
});
