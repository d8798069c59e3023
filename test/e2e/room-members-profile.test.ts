/**
 * Member events carry the user's profile (display name, avatar URL), as
 * Synapse adds it: joins, invites and knocks, from every path, without
 * overwriting what a client put in the content itself.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { databasePath } from '../../src/app.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { migrations } from '../../src/storage/sqlite/migrations.js';
import {
  CLIENT_V3,
  DEFAULT_PASSWORD,
  serverSuite,
  type Session,
  withServer,
} from '../support/fixture.js';
import { assertMatchesSpecDefinition, assertResponseMatchesSpec } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;

const BOB_AVATAR = 'mxc://localhost/bob-avatar';
const MEMBER_EVENT_SCHEMA = '../../event-schemas/schema/m.room.member.yaml';

describe('member events carry the profile', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');
  before(async () => {
    // No profile endpoints yet: bob's avatar and name are set in storage.
    await suite.server.weft.storage.profiles.setProfile(bob.user_id, {
      displayName: 'Bob Builder',
      avatarUrl: BOB_AVATAR,
    });
  });

  const rooms = (roomId: string) => `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}`;

  /** The member event of `userId`, checked against the spec's m.room.member schema. */
  async function memberEvent(roomId: string, userId: string): Promise<Body> {
    const res = await api.get<Body[]>(`${rooms(roomId)}/state`, { token: alice.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const event = res.body.find((e) => e.type === 'm.room.member' && e.state_key === userId);
    assert.ok(event, `no member event for ${userId}`);
    assertMatchesSpecDefinition(MEMBER_EVENT_SCHEMA, event);
    return event;
  }
  const memberContent = async (roomId: string, userId: string) =>
    (await memberEvent(roomId, userId)).content as Body;

  for (const version of ['12', '11']) {
    it(`v${version}: the creator joins with their localpart as display name, and no avatar key`, async () => {
      const roomId = await suite.createRoom(alice, { room_version: version });
      assert.deepEqual(await memberContent(roomId, alice.user_id), {
        membership: 'join',
        displayname: 'alice',
      });
      const members = await api.get(`${rooms(roomId)}/members`, { token: alice.access_token });
      assertResponseMatchesSpec(
        'get',
        '/_matrix/client/v3/rooms/{roomId}/members',
        200,
        members.body,
      );
      const chunk = members.body.chunk as Body[];
      assert.deepEqual(
        chunk.map((e) => (e.content as Body).displayname),
        ['alice'],
      );
    });
  }

  it('joins by alias and by room ID carry the profile; leaves do not', async () => {
    const roomId = await suite.createRoom(alice, {
      preset: 'public_chat',
      room_alias_name: 'profiles',
    });
    await suite.postOk(bob, `${CLIENT_V3}/join/${encodeURIComponent('#profiles:localhost')}`);
    const withProfile = { membership: 'join', displayname: 'Bob Builder', avatar_url: BOB_AVATAR };
    assert.deepEqual(await memberContent(roomId, bob.user_id), withProfile);

    await suite.postOk(bob, `${rooms(roomId)}/leave`, { reason: 'brb' });
    assert.deepEqual(await memberContent(roomId, bob.user_id), {
      membership: 'leave',
      reason: 'brb',
    });

    await suite.postOk(bob, `${rooms(roomId)}/join`, { reason: 'back' });
    assert.deepEqual(await memberContent(roomId, bob.user_id), { ...withProfile, reason: 'back' });

    const joined = await api.get(`${rooms(roomId)}/joined_members`, { token: alice.access_token });
    assertResponseMatchesSpec(
      'get',
      '/_matrix/client/v3/rooms/{roomId}/joined_members',
      200,
      joined.body,
    );
    assert.deepEqual(joined.body.joined, {
      [alice.user_id]: { display_name: 'alice' },
      [bob.user_id]: { display_name: 'Bob Builder', avatar_url: BOB_AVATAR },
    });
  });

  it("invites carry the invitee's profile, from /invite and from createRoom", async () => {
    const roomId = await suite.createRoom(alice);
    await suite.postOk(alice, `${rooms(roomId)}/invite`, { user_id: carol.user_id });
    assert.deepEqual(await memberContent(roomId, carol.user_id), {
      membership: 'invite',
      displayname: 'carol',
    });

    const direct = await suite.createRoom(alice, { invite: [bob.user_id], is_direct: true });
    assert.deepEqual(await memberContent(direct, bob.user_id), {
      membership: 'invite',
      is_direct: true,
      displayname: 'Bob Builder',
      avatar_url: BOB_AVATAR,
    });
    // The invitee accepts: the join carries the profile as well.
    await suite.postOk(bob, `${rooms(direct)}/join`);
    assert.equal((await memberContent(direct, bob.user_id)).displayname, 'Bob Builder');
  });

  it("knocks carry the knocker's profile", async () => {
    const roomId = await suite.createRoom(alice, {
      initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
    });
    await suite.postOk(bob, `${CLIENT_V3}/knock/${encodeURIComponent(roomId)}`);
    assert.deepEqual(await memberContent(roomId, bob.user_id), {
      membership: 'knock',
      displayname: 'Bob Builder',
      avatar_url: BOB_AVATAR,
    });
  });

  it('a member event sent as state keeps what the client set, and gets the rest', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.postOk(bob, `${rooms(roomId)}/join`);
    const statePath = `${rooms(roomId)}/state/m.room.member/${encodeURIComponent(bob.user_id)}`;
    const nick = await api.put(
      statePath,
      { membership: 'join', displayname: 'Bob in this room' },
      { token: bob.access_token },
    );
    assert.equal(nick.status, 200, JSON.stringify(nick.body));
    assert.deepEqual(await memberContent(roomId, bob.user_id), {
      membership: 'join',
      displayname: 'Bob in this room',
      avatar_url: BOB_AVATAR,
    });

    const both = await api.put(
      statePath,
      { membership: 'join', displayname: null, avatar_url: 'mxc://localhost/room-avatar' },
      { token: bob.access_token },
    );
    assert.equal(both.status, 200, JSON.stringify(both.body));
    assert.deepEqual(await memberContent(roomId, bob.user_id), {
      membership: 'join',
      displayname: null,
      avatar_url: 'mxc://localhost/room-avatar',
    });
  });

  it('guests get their generated localpart as display name, and keep their profile when upgraded', async () => {
    const guest = await api.post<Session>(`${CLIENT_V3}/register?kind=guest`, {});
    assert.equal(guest.status, 200, JSON.stringify(guest.body));
    const guestId = guest.body.user_id;
    const localpart = guestId.slice(1, guestId.indexOf(':'));
    const open = await suite.createRoom(alice, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.guest_access', content: { guest_access: 'can_join' } }],
    });
    await suite.postOk(guest.body, `${rooms(open)}/join`);
    assert.deepEqual(await memberContent(open, guestId), {
      membership: 'join',
      displayname: localpart,
    });

    await suite.server.weft.storage.profiles.setProfile(guestId, { displayName: 'Visitor' });
    const upgrade = await api.post(`${CLIENT_V3}/register`, {
      username: localpart,
      password: 'guest-pw',
      guest_access_token: guest.body.access_token,
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(upgrade.status, 200, JSON.stringify(upgrade.body));
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.postOk(guest.body, `${rooms(roomId)}/join`);
    assert.equal((await memberContent(roomId, guestId)).displayname, 'Visitor');
  });

  it('an upgrade joins its creator with their profile and moves every alias, keeping its creator', async () => {
    await suite.server.weft.storage.profiles.setProfile(alice.user_id, {
      displayName: 'Alice A',
      avatarUrl: 'mxc://localhost/alice',
    });
    const oldId = await suite.createRoom(alice, {
      preset: 'public_chat',
      room_alias_name: 'moving-main',
    });
    await suite.postOk(bob, `${rooms(oldId)}/join`);
    const bobsAlias = '#moving-bob:localhost';
    const aliasUrl = `${CLIENT_V3}/directory/room/${encodeURIComponent(bobsAlias)}`;
    const created = await api.put(aliasUrl, { room_id: oldId }, { token: bob.access_token });
    assert.equal(created.status, 200, JSON.stringify(created.body));

    const upgraded = await api.post(
      `${rooms(oldId)}/upgrade`,
      { new_version: '12' },
      { token: alice.access_token },
    );
    assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
    const newId = String(upgraded.body.replacement_room);
    assert.deepEqual(await memberContent(newId, alice.user_id), {
      membership: 'join',
      displayname: 'Alice A',
      avatar_url: 'mxc://localhost/alice',
    });

    const aliasesOf = async (roomId: string) =>
      (
        (await api.get(`${rooms(roomId)}/aliases`, { token: alice.access_token })).body
          .aliases as string[]
      ).sort();
    assert.deepEqual(await aliasesOf(newId), [bobsAlias, '#moving-main:localhost']);
    assert.deepEqual(await aliasesOf(oldId), []);
    // Bob is not in the new room: only as the alias's creator may he still delete it.
    const deleted = await api.delete(aliasUrl, undefined, { token: bob.access_token });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  });
});

