/**
 * Synapse's Admin API, room moderation: room deletion (v2 in the background
 * with its status, v1 answered when done), blocks and history purges. Each
 * effect is checked through the client API (members gone, history unreadable,
 * aliases and directory entry gone, joins refused) and, for purges, in
 * storage; a job stored before a restart completes after it.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

interface ShutdownRoom {
  kicked_users: string[];
  failed_to_kick_users: string[];
  local_aliases: string[];
  new_room_id: string | null;
}
interface DeleteStatus {
  delete_id: string;
  room_id: string;
  status: string;
  error?: string;
  shutdown_room: ShutdownRoom;
}
interface MessagesBody {
  chunk: { event_id: string; type: string; content: Record<string, unknown> }[];
}
interface SyncRooms {
  next_batch: string;
  rooms?: { join?: Record<string, unknown>; leave?: Record<string, unknown> };
}

describe('Admin API: room deletion, blocks and history purges', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob, mallory] = suite.users('root', 'alice', 'bob', 'mallory');
  const as = (who: Session) => ({ token: who.access_token });

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
  });

  /** A public room of alice's, with bob in it, an alias and a directory entry. */
  async function populatedRoom(aliasName: string): Promise<{ roomId: string; alias: string }> {
    const roomId = await suite.createRoom(alice, {
      preset: 'public_chat',
      visibility: 'public',
      room_alias_name: aliasName,
    });
    await suite.join(bob, roomId);
    await suite.send(alice, roomId, 'hello');
    return { roomId, alias: `#${aliasName}:${suite.server.weft.config.server_name}` };
  }

  async function finished(path: string): Promise<DeleteStatus> {
    for (let i = 0; i < 200; i++) {
      const res = await api.get<DeleteStatus>(path, as(root));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (res.body.status === 'complete' || res.body.status === 'failed') return res.body;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${path} did not finish`);
  }

  async function purgeFinished(purgeId: string): Promise<{ status: string; error?: string }> {
    for (let i = 0; i < 200; i++) {
      const res = await api.get<{ status: string }>(
        `${ADMIN}/v1/purge_history_status/${enc(purgeId)}`,
        as(root),
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (res.body.status !== 'active') return res.body;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`purge ${purgeId} did not finish`);
  }

  const messages = (who: Session, roomId: string) =>
    api.get<MessagesBody>(`${CLIENT_V3}/rooms/${enc(roomId)}/messages?dir=b&limit=50`, as(who));
  const sync = (who: Session, since?: string) =>
    api.get<SyncRooms>(
      `${CLIENT_V3}/sync?timeout=0${since ? `&since=${enc(since)}` : ''}`,
      as(who),
    );
  const joinAs = (who: Session, roomId: string) =>
    api.post(`${CLIENT_V3}/join/${enc(roomId)}`, {}, as(who));

  it('refuses non-admins (403 M_FORBIDDEN) and changes nothing', async () => {
    const { roomId } = await populatedRoom('notyours');
    const room = enc(roomId);
    const refused = [
      await api.delete(`${ADMIN}/v2/rooms/${room}`, {}, as(mallory)),
      await api.delete(`${ADMIN}/v1/rooms/${room}`, {}, as(mallory)),
      await api.get(`${ADMIN}/v2/rooms/${room}/delete_status`, as(mallory)),
      await api.get(`${ADMIN}/v2/rooms/delete_status/x`, as(mallory)),
      await api.get(`${ADMIN}/v1/rooms/${room}/block`, as(mallory)),
      await api.put(`${ADMIN}/v1/rooms/${room}/block`, { block: true }, as(mallory)),
      await api.post(`${ADMIN}/v1/purge_history/${room}`, { purge_up_to_ts: 1 }, as(mallory)),
      await api.get(`${ADMIN}/v1/purge_history_status/x`, as(mallory)),
    ];
    for (const res of refused) expectError(res, 403, 'M_FORBIDDEN');
    assert.equal((await messages(bob, roomId)).status, 200);
    assert.equal((await joinAs(mallory, roomId)).status, 200, 'the room is not blocked');
  });

  it('refuses bad requests with Matrix errors', async () => {
    const { roomId } = await populatedRoom('badinput');
    const room = enc(roomId);
    expectError(
      await api.delete(`${ADMIN}/v2/rooms/${room}`, undefined, as(root)),
      400,
      'M_NOT_JSON',
    );
    expectError(
      await api.delete(`${ADMIN}/v2/rooms/${room}`, { purge: 'yes' }, as(root)),
      400,
      'M_BAD_JSON',
    );
    expectError(
      await api.delete(`${ADMIN}/v2/rooms/${room}`, { new_room_user_id: '@x:elsewhere' }, as(root)),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await api.delete(`${ADMIN}/v2/rooms/${enc('!nope:localhost')}`, {}, as(root)),
      404,
      'M_NOT_FOUND',
    );
    expectError(
      await api.get(`${ADMIN}/v2/rooms/delete_status/nope`, as(root)),
      404,
      'M_NOT_FOUND',
    );
    expectError(
      await api.get(`${ADMIN}/v2/rooms/${room}/delete_status`, as(root)),
      404,
      'M_NOT_FOUND',
    );
    expectError(
      await api.put(`${ADMIN}/v1/rooms/${room}/block`, { block: 'yes' }, as(root)),
      400,
      'M_BAD_JSON',
    );
    expectError(
      await api.put(`${ADMIN}/v1/rooms/${room}/block`, {}, as(root)),
      400,
      'M_MISSING_PARAM',
    );
    expectError(
      await api.post(`${ADMIN}/v1/purge_history/${room}`, {}, as(root)),
      400,
      'M_MISSING_PARAM',
    );
    expectError(
      await api.post(`${ADMIN}/v1/purge_history/${room}`, { purge_up_to_ts: 'soon' }, as(root)),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await api.post(`${ADMIN}/v1/purge_history/${room}/${enc('$nope')}`, {}, as(root)),
      404,
      'M_NOT_FOUND',
    );
    const other = await suite.createRoom(alice);
    const otherEvent = await suite.send(alice, other, 'elsewhere');
    expectError(
      await api.post(
        `${ADMIN}/v1/purge_history/${room}`,
        { purge_up_to_event_id: otherEvent },
        as(root),
      ),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await api.get(`${ADMIN}/v1/purge_history_status/nope`, as(root)),
      404,
      'M_NOT_FOUND',
    );
    assert.equal((await messages(bob, roomId)).status, 200, 'nothing was deleted');
  });

  it('deletes, blocks and purges a room: members gone, history, alias and directory entry too', async () => {
    const { roomId, alias } = await populatedRoom('doomed');
    const message = await suite.send(bob, roomId, 'last words');
    const before = await sync(bob);
    const res = await api.delete<{ delete_id: string }>(
      `${ADMIN}/v2/rooms/${enc(roomId)}`,
      { block: true },
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const status = await finished(`${ADMIN}/v2/rooms/delete_status/${enc(res.body.delete_id)}`);
    assert.equal(status.status, 'complete', status.error);
    assert.equal(status.room_id, roomId);
    assert.deepEqual(status.shutdown_room, {
      kicked_users: [alice.user_id, bob.user_id].sort(),
      failed_to_kick_users: [],
      local_aliases: [],
      new_room_id: null,
    });
    const byRoom = await api.get<{ results: DeleteStatus[] }>(
      `${ADMIN}/v2/rooms/${enc(roomId)}/delete_status`,
      as(root),
    );
    assert.equal(byRoom.status, 200);
    assert.deepEqual(
      byRoom.body.results.map((r) => [r.delete_id, r.status]),
      [[res.body.delete_id, 'complete']],
    );

    // The client API: no history, no membership, no alias, no directory entry, no rejoin.
    for (const who of [alice, bob]) {
      const read = await messages(who, roomId);
      assert.ok(read.status === 403 || read.status === 404, `messages: ${read.status}`);
      const initial = await sync(who);
      assert.equal(initial.body.rooms?.join?.[roomId], undefined, 'not a joined room');
    }
    const since = await sync(bob, before.body.next_batch);
    assert.equal(since.body.rooms?.join?.[roomId], undefined);
    expectError(
      await api.get(`${CLIENT_V3}/directory/room/${enc(alias)}`, as(alice)),
      404,
      'M_NOT_FOUND',
    );
    const listed = await api.get<{ chunk: { room_id: string }[] }>(
      `${CLIENT_V3}/publicRooms`,
      as(alice),
    );
    assert.ok(!listed.body.chunk.some((r) => r.room_id === roomId), 'not in /publicRooms');
    expectError(await joinAs(mallory, roomId), 403, 'M_FORBIDDEN');
    const block = await api.get(`${ADMIN}/v1/rooms/${enc(roomId)}/block`, as(root));
    assert.deepEqual(block.body, { block: true, user_id: root.user_id });

    // Storage: the room, its events and state are gone.
    const { storage } = suite.server.weft;
    assert.equal(await storage.rooms.getRoom(roomId), undefined);
    assert.equal(await storage.rooms.getEvent(message), undefined);
    assert.equal((await storage.rooms.currentStateIds(roomId)).size, 0);
    assert.deepEqual(await storage.directory.aliasesOfRoom(roomId), []);
    expectError(await api.get(`${ADMIN}/v1/rooms/${enc(roomId)}`, as(root)), 404, 'M_NOT_FOUND');
  });

  it('moves members and aliases to a new room with the message, as Synapse', async () => {
    const { roomId, alias } = await populatedRoom('moved');
    const res = await api.delete<{ delete_id: string }>(
      `${ADMIN}/v2/rooms/${enc(roomId)}`,
      { new_room_user_id: root.user_id, room_name: 'Closed', message: 'This room was closed.' },
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const status = await finished(`${ADMIN}/v2/rooms/delete_status/${enc(res.body.delete_id)}`);
    assert.equal(status.status, 'complete', status.error);
    const newRoomId = status.shutdown_room.new_room_id;
    assert.ok(newRoomId && newRoomId !== roomId);
    assert.deepEqual(status.shutdown_room.local_aliases, [alias]);
    const resolved = await api.get(`${CLIENT_V3}/directory/room/${enc(alias)}`, as(alice));
    assert.equal(resolved.body.room_id, newRoomId);
    const joined = await api.get<{ joined_rooms: string[] }>(`${CLIENT_V3}/joined_rooms`, as(bob));
    assert.ok(joined.body.joined_rooms.includes(newRoomId));
    assert.ok(!joined.body.joined_rooms.includes(roomId));
    const read = await messages(bob, newRoomId);
    assert.ok(read.body.chunk.some((e) => e.content.body === 'This room was closed.'));
    const name = await api.get(`${CLIENT_V3}/rooms/${enc(newRoomId)}/state/m.room.name/`, as(bob));
    assert.equal(name.body.name, 'Closed');
    // Not blocked (block defaults to false): the old room is gone, so a join finds nothing.
    const rejoin = await joinAs(mallory, roomId);
    assert.equal(rejoin.status, 404, JSON.stringify(rejoin.body));
  });

  it('without purge, members see a leave and the room stays in storage', async () => {
    const { roomId } = await populatedRoom('kept');
    const before = await sync(bob);
    const res = await api.delete<{ delete_id: string }>(
      `${ADMIN}/v2/rooms/${enc(roomId)}`,
      { purge: false },
      as(root),
    );
    const status = await finished(`${ADMIN}/v2/rooms/delete_status/${enc(res.body.delete_id)}`);
    assert.equal(status.status, 'complete', status.error);
    const since = await sync(bob, before.body.next_batch);
    assert.ok(since.body.rooms?.leave?.[roomId], 'bob sees the leave');
    assert.equal(since.body.rooms?.join?.[roomId], undefined);
    assert.ok(await suite.server.weft.storage.rooms.getRoom(roomId), 'not purged');
    const block = await api.get(`${ADMIN}/v1/rooms/${enc(roomId)}/block`, as(root));
    assert.deepEqual(block.body, { block: false });
  });

  it('v1 deletes synchronously and answers the shutdown result', async () => {
    const { roomId } = await populatedRoom('vone');
    const res = await api.delete<ShutdownRoom>(`${ADMIN}/v1/rooms/${enc(roomId)}`, {}, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.kicked_users, [alice.user_id, bob.user_id].sort());
    assert.equal(res.body.new_room_id, null);
    assert.equal(await suite.server.weft.storage.rooms.getRoom(roomId), undefined);
    // v1 may block a room this server does not know.
    const unknown = '!neverseen:elsewhere.example';
    const blocked = await api.delete(
      `${ADMIN}/v1/rooms/${enc(unknown)}`,
      { block: true },
      as(root),
    );
    assert.equal(blocked.status, 200, JSON.stringify(blocked.body));
    const status = await api.get(`${ADMIN}/v1/rooms/${enc(unknown)}/block`, as(root));
    assert.equal(status.body.block, true);
  });

  it('blocks and unblocks rooms, known or not; a blocked room refuses joins and invites', async () => {
    const unknown = '!unknown:elsewhere.example';
    const put = await api.put(`${ADMIN}/v1/rooms/${enc(unknown)}/block`, { block: true }, as(root));
    assert.deepEqual([put.status, put.body], [200, { block: true }]);
    const got = await api.get(`${ADMIN}/v1/rooms/${enc(unknown)}/block`, as(root));
    assert.deepEqual(got.body, { block: true, user_id: root.user_id });
    expectError(await joinAs(alice, unknown), 403, 'M_FORBIDDEN');

    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await api.put(`${ADMIN}/v1/rooms/${enc(roomId)}/block`, { block: true }, as(root));
    expectError(await joinAs(bob, roomId), 403, 'M_FORBIDDEN');
    expectError(
      await api.post(
        `${CLIENT_V3}/rooms/${enc(roomId)}/invite`,
        { user_id: mallory.user_id },
        as(alice),
      ),
      403,
      'M_FORBIDDEN',
    );
    const off = await api.put(`${ADMIN}/v1/rooms/${enc(roomId)}/block`, { block: false }, as(root));
    assert.deepEqual(off.body, { block: false });
    assert.deepEqual((await api.get(`${ADMIN}/v1/rooms/${enc(roomId)}/block`, as(root))).body, {
      block: false,
    });
    assert.equal((await joinAs(bob, roomId)).status, 200);
  });

  it('purges history before an event: messages gone from /messages and storage, state kept', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat', name: 'Old name' });
    await suite.join(bob, roomId);
    const old = [await suite.send(alice, roomId, 'old 1'), await suite.send(bob, roomId, 'old 2')];
    const keep = await suite.send(alice, roomId, 'kept 1');
    const newer = await suite.send(bob, roomId, 'kept 2');

    // Local events are kept unless asked: this purge deletes nothing (all senders are local).
    const kept = await api.post<{ purge_id: string }>(
      `${ADMIN}/v1/purge_history/${enc(roomId)}/${enc(keep)}`,
      {},
      as(root),
    );
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.deepEqual(await purgeFinished(kept.body.purge_id), { status: 'complete' });
    assert.ok(await suite.server.weft.storage.rooms.getEvent(old[0]!));

    const res = await api.post<{ purge_id: string }>(
      `${ADMIN}/v1/purge_history/${enc(roomId)}`,
      { purge_up_to_event_id: keep, delete_local_events: true },
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await purgeFinished(res.body.purge_id), { status: 'complete' });
    const read = await messages(bob, roomId);
    assert.equal(read.status, 200);
    const ids = read.body.chunk.map((e) => e.event_id);
    for (const id of old) assert.ok(!ids.includes(id), `${id} purged`);
    assert.ok(ids.includes(keep) && ids.includes(newer), 'the later events stay');
    assert.ok(
      read.body.chunk.some((e) => e.type === 'm.room.create'),
      'state events stay',
    );
    for (const id of old)
      assert.equal(await suite.server.weft.storage.rooms.getEvent(id), undefined);
    const name = await api.get(`${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.name/`, as(bob));
    assert.equal(name.body.name, 'Old name');
    // The room goes on from its kept extremities.
    await suite.send(alice, roomId, 'after the purge');
  });

  it('purges history before a time', async () => {
    const roomId = await suite.createRoom(alice);
    const old = await suite.send(alice, roomId, 'old');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cutoff = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const kept = await suite.send(alice, roomId, 'new');
    const res = await api.post<{ purge_id: string }>(
      `${ADMIN}/v1/purge_history/${enc(roomId)}`,
      { purge_up_to_ts: cutoff, delete_local_events: true },
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await purgeFinished(res.body.purge_id), { status: 'complete' });
    const ids = (await messages(alice, roomId)).body.chunk.map((e) => e.event_id);
    assert.ok(!ids.includes(old));
    assert.ok(ids.includes(kept));
  });

  it('a deletion stored before a restart completes after it', async () => {
    const { roomId } = await populatedRoom('restarted');
    const { storage } = suite.server.weft;
    // Stored as the request stores it, but never handed to this run's job runner.
    const now = Date.now();
    await storage.adminJobs.insertJob({
      id: 'stored-before-restart',
      kind: 'room_delete',
      roomId,
      params: {
        block: true,
        purge: true,
        forcePurge: false,
        roomName: 'x',
        message: 'x',
        requesterId: root.user_id,
      },
      status: 'scheduled',
      error: null,
      result: null,
      createdTs: now,
      updatedTs: now,
    });
    assert.equal((await messages(bob, roomId)).status, 200, 'not run before the restart');
    await suite.server.restart();
    const status = await finished(`${ADMIN}/v2/rooms/delete_status/stored-before-restart`);
    assert.equal(status.status, 'complete', status.error);
    assert.deepEqual(status.shutdown_room.kicked_users, [alice.user_id, bob.user_id].sort());
    assert.equal(await suite.server.weft.storage.rooms.getRoom(roomId), undefined);
    expectError(await joinAs(mallory, roomId), 403, 'M_FORBIDDEN');
  });
});
