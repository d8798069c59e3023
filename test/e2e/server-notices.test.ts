/**
 * Server notices (Synapse's send_server_notice): the user is invited to a room
 * of the system user's, tagged m.server_notice, sees the notice after joining,
 * cannot write there, and later notices land in the same room. Checked through
 * the client API.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, withServer, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const SEND = '/_synapse/admin/v1/send_server_notice';
const SYSTEM = '@notices:localhost';
const enc = encodeURIComponent;
const text = (body: string) => ({ msgtype: 'm.text', body });

interface Messages {
  chunk: {
    event_id: string;
    type: string;
    sender: string;
    state_key?: string;
    content: Record<string, unknown>;
  }[];
}

describe('Server notices', () => {
  const suite = serverSuite({
    server_notices: {
      system_mxid_localpart: 'notices',
      system_mxid_display_name: 'Notices',
      room_name: 'Server Notices',
    },
  });
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  const as = (session: Session) => ({ token: session.access_token });
  const invitedRooms = async (session: Session) =>
    Object.keys((await suite.sync(session)).rooms.invite ?? {});
  const tagsOf = async (session: Session, roomId: string) => {
    const path = `${CLIENT_V3}/user/${enc(session.user_id)}/rooms/${enc(roomId)}/tags`;
    const res = await api.get<{ tags: Record<string, unknown> }>(path, as(session));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.tags;
  };
  const messages = async (session: Session, roomId: string) => {
    const path = `${CLIENT_V3}/rooms/${enc(roomId)}/messages?dir=b&limit=50`;
    const res = await api.get<Messages>(path, as(session));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.chunk;
  };
  const roomOfEvent = async (eventId: string) =>
    (await suite.server.weft.storage.rooms.getEvent(eventId))!.roomId;
  let noticeRoom: string;

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
  });

  it('refuses users who are not server admins', async () => {
    const body = { user_id: alice.user_id, content: text('hi') };
    expectError(await api.post(SEND, body, as(alice)), 403, 'M_FORBIDDEN');
    expectError(await api.put(`${SEND}/t1`, body, as(alice)), 403, 'M_FORBIDDEN');
    expectError(await api.post(SEND, body), 401, 'M_MISSING_TOKEN');
    assert.deepEqual(await invitedRooms(alice), []);
  });

  it('invites the user to a tagged room of the system user, and the notice is there', async () => {
    const res = await api.post(
      SEND,
      { user_id: alice.user_id, content: text('Welcome') },
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const eventId = String(res.body.event_id);
    noticeRoom = await roomOfEvent(eventId);
    assert.deepEqual(await invitedRooms(alice), [noticeRoom]);
    assert.deepEqual(await tagsOf(alice, noticeRoom), { 'm.server_notice': {} });

    await suite.join(alice, noticeRoom);
    const chunk = await messages(alice, noticeRoom);
    const notice = chunk.find((e) => e.event_id === eventId)!;
    assert.equal(notice.type, 'm.room.message');
    assert.equal(notice.sender, SYSTEM);
    assert.deepEqual(notice.content, text('Welcome'));
    const name = chunk.find((e) => e.type === 'm.room.name');
    assert.equal(name?.content.name, 'Server Notices');
    const system = chunk.find((e) => e.type === 'm.room.member' && e.state_key === SYSTEM);
    assert.equal(system?.content.displayname, 'Notices');
  });

  it('keeps the user from writing in the room', async () => {
    const res = await api.put(
      `${CLIENT_V3}/rooms/${enc(noticeRoom)}/send/m.room.message/nope`,
      text('reply'),
      as(alice),
    );
    expectError(res, 403, 'M_FORBIDDEN');
  });

  it('sends later notices (and state notices) into the same room', async () => {
    const second = await api.post(
      SEND,
      { user_id: alice.user_id, content: text('Again') },
      as(root),
    );
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(await roomOfEvent(String(second.body.event_id)), noticeRoom);
    const state = await api.post(
      SEND,
      { user_id: alice.user_id, type: 'm.example.limits', state_key: '', content: { max: 3 } },
      as(root),
    );
    assert.equal(state.status, 200, JSON.stringify(state.body));
    const path = `${CLIENT_V3}/rooms/${enc(noticeRoom)}/state/m.example.limits/`;
    assert.deepEqual((await api.get(path, as(alice))).body, { max: 3 });
    const bodies = (await messages(alice, noticeRoom))
      .filter((e) => e.type === 'm.room.message')
      .map((e) => e.content.body);
    assert.deepEqual(bodies, ['Again', 'Welcome']);
  });

  it('answers a retried PUT with the first event', async () => {
    const body = { user_id: bob.user_id, content: text('Once') };
    const first = await api.put(`${SEND}/txn-1`, body, as(root));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await api.put(`${SEND}/txn-1`, body, as(root));
    assert.equal(again.body.event_id, first.body.event_id);
    const other = await api.put(`${SEND}/txn-2`, body, as(root));
    assert.notEqual(other.body.event_id, first.body.event_id);
    const roomId = await roomOfEvent(String(first.body.event_id));
    await suite.join(bob, roomId);
    const onces = (await messages(bob, roomId)).filter((e) => e.content.body === 'Once');
    assert.equal(onces.length, 2);
  });

  it('makes a new room once the user left the old one', async () => {
    await suite.leave(alice, noticeRoom);
    const res = await api.post(SEND, { user_id: alice.user_id, content: text('New') }, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const roomId = await roomOfEvent(String(res.body.event_id));
    assert.notEqual(roomId, noticeRoom);
    assert.deepEqual(await invitedRooms(alice), [roomId]);
  });

  it('reserves the system user and refuses bad notices', async () => {
    const taken = await api.post(`${CLIENT_V3}/register`, {
      username: 'notices',
      password: 'a password',
      auth: { type: 'm.login.dummy' },
    });
    expectError(taken, 400, 'M_USER_IN_USE');
    const send = (body: unknown) => api.post(SEND, body, as(root));
    expectError(await send({ content: text('x') }), 400, 'M_MISSING_PARAM');
    expectError(await send({ user_id: alice.user_id }), 400, 'M_MISSING_PARAM');
    expectError(await send({ user_id: alice.user_id, content: 'x' }), 400, 'M_BAD_JSON');
    expectError(await send({ user_id: alice.user_id, content: {}, type: 3 }), 400, 'M_BAD_JSON');
    expectError(
      await send({ user_id: '@alice:elsewhere.example', content: text('x') }),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await send({ user_id: '@nobody:localhost', content: text('x') }),
      404,
      'M_NOT_FOUND',
    );
  });
});

describe('Server notices, configured otherwise', () => {
  it('are off unless a system user is configured', async () => {
    await withServer(async (fixture) => {
      const root = await fixture.register('root');
      await fixture.server.weft.storage.users.setAdmin(root.user_id, true);
      const res = await fixture.api.post(
        SEND,
        { user_id: root.user_id, content: text('x') },
        { token: root.access_token },
      );
      expectError(res, 400, 'M_UNKNOWN');
      assert.equal(res.body.error, 'Server notices are not enabled on this server');
    });
  });

  it('join the user at once with auto_join', async () => {
    const config = { server_notices: { system_mxid_localpart: 'system', auto_join: true } };
    await withServer(
      async (fixture) => {
        const [root, user] = [await fixture.register('root'), await fixture.register('user')];
        await fixture.server.weft.storage.users.setAdmin(root.user_id, true);
        const res = await fixture.api.post(
          SEND,
          { user_id: user.user_id, content: text('Joined') },
          { token: root.access_token },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const joined = await fixture.api.get<{ joined_rooms: string[] }>(
          `${CLIENT_V3}/joined_rooms`,
          { token: user.access_token },
        );
        const event = await fixture.server.weft.storage.rooms.getEvent(String(res.body.event_id));
        assert.deepEqual(joined.body.joined_rooms, [event!.roomId]);
        assert.equal(event!.pdu.sender, '@system:localhost');
      },
      { config },
    );
  });
});