describe('profiles in a database from before they existed', () => {
  it('gives every existing account its localpart as display name', async () => {
    await withServer(
      async ({ api, server }) => {
        writeSchema3Database(
          databasePath(server.config),
          '@olduser:localhost',
          await hashPassword(DEFAULT_PASSWORD),
        );
        await server.start();
        const login = await api.login('olduser');
        assert.equal(login.status, 200, JSON.stringify(login.body));
        const token = String(login.body.access_token);
        const created = await api.post(`${CLIENT_V3}/createRoom`, {}, { token });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        const roomId = encodeURIComponent(String(created.body.room_id));
        const member = await api.get(
          `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/@olduser:localhost`,
          { token },
        );
        assert.deepEqual(member.body, { membership: 'join', displayname: 'olduser' });
      },
      // An old SQLite file, whichever backend the other suites run on.
      { start: false, config: { database: { backend: 'sqlite' } } },
    );
  });
});

/** A database as Weft left it at schema version 3, with one user. */
function writeSchema3Database(file: string, userId: string, passwordHash: string): void {
  const db = new Database(file);
  try {
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ts INTEGER NOT NULL)');
    for (const migration of migrations.filter((m) => m.version <= 3)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_version VALUES (?, ?)').run(migration.version, Date.now());
    }
    db.prepare('INSERT INTO users (user_id, password_hash, created_ts) VALUES (?, ?, ?)').run(
      userId,
      passwordHash,
      Date.now(),
    );
  } finally {
    db.close();
  }
}
