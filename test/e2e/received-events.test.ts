/**
 * Events received over federation, stored through RoomService.persistReceived
 * on a real server (built in process, its client API over HTTP): a remote
 * user's join and messages reach /sync and /messages, a fork leaves two
 * extremities that the next local event names, a state fork is resolved into
 * the current state, soft-failed events reach no client, and a room joined
 * over federation (its first stored event a remote join on outlier state)
 * serves sync, history and state. The events are signed by another server's
 * key; nothing here checks signatures (the federation receiver does).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { buildWeft } from '../../src/app.js';
import { stateMapKey } from '../../src/events/auth/auth-state.js';
import { ROOM_VERSIONS } from '../../src/events/room-versions.js';
import { resolveState } from '../../src/events/state-resolution.js';
import type { RoomService } from '../../src/rooms/room-service.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { Api, CLIENT_V3, type Session } from '../support/client.js';
import { buildEvent, type BuiltEvent } from '../support/federation-events.js';
import { testConfig, testDatabase } from '../support/server.js';
import { type SyncBody, UserHelpers } from '../support/user-helpers.js';

const VERSION = ROOM_VERSIONS.get('11')!;
const BOB = '@bob:remote.example';

describe('received events through RoomService', () => {
  let built: ReturnType<typeof buildWeft>;
  let rooms: RoomService;
  let storage: Storage;
  let users: UserHelpers;
  let alice: Session;
  let dropDatabase: () => Promise<void>;

  before(async () => {
    const database = await testDatabase();
    dropDatabase = database.drop;
    const config = testConfig(database.overrides);
    storage = await openStorage(config);
    built = buildWeft(config, pino({ level: 'silent' }), storage);
    await built.app.listen({ host: '127.0.0.1', port: 0 });
    const address = built.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    users = new UserHelpers(new Api(() => `http://127.0.0.1:${port}`));
    rooms = built.services.roomDeps.rooms;
    alice = await users.api.register('alice');
  });

  after(async () => {
    await built.close();
    await dropDatabase();
  });

  const token = () => ({ token: alice.access_token });
  const event = async (eventId: string): Promise<BuiltEvent> => {
    const found = await storage.rooms.getEvent(eventId);
    assert.ok(found, eventId);
    return { eventId: found.eventId, pdu: found.pdu };
  };
  const stateOf = async (roomId: string, type: string, stateKey = '') =>
    event((await storage.rooms.currentStateIds(roomId)).get(stateMapKey(type, stateKey))!);
  const extremities = async (roomId: string) =>
    (await storage.rooms.forwardExtremities(roomId)).map((e) => e.eventId).sort();
  const timelineOf = (body: SyncBody, roomId: string) =>
    (body.rooms.join[roomId]?.timeline.events ?? []).map((e) => e.event_id);
  const messages = async (roomId: string) => {
    const res = await users.api.get(
      `${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=50`,
      token(),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.chunk as { event_id: string }[]).map((e) => e.event_id);
  };
  const sendLocal = (roomId: string, body: string) => users.send(alice, roomId, body);

  /** A public room of Alice's, with Bob (remote) joined and power 50; the events Bob builds on. */
  let roomId: string;
  let bobJoin: BuiltEvent;
  let helloId: string;

  it('stores a remote join and messages, which sync and /messages show', async () => {
    roomId = await users.createRoom(alice, { preset: 'public_chat', room_version: '11' });
    const initial = await users.sync(alice);
    const [head] = await storage.rooms.forwardExtremities(roomId);
    const auth = [
      await stateOf(roomId, 'm.room.create'),
      await stateOf(roomId, 'm.room.join_rules'),
      await stateOf(roomId, 'm.room.power_levels'),
    ];
    bobJoin = buildEvent(VERSION, roomId, {
      type: 'm.room.member',
      sender: BOB,
      stateKey: BOB,
      content: { membership: 'join' },
      prev: [await event(head!.eventId)],
      auth,
    });
    const stateBefore = await storage.rooms.currentStateIds(roomId);
    const [joined] = await rooms.persistReceived(roomId, [{ event: bobJoin, stateBefore }]);
    assert.ok(joined!.streamOrdering > 0);
    const hello = buildEvent(VERSION, roomId, {
      type: 'm.room.message',
      sender: BOB,
      content: { msgtype: 'm.text', body: 'hello from afar' },
      prev: [bobJoin],
      auth: [...auth.slice(0, 1), auth[2]!, bobJoin],
    });
    helloId = hello.eventId;
    const afterJoin = await storage.rooms.currentStateIds(roomId);
    await rooms.persistReceived(roomId, [{ event: hello, stateBefore: afterJoin }]);

    const next = await users.sync(alice, { since: initial.next_batch, timeout: '0' });
    assert.deepEqual(timelineOf(next, roomId), [bobJoin.eventId, hello.eventId]);
    assert.deepEqual((await messages(roomId)).slice(0, 2), [hello.eventId, bobJoin.eventId]);
    const members = await users.api.get(`${CLIENT_V3}/rooms/${roomId}/joined_members`, token());
    assert.deepEqual(Object.keys(members.body.joined as object).sort(), [alice.user_id, BOB]);
    assert.equal(await storage.rooms.hasJoinedMember(roomId, 'remote.example'), true);
    assert.deepEqual(await extremities(roomId), [hello.eventId]);
    // The same event again changes nothing.
    const [again] = await rooms.persistReceived(roomId, [{ event: hello, stateBefore: afterJoin }]);
    assert.equal(again!.eventId, hello.eventId);
    assert.deepEqual(await extremities(roomId), [hello.eventId]);
  });

  it('keeps both sides of a fork as extremities; the next local event names both', async () => {
    const [head] = await storage.rooms.forwardExtremities(roomId);
    const base = await event(head!.eventId);
    const state = await storage.rooms.currentStateIds(roomId);
    const local = await sendLocal(roomId, 'meanwhile, here');
    // Bob's server had not seen it: its event is on the same prev_events.
    const remote = buildEvent(VERSION, roomId, {
      type: 'm.room.message',
      sender: BOB,
      content: { msgtype: 'm.text', body: 'meanwhile, there' },
      prev: [base],
      auth: [
        await stateOf(roomId, 'm.room.create'),
        await stateOf(roomId, 'm.room.power_levels'),
        bobJoin,
      ],
    });
    await rooms.persistReceived(roomId, [{ event: remote, stateBefore: state }]);
    assert.deepEqual(await extremities(roomId), [local, remote.eventId].sort());
    const merge = await sendLocal(roomId, 'both seen');
    const merged = await storage.rooms.getEvent(merge);
    assert.deepEqual([...merged!.pdu.prev_events].sort(), [local, remote.eventId].sort());
    assert.equal(merged!.pdu.depth, remote.pdu.depth + 1);
    assert.deepEqual(await extremities(roomId), [merge]);
  });

  it('names at most 10 extremities in a local event, the deepest; the others stay', async () => {
    const [head] = await storage.rooms.forwardExtremities(roomId);
    const base = await event(head!.eventId);
    const state = await storage.rooms.currentStateIds(roomId);
    const auth = [
      await stateOf(roomId, 'm.room.create'),
      await stateOf(roomId, 'm.room.power_levels'),
      bobJoin,
    ];
    const forks = Array.from({ length: 12 }, (_, i) =>
      buildEvent(VERSION, roomId, {
        type: 'm.room.message',
        sender: BOB,
        content: { msgtype: 'm.text', body: `fork ${i}` },
        prev: [base],
        auth,
        ts: 1_700_000_000_000 + i,
      }),
    );
    // One call, one commit: each fork planned on the ones before it.
    await rooms.persistReceived(
      roomId,
      forks.map((fork) => ({ event: fork, stateBefore: state })),
    );
    assert.equal((await extremities(roomId)).length, 12);
    const capped = await storage.rooms.getEvent(await sendLocal(roomId, 'many forks'));
    assert.equal(capped!.pdu.prev_events.length, 10);
    assert.equal((await extremities(roomId)).length, 3);
    const again = await storage.rooms.getEvent(await sendLocal(roomId, 'the rest'));
    assert.equal(again!.pdu.prev_events.length, 3);
    assert.deepEqual(await extremities(roomId), [again!.eventId]);
  });

  it('resolves a state fork into the current state', async () => {
    // Bob gets the power to set the topic; then Alice names the room while Bob,
    // on the state before the name, sets the topic.
    const levels = await users.api.get(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.power_levels/`,
      token(),
    );
    const content = levels.body as { users: Record<string, number> };
    await users.api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.power_levels/`,
      { ...content, users: { ...content.users, [BOB]: 50 } },
      token(),
    );
    const [head] = await storage.rooms.forwardExtremities(roomId);
    const base = await event(head!.eventId);
    const stateBefore = await storage.rooms.currentStateIds(roomId);
    const since = (await users.sync(alice, { timeout: '0' })).next_batch;
    const name = await users.api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.name/`,
      { name: 'Here' },
      token(),
    );
    const topic = buildEvent(VERSION, roomId, {
      type: 'm.room.topic',
      sender: BOB,
      stateKey: '',
      content: { topic: 'from there' },
      prev: [base],
      auth: [
        await stateOf(roomId, 'm.room.create'),
        await stateOf(roomId, 'm.room.power_levels'),
        bobJoin,
      ],
    });
    await rooms.persistReceived(roomId, [{ event: topic, stateBefore }]);
    const nameId = String(name.body.event_id);
    assert.deepEqual(await extremities(roomId), [nameId, topic.eventId].sort());
    // resolveState over both extremities' states, as the spec says: here both entries hold.
    const expected = await resolveState({
      version: VERSION,
      stateSets: [
        (await storage.rooms.stateIdsAfter(nameId))!,
        (await storage.rooms.stateIdsAfter(topic.eventId))!,
      ],
      loadEvents: (ids) => storage.rooms.getEvents(ids),
    });
    const current = await storage.rooms.currentStateIds(roomId);
    assert.deepEqual(current, expected);
    assert.equal(current.get(stateMapKey('m.room.name', '')), nameId);
    assert.equal(current.get(stateMapKey('m.room.topic', '')), topic.eventId);
    const got = await users.api.get(`${CLIENT_V3}/rooms/${roomId}/state/m.room.topic/`, token());
    assert.deepEqual(got.body, { topic: 'from there' });
    const next = await users.sync(alice, { since, timeout: '0' });
    assert.deepEqual(timelineOf(next, roomId), [nameId, topic.eventId]);
    // A local state event after it builds on the resolved state (its auth events from it).
    await users.api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic/`,
      { topic: 'back home' },
      token(),
    );
    const latest = await storage.rooms.currentStateIds(roomId);
    assert.equal(latest.get(stateMapKey('m.room.name', '')), nameId);
  });

  it('holds soft-failed events away from clients', async () => {
    const [head] = await storage.rooms.forwardExtremities(roomId);
    const before = await storage.rooms.currentStateIds(roomId);
    const since = (await users.sync(alice, { timeout: '0' })).next_batch;
    const hidden = buildEvent(VERSION, roomId, {
      type: 'm.room.message',
      sender: BOB,
      content: { msgtype: 'm.text', body: 'hidden', 'm.mentions': { user_ids: [alice.user_id] } },
      prev: [await event(head!.eventId)],
      auth: [
        await stateOf(roomId, 'm.room.create'),
        await stateOf(roomId, 'm.room.power_levels'),
        bobJoin,
      ],
    });
    const [stored] = await rooms.persistReceived(roomId, [
      { event: hidden, stateBefore: before, softFailed: true },
    ]);
    assert.equal(stored!.streamOrdering, 0);
    const next = await users.sync(alice, { since, timeout: '0' });
    assert.deepEqual(timelineOf(next, roomId), []);
    assert.ok(!(await messages(roomId)).includes(hidden.eventId));
    assert.deepEqual(await extremities(roomId), [head!.eventId]);
    const notifications = await users.api.get(`${CLIENT_V3}/notifications`, token());
    const notified = (notifications.body.notifications as { event: { event_id: string } }[]).map(
      (n) => n.event.event_id,
    );
    assert.ok(!notified.includes(hidden.eventId));
    // Bob's accepted messages did notify (a room of two): this check can fail.
    assert.ok(notified.includes(helloId), JSON.stringify(notified));
    const [held] = await storage.rooms.heldEvents([hidden.eventId]);
    assert.equal(held!.softFailed, true);
  });

  it('serves a room joined over federation, its state held as outliers', async () => {
    const remoteRoom = '!faraway:remote.example';
    const create = buildEvent(VERSION, remoteRoom, {
      type: 'm.room.create',
      sender: BOB,
      stateKey: '',
      content: { creator: BOB, room_version: '11' },
      prev: [],
      auth: [],
    });
    const join = buildEvent(VERSION, remoteRoom, {
      type: 'm.room.member',
      sender: BOB,
      stateKey: BOB,
      content: { membership: 'join' },
      prev: [create],
      auth: [create],
    });
    const power = buildEvent(VERSION, remoteRoom, {
      type: 'm.room.power_levels',
      sender: BOB,
      stateKey: '',
      content: { users: { [BOB]: 100 } },
      prev: [join],
      auth: [create, join],
    });
    const rules = buildEvent(VERSION, remoteRoom, {
      type: 'm.room.join_rules',
      sender: BOB,
      stateKey: '',
      content: { join_rule: 'public' },
      prev: [power],
      auth: [create, join, power],
    });
    const visibility = buildEvent(VERSION, remoteRoom, {
      type: 'm.room.history_visibility',
      sender: BOB,
      stateKey: '',
      content: { history_visibility: 'shared' },
      prev: [rules],
      auth: [create, join, power],
    });
    const outliers = [create, join, power, rules, visibility];
    await rooms.persistOutliers(
      remoteRoom,
      outliers.map((e) => ({ event: e })),
    );
    const aliceJoin = buildEvent(
      VERSION,
      remoteRoom,
      {
        type: 'm.room.member',
        sender: alice.user_id,
        stateKey: alice.user_id,
        content: { membership: 'join' },
        prev: [visibility],
        auth: [create, power, rules],
      },
      undefined,
      'localhost',
    );
    const stateBefore = new Map(
      outliers.map((e) => [stateMapKey(e.pdu.type, e.pdu.state_key!), e.eventId]),
    );
    const since = (await users.sync(alice, { timeout: '0' })).next_batch;
    await rooms.createRemoteRoom({ roomId: remoteRoom, version: '11', creator: BOB });
    await rooms.persistReceived(remoteRoom, [{ event: aliceJoin, stateBefore }]);

    const next = await users.sync(alice, { since, timeout: '0' });
    const section = next.rooms.join[remoteRoom];
    assert.ok(section, 'the room is joined');
    assert.deepEqual(timelineOf(next, remoteRoom), [aliceJoin.eventId]);
    assert.deepEqual(
      section.state.events.map((e) => e.event_id).sort(),
      outliers.map((e) => e.eventId).sort(),
    );
    const joined = await users.api.get(`${CLIENT_V3}/joined_rooms`, token());
    assert.ok((joined.body.joined_rooms as string[]).includes(remoteRoom));
    const state = await users.api.get(`${CLIENT_V3}/rooms/${remoteRoom}/state`, token());
    assert.equal((state.body as unknown as unknown[]).length, 6);
    // Alice speaks: built on the join, authorised by the outliers' power levels.
    const said = await sendLocal(remoteRoom, 'hi, far room');
    const stored = await storage.rooms.getEvent(said);
    assert.deepEqual(stored!.pdu.prev_events, [aliceJoin.eventId]);
    assert.deepEqual(
      [...stored!.pdu.auth_events].sort(),
      [create.eventId, power.eventId, aliceJoin.eventId].sort(),
    );
    assert.deepEqual(await messages(remoteRoom), [said, aliceJoin.eventId]);
  });
});
