/**
 * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` (v1.6) and
 * Synapse's admin twin: the nearest event either way, who may ask, bad input.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const TEMPLATE = '/_matrix/client/v1/rooms/{roomId}/timestamp_to_event';
const enc = encodeURIComponent;

describe('timestamp_to_event', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol, root] = suite.users('alice', 'bob', 'carol', 'root');
  const as = (session: Session) => ({ token: session.access_token });
  let roomId: string;
  /** alice's messages, oldest first, with their origin_server_ts. */
  const sent: { eventId: string; ts: number }[] = [];
  const message = (index: number) => {
    const found = sent[index];
    assert.ok(found, `message ${index} was sent`);
    return found;
  };

  const lookup = (session: Session, room: string, query: string) =>
    api.get<{ event_id: string; origin_server_ts: number }>(
      `/_matrix/client/v1/rooms/${enc(room)}/timestamp_to_event${query}`,
      as(session),
    );

  async function send(body: string) {
    const res = await api.put<{ event_id: string }>(
      `${CLIENT_V3}/rooms/${enc(roomId)}/send/m.room.message/${body}`,
      { msgtype: 'm.text', body },
      as(alice),
    );
    assert.equal(res.status, 200);
    const event = await api.get<{ origin_server_ts: number }>(
      `${CLIENT_V3}/rooms/${enc(roomId)}/event/${enc(res.body.event_id)}`,
      as(alice),
    );
    sent.push({ eventId: res.body.event_id, ts: event.body.origin_server_ts });
  }

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    const created = await api.post<{ room_id: string }>(
      `${CLIENT_V3}/createRoom`,
      { preset: 'public_chat' },
      as(alice),
    );
    roomId = created.body.room_id;
    for (const body of ['one', 'two', 'three']) {
      await send(body);
      // Distinct milliseconds, so each message has a time of its own.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal((await api.post(`${CLIENT_V3}/join/${enc(roomId)}`, {}, as(carol))).status, 200);
    assert.equal(
      (await api.post(`${CLIENT_V3}/rooms/${enc(roomId)}/leave`, {}, as(carol))).status,
      200,
    );
  });

  it('finds the first event at or after the time, and the last at or before it', async () => {
    const [one, two] = [message(0), message(1)];
    const forwards = expectSpec(
      await lookup(alice, roomId, `?ts=${one.ts + 1}&dir=f`),
      'GET',
      TEMPLATE,
    );
    assert.deepEqual(forwards, { event_id: two.eventId, origin_server_ts: two.ts });
    const backwards = expectSpec(
      await lookup(alice, roomId, `?ts=${two.ts - 1}&dir=b`),
      'GET',
      TEMPLATE,
    );
    assert.deepEqual(backwards, { event_id: one.eventId, origin_server_ts: one.ts });
    const exact = await lookup(alice, roomId, `?ts=${two.ts}&dir=b`);
    assert.equal(exact.body.event_id, two.eventId);
  });

  it('answers 404 M_NOT_FOUND when nothing lies that way', async () => {
    const res = await lookup(alice, roomId, `?ts=${Date.now() + 60_000}&dir=f`);
    expectError(res, 404, 'M_NOT_FOUND');
    expectError(await lookup(alice, roomId, '?ts=0&dir=b'), 404, 'M_NOT_FOUND');
  });

  it('lets members and former members ask, and no one else while history is not world_readable', async () => {
    const query = `?ts=${message(0).ts}&dir=f`;
    assert.equal((await lookup(carol, roomId, query)).status, 200);
    expectError(await lookup(bob, roomId, query), 403, 'M_FORBIDDEN');
    const visibility = await api.put(
      `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.history_visibility/`,
      { history_visibility: 'world_readable' },
      as(alice),
    );
    assert.equal(visibility.status, 200);
    assert.equal((await lookup(bob, roomId, query)).status, 200);
    expectError(await lookup(bob, '!unknown:localhost', query), 403, 'M_FORBIDDEN');
  });

  it('refuses missing and malformed parameters', async () => {
    expectError(await lookup(alice, roomId, '?dir=f'), 400, 'M_MISSING_PARAM');
    expectError(await lookup(alice, roomId, '?ts=5'), 400, 'M_MISSING_PARAM');
    for (const bad of ['?ts=soon&dir=f', '?ts=1.5&dir=f', '?ts=1e99&dir=f', '?ts=5&dir=x']) {
      expectError(await lookup(alice, roomId, bad), 400, 'M_INVALID_PARAM');
    }
    expectError(
      await lookup(alice, roomId, '?ts=99999999999999999999&dir=b'),
      400,
      'M_INVALID_PARAM',
    );
  });

  it('is served under v1 only', async () => {
    const v3 = await api.get(
      `${CLIENT_V3}/rooms/${enc(roomId)}/timestamp_to_event?ts=1&dir=f`,
      as(alice),
    );
    expectError(v3, 404, 'M_UNRECOGNIZED');
  });

  it("has Synapse's admin twin, for any room, server admins only", async () => {
    const path = `/_synapse/admin/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${message(2).ts}&dir=b`;
    const res = await api.get<{ event_id: string }>(path, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.event_id, message(2).eventId);
    expectError(await api.get(path, as(alice)), 403, 'M_FORBIDDEN');
  });
});
