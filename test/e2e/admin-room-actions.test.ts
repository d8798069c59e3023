/**
 * Synapse's room actions in the Admin API: join a user to a room, make a room
 * admin, forward extremities, a room's messages read as an admin. Each effect
 * is checked through the client API (memberships, power levels, sending).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin/v1';
const enc = encodeURIComponent;

interface Extremities {
  count: number;
  results: { event_id: string; state_group: number; depth: number; received_ts: number }[];
}
interface Messages {
  chunk: { event_id: string; type: string; content: Record<string, unknown> }[];
  start: string;
  end?: string;
}

describe('Admin API: room actions', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob, carol, dave] = suite.users('root', 'alice', 'bob', 'carol', 'dave');
  const as = (session: Session) => ({ token: session.access_token });
  const joinedRooms = async (session: Session) => {
    const res = await api.get<{ joined_rooms: string[] }>(`${CLIENT_V3}/joined_rooms`, as(session));
    assert.equal(res.status, 200);
    return res.body.joined_rooms;
  };
  const powerLevels = async (roomId: string, session: Session) => {
    const path = `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.power_levels/`;
    const res = await api.get<{ users: Record<string, number>; state_default?: number }>(
      path,
      as(session),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const membershipOf = async (roomId: string, userId: string, session: Session) => {
    const path = `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`;
    const res = await api.get<{ membership: string }>(path, as(session));
    return res.status === 200 ? res.body.membership : undefined;
  };
  let publicRoom: string;
  let privateRoom: string;

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    publicRoom = await suite.createRoom(alice, { preset: 'public_chat', room_alias_name: 'town' });
    privateRoom = await suite.createRoom(alice, { preset: 'private_chat' });
  });

  it('refuses users who are not server admins', async () => {
    const room = enc(publicRoom);
    const requests: [string, string][] = [
      ['POST', `/join/${room}`],
      ['POST', `/rooms/${room}/make_room_admin`],
      ['GET', `/rooms/${room}/forward_extremities`],
      ['DELETE', `/rooms/${room}/forward_extremities`],
      ['GET', `/rooms/${room}/messages`],
    ];
    for (const [method, path] of requests) {
      const body = method === 'POST' ? { user_id: alice.user_id } : undefined;
      expectError(await api.request(method, ADMIN + path, body, as(alice)), 403, 'M_FORBIDDEN');
      expectError(await api.request(method, ADMIN + path, body), 401, 'M_MISSING_TOKEN');
    }
    assert.deepEqual(await joinedRooms(bob), []);
  });

  it('joins a local user to a public room, by ID or alias', async () => {
    const res = await api.post(
      `${ADMIN}/join/${enc(publicRoom)}`,
      { user_id: bob.user_id },
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { room_id: publicRoom });
    assert.deepEqual(await joinedRooms(bob), [publicRoom]);

    const byAlias = await api.post(
      `${ADMIN}/join/${enc('#town:localhost')}`,
      { user_id: carol.user_id },
      as(root),
    );
    assert.deepEqual(byAlias.body, { room_id: publicRoom });
    assert.equal(await membershipOf(publicRoom, carol.user_id, alice), 'join');
    // The admin needed no membership of a public room.
    assert.equal(await membershipOf(publicRoom, root.user_id, alice), undefined);
  });

  it('joins a user to an invite-only room only through an admin in the room', async () => {
    const path = `${ADMIN}/join/${enc(privateRoom)}`;
    // Synapse: the admin invites first, so the admin must be there with power to invite.
    expectError(await api.post(path, { user_id: dave.user_id }, as(root)), 403, 'M_FORBIDDEN');
    assert.equal(await membershipOf(privateRoom, dave.user_id, alice), undefined);

    await suite.invite(alice, privateRoom, root.user_id);
    await suite.join(root, privateRoom);
    const res = await api.post(path, { user_id: dave.user_id }, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((await joinedRooms(dave)).includes(privateRoom));
    // Already joined: no second invite (which the auth rules would refuse), the join repeats.
    const again = await api.post(path, { user_id: dave.user_id }, as(root));
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });

  it('refuses bad joins with Matrix errors', async () => {
    const path = `${ADMIN}/join/${enc(publicRoom)}`;
    expectError(await api.post(path, {}, as(root)), 400, 'M_MISSING_PARAM');
    expectError(await api.post(path, { user_id: 7 }, as(root)), 400, 'M_BAD_JSON');
    expectError(
      await api.post(path, { user_id: '@someone:elsewhere.example' }, as(root)),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await api.post(path, { user_id: '@nobody:localhost' }, as(root)),
      404,
      'M_NOT_FOUND',
    );
    const unknownRoom = `${ADMIN}/join/${enc('!unknown:localhost')}`;
    expectError(
      await api.post(unknownRoom, { user_id: bob.user_id }, as(root)),
      404,
      'M_NOT_FOUND',
    );
    const unknownAlias = `${ADMIN}/join/${enc('#nowhere:localhost')}`;
    expectError(
      await api.post(unknownAlias, { user_id: bob.user_id }, as(root)),
      404,
      'M_NOT_FOUND',
    );
    const notARoom = `${ADMIN}/join/not-a-room`;
    expectError(
      await api.post(notARoom, { user_id: bob.user_id }, as(root)),
      400,
      'M_INVALID_PARAM',
    );
  });

  it('makes the calling admin a room admin: power from the creator, then an invite', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'private_chat', room_version: '10' });
    const path = `${ADMIN}/rooms/${enc(roomId)}/make_room_admin`;
    const res = await api.post(path, undefined, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {});
    const levels = await powerLevels(roomId, alice);
    assert.equal(levels.users[root.user_id], 100);
    assert.equal(levels.users[alice.user_id], 100);
    // Not in a private room: invited (Synapse lets the user join), then an admin indeed.
    assert.equal(await membershipOf(roomId, root.user_id, alice), 'invite');
    await suite.join(root, roomId);
    // Only a user at 100 may give someone 100.
    const raise = await api.put(
      `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.power_levels/`,
      { ...levels, users: { ...levels.users, [carol.user_id]: 100 } },
      as(root),
    );
    assert.equal(raise.status, 200, JSON.stringify(raise.body));
  });

  it('grants another user the power in a v12 room (the creator sends it)', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    const path = `${ADMIN}/rooms/${enc(roomId)}/make_room_admin`;
    const res = await api.post(path, { user_id: bob.user_id }, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const levels = await powerLevels(roomId, alice);
    assert.equal(levels.users[bob.user_id], 100);
    // v12 creators have infinite power and stay out of `users`.
    assert.equal(levels.users[alice.user_id], undefined);
    // A public room: no invite, bob joins himself.
    assert.equal(await membershipOf(roomId, bob.user_id, alice), undefined);
    await suite.join(bob, roomId);
    const name = await api.put(
      `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.power_levels/`,
      { ...levels, state_default: 100 },
      as(bob),
    );
    assert.equal(name.status, 200, JSON.stringify(name.body));
    // The creator themselves already has the highest power: nothing to send.
    const creator = await api.post(path, { user_id: alice.user_id }, as(root));
    assert.equal(creator.status, 200, JSON.stringify(creator.body));
    assert.equal((await powerLevels(roomId, alice)).state_default, 100);
  });

  it('refuses make_room_admin without a joined local user with power', async () => {
    const roomId = await suite.createRoom(alice, { room_version: '10' });
    await suite.leave(alice, roomId);
    const path = `${ADMIN}/rooms/${enc(roomId)}/make_room_admin`;
    const res = await api.post(path, {}, as(root));
    expectError(res, 400, 'M_UNKNOWN');
    assert.equal(res.body.error, 'No local admin user in room');
    const unknown = `${ADMIN}/rooms/${enc('!unknown:localhost')}/make_room_admin`;
    expectError(await api.post(unknown, {}, as(root)), 404, 'M_NOT_FOUND');
    expectError(await api.post(path, { user_id: 5 }, as(root)), 400, 'M_BAD_JSON');
  });

  it('shows the forward extremity and prunes none when there is one', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    const last = await suite.send(alice, roomId, 'the newest');
    const path = `${ADMIN}/rooms/${enc(roomId)}/forward_extremities`;
    const got = await api.get<Extremities>(path, as(root));
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal(got.body.count, 1);
    const [extremity] = got.body.results;
    assert.equal(extremity!.event_id, last);
    assert.equal(typeof extremity!.state_group, 'number');
    assert.equal(typeof extremity!.depth, 'number');
    assert.ok(Math.abs(extremity!.received_ts - Date.now()) < 60_000);

    const deleted = await api.delete(path, undefined, as(root));
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body, { deleted: 0 });
    // The room goes on from its head, reloaded from storage.
    const next = await suite.send(alice, roomId, 'after the prune');
    const after = await api.get<Extremities>(path, as(root));
    assert.equal(after.body.count, 1);
    assert.equal(after.body.results[0]!.event_id, next);
    assert.equal(after.body.results[0]!.depth, extremity!.depth + 1);
    // By alias too; an unknown room is 404.
    const byId = await api.get<Extremities>(
      `${ADMIN}/rooms/${enc('#town:localhost')}/forward_extremities`,
      as(root),
    );
    assert.equal(byId.body.count, 1);
    const unknown = `${ADMIN}/rooms/${enc('!unknown:localhost')}/forward_extremities`;
    expectError(await api.get(unknown, as(root)), 404, 'M_NOT_FOUND');
    expectError(await api.delete(unknown, undefined, as(root)), 404, 'M_NOT_FOUND');
  });

  it("reads any room's messages, whatever the admin's membership", async () => {
    const roomId = await suite.createRoom(alice, {
      preset: 'private_chat',
      initial_state: [
        {
          type: 'm.room.history_visibility',
          state_key: '',
          content: { history_visibility: 'joined' },
        },
      ],
    });
    const sent = [];
    for (const body of ['one', 'two', 'three']) sent.push(await suite.send(alice, roomId, body));
    const messages = `${ADMIN}/rooms/${enc(roomId)}/messages`;
    // The client API refuses a non-member.
    const client = await api.get(`${CLIENT_V3}/rooms/${enc(roomId)}/messages?dir=b`, as(root));
    expectError(client, 403, 'M_FORBIDDEN');

    const filter = enc(JSON.stringify({ types: ['m.room.message'] }));
    const newest = await api.get<Messages>(`${messages}?dir=b&limit=2&filter=${filter}`, as(root));
    assert.equal(newest.status, 200, JSON.stringify(newest.body));
    assert.deepEqual(
      newest.body.chunk.map((e) => e.event_id),
      [sent[2], sent[1]],
    );
    assert.equal(typeof newest.body.end, 'string');
    const older = await api.get<Messages>(
      `${messages}?dir=b&limit=2&filter=${filter}&from=${enc(newest.body.end!)}`,
      as(root),
    );
    assert.deepEqual(
      older.body.chunk.map((e) => e.event_id),
      [sent[0]],
    );
    // Forwards by default, from the room's start: the create event first.
    const first = await api.get<Messages>(messages, as(root));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.chunk[0]!.type, 'm.room.create');
    assert.ok(first.body.chunk.length <= 10);

    expectError(await api.get(`${messages}?dir=x`, as(root)), 400, 'M_INVALID_PARAM');
    expectError(await api.get(`${messages}?limit=many`, as(root)), 400, 'M_INVALID_PARAM');
    const unknown = `${ADMIN}/rooms/${enc('!unknown:localhost')}/messages`;
    expectError(await api.get(unknown, as(root)), 404, 'M_NOT_FOUND');
  });
});
