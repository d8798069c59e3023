/**
 * Account data (global and per room), tags, and m.ignored_user_list over HTTP,
 * with the sync side: changes reach /sync once, as a stream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session, type SyncEvent } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

const GLOBAL = '/_matrix/client/v3/user/{userId}/account_data/{type}';
const ROOM = '/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}';

describe('account data', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');

  const globalPath = (who: Session, type: string) =>
    `${CLIENT_V3}/user/${encodeURIComponent(who.user_id)}/account_data/${type}`;
  const roomPath = (who: Session, roomId: string, type: string) =>
    `${CLIENT_V3}/user/${encodeURIComponent(who.user_id)}/rooms/${encodeURIComponent(roomId)}/account_data/${type}`;
  const types = (events: SyncEvent[]) => events.map((e) => e.type);

  it('stores global account data, reads it back, and 404s a type never set', async () => {
    const missing = await api.get(globalPath(alice, 'org.example.none'), {
      token: alice.access_token,
    });
    assert.equal(missing.status, 404);
    assertSpecError(missing.body, 'M_NOT_FOUND');
    const put = await api.put(
      globalPath(alice, 'org.example.a'),
      { n: 1 },
      { token: alice.access_token },
    );
    assert.equal(put.status, 200);
    assertResponseMatchesSpec('put', GLOBAL, 200, put.body);
    const got = await api.get(globalPath(alice, 'org.example.a'), { token: alice.access_token });
    assert.equal(got.status, 200);
    assertResponseMatchesSpec('get', GLOBAL, 200, got.body);
    assert.deepEqual(got.body, { n: 1 });
  });

  it("refuses another user's account data, bad room IDs and server-controlled types", async () => {
    const other = await api.get(globalPath(alice, 'org.example.a'), { token: bob.access_token });
    assert.equal(other.status, 403);
    assertSpecError(other.body, 'M_FORBIDDEN');
    const otherPut = await api.put(globalPath(alice, 'x.y'), {}, { token: bob.access_token });
    assert.equal(otherPut.status, 403);
    const badRoom = await api.put(
      roomPath(alice, 'not-a-room', 'x.y'),
      {},
      { token: alice.access_token },
    );
    assert.equal(badRoom.status, 400);
    assertSpecError(badRoom.body, 'M_INVALID_PARAM');
    for (const type of ['m.fully_read', 'm.push_rules']) {
      const res = await api.put(globalPath(alice, type), {}, { token: alice.access_token });
      assert.equal(res.status, 405, type);
      assertSpecError(res.body, 'M_BAD_JSON');
    }
    const notObject = await api.put(globalPath(alice, 'x.y'), [1], { token: alice.access_token });
    assert.equal(notObject.status, 400);
    // Reading m.push_rules works: the user's push rules.
    const rules = await api.get(globalPath(alice, 'm.push_rules'), { token: alice.access_token });
    assert.equal(rules.status, 200);
    assert.ok((rules.body as { global?: unknown }).global, 'push rules content');
  });

  it('delivers global and room account data through sync, only changes incrementally', async () => {
    const roomId = await suite.createRoom(alice);
    const first = await suite.sync(alice);
    assert.ok(types(first.account_data.events).includes('org.example.a'), 'whole on initial sync');
    await api.put(globalPath(alice, 'org.example.b'), { v: 2 }, { token: alice.access_token });
    const put = await api.put(
      roomPath(alice, roomId, 'org.example.r'),
      { r: 1 },
      { token: alice.access_token },
    );
    assert.equal(put.status, 200);
    assertResponseMatchesSpec('put', ROOM, 200, put.body);
    const next = await suite.sync(alice, { since: first.next_batch });
    assert.deepEqual(next.account_data.events, [{ type: 'org.example.b', content: { v: 2 } }]);
    assert.deepEqual(next.rooms.join[roomId]?.account_data.events, [
      { type: 'org.example.r', content: { r: 1 } },
    ]);
    const got = await api.get(roomPath(alice, roomId, 'org.example.r'), {
      token: alice.access_token,
    });
    assertResponseMatchesSpec('get', ROOM, 200, got.body);
    assert.deepEqual(got.body, { r: 1 });
    const globalNotRoom = await api.get(globalPath(alice, 'org.example.r'), {
      token: alice.access_token,
    });
    assert.equal(globalNotRoom.status, 404, 'room data is not global data');
    const quiet = await suite.sync(alice, { since: next.next_batch });
    assert.deepEqual(quiet.account_data.events, [], 'nothing twice');
  });

  it('wakes a waiting sync when account data changes', async () => {
    const start = await suite.sync(alice);
    const waiting = suite.sync(alice, { since: start.next_batch, timeout: '10000' });
    await new Promise((r) => setTimeout(r, 100));
    const began = Date.now();
    await api.put(
      globalPath(alice, 'org.example.wake'),
      { w: true },
      { token: alice.access_token },
    );
    const woken = await waiting;
    assert.ok(Date.now() - began < 5_000, 'answered well before the timeout');
    assert.deepEqual(types(woken.account_data.events), ['org.example.wake']);
  });

  it('tags: put with order, list, delete, delivered as m.tag', async () => {
    const roomId = await suite.createRoom(alice);
    const tagsPath = `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}/rooms/${encodeURIComponent(roomId)}/tags`;
    const start = await suite.sync(alice);
    const put = await api.put(
      `${tagsPath}/m.favourite`,
      { order: 0.5 },
      { token: alice.access_token },
    );
    assert.equal(put.status, 200);
    assertResponseMatchesSpec(
      'put',
      '/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}',
      200,
      put.body,
    );
    await api.put(`${tagsPath}/u.work`, {}, { token: alice.access_token });
    const badOrder = await api.put(
      `${tagsPath}/u.x`,
      { order: 'high' },
      { token: alice.access_token },
    );
    assert.equal(badOrder.status, 400);
    const list = await api.get(tagsPath, { token: alice.access_token });
    assertResponseMatchesSpec(
      'get',
      '/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags',
      200,
      list.body,
    );
    assert.deepEqual(list.body, { tags: { 'm.favourite': { order: 0.5 }, 'u.work': {} } });
    const del = await api.delete(`${tagsPath}/u.work`, undefined, { token: alice.access_token });
    assert.equal(del.status, 200);
    const after = await api.get(tagsPath, { token: alice.access_token });
    assert.deepEqual(after.body, { tags: { 'm.favourite': { order: 0.5 } } });
    const bobList = await api.get(
      tagsPath.replace(encodeURIComponent(alice.user_id), encodeURIComponent(bob.user_id)),
      { token: alice.access_token },
    );
    assert.equal(bobList.status, 403);
    const next = await suite.sync(alice, { since: start.next_batch });
    assert.deepEqual(next.rooms.join[roomId]?.account_data.events, [
      { type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.5 } } } },
    ]);
  });

  it("m.ignored_user_list: the ignored user's messages and invites stop reaching the user", async () => {
    const carol = await api.register('carol');
    const dave = await api.register('dave');
    const roomId = await suite.createRoom(carol, { preset: 'public_chat' });
    await suite.join(dave, roomId);
    const before = await suite.send(dave, roomId, 'before ignoring');
    const ignore = await api.put(
      globalPath(carol, 'm.ignored_user_list'),
      { ignored_users: { [dave.user_id]: {} } },
      { token: carol.access_token },
    );
    assert.equal(ignore.status, 200);
    const self = await api.put(
      globalPath(carol, 'm.ignored_user_list'),
      { ignored_users: { [carol.user_id]: {} } },
      { token: carol.access_token },
    );
    assert.equal(self.status, 400, 'one cannot ignore oneself');
    const start = await suite.sync(carol);
    await suite.send(dave, roomId, 'ignored message');
    await suite.send(carol, roomId, 'own message');
    const next = await suite.sync(carol, { since: start.next_batch });
    const bodies = (next.rooms.join[roomId]?.timeline.events ?? []).map((e) => e.content.body);
    assert.deepEqual(bodies, ['own message']);
    const messages = await api.get(`${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=50`, {
      token: carol.access_token,
    });
    const chunk = (messages.body as { chunk: SyncEvent[] }).chunk;
    assert.ok(!chunk.some((e) => e.sender === dave.user_id && e.type === 'm.room.message'));
    assert.ok(
      chunk.some((e) => e.sender === dave.user_id && e.type === 'm.room.member'),
      'state stays',
    );
    const context = await api.get(
      `${CLIENT_V3}/rooms/${roomId}/context/${encodeURIComponent(before)}`,
      {
        token: dave.access_token,
      },
    );
    assert.equal(context.status, 200, 'dave still sees his own messages');
    const ownEvent = (
      await api.get(`${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=50`, {
        token: dave.access_token,
      })
    ).body as { chunk: SyncEvent[] };
    assert.ok(
      ownEvent.chunk.some((e) => e.content.body === 'ignored message'),
      'others still see them',
    );
    // Nor do the ignored user's relations: a thread reply under carol's message.
    const root = await suite.send(carol, roomId, 'thread root');
    const reply = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/ignored-reply`,
      {
        msgtype: 'm.text',
        body: 'reply',
        'm.relates_to': { rel_type: 'm.thread', event_id: root },
      },
      { token: dave.access_token },
    );
    assert.equal(reply.status, 200);
    const relationsOf = async (who: typeof carol) => {
      const res = await api.get(`/_matrix/client/v1/rooms/${roomId}/relations/${root}`, {
        token: who.access_token,
      });
      assert.equal(res.status, 200);
      return (res.body as { chunk: SyncEvent[] }).chunk.map((e) => e.sender);
    };
    assert.deepEqual(await relationsOf(carol), [], 'no relations from an ignored user');
    assert.deepEqual(await relationsOf(dave), [dave.user_id], 'others still see them');
    // An invite from an ignored user does not reach the ignoring user.
    const secret = await suite.createRoom(dave);
    const invite = await api.post(
      `${CLIENT_V3}/rooms/${secret}/invite`,
      { user_id: carol.user_id },
      { token: dave.access_token },
    );
    assert.equal(invite.status, 200);
    const afterInvite = await suite.sync(carol, { since: next.next_batch });
    assert.equal(afterInvite.rooms.invite[secret], undefined, 'no invite from an ignored user');
  });
});
