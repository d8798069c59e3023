/**
 * Profiles over HTTP (every field, limits, legacy paths, capabilities), the
 * propagation of a display name into the rooms' member events, and the user
 * directory, which follows profiles and memberships.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open-storage.js';
import {
  CLIENT_V3,
  serverSuite,
  type Session,
  type SyncEvent,
  withServer,
} from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

const PROFILE = '/_matrix/client/v3/profile/{userId}';
const FIELD = '/_matrix/client/v3/profile/{userId}/{keyName}';
const SEARCH = '/_matrix/client/v3/user_directory/search';

describe('profiles and the user directory', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');

  const field = (who: Session, key: string) =>
    `${CLIENT_V3}/profile/${encodeURIComponent(who.user_id)}/${key}`;

  it('sets, reads and deletes fields: displayname, avatar_url, m.tz, custom keys', async () => {
    for (const [key, value] of [
      ['displayname', 'Alice A.'],
      ['avatar_url', 'mxc://localhost/abcDEF123'],
      ['m.tz', 'Europe/Paris'],
      ['org.example.status', { mood: 'fine', n: [1, 2] }],
    ] as const) {
      const put = await api.put(field(alice, key), { [key]: value }, { token: alice.access_token });
      assert.equal(put.status, 200, `${key}: ${JSON.stringify(put.body)}`);
      assertResponseMatchesSpec('put', FIELD, 200, put.body);
      const got = await api.get(field(alice, key));
      assert.equal(got.status, 200);
      assertResponseMatchesSpec('get', FIELD, 200, got.body);
      assert.deepEqual(got.body, { [key]: value });
    }
    const whole = await api.get(`${CLIENT_V3}/profile/${encodeURIComponent(alice.user_id)}`);
    assertResponseMatchesSpec('get', PROFILE, 200, whole.body);
    assert.deepEqual(whole.body, {
      displayname: 'Alice A.',
      avatar_url: 'mxc://localhost/abcDEF123',
      'm.tz': 'Europe/Paris',
      'org.example.status': { mood: 'fine', n: [1, 2] },
    });
    const del = await api.delete(field(alice, 'm.tz'), undefined, { token: alice.access_token });
    assert.equal(del.status, 200);
    assertResponseMatchesSpec('delete', FIELD, 200, del.body);
    assert.equal((await api.get(field(alice, 'm.tz'))).status, 404);
    const again = await api.delete(field(alice, 'm.tz'), undefined, { token: alice.access_token });
    assert.equal(again.status, 200, 'deleting an unset field is fine');
    // An empty display name or avatar clears it (as Synapse), rather than storing "".
    for (const key of ['displayname', 'avatar_url']) {
      const cleared = await api.put(
        field(alice, key),
        { [key]: '' },
        { token: alice.access_token },
      );
      assert.equal(cleared.status, 200, key);
      assert.equal((await api.get(field(alice, key))).status, 404, key);
    }
  });

  it('refuses others, unknown users, bad keys, and the size limits', async () => {
    const other = await api.put(
      field(alice, 'displayname'),
      { displayname: 'x' },
      { token: bob.access_token },
    );
    assert.equal(other.status, 403);
    assertSpecError(other.body, 'M_FORBIDDEN');
    const otherDelete = await api.delete(field(alice, 'displayname'), undefined, {
      token: bob.access_token,
    });
    assert.equal(otherDelete.status, 403);
    const unknown = await api.get(
      `${CLIENT_V3}/profile/${encodeURIComponent('@nobody:localhost')}`,
    );
    assert.equal(unknown.status, 404);
    assertSpecError(unknown.body, 'M_NOT_FOUND');
    assert.equal(
      (await api.get(`${CLIENT_V3}/profile/%40nobody%3Alocalhost/displayname`)).status,
      404,
    );
    const longKey = `org.${'a'.repeat(260)}`;
    const tooLongKey = await api.put(
      field(bob, longKey),
      { [longKey]: 1 },
      { token: bob.access_token },
    );
    assert.equal(tooLongKey.status, 400);
    assertSpecError(tooLongKey.body, 'M_KEY_TOO_LARGE');
    const badKey = await api.put(
      field(bob, 'NoNamespace'),
      { NoNamespace: 1 },
      { token: bob.access_token },
    );
    assert.equal(badKey.status, 400);
    assertSpecError(badKey.body, 'M_INVALID_PARAM');
    const missing = await api.put(
      field(bob, 'displayname'),
      { other: 'x' },
      { token: bob.access_token },
    );
    assertSpecError(missing.body, 'M_MISSING_PARAM');
    const big = 'x'.repeat(40 * 1024);
    const first = await api.put(
      field(bob, 'org.example.a'),
      { 'org.example.a': big },
      { token: bob.access_token },
    );
    assert.equal(first.status, 200);
    const second = await api.put(
      field(bob, 'org.example.b'),
      { 'org.example.b': big },
      { token: bob.access_token },
    );
    assert.equal(second.status, 400);
    assertSpecError(second.body, 'M_PROFILE_TOO_LARGE');
    assert.equal((await api.get(field(bob, 'org.example.b'))).status, 404, 'nothing stored');
    await api.delete(field(bob, 'org.example.a'), undefined, { token: bob.access_token });
  });

  it('says in /capabilities that profile fields can be set', async () => {
    const caps = await api.get(`${CLIENT_V3}/capabilities`, { token: alice.access_token });
    const c = (caps.body as { capabilities: Record<string, { enabled: boolean }> }).capabilities;
    assert.equal(c['m.profile_fields']?.enabled, true);
    assert.equal(c['m.set_displayname']?.enabled, true);
    assert.equal(c['m.set_avatar_url']?.enabled, true);
  });

  it('propagates a display name change into the member events of every joined room, and the directory', async () => {
    const carol = await api.register('carol');
    const rooms = [
      await suite.createRoom(carol),
      await suite.createRoom(carol, { preset: 'public_chat' }),
    ];
    await suite.join(bob, rooms[1]!);
    const start = await suite.sync(bob);
    const put = await api.put(
      field(carol, 'displayname'),
      { displayname: 'Caroline Ünicode' },
      {
        token: carol.access_token,
      },
    );
    assert.equal(put.status, 200);
    // The propagation runs in the background: the member events follow shortly.
    for (const roomId of rooms) {
      const nameIn = async () =>
        (
          (
            await api.get(
              `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${encodeURIComponent(carol.user_id)}`,
              { token: carol.access_token },
            )
          ).body as { displayname?: string }
        ).displayname;
      for (let i = 0; i < 50 && (await nameIn()) !== 'Caroline Ünicode'; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await nameIn(), 'Caroline Ünicode', roomId);
    }
    const next = await suite.sync(bob, { since: start.next_batch });
    const members = (next.rooms.join[rooms[1]!]?.timeline.events ?? []).filter(
      (e: SyncEvent) => e.type === 'm.room.member' && e.state_key === carol.user_id,
    );
    assert.equal(members.at(-1)?.content.displayname, 'Caroline Ünicode', 'bob sees the new name');
    const search = await api.post(
      SEARCH,
      { search_term: 'caroline ü' },
      { token: bob.access_token },
    );
    assert.equal(search.status, 200);
    assertResponseMatchesSpec('post', SEARCH, 200, search.body);
    assert.deepEqual((search.body as { results: unknown[] }).results, [
      { user_id: carol.user_id, display_name: 'Caroline Ünicode' },
    ]);
  });

  it('never rejoins a room left while the change was spreading', async () => {
    const erin = await api.register('erin');
    const rooms: string[] = [];
    for (let i = 0; i < 20; i++) rooms.push(await suite.createRoom(bob, { preset: 'public_chat' }));
    for (const roomId of rooms) await suite.join(erin, roomId);
    const put = api.put(
      field(erin, 'displayname'),
      { displayname: 'Erin' },
      {
        token: erin.access_token,
      },
    );
    // The leaves race the background propagation of the new name.
    await Promise.all([put, ...rooms.map((roomId) => suite.leave(erin, roomId))]);
    const membership = async (roomId: string) =>
      (
        await api.get(
          `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${encodeURIComponent(erin.user_id)}`,
          { token: bob.access_token },
        )
      ).body.membership;
    // Long enough for the propagation to have reached every room it was going to.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const roomId of rooms) assert.equal(await membership(roomId), 'leave', roomId);
  });

  it('searches users sharing a room or in public rooms, with limit and limited', async () => {
    const users = await Promise.all(['zed1', 'zed2', 'zed3'].map((n) => api.register(n)));
    const loner = await api.register('zedloner');
    const privateRoom = await suite.createRoom(users[0]!);
    const invite = await api.post(
      `${CLIENT_V3}/rooms/${privateRoom}/invite`,
      { user_id: users[1]!.user_id },
      { token: users[0]!.access_token },
    );
    assert.equal(invite.status, 200);
    await suite.join(users[1]!, privateRoom);
    const publicRoom = await suite.createRoom(users[2]!, { preset: 'public_chat' });
    void publicRoom;
    const found = async (who: Session, term: string, limit?: number) => {
      const res = await api.post(
        SEARCH,
        { search_term: term, ...(limit ? { limit } : {}) },
        { token: who.access_token },
      );
      assert.equal(res.status, 200);
      assertResponseMatchesSpec('post', SEARCH, 200, res.body);
      return res.body as { results: { user_id: string }[]; limited: boolean };
    };
    const seen = (await found(users[0]!, 'ZED')).results.map((r) => r.user_id).sort();
    assert.deepEqual(
      seen,
      [users[0]!.user_id, users[1]!.user_id, users[2]!.user_id].sort(),
      'not the loner',
    );
    const byLoner = (await found(loner, 'zed')).results.map((r) => r.user_id);
    assert.deepEqual(byLoner, [users[2]!.user_id], 'only the public room member');
    const cut = await found(users[0]!, 'zed', 2);
    assert.equal(cut.results.length, 2);
    assert.equal(cut.limited, true);
    assert.equal((await found(users[0]!, 'zed', 10)).limited, false);
    const missing = await api.post(SEARCH, {}, { token: alice.access_token });
    assertSpecError(missing.body, 'M_MISSING_PARAM');
  });

  it('search_all_users finds every user', async () => {
    await withServer(
      async ({ api: allApi }) => {
        const a = await allApi.register('lonelya');
        const b = await allApi.register('lonelyb');
        const res = await allApi.post(SEARCH, { search_term: 'lonely' }, { token: a.access_token });
        const ids = (res.body as { results: { user_id: string }[] }).results.map((r) => r.user_id);
        assert.deepEqual(ids.sort(), [a.user_id, b.user_id].sort());
      },
      { config: { user_directory: { search_all_users: true } } },
    );
  });

  it('resumes at start a propagation a crash interrupted', async () => {
    await withServer(async (own) => {
      const again = own.api;
      const dan = await own.register('dan');
      const roomId = await own.createRoom(dan);
      await own.server.stop();
      // The profile change committed with its queue row, and the server died before propagating.
      const storage = await openStorage(own.server.config, 'tool');
      await storage.profiles.setFields(dan.user_id, { displayname: 'Dan After Crash' }, true);
      await storage.close();
      await own.server.start();
      const login = await again.login('dan');
      const nameIn = async () =>
        (
          (
            await again.get(
              `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${encodeURIComponent(dan.user_id)}`,
              { token: login.body.access_token },
            )
          ).body as { displayname?: string }
        ).displayname;
      for (let i = 0; i < 100 && (await nameIn()) !== 'Dan After Crash'; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await nameIn(), 'Dan After Crash');
    });
  });
});
